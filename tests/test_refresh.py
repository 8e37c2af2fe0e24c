"""A base refresh: only the variants whose base moved since the release was published are remade; only
their floating tags move; exact tags keep the content first published; a plain rerun leaves it so."""

from __future__ import annotations

import json

from dataclasses import replace

import pytest

from publisher.release import refresh
from publisher.release.decisions import Current
from publisher.release.inputs import BASE_DIGEST, Format4, annotations, format_4, parts, payload_digest
from publisher.release.rerun import holds
from publisher.release.resolved import one_machine
from publisher.release.plan import Provenance, make_plan
from publisher.release.version import parse_release
from publisher import render
from publisher.matrix.schema import load_matrix
from tests.conftest import ROOT
from tests.engines import on_both_stores
from tests.images import push_base
from tests.registry_server import RegistryServer
from tests.test_no_attestations import context
from tests.test_publish import PLATFORMS, REDUCED_TAGS, publish, reduced_matrix, skopeo

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.fixture(scope="module")
def shipped():
    matrix = load_matrix(ROOT / "matrix.yaml")
    return make_plan(matrix, parse_release("0.5.31"), {v.name: Provenance("2024-11-20T10:53:20Z", "0123abc") for v in matrix.variants},
                     render.render_all(matrix))


def states_of(plan, held):
    """Every tag of every variant at 0.5.31 on base OLD, except `held`: variant → Current of its floating tags."""
    return {ref: {t: held.get(v.variant.name, Current("sha256:" + "c" * 64, "0.5.31", base_digest=OLD)) if not t.startswith("0.5.31")
                  else Current("sha256:" + "c" * 64, "0.5.31", base_digest=OLD)
                  for v in plan.variants_in(ref) for t in v.tags} for ref in plan.repositories}


def test_only_variants_whose_base_moved_are_stale(shipped):
    bases = {v.variant.name: OLD if v.variant.base else None for v in shipped.variants} | {"alpine3.20": NEW}
    assert refresh.stale(shipped, states_of(shipped, {}), bases) == ["alpine3.20"]
    # a floating tag already at a newer release is not refreshed backwards; the primary never is
    newer = Current("sha256:" + "d" * 64, "0.6.0", base_digest=OLD)
    assert refresh.stale(shipped, states_of(shipped, {"alpine3.20": newer}), bases) == []
    every = refresh.stale(shipped, states_of(shipped, {}), {v.variant.name: NEW for v in shipped.variants})
    assert "distroless" not in every and len(every) == len(shipped.variants) - 1
    # after a refresh the floating tags record the new base: nothing more to do
    moved = Current("sha256:" + "e" * 64, "0.5.31", base_digest=NEW)
    assert refresh.stale(shipped, states_of(shipped, {"alpine3.20": moved}), bases) == []


def test_a_refresh_plans_only_floating_tags_of_the_stale_variants(shipped):
    plan = refresh.floating_only(shipped, ["alpine3.20"])
    assert [(v.variant.name, v.tags) for v in plan.variants] == [
        ("alpine3.20", ("0.5-alpine3.20", "alpine3.20", "0.5-alpine", "alpine"))]


def test_an_exact_tag_left_by_a_refresh_is_as_published(shipped):
    v = next(v for v in shipped.variants if v.variant.name == "alpine3.20")
    platforms = v.variant.platforms
    files = {p: {"uv": "sha256:" + "f" * 64} for p in platforms}
    found = one_machine(cut(shipped, v), {}, {v.variant.name: NEW}, files, context())

    def left(base, payload="f", context=context().digest) -> Current:
        made_of = parts(v, base, {p: payload_digest({"uv": "sha256:" + payload * 64}) for p in platforms},
                        {p: context for p in platforms}, platforms)
        return Current("sha256:" + "c" * 64, "0.5.31", inputs=made_of.digest, base_digest=base, annotations=annotations(v, made_of))

    assert holds(found, v, left(OLD), exact=True)  # this release, first published on the old base
    assert not holds(found, v, left(OLD), exact=False)  # a floating tag follows the base
    assert holds(found, v, left(NEW), exact=False)
    assert not holds(found, v, left(OLD, payload="0"), exact=True)  # other payload
    assert not holds(found, v, left(OLD, context="sha256:" + "0" * 64), exact=True)  # other context


@pytest.mark.parametrize("attested", [True, False])
def test_a_refresh_knows_an_exact_tag_of_inputs_format_4_by_its_attestation_context(shipped, attested):
    """An index of format 4 records no parts: only the digest of them, which folded in the attestation
    context's fields. The refresh resolves as one machine does, so it recognises one with those fields."""
    v = next(v for v in shipped.variants if v.variant.name == "alpine3.20")
    platforms = v.variant.platforms
    files = {p: {"uv": "sha256:" + "f" * 64} for p in platforms}
    was = Format4(context().shared() if attested else None, {p: payload_digest(f) for p, f in files.items()})
    published = Current("sha256:" + "c" * 64, "0.5.31", inputs=format_4(v, v.labels, OLD, was, platforms),
                        base_digest=OLD, attested=attested, annotations=v.labels)
    found = one_machine(cut(shipped, v), {}, {v.variant.name: NEW}, files, context() if attested else None)
    assert holds(found, v, published, exact=True)
    other = one_machine(cut(shipped, v), {}, {v.variant.name: NEW}, files, None if attested else context())
    assert not holds(other, v, published, exact=True)  # published with the other setting


def cut(plan, v):
    return replace(plan, variants=(v,))


def digest_of(ref: str) -> str:
    import hashlib
    return "sha256:" + hashlib.sha256(skopeo("inspect", "--raw", f"docker://{ref}").encode()).hexdigest()


def annotation(ref: str, key: str) -> str | None:
    return (json.loads(skopeo("inspect", "--raw", f"docker://{ref}")).get("annotations") or {}).get(key)


@pytest.mark.docker
def test_refresh_remakes_only_the_variant_whose_base_moved(cli, tmp_path, engine, registry, cache):
    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()  # the session mirror stays as other tests use it
    try:
        for base in ("alpine:3.20", "debian:bookworm-slim"):
            push_base(tmp_path / "bases", own.host, base, list(PLATFORMS))
        repo = f"{registry.host}/refresh/uv"
        matrix = reduced_matrix(tmp_path, cli)
        first = publish(cli, matrix, own.host, cache, repo)
        assert first.code == 0, first.err
        before = {t: digest_of(f"{repo}:{t}") for t in ("0.5.31", "0.5", "latest", "0.5.31-alpine3.20", "0.5.31-alpine",
                                                       "alpine3.20", "0.5-alpine", "alpine", "0.5.31-debian-slim", "debian-slim")}
        old_base = annotation(f"{repo}:alpine", BASE_DIGEST)

        push_base(tmp_path / "changed", own.host, "alpine:3.20", list(PLATFORMS), python="3.99")  # a new alpine
        run = publish(cli, matrix, own.host, cache, repo, extra=("--refresh", "--result", str(tmp_path / "result.json")))
        assert run.code == 0, run.err
        assert "refreshing alpine3.20\n" in run.out
        # alpine3.20's two platforms made again (the primary, which derived images copy from, comes from
        # BuildKit's cache and is smoke-tested, not pushed); its index pushed; its 4 floating tags moved
        # 2 platform manifests, their 2 attestation manifests, 1 index
        assert "assemble: 2 in" in run.out and "5 manifests pushed" in run.out and "4 tags moved" in run.out
        assert "bookworm-slim linux" not in run.out
        after = {t: digest_of(f"{repo}:{t}") for t in before}
        moved = {t for t in before if before[t] != after[t]}
        assert moved == {"alpine3.20", "0.5-alpine", "alpine"}  # the floating tags of alpine3.20 read here
        assert len({after[t] for t in moved}) == 1  # every floating tag at the one new index
        assert annotation(f"{repo}:alpine", BASE_DIGEST) not in (None, old_base)
        assert annotation(f"{repo}:0.5.31-alpine", BASE_DIGEST) == old_base  # the exact tags keep 0.5.31 as published
        assert digest_of(f"{repo}:0.5-alpine3.20") == after["alpine"]
        result = json.loads((tmp_path / "result.json").read_text())["repositories"]  # what the refresh published
        digests = {ref: {t: {"digest": held["digest"]} for t, held in tags.items()} for ref, tags in result.items()}
        assert digests == {repo: {t: {"digest": after["alpine"]} for t in ("0.5-alpine3.20", "alpine3.20", "0.5-alpine", "alpine")}}
        assert {held["status"] for held in result[repo].values()} == {"moves"}  # and each says what it moved from
        assert all(held["moved_from"] for held in result[repo].values())

        again = publish(cli, matrix, own.host, cache, repo, extra=("--refresh", "--result", str(tmp_path / "again.json")))
        assert again.code == 0, again.err
        assert json.loads((tmp_path / "again.json").read_text()) == {"repositories": {}}
        assert "nothing to refresh" in again.out and "assemble" not in again.out and "build:" not in again.out
        n = sum(len(tags) for tags in REDUCED_TAGS.values())  # every tag of the plan
        assert again.out.splitlines()[-1] == f"0.5.31: nothing to do: no blob uploaded, no tag moved; {n} tags unchanged, {n} tags verified."
        rerun = publish(cli, matrix, own.host, cache, repo)  # a plain rerun keeps the refresh: nothing to build
        assert rerun.code == 0, rerun.err
        assert "nothing to build" in rerun.out
        assert {t: digest_of(f"{repo}:{t}") for t in before} == after
    finally:
        own.stop()


@pytest.mark.docker
@on_both_stores
def test_a_rerun_of_a_join_keeps_what_a_refresh_did(cli, tmp_path, store, registry, cache):
    """A release staged and joined, then refreshed: joining the same stage records again has nothing to do."""
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan
    from tests.test_stage import command, run

    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()
    try:
        for base in ("alpine:3.20", "debian:bookworm-slim"):
            push_base(tmp_path / "bases", own.host, base, list(PLATFORMS))
        matrix = reduced_matrix(tmp_path, cli)
        payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
        artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
        repo = f"{registry.host}/refresh-join-{store.name}/uv"
        stages = [tmp_path / f"stage-{p.split('/')[1]}" for p in PLATFORMS]
        for platform, folder in zip(PLATFORMS, stages):
            done = run(command(matrix, own.host, artifacts, cache, repo, "--platform", platform, "--stage", str(folder)))
            assert done.returncode == 0, done.stderr
        join = command(matrix, own.host, artifacts, cache, repo, "--join", *map(str, stages))
        assert run(join).returncode == 0
        exact = digest_of(f"{repo}:0.5.31-alpine")

        push_base(tmp_path / "changed", own.host, "alpine:3.20", list(PLATFORMS), python="3.99")
        refreshed = run(command(matrix, own.host, artifacts, cache, repo, "--refresh"))
        assert refreshed.returncode == 0 and "refreshing alpine3.20\n" in refreshed.stdout, refreshed.stderr
        assert digest_of(f"{repo}:alpine") != exact == digest_of(f"{repo}:0.5.31-alpine")

        rejoin = run(join)
        assert rejoin.returncode == 0, rejoin.stderr
        assert "nothing to do" in rejoin.stdout.splitlines()[-1]
        assert digest_of(f"{repo}:alpine") != exact == digest_of(f"{repo}:0.5.31-alpine")
    finally:
        own.stop()
