"""--no-attestations: indexes of platform manifests only, nothing scanned or attested; whether a
release is attested is one of its inputs, and its exact tags never change setting silently."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from publisher.image import oci
from publisher.image.platform import parse_platform
from publisher.image.slsa import SourceFile
from publisher.options import Arguments, compute_plan
from publisher.release import inputs
from publisher.errors import PublisherError
from publisher.release.decisions import CONFLICT, MOVES, STAYS, Current, Decision, Rules
from publisher.release.records import StageRecord, join_problems
from publisher.release.resolved import foreseen, one_machine
from publisher.release.supply import supply_chain
from publisher.release.tags import is_floating
from publisher.report import supply_chain_line
from publisher.image.attest import Context, context_digest, format_4_digest
from publisher.release.rerun import explained, holds, same_content, up_to_date
from publisher.release.publication import Publication
from publisher.steps.push import refuse_conflicts
from publisher.release.decisions import decide_all
from tests.test_records import stage
from tests.test_supply_chain import write_key
from tests.test_cosign import new_key, public
from tests.test_publish import REDUCED_TAGS, publish, reduced_matrix, skopeo

REPO = "r.example/uv"
FILES = {parse_platform("linux/amd64"): {"tool": "sha256:" + "a" * 64}, parse_platform("linux/arm64"): {"tool": "sha256:" + "b" * 64}}
PAYLOAD = {p: inputs.payload_digest(files) for p, files in FILES.items()}
BASE = "sha256:" + "c" * 64


@pytest.fixture(scope="module")
def plan():
    return compute_plan(Arguments(version="0.5.31", only=("alpine3.20",), repositories=(REPO,), revision="abc",
                                  created="1732100000"))


def context() -> Context:
    return Context("ghcr.io/astral-sh/uv", "astral-sh", SourceFile("matrix.yaml"), None, None, {}, "uv",
                   ("/", "/usr/local/bin/"), "0.5.31", {}, {})


def contexts(attested: bool) -> dict:
    """Platform → the attestation context's digest, with attestations or without."""
    return {p: context_digest(context() if attested else None) for p in FILES}


def made(plan, attested: bool, base: str = BASE) -> Current:
    """What a tag holds once the plan's one variant was published from FILES on `base`, with attestations or without."""
    v = plan.variants[0]
    parts = inputs.parts(v, base, PAYLOAD, contexts(attested), v.variant.platforms)
    return Current("sha256:" + "d" * 64, "0.5.31", "abc", parts.digest, base, attested, inputs.annotations(v, parts))


def held_as(plan, attested: bool) -> dict:
    """Every tag of the plan holding one index made from FILES on BASE, with attestations or without."""
    return {REPO: {tag: made(plan, attested) for tag in plan.variants[0].tags}}


def test_the_context_digest_hashes_its_field_names_and_values_but_not_the_files():
    # A field renamed or its value written otherwise would change every inputs digest published.
    assert context().digest == "sha256:87a79c1f509c2830ca5b9e867c91ca1573d249840fea044f04a05f677eb0afc6"
    assert replace(context(), files=FILES, payloads={parse_platform("linux/amd64"): ()}).digest == context().digest
    # Inputs format 4's: the same context with the publish's creation time and revision, as published then
    assert format_4_digest(context().shared(), None, None) == \
        "sha256:e4443c870574dc6fecad4e15e6757642db692cac7b739678571dfd9c782bf226"


def test_attested_or_not_is_an_input_and_format_4_indexes_are_recognised(plan):
    v = plan.variants[0]
    platforms = v.variant.platforms
    attested = inputs.parts(v, BASE, PAYLOAD, contexts(True), platforms)
    plain = inputs.parts(v, BASE, PAYLOAD, contexts(False), platforms)
    assert plain.attestations == "no attestations" and attested.attestations == context().digest
    assert attested.differing(plain) == ["attestations"] and plain.digest != attested.digest
    assert inputs.parts(v, BASE, PAYLOAD, contexts(False), platforms).digest == plain.digest  # the same on every run
    amd64 = parse_platform("linux/amd64")
    assert PAYLOAD[amd64] == oci.digest(FILES[amd64]["tool"].encode())
    # What indexes of format 4 hashed: the labels with the publish's time and revision, and each platform's
    # payload digest folded with the context's (which held that time and revision too).
    then = format_4_digest(context().shared(), v.labels["org.opencontainers.image.created"], "abc")
    assert inputs.format_4(v, v.labels, BASE, inputs.Format4(context().shared(), PAYLOAD), platforms) == oci.digest(oci.canonical({
        "format": 4, "dockerfile": v.dockerfile_text, "labels": v.labels, "platforms": [str(p) for p in platforms],
        "base": BASE, "binaries": {str(p): oci.digest(f"{PAYLOAD[p]}\n{then}".encode()) for p in platforms}}))


@pytest.mark.parametrize("before, now", [(True, False), (False, True)])
def test_a_release_published_with_the_other_setting_is_not_up_to_date(plan, before, now):
    v = plan.variants[0]
    states = held_as(plan, before)
    assert up_to_date(one_machine(plan, {}, {v.variant.name: BASE}, FILES, context() if before else None), states)
    found = one_machine(plan, {}, {v.variant.name: BASE}, FILES, context() if now else None)
    assert not up_to_date(found, states)
    # nor is an exact tag "as published" under the other setting: the fast path of a refreshed release
    assert not holds(found, v, states[REPO][v.tags[0]], exact=True)


def test_the_dry_run_says_exact_tags_conflict_and_floating_tags_move_when_the_setting_changes(plan):
    v = plan.variants[0]
    states = held_as(plan, True)
    same = foreseen(plan, {}, {v.variant.name: BASE}, context_digest(context()))
    assert {d.status for d in decide_all(plan, states, Rules(), same_content(same)).values()} == {STAYS}
    other = foreseen(plan, {}, {v.variant.name: BASE}, context_digest(None))
    changed = explained(other, decide_all(plan, states, Rules(), same_content(other)))
    assert {tag: d.status for (_, tag), d in changed.items()} == {
        tag: MOVES if is_floating(tag, plan.release) else CONFLICT for tag in v.tags}
    assert changed[REPO, v.tags[0]].why == ("made with attestations (this publish is --no-attestations: publish "
                                            "without it as before); exact tags are immutable")


@pytest.mark.parametrize("held, made, fix", [
    (True, False, "publish without --no-attestations as before"),
    (False, True, "publish with --no-attestations as before"),
])
def test_a_conflict_from_the_other_setting_says_so_and_how_to_fix_it(plan, held, made, fix):
    v = plan.variants[0]
    entry = [{"mediaType": oci.MANIFEST, "digest": "sha256:" + "e" * 64, "size": 9,
              "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
              "platform": {"os": "unknown", "architecture": "unknown"}}]
    index = oci.index([oci.Child("sha256:" + "f" * 64, 10, {"os": "linux", "architecture": "amd64"})], {},
                      entry if made else [])
    p = Publication(v.variant.name, (), index, v.tags)
    before = Current("sha256:" + "d" * 64, "0.5.31", "abc", "sha256:i", BASE, attested=held)
    decisions = {(REPO, tag): Decision(CONFLICT, before, "exact tags are immutable") for tag in v.tags[:1]}
    with pytest.raises(PublisherError) as refused:
        refuse_conflicts(decisions, [p])
    (line,) = refused.value.lines
    said = "with" if held else "without"
    assert line.startswith(f"{REPO}:{v.tags[0]}: holds sha256:{'d' * 64} (0.5.31) made {said} attestations, ")
    assert fix in line and "--force" in line
    other = replace(before, attested=made)  # the same setting: the plain line
    with pytest.raises(PublisherError) as plain:
        refuse_conflicts({(REPO, v.tags[0]): Decision(CONFLICT, other)}, [p])
    assert "attestations" not in plain.value.lines[0]


def test_a_join_refuses_stages_of_the_other_setting_in_one_line():
    shipped = compute_plan(Arguments(version="0.5.31", only=("distroless", "alpine3.20"), created="1732100000",
                                     revision="abc"))
    amd, arm = stage(shipped, "linux/amd64"), stage(shipped, "linux/arm64")
    plain = {"amd": replace(amd, attestations=False), "arm": replace(arm, attestations=False)}
    assert join_problems(shipped, plain, attestations=False) == []
    assert join_problems(shipped, plain) == ["amd, arm: staged with --no-attestations, and this join makes attestations; "
                                     "join with --no-attestations, or stage again without it"]
    assert join_problems(shipped, {"amd": amd, "arm": plain["arm"]}, attestations=False) == [
        "amd: staged with attestations, and this join is --no-attestations; join without --no-attestations, or stage again with it"]
    # the setting survives the record's file; a record from before the field was attested
    assert StageRecord.from_json(plain["amd"].to_json()).attestations is False
    older = json.loads(amd.to_json())
    del older["attestations"]
    assert StageRecord.from_json(json.dumps(older).encode()) == amd


def test_the_dry_run_says_there_are_no_attestations(cli, plan):
    carries = supply_chain(plan, False, attested=False)
    assert carries == {"attestations": [], "attestation_manifests": 0, "signed": False, "signatures_per_repository": 0,
                       "bundles_per_repository": 0}
    signed = supply_chain(plan, True, attested=False)
    assert signed["bundles_per_repository"] == signed["signatures_per_repository"] > 0  # no statement to sign
    assert supply_chain_line(signed).endswith("Sigstore bundles (the signatures).")
    assert supply_chain_line(carries).startswith("Attestations: none (--no-attestations)")
    args = ("publish", "--dry-run", "--offline", "--version", "0.5.31", "--no-attestations")
    assert json.loads(cli(*args, "--output", "json").out)["supply_chain"]["attestation_manifests"] == 0
    assert "Attestations: none (--no-attestations): no SBOM, no provenance" in cli(*args).out


def index_of(ref: str) -> tuple[str, dict]:
    raw = skopeo("inspect", "--raw", f"docker://{ref}").encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest(), json.loads(raw)


@pytest.mark.docker
def test_no_attestations_publish_rerun_verify_and_the_setting_never_moves_exact_tags(cli, tmp_path, engine, registry,
                                                                                     mirror, cache):
    key = new_key()
    (tmp_path / "key.pub").write_bytes(public(key))
    signing = ["--sign-key", write_key(tmp_path / "key.pem", key), "--result", str(tmp_path / "result.json")]
    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{registry.host}/plain/uv"

    run = publish(cli, matrix, mirror, cache, repo, extra=["--no-attestations", *signing])
    assert run.code == 0, run.err
    assert "attest: " not in run.out and "signatures pushed" in run.out  # nothing scanned or attested; signed
    held = {}
    for variant, tags in REDUCED_TAGS.items():
        found = {tag: index_of(f"{repo}:{tag}") for tag in tags}
        assert len({digest for digest, _ in found.values()}) == 1, variant
        digest, index = found[tags[0]]
        assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]  # no unknown/unknown
        assert index["annotations"]["dev.publisher.inputs"].startswith("sha256:")
        held.update((tag, digest) for tag in tags)
    result = json.loads((tmp_path / "result.json").read_text())["repositories"][repo]
    assert {tag: r["digest"] for tag, r in result.items()} == held

    again = publish(cli, matrix, mirror, cache, repo, extra=["--no-attestations", *signing])
    assert again.code == 0, again.err
    assert again.out.rstrip().splitlines()[-1].startswith("0.5.31: nothing to do: no blob uploaded, no tag moved;")

    join_problems = ["verify", "--version", "0.5.31", "--matrix", matrix, "--repository", repo, "--key", str(tmp_path / "key.pub")]
    plain = cli(*join_problems, "--no-attestations")
    assert plain.code == 0 and plain.out.strip().endswith("hold it, not attested (--no-attestations) and signed"), plain.out
    demanded = cli(*join_problems)
    assert demanded.code == 1
    problems = demanded.out.splitlines()[:-1]
    assert len(problems) == 15 * 2  # every tag, each of its two platforms
    assert all(line.split(": ", 2)[1] in ("linux/amd64", "linux/arm64")
               and line.endswith("no attestation manifest (no SBOM, no provenance); if it was published with "
                                 "--no-attestations, verify with it") for line in problems), problems[:3]

    # The same release with attestations: the dry-run and the publish both say the exact tags conflict.
    exact = sorted(tag for tags in REDUCED_TAGS.values() for tag in tags if tag.startswith("0.5.31"))
    state = json.loads(publish(cli, matrix, mirror, cache, repo, extra=["--dry-run", "--output", "json"]).out)
    assert sorted(t for t, s in state["registry_state"][repo].items() if s["status"] == "conflict") == exact
    refused = publish(cli, matrix, mirror, cache, repo, extra=signing)
    assert refused.code == 2
    assert sorted(line.split(": ")[0] for line in refused.err.splitlines()) == [f"{repo}:{t}" for t in exact]
    assert all("made without attestations (this publish makes them: publish with --no-attestations as before)" in line
               for line in refused.err.splitlines())
    assert "engine: Docker" not in refused.out  # refused before anything was made
    assert {tag: index_of(f"{repo}:{tag}")[0] for tag in held} == held  # nothing moved

    # --force overwrites them, every tag then holds the attested index; and the reverse is refused as well.
    forced = publish(cli, matrix, mirror, cache, repo, extra=[*signing, "--force"])
    assert forced.code == 0, forced.err
    digest, index = index_of(f"{repo}:0.5.31-alpine3.20")
    assert [m["platform"]["os"] for m in index["manifests"]] == ["linux", "linux", "unknown", "unknown"]
    assert digest != held["0.5.31-alpine3.20"] == held["alpine"] and index_of(f"{repo}:alpine")[0] == digest
    assert cli(*join_problems).code == 0
    back = publish(cli, matrix, mirror, cache, repo, extra=["--no-attestations", *signing])
    assert back.code == 2 and "made with attestations (this publish is --no-attestations: publish without it as before)" in back.err
