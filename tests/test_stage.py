"""Beyond one machine: each platform staged by its own process and cache, then one join that tags.

The result must be indistinguishable from a one-machine publish: the same index digests.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys

import pytest

from publisher.release.tags import FOREIGN
from tests.test_cosign import new_key, public
from tests.test_publish import REDUCED_TAGS, reduced_matrix, skopeo, tags_in
from tests.test_reliability import KILL_POINTS, digests, invariant_holds, kill_when
from tests.test_supply_chain import write_key
from tests.verifiers import Verifiers

pytestmark = pytest.mark.docker
EXPECTED = {tag for tags in REDUCED_TAGS.values() for tag in tags}
COMMON = ["--created", "1732100000", "--revision", "0123abc", "--retry-delay", "0.01"]


def command(matrix, mirror, artifacts, cache, repo, *extra) -> list[str]:
    return [sys.executable, "-m", "publisher", "publish", "--version", "0.5.31", "--matrix", matrix, "--base-mirror",
            mirror, "--artifacts", str(artifacts), "--cache", str(cache), "--repository", repo, *COMMON, *extra]


def release_tags(repo: str) -> set[str]:
    """The repository's tags but the signatures' and referrers' (`sha256-…`)."""
    return {tag for tag in tags_in(repo) if not FOREIGN.fullmatch(tag)}


def tags_of(repo: str) -> set[str]:
    try:
        return tags_in(repo)
    except subprocess.CalledProcessError:  # a repository without any tag is unknown to some registries
        return set()


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900)


@pytest.fixture
def staged(cli, tmp_path, engine, registry, crane_registry, mirror, cache):
    """The reduced matrix staged as two processes, amd64 and arm64, each with a cache of its own, into a
    repository of distribution and one of go-containerregistry's registry (crane registry serve)."""
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan

    matrix = reduced_matrix(tmp_path, cli)
    # The payload as a folder, so the separate caches download nothing.
    payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
    artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
    repo = f"{registry.host}/staged/{secrets.token_hex(3)}"
    second = ["--repository", f"{crane_registry.host}/{repo.split('/', 1)[1]}"]  # the same path on the other registry
    stages = []
    for platform in ("linux/amd64", "linux/arm64"):
        folder = tmp_path / f"stage-{platform.split('/')[1]}"
        done = run(command(matrix, mirror, artifacts, tmp_path / f"cache-{platform.split('/')[1]}", repo,
                           "--platform", platform, "--stage", str(folder), *second))
        assert done.returncode == 0, done.stderr
        assert "staged: platform images pushed by digest, no index, no tag" in done.stdout.splitlines()[-1]
        stages.append(folder)
    return matrix, artifacts, repo, stages


def test_stages_then_join_equal_a_one_machine_publish(staged, tmp_path, registry, crane_registry, mirror, cache):
    matrix, artifacts, repo, stages = staged
    on_crane = f"{crane_registry.host}/{repo.split('/', 1)[1]}"
    assert tags_of(repo) == tags_of(on_crane) == set()  # nothing tagged by the stages
    record = json.loads(next(stages[1].glob("stage-*.json")).read_bytes())
    assert {(i["variant"], i["platform"]) for i in record["images"]} == {
        (v, "linux/arm64") for v in REDUCED_TAGS}
    assert all(i["smoke"] and not i["failures"] and i["manifest"].startswith("sha256:") for i in record["images"])

    # The join signs: the statements it signs are the ones the stages pushed, read back from the registry.
    key = new_key()
    signing = ["--sign-key", write_key(tmp_path / "key.pem", key)]
    (tmp_path / "key.pub").write_bytes(public(key))
    joined = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages),
                         "--repository", on_crane, *signing))
    assert joined.returncode == 0, joined.stderr
    assert "build:" not in joined.stdout and "smoke-test:" not in joined.stdout  # the join builds nothing
    assert "blobs uploaded" not in joined.stdout.splitlines()[-1]
    assert release_tags(repo) == release_tags(on_crane) == EXPECTED
    tools = Verifiers(tmp_path / "docker-config")
    index = json.loads(skopeo("inspect", "--raw", f"docker://{on_crane}:0.5.31-alpine3.20"))
    for where, image in ((where, m["digest"]) for where in (repo, on_crane) for m in index["manifests"][:2]):
        for kind in ("slsaprovenance1", "spdxjson"):
            verified = tools.cosign_verify_attestation(tmp_path / "key.pub", f"{where}@{image}", kind)
            assert verified.returncode == 0, verified.stderr

    other = f"{registry.host}/one-machine/{secrets.token_hex(3)}"
    whole = run(command(matrix, mirror, artifacts, cache, other))
    assert whole.returncode == 0, whole.stderr
    assert digests(repo, EXPECTED) == digests(other, EXPECTED)  # indistinguishable, byte for byte
    assert digests(on_crane, EXPECTED) == digests(other, EXPECTED)  # on the second registry too

    # Reruns do nothing new: the stage finds its record and its manifests, the join its tags.
    again = run(command(matrix, mirror, artifacts, tmp_path / "cache-amd64", repo, "--platform", "linux/amd64",
                        "--stage", str(stages[0])))
    assert again.returncode == 0 and "this stage is done" in again.stdout, again.stderr
    assert "build:" not in again.stdout
    rejoin = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages), *signing))
    assert rejoin.returncode == 0 and "nothing to do" in rejoin.stdout.splitlines()[-1], rejoin.stderr


def test_a_missing_stage_is_refused_and_no_tag_moves(staged, tmp_path, mirror):
    matrix, artifacts, repo, stages = staged
    done = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", str(stages[0])))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "linux/arm64: no stage record holds this platform; stage --platform linux/arm64 and join again"]
    assert tags_of(repo) == set()


def test_a_killed_join_completes_when_run_again(staged, tmp_path, registry, mirror, proxies):
    matrix, artifacts, path, stages = staged
    watcher = proxies()
    repo = f"{watcher.host}/{path.split('/', 1)[1]}"
    argv = command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages))
    box: dict = {}
    watcher.hook, fired = kill_when(box, KILL_POINTS["while tagging"])
    box["proc"] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    box["proc"].communicate(timeout=600)
    assert box["proc"].returncode == -signal.SIGKILL and fired, "the join was not killed where planned"
    watcher.hook = None
    again = run(argv)
    assert again.returncode == 0, again.stderr
    assert tags_in(f"{registry.host}/{path.split('/', 1)[1]}") == EXPECTED
    invariant_holds(watcher.tag_writes, "0.5.31")
    index = json.loads(skopeo("inspect", "--raw", f"docker://{registry.host}/{path.split('/', 1)[1]}:latest"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]


def test_stages_without_attestations_join_only_with_the_same_setting(cli, tmp_path, engine, registry, mirror, cache):
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan

    matrix = reduced_matrix(tmp_path, cli)
    payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
    artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
    repo = f"{registry.host}/staged-plain/{secrets.token_hex(3)}"
    stages = [tmp_path / "stage-amd64", tmp_path / "stage-arm64"]
    for platform, folder in zip(("linux/amd64", "linux/arm64"), stages):
        done = run(command(matrix, mirror, artifacts, tmp_path / f"cache-{folder.name}", repo, "--platform", platform,
                           "--stage", str(folder), "--no-attestations"))
        assert done.returncode == 0, done.stderr
        assert "attest:" not in done.stdout

    refused = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages)))
    assert refused.returncode == 2 and tags_of(repo) == set()
    assert refused.stderr.splitlines() == [
        f"{stages[0] / 'stage-linux-amd64.json'}, {stages[1] / 'stage-linux-arm64.json'}: staged with --no-attestations, "
        "and this join makes attestations; join with --no-attestations, or stage again without it"]

    joined = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages),
                         "--no-attestations"))
    assert joined.returncode == 0, joined.stderr
    assert tags_in(repo) == EXPECTED
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:alpine"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    other = f"{registry.host}/one-machine-plain/{secrets.token_hex(3)}"
    whole = run(command(matrix, mirror, artifacts, cache, other, "--no-attestations"))
    assert whole.returncode == 0, whole.stderr
    assert digests(repo, EXPECTED) == digests(other, EXPECTED)  # as a one-machine publish without attestations


def test_a_variant_with_its_own_narrower_platforms_is_staged_where_it_has_them(cli, tmp_path, engine, registry, mirror, cache):
    """alpine3.20 says `platforms: [linux/amd64]`: the arm64 stage keeps it in its plan and makes none of it."""
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan

    matrix = reduced_matrix(tmp_path, cli)
    text = (tmp_path / "matrix.yaml").read_text()
    narrowed = text.replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: [linux/amd64]\n")
    assert narrowed != text
    (tmp_path / "matrix.yaml").write_text(narrowed)
    payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
    artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
    repo = f"{registry.host}/own-platforms/{secrets.token_hex(3)}"
    stages, logs = {}, {}
    for arch in ("amd64", "arm64"):
        stages[arch] = tmp_path / f"stage-{arch}"
        done = run(command(matrix, mirror, artifacts, tmp_path / f"cache-{arch}", repo,
                           "--platform", f"linux/{arch}", "--stage", str(stages[arch])))
        assert done.returncode == 0, done.stderr
        logs[arch] = done.stdout.splitlines()
    assert ("alpine3.20: its platforms have none of linux/arm64; not staged here, the join expects its own platforms"
            in logs["arm64"])
    assert not any(line.startswith("alpine3.20:") for line in logs["amd64"])
    record = json.loads(next(stages["arm64"].glob("stage-*.json")).read_bytes())
    assert {v["name"]: v["platforms"] for v in record["variants"]} == {
        "distroless": ["linux/arm64"], "alpine3.20": [], "bookworm-slim": ["linux/arm64"]}
    assert sorted(i["variant"] for i in record["images"]) == ["bookworm-slim", "distroless"]

    joined = run(command(matrix, mirror, artifacts, tmp_path / "cache-join", repo, "--join", *map(str, stages.values())))
    assert joined.returncode == 0, joined.stderr
    assert tags_of(repo) == EXPECTED
    platforms = lambda tag: sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in
                                   json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))["manifests"]
                                   if m.get("platform", {}).get("os") != "unknown")
    assert platforms("0.5.31-alpine3.20") == platforms("alpine") == ["linux/amd64"]
    assert platforms("latest") == platforms("0.5.31-debian-slim") == ["linux/amd64", "linux/arm64"]

    other = f"{registry.host}/own-platforms-one-machine/{secrets.token_hex(3)}"
    whole = run(command(matrix, mirror, artifacts, cache, other))
    assert whole.returncode == 0, whole.stderr
    assert digests(repo, EXPECTED) == digests(other, EXPECTED)  # the same indexes, byte for byte
