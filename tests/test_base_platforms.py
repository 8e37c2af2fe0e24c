"""`platforms: from-base`: of the matrix's platforms, those the base's index has, found at publish time."""

from __future__ import annotations

import json
import secrets

import pytest

from publisher.release.records import FORMAT
from tests.images import push_base
from tests.registry_server import RegistryServer
from tests.test_publish import PLATFORMS, REDUCED_TAGS, publish, reduced_matrix, skopeo
from tests.test_refusals import free_port


def from_base_matrix(tmp_path, cli) -> str:
    matrix = reduced_matrix(tmp_path, cli)
    text = (tmp_path / "matrix.yaml").read_text()
    marked = text.replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: from-base\n")
    assert marked != text
    (tmp_path / "matrix.yaml").write_text(marked)
    return matrix


def arches(platforms: list[str]) -> str:
    return ",".join(p.split("/", 1)[1] for p in platforms)


def shown(table: str, v: dict) -> str | None:
    """What the plan table shows of `v`'s platforms: its row is its name, its base, the platforms, its tags."""
    row = next((line for line in table.splitlines() if line.startswith(f"{v['name']} ")), "")
    inner = row.removeprefix(v["name"]).removesuffix(" ".join(v["tags"])).strip()
    return inner.removeprefix(v["base"]).strip() if inner.startswith(v["base"]) else None


def test_the_plan_says_from_the_base(cli, tmp_path):
    matrix = from_base_matrix(tmp_path, cli)
    args = ("publish", "--dry-run", "--offline", "--version", "0.5.31", "--matrix", matrix)
    table = cli(*args)
    assert table.code == 0, table.err
    variants = {v["name"]: v for v in json.loads(cli(*args, "--output", "json").out)["variants"]}
    assert variants["alpine3.20"]["platforms_from"] == "base"
    assert shown(table.out, variants["alpine3.20"]) == f"from base, of {arches(variants['alpine3.20']['platforms'])}"
    assert "platforms_from" not in variants["bookworm-slim"] and "platforms_from" not in variants["distroless"]


def test_a_dry_run_that_reads_the_registries_shows_the_platforms_its_base_has(cli, tmp_path, registry):
    """No engine: the base is read as a publish reads it, and offline the plan stays as it was."""
    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()  # never the session mirror: other tests pull its alpine:3.20
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", ["linux/amd64"])
        pushed = _heads(own)
        _dry_runs(cli, tmp_path, registry, own.host)
        assert _heads(own) - pushed == 2  # the base's digest read once by each dry-run through the mirror, not again to preview it
    finally:
        own.stop()


def _heads(registry: RegistryServer) -> int:
    """How many times the registry's access log says alpine:3.20's manifest was asked for by a HEAD."""
    return registry.log_path.read_text(errors="replace").count('"HEAD /v2/library/alpine/manifests/3.20 ')


def _dry_runs(cli, tmp_path, registry, mirror: str) -> None:
    matrix = from_base_matrix(tmp_path, cli)
    args = ("publish", "--dry-run", "--version", "0.5.31", "--matrix", matrix, "--repository", f"{registry.host}/preview/uv")
    table = cli(*args, "--base-mirror", mirror)
    assert table.code == 0, table.err
    assert "platforms from base not read" not in table.out
    document = json.loads(cli(*args, "--base-mirror", mirror, "--output", "json").out)
    variants = {v["name"]: v for v in document["variants"]}
    alpine = variants["alpine3.20"]
    assert alpine["platforms_resolved"] == ["linux/amd64"]
    assert alpine["platforms"] == ["linux/amd64", "linux/arm64"]  # the candidates, as before
    assert shown(table.out, alpine) == f"from base: {arches(alpine['platforms_resolved'])} (of {arches(alpine['platforms'])})"
    assert "platforms_resolved" not in variants["bookworm-slim"] and "base_note" not in document

    port = free_port()  # a mirror nobody serves: the plan as offline, and why
    unread = cli(*args, "--base-mirror", f"127.0.0.1:{port}")
    assert unread.code == 0, unread.err
    assert f"platforms from base not read: 127.0.0.1:{port} not reachable" in unread.out.splitlines()
    document = json.loads(cli(*args, "--base-mirror", f"127.0.0.1:{port}", "--output", "json").out)
    assert document["base_note"] == f"platforms from base not read: 127.0.0.1:{port} not reachable"
    assert "platforms_resolved" not in document["variants"][1]
    assert shown(unread.out, alpine) == f"from base, of {arches(alpine['platforms'])}"  # as offline


@pytest.mark.docker
def test_a_variant_is_published_for_the_platforms_its_base_has(cli, tmp_path, engine, registry, cache):
    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", ["linux/amd64"])  # this base has amd64 only
        push_base(tmp_path / "bases", own.host, "debian:bookworm-slim", list(PLATFORMS))
        matrix = from_base_matrix(tmp_path, cli)
        repo = f"{registry.host}/from-base/uv"

        line = (tmp_path / "matrix.yaml").read_text().splitlines().index("  - base: alpine:3.20") + 1
        none = publish(cli, matrix, own.host, cache, repo, extra=("--platform", "linux/arm64"))
        assert (none.code, none.err.splitlines()) == (2, [
            f"{matrix}:{line}: variant 'alpine3.20': platforms: from-base, and base alpine:3.20 has none of linux/arm64 "
            f"(looked up at {own.host}/library/alpine:3.20); list its platforms or choose another base"])

        run = publish(cli, matrix, own.host, cache, repo)
        assert run.code == 0, run.err
        assert "alpine3.20: platforms from base alpine:3.20: linux/amd64\n" in run.out
        assert "assemble: 5 in" in run.out  # the primary and bookworm-slim on amd64 and arm64, alpine3.20 on amd64
        platforms = lambda tag: sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in
                                       json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))["manifests"]
                                       if m.get("platform", {}).get("os") != "unknown")
        assert platforms("alpine") == ["linux/amd64"]
        assert platforms("debian-slim") == ["linux/amd64", "linux/arm64"]

        # verify expects the platforms the base has, read as the publish reads it (through the mirror)
        check = ("verify", "--version", "0.5.31", "--matrix", matrix, "--repository", repo)
        good = cli(*check, "--base-mirror", own.host)
        assert good.code == 0, good.out + good.err
        tags = sum(len(names) for names in REDUCED_TAGS.values())
        assert good.out.splitlines()[-1].startswith(f"0.5.31: all {tags} tags of 1 repository hold it"), good.out
        port = free_port()  # a base that cannot be read: one line says so, no guess from the candidates
        unread = cli(*check, "--base-mirror", f"127.0.0.1:{port}")
        assert (unread.code, unread.out.splitlines()) == (1, [
            f"platforms from base not read: 127.0.0.1:{port} not reachable; the platforms of alpine3.20 not checked",
            f"0.5.31: 1 problem in {tags} tags of 1 repository"])
        skopeo("copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false",  # an index with arm64 too
               f"docker://{repo}:0.5.31-debian-slim", f"docker://{repo}:0.5-alpine")
        wrong = cli(*check, "--base-mirror", own.host)
        assert wrong.code == 1
        assert [line.split(", for ")[1] for line in wrong.out.splitlines() if line.startswith(f"{repo}:0.5-alpine: holds ")
                and ", for " in line] == ["linux/amd64, linux/arm64, not linux/amd64"], wrong.out
    finally:
        own.stop()


@pytest.mark.docker
def test_stages_make_a_from_base_variant_where_its_base_has_the_platform(cli, tmp_path, engine, registry, cache):
    """Staged for amd64 and arm64 in two processes, then joined: alpine3.20's base has amd64 only."""
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan
    from tests.test_reliability import digests
    from tests.test_stage import EXPECTED, command, run, tags_of

    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", ["linux/amd64"])
        push_base(tmp_path / "bases", own.host, "debian:bookworm-slim", list(PLATFORMS))
        matrix = from_base_matrix(tmp_path, cli)
        payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
        artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
        repo = f"{registry.host}/from-base-staged/{secrets.token_hex(3)}"
        stages, logs = {}, {}
        for platform in PLATFORMS:
            arch = platform.split("/")[1]
            stages[arch] = tmp_path / f"stage-{arch}"
            done = run(command(matrix, own.host, artifacts, tmp_path / f"cache-{arch}", repo,
                               "--platform", platform, "--stage", str(stages[arch])))
            assert done.returncode == 0, done.stderr
            logs[arch] = done.stdout.splitlines()
        assert "alpine3.20: platforms from base alpine:3.20: linux/amd64" in logs["amd64"]
        assert ("alpine3.20: platforms from base alpine:3.20: none of linux/arm64; not staged here, "
                "the join expects the platforms its base has") in logs["arm64"]
        record = json.loads(next(stages["arm64"].glob("stage-*.json")).read_bytes())
        assert record["format"] == FORMAT
        assert {v["name"]: (v["platforms"], v["lacks"]) for v in record["variants"]} == {
            "distroless": (["linux/arm64"], []), "alpine3.20": ([], ["linux/arm64"]), "bookworm-slim": (["linux/arm64"], [])}
        assert sorted(i["variant"] for i in record["images"]) == ["bookworm-slim", "distroless"]

        missing = run(command(matrix, own.host, artifacts, tmp_path / "cache-join", repo, "--join", str(stages["arm64"])))
        assert (missing.returncode, missing.stderr.splitlines()) == (2, [
            "linux/amd64: no stage record holds this platform; stage --platform linux/amd64 and join again"])
        assert tags_of(repo) == set()

        joined = run(command(matrix, own.host, artifacts, tmp_path / "cache-join", repo,
                             "--join", str(stages["amd64"]), str(stages["arm64"])))
        assert joined.returncode == 0, joined.stderr
        assert "alpine3.20: platforms from base alpine:3.20: linux/amd64 (as its stages found)" in joined.stdout.splitlines()
        assert tags_of(repo) == EXPECTED
        platforms = lambda tag: sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in
                                       json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))["manifests"]
                                       if m.get("platform", {}).get("os") != "unknown")
        assert platforms("0.5.31-alpine3.20") == platforms("alpine") == ["linux/amd64"]
        assert platforms("debian-slim") == platforms("latest") == ["linux/amd64", "linux/arm64"]

        again = run(command(matrix, own.host, artifacts, tmp_path / "cache-arm64", repo,
                            "--platform", "linux/arm64", "--stage", str(stages["arm64"])))
        assert again.returncode == 0 and "this stage is done" in again.stdout, again.stderr  # its record still holds

        other = f"{registry.host}/from-base-one-machine/{secrets.token_hex(3)}"
        whole = run(command(matrix, own.host, artifacts, cache, other))
        assert whole.returncode == 0, whole.stderr
        assert digests(repo, EXPECTED) == digests(other, EXPECTED)  # the same indexes, byte for byte
    finally:
        own.stop()


def test_a_base_index_is_fetched_once_when_every_platform_asks_at_once(tmp_path):
    """Docker Hub counts each manifest GET as a pull: tasks asking for one base together make one request."""
    from concurrent.futures import ThreadPoolExecutor

    from publisher.image.platform import parse_platform
    from publisher.image.reference import parse, parse_mirror
    from publisher.remote.hosts import Hosts
    from publisher.holdings.bases import Bases
    from tests.fault_proxy import FaultProxy

    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()
    proxy = FaultProxy(own.host)
    gets, alpine = [], parse("alpine:3.20")
    proxy.hook = lambda method, path: gets.append(path) if method == "GET" and "/manifests/" in path else None
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", list(PLATFORMS))
        with Hosts() as hosts, ThreadPoolExecutor(8) as pool:
            bases = Bases({alpine}, parse_mirror(proxy.host), tmp_path / "cache", hosts)
            bases.resolve(pool)
            asked = [(parse_platform(platform), n) for platform in PLATFORMS for n in range(4)]  # 8 tasks, as 4 variants on one base
            assert list(pool.map(lambda item: bases.lacks(alpine, item[0]), asked)) == [None] * len(asked)
        index = bases.digests[alpine]
        assert sum(path.endswith(index) for path in gets) == 1
        assert len(gets) == 1 + len(PLATFORMS)  # the index, then each platform's manifest, once each
    finally:
        proxy.stop()
        own.stop()
