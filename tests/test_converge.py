"""Concurrent publishers: the rule for one floating tag (pure), then two publishers racing on real registries.

The integration tests run one publisher as a subprocess through a proxy that pauses it at a chosen
point (before its first floating tag, between two, before verification), run the other to completion
straight at the registry, then let the first go on. At each pause and at the end the tag order holds
(no floating tag ahead of its release's exact tags), every floating tag ends at the newest release,
exact tags as first published, and both publishers exit 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from publisher.release.converge import NEWER, OURS, RESTORE, WRITE, exact_tag, line, newest_claimant, standing
from publisher.release.tags import FOREIGN, is_floating
from publisher.release.version import parse_release
from tests.fault_proxy import read_after_put, tag_put
from tests.test_publish import reduced_matrix
from tests.test_reliability import args

OLD, NEW = parse_release("0.14.0"), parse_release("0.14.1")
LISTED = {"latest", "0.14.0", "0.14", "0.14.0-trixie-slim", "0.14-trixie-slim", "trixie-slim",
          "sha256-" + "a" * 64 + ".sig", "0.15.0rc1-trixie-slim", "0.14.2-python3.12-trixie-slim"}


def test_a_tag_holding_ours_or_older_is_ours_to_write():
    assert standing("trixie-slim", OLD, True, "0.14.0", LISTED).action == OURS
    assert standing("trixie-slim", NEW, False, "0.14.0", LISTED).action == WRITE  # an older publisher wrote over us
    assert standing("trixie-slim", NEW, False, None).action == WRITE  # not publisher's, or no such tag
    assert standing("trixie-slim", OLD, False, "0.14.0").action == WRITE  # the same release: a refresh replaces it


def test_a_tag_holding_a_newer_release_stays():
    s = standing("trixie-slim", OLD, False, "0.14.1")
    assert s.action == NEWER and s.release == NEW
    assert standing("0.14-trixie-slim", OLD, False, "0.14.1", LISTED | {"0.14.1-trixie-slim"}).action == NEWER
    assert standing("trixie-slim", OLD, False, "0.14.1", downgrade=True).action == WRITE  # --allow-downgrade


def test_our_write_over_a_newer_release_is_put_back_from_its_exact_tag():
    listed = LISTED | {"0.14.1", "0.14.1-trixie-slim"}
    s = standing("trixie-slim", OLD, True, "0.14.0", listed)
    assert (s.action, s.release, s.exact) == (RESTORE, NEW, "0.14.1-trixie-slim")
    assert standing("latest", OLD, True, "0.14.0", listed).exact == "0.14.1"
    assert standing("0.14", OLD, True, "0.14.0", listed).exact == "0.14.1"
    # a newer release again holding it (it settled too) stays; an older one is put right
    assert standing("trixie-slim", OLD, False, "0.14.1", listed).action == NEWER
    assert standing("trixie-slim", OLD, False, "0.13.9", listed).action == RESTORE


def test_claimants_are_newer_final_releases_of_the_tags_series():
    assert newest_claimant("trixie-slim", OLD, LISTED) is None  # 0.15.0rc1 is a prerelease; 0.14.2-python3.12-... another tag
    assert newest_claimant("trixie-slim", OLD, LISTED | {"0.15.0-trixie-slim", "0.14.1-trixie-slim"}).text == "0.15.0"
    assert newest_claimant("0.14-trixie-slim", OLD, LISTED | {"0.15.0-trixie-slim"}) is None  # another series
    assert newest_claimant("latest", NEW, LISTED | {"0.14.1"}) is None  # not newer than ours
    assert exact_tag("0.14-python3.12-trixie-slim", OLD, NEW) == "0.14.1-python3.12-trixie-slim"


def test_one_line_says_which_tags_stay_at_the_newer_release():
    assert line("0.14.1", "ghcr.io/astral-sh/ruff", ["trixie-slim"]) == (
        "0.14.1 was published meanwhile: ghcr.io/astral-sh/ruff: trixie-slim stays at 0.14.1")
    assert line("0.14.1", "r/x", ["0.14-trixie-slim", "trixie-slim"]).endswith("0.14-trixie-slim, trixie-slim stay at 0.14.1")


# Two publishers on real registries: one paused in a subprocess through a proxy, the other run to completion.

CHEAP = ["--only", "distroless", "--only", "alpine3.20", "--platform", "linux/amd64"]
BEFORE, AFTER = "0.5.30", "0.5.31"


def tags_of(version: str) -> list[str]:
    """The tags CHEAP publishes for `version`, in publishing order."""
    series = version.rsplit(".", 1)[0]
    return ["latest", version, series, *(t for base in ("alpine3.20", "alpine") for t in (f"{version}-{base}", f"{series}-{base}", base))]


def exact(version: str) -> list[str]:
    return [t for t in tags_of(version) if not is_floating(t, parse_release(version))]


def floating(version: str) -> list[str]:
    return [t for t in tags_of(version) if is_floating(t, parse_release(version))]


def tag_order_holds(repo: str) -> dict[str, str]:
    """No floating tag ahead of its release's exact tags; returns each tag's digest, read over plain HTTP."""
    import hashlib

    from tests.test_supply_chain import raw

    host, name = repo.split("/", 1)
    listed = {t for t in json.loads(raw(host, f"{name}/tags/list"))["tags"] if not FOREIGN.fullmatch(t)}  # no .sig, no referrers
    bodies = {t: raw(host, f"{name}/manifests/{t}") for t in listed}
    for tag in listed - {t for v in (BEFORE, AFTER) for t in exact(v)}:
        version = json.loads(bodies[tag])["annotations"]["org.opencontainers.image.version"]
        missing = set(exact(version)) - listed
        assert not missing, f"{tag} holds {version} while its exact tags {sorted(missing)} are missing"
    return {t: "sha256:" + hashlib.sha256(body).hexdigest() for t, body in bodies.items()}


@dataclass
class Paused:
    """A publisher held by the proxy at one point; `finish` lets it go on and waits for it."""

    process: subprocess.Popen
    pause: object
    out: Path

    def finish(self) -> tuple[int, str, str]:
        self.pause.release()
        code = self.process.wait(timeout=600)
        return code, self.out.with_suffix(".out").read_text(), self.out.with_suffix(".err").read_text()


def start_paused(argv: list[str], proxy, condition, out: Path) -> Paused:
    pause = proxy.pause(condition)
    with out.with_suffix(".out").open("w") as stdout, out.with_suffix(".err").open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "publisher", *argv], stdout=stdout, stderr=stderr, text=True)
    threading.Thread(target=lambda: (process.wait(), pause.reached.set()), daemon=True).start()
    pause.reached.wait(timeout=600)
    assert process.poll() is None, f"not paused where planned: {out.with_suffix('.err').read_text()[-2000:]}"
    assert proxy.quiet(), "requests sent before the pause did not land"
    return Paused(process, pause, out)


def built(out: str) -> dict[str, str]:
    """Variant → the index digest a publish printed for it."""
    return dict(line.split(": ", 1) for line in out.splitlines() if line.split(": ")[0] in ("distroless", "alpine3.20"))


def ends_at_newer(repo: str, newer: dict[str, str], first: dict[str, str]) -> None:
    """Every floating tag holds the newer release; every exact tag holds what was first published there."""
    final = tag_order_holds(repo)
    assert {t: final[t] for t in floating(AFTER)} == {t: newer["distroless" if t in ("latest", "0.5") else "alpine3.20"]
                                                      for t in floating(AFTER)}
    assert {t: final[t] for t in first} == first


@pytest.mark.docker
def test_a_refresh_paused_before_its_first_floating_tag_leaves_the_newer_release(cli, tmp_path, engine, registry, cache,
                                                                                  proxies):
    from tests.images import push_base
    from tests.registry_server import RegistryServer

    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()  # the refresh needs a base that moves
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", ["linux/amd64"])
        matrix, path = reduced_matrix(tmp_path, cli), "converge-refresh/uv"
        repo, proxy = f"{registry.host}/{path}", proxies()
        first = cli(*args(matrix, own.host, cache, repo, BEFORE, "0123abc", *CHEAP, "--no-attestations"))
        assert first.code == 0, first.err
        published = {t: d for t, d in tag_order_holds(repo).items() if t in exact(BEFORE)}
        push_base(tmp_path / "changed", own.host, "alpine:3.20", ["linux/amd64"], python="3.99")
        result = tmp_path / "refresh.json"
        refresh = start_paused(args(matrix, own.host, cache, f"{proxy.host}/{path}", BEFORE, "0123abc", *CHEAP,
                                    "--no-attestations", "--refresh", "--result", str(result)),
                               proxy, tag_put(floating(BEFORE)), tmp_path / "refresh")
        tag_order_holds(repo)
        newer = cli(*args(matrix, own.host, cache, repo, AFTER, "0123abc", *CHEAP, "--no-attestations"))
        assert newer.code == 0, newer.err
        tag_order_holds(repo)
        code, out, err = refresh.finish()
        assert code == 0, err
        ends_at_newer(repo, built(newer.out), published)
        assert f"{AFTER} was published meanwhile: {proxy.host}/{path}: " in out and "stay at 0.5.31" in out
        tags = json.loads(result.read_text())["repositories"][f"{proxy.host}/{path}"]
        assert {t: (held["status"], held["meanwhile"]) for t, held in tags.items()} == {
            t: ("held", AFTER) for t in ("0.5-alpine3.20", "alpine3.20", "0.5-alpine", "alpine")}
    finally:
        own.stop()


@pytest.mark.docker
def test_an_older_release_paused_between_two_floating_tags_leaves_the_newer_one_signed(cli, tmp_path, engine, registry,
                                                                                       mirror, cache, proxies):
    from tests.test_cosign import new_key, public
    from tests.test_supply_chain import write_key

    key = new_key()
    signing = ["--sign-key", write_key(tmp_path / "key.pem", key)]
    (tmp_path / "key.pub").write_bytes(public(key))
    matrix, path = reduced_matrix(tmp_path, cli), "converge-releases/uv"
    repo, proxy = f"{registry.host}/{path}", proxies()
    older = start_paused(args(matrix, mirror, cache, f"{proxy.host}/{path}", BEFORE, "0123abc", *CHEAP, *signing),
                         proxy, tag_put(floating(BEFORE), 2), tmp_path / "older")
    tag_order_holds(repo)
    newer = cli(*args(matrix, mirror, cache, repo, AFTER, "0123abc", *CHEAP, *signing))
    assert newer.code == 0, newer.err
    tag_order_holds(repo)
    code, out, err = older.finish()
    assert code == 0, err
    assert f"{AFTER} was published meanwhile: {proxy.host}/{path}: " in out
    ends_at_newer(repo, built(newer.out), {t: built(out)["distroless" if t == BEFORE else "alpine3.20"] for t in exact(BEFORE)})
    # What the tags hold is signed and attested: the whole of 0.5.31, read back by publisher verify.
    audit = cli("verify", "--version", AFTER, "--matrix", matrix, "--repository", repo, "--key", str(tmp_path / "key.pub"),
                *CHEAP, "--base-mirror", mirror)
    assert audit.code == 0, audit.out + audit.err


@pytest.mark.docker
def test_a_join_paused_before_verification_accepts_the_newer_release(cli, tmp_path, engine, registry, mirror, cache,
                                                                     proxies):
    matrix, path = reduced_matrix(tmp_path, cli), "converge-join/uv"
    repo, proxy = f"{registry.host}/{path}", proxies()
    stage = cli(*args(matrix, mirror, cache, repo, BEFORE, "0123abc", *CHEAP, "--no-attestations", "--stage",
                      str(tmp_path / "stage")))
    assert stage.code == 0, stage.err
    join = start_paused(args(matrix, mirror, cache, f"{proxy.host}/{path}", BEFORE, "0123abc", *CHEAP, "--no-attestations",
                             "--join", str(tmp_path / "stage")),
                        proxy, read_after_put(floating(BEFORE), exact(BEFORE)), tmp_path / "join")
    first = tag_order_holds(repo)
    newer = cli(*args(matrix, mirror, cache, repo, AFTER, "0123abc", *CHEAP, "--no-attestations"))
    assert newer.code == 0, newer.err
    tag_order_holds(repo)
    code, out, err = join.finish()
    assert code == 0, err
    assert f"{AFTER} was published meanwhile: {proxy.host}/{path}: " in out
    ends_at_newer(repo, built(newer.out), {t: first[t] for t in exact(BEFORE)})
