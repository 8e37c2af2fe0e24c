"""A publish under registry faults, killed mid-way, racing another, or publishing an older release."""

from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from publisher.release.tags import is_floating
from publisher.release.version import parse_release
from tests.fault_proxy import ALL_FAULTS
from tests.test_publish import REDUCED_TAGS, reduced_matrix, skopeo, tags_in

pytestmark = pytest.mark.docker
EXPECTED = {tag for tags in REDUCED_TAGS.values() for tag in tags}
FAST = ["--retry-delay", "0.01", "--retries", "15", "--timeout", "2"]


def args(matrix, mirror, cache, repo, version="0.5.31", revision="0123abc", *extra):
    return ["publish", "--version", version, "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache),
            "--created", "1732100000", "--revision", revision, "--repository", repo, *FAST, *extra]


def digests(repo: str, tags) -> dict[str, str]:
    """Each tag's manifest digest, read with skopeo (an independent client)."""
    import hashlib

    return {t: "sha256:" + hashlib.sha256(skopeo("inspect", "--raw", f"docker://{repo}:{t}").encode()).hexdigest()
            for t in tags}


def test_publish_through_twenty_percent_faults(cli, tmp_path, engine, registry, mirror, cache, proxies):
    faulty = proxies(fraction=0.2, kinds=ALL_FAULTS, seed=1, hang=3.0)
    matrix = reduced_matrix(tmp_path, cli)
    # The bases come through the faults too: a cache without base layers downloads them again.
    fresh = tmp_path / "cache"
    for kept in ("wheels", "binaries"):
        shutil.copytree(cache / kept, fresh / kept)
    run = cli(*args(matrix, faulty.host, fresh, f"{faulty.host}/faulty/uv"))
    assert run.code == 0, run.err
    assert re.search(r"; .*\b[1-9][0-9]* registry calls that succeeded on a retry\b", run.out.splitlines()[-1]), run.out[-500:]
    assert any((fresh / "bases").iterdir())
    kinds = {f[0] for f in faulty.faults}
    assert len(faulty.faults) >= 20 and len(kinds) >= 8, faulty.faults
    repo = f"{registry.host}/faulty/uv"  # read back past the proxy
    assert tags_in(repo) == EXPECTED
    found = digests(repo, EXPECTED)
    for tags in REDUCED_TAGS.values():
        assert len({found[t] for t in tags}) == 1


def invariant_holds(writes, release: str) -> None:
    """At no moment did a floating tag point at the new release while an exact tag of it was missing."""
    rel = parse_release(release)
    exact_tags = {t for t in EXPECTED if not is_floating(t, rel)}
    state: dict[str, str] = {}
    exact_digests = set()
    for _, tag, digest in writes:
        state[tag] = digest
        if not is_floating(tag, rel):
            exact_digests.add(digest)
        new_floating = [t for t, d in state.items() if is_floating(t, rel) and d in exact_digests]
        if new_floating:
            missing = exact_tags - state.keys()
            assert not missing, f"{new_floating[0]} moved while {sorted(missing)[0]} was missing"


def kill_when(proc_box: dict, condition):
    lock, fired = threading.Lock(), []

    def hook(method: str, path: str) -> None:
        with lock:
            if not fired and condition(method, path):
                fired.append(path)
                os.kill(proc_box["proc"].pid, signal.SIGKILL)

    return hook, fired


def counter(method_path_test, n: int):
    seen = []

    def condition(method, path):
        if method_path_test(method, path):
            seen.append(path)
        return len(seen) >= n

    return condition


KILL_POINTS = {
    "after the builds": counter(lambda m, p: "/blobs/" in p, 1),
    "while pushing": counter(lambda m, p: m == "PUT" and "/manifests/sha256:" in p, 2),
    "while tagging": counter(lambda m, p: m == "PUT" and "/manifests/" in p and "sha256:" not in p, 4),
}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_publish_completes_when_run_again(point, cli, tmp_path, engine, registry, mirror, cache, proxies):
    watcher = proxies()
    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{watcher.host}/crash/{point.replace(' ', '-')}"
    command = [sys.executable, "-m", "publisher", *args(matrix, mirror, cache, repo, "0.5.31", "0123abc", "--platform", "linux/amd64")]
    box: dict = {}
    watcher.hook, fired = kill_when(box, KILL_POINTS[point])
    box["proc"] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    box["proc"].communicate(timeout=600)
    assert box["proc"].returncode == -signal.SIGKILL and fired, "the publish was not killed where planned"
    watcher.hook = None
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert tags_in(f"{registry.host}/{repo.split('/', 1)[1]}") == EXPECTED
    invariant_holds(watcher.tag_writes, "0.5.31")


def test_older_release_holds_floating_tags_and_exact_tags_are_immutable(cli, tmp_path, engine, registry, mirror, cache):
    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{registry.host}/history/uv"
    amd64 = ["--platform", "linux/amd64"]
    assert cli(*args(matrix, mirror, cache, repo, "0.5.31", "0123abc", *amd64)).code == 0
    before = digests(repo, EXPECTED)

    preview = json.loads(cli(*args(matrix, mirror, cache, repo, "0.5.30", "0123abc", *amd64, "--dry-run", "--output", "json")).out)
    state = preview["registry_state"][repo]
    assert state["latest"]["status"] == "held" and state["latest"]["why"] == "points at 0.5.31, newer than 0.5.30"
    assert state["0.5.30-alpine"]["status"] == "new"

    older = cli(*args(matrix, mirror, cache, repo, "0.5.30", "0123abc", *amd64))
    assert older.code == 0, older.err
    assert f"{repo}:latest: held: points at 0.5.31, newer than 0.5.30" in older.out
    after = digests(repo, EXPECTED | {"0.5.30", "0.5.30-alpine"})
    floating = [t for t in EXPECTED if is_floating(t, parse_release("0.5.31"))]
    assert {t: after[t] for t in floating} == {t: before[t] for t in floating}
    assert after["0.5.30"] != before["0.5.31"]

    # Another revision alone is not other content (docs/publishing.md): nothing to do.
    again = cli(*args(matrix, mirror, cache, repo, "0.5.31", "fedcba9", *amd64))
    assert again.code == 0 and "nothing to do" in again.out.splitlines()[-1], again.err
    # The same release made from other inputs (another description): exact tags are refused before anything
    # is made, each line naming what changed; nothing is pushed.
    (tmp_path / "other").mkdir()
    changed = reduced_matrix(tmp_path / "other", cli)
    text = (tmp_path / "other" / "matrix.yaml").read_text()
    (tmp_path / "other" / "matrix.yaml").write_text(text.replace("description: An extremely", "description: A very"))
    other = cli(*args(changed, mirror, cache, repo, "0.5.31", "0123abc", *amd64))
    assert other.code == 2
    lines = other.err.splitlines()
    assert len(lines) == 5  # 0.5.31, 0.5.31-alpine3.20, 0.5.31-alpine, 0.5.31-bookworm-slim, 0.5.31-debian-slim
    assert lines[0] == (f"{repo}:0.5.31: holds {before['0.5.31']} (0.5.31), made with other labels "
                        "(org.opencontainers.image.description); exact tags are immutable: publish a new version, "
                        "leave the variant out (--skip distroless), or pass --force to overwrite")
    assert "engine: Docker" not in other.out  # refused before anything was made
    assert digests(repo, EXPECTED) == before

    forced = cli(*args(changed, mirror, cache, repo, "0.5.31", "0123abc", *amd64, "--force"))
    assert forced.code == 0, forced.err
    assert digests(repo, ["0.5.31"])["0.5.31"] != before["0.5.31"]

    downgraded = cli(*args(matrix, mirror, cache, repo, "0.5.30", "0123abc", *amd64, "--allow-downgrade"))
    assert downgraded.code == 0, downgraded.err
    assert digests(repo, ["latest"])["latest"] == after["0.5.30"]


def race(matrix, mirror, cache, repo, revisions) -> list[tuple[int, dict]]:
    """Run publishes at once; each one's exit code and the index digest it built per variant."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "publisher", *args(matrix, mirror, cache, repo, "0.5.31", rev, "--platform", "linux/amd64")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rev in revisions
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert "Traceback" not in err, err
        built = dict(line.split(": ", 1) for line in out.splitlines() if line.split(": ")[0] in REDUCED_TAGS)
        results.append((proc.returncode, built, err))
    return results


def test_racing_publishes_leave_every_tag_at_one_of_them(cli, tmp_path, engine, registry, mirror, cache):
    matrix = reduced_matrix(tmp_path, cli)
    # A retried job racing itself: same content, both succeed.
    same = race(matrix, mirror, cache, f"{registry.host}/race-same/uv", ["aaaa111", "aaaa111"])
    assert [code for code, _, _ in same] == [0, 0], [err for _, _, err in same]
    assert same[0][1] == same[1][1]
    final = digests(f"{registry.host}/race-same/uv", EXPECTED)
    assert all(final[t] == same[0][1][v] for v, tags in REDUCED_TAGS.items() for t in tags)

    # Two different builds racing: every tag ends at one of them; a loser says so (exit 1 or 2).
    repo = f"{registry.host}/race-different/uv"
    (code_a, a, _), (code_b, b, _) = race(matrix, mirror, cache, repo, ["aaaa111", "bbbb222"])
    assert {code_a, code_b} <= {0, 1, 2}
    assert set(a) == set(b) == set(REDUCED_TAGS) and all(a[v] != b[v] for v in a)
    final = digests(repo, EXPECTED)
    for variant, tags in REDUCED_TAGS.items():
        for tag in tags:
            assert final[tag] in (a[variant], b[variant]), tag


def test_cold_rebuild_gives_the_same_digests(cli, tmp_path, engine, registry, mirror, cache):
    """A retried job on a fresh machine (no build cache, no publisher cache) publishes the same bytes."""
    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{registry.host}/cold/uv"
    first = cli(*args(matrix, mirror, cache, repo))
    assert first.code == 0, first.err
    before = digests(repo, EXPECTED)
    again = cli(*args(matrix, mirror, tmp_path / "fresh-cache", repo, "0.5.31", "0123abc", "--no-build-cache"))
    assert again.code == 0, again.err
    assert again.out.rstrip().splitlines()[-1].startswith("0.5.31: nothing to do: no blob uploaded, no tag moved;")
    assert digests(repo, EXPECTED) == before
