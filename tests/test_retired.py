"""Retired tags: what a repository holds that the plan no longer updates, shown before it freezes silently."""

from __future__ import annotations

import json

import pytest

from publisher.release.decisions import Current, retire
from publisher.release.tags import retired
from publisher.release.version import parse_release
from publisher.report import retired_lines, state_table
from tests.test_publish import REDUCED, publish, reduced_matrix, tags_in

BASE_TAGS = ("alpine3.20", "alpine")
PLANNED = ["latest", "0.5.31", "0.5", "0.5.31-alpine3.20", "0.5-alpine3.20", "alpine3.20",
           "0.5.31-alpine", "0.5-alpine", "alpine"]


def test_tags_of_a_dropped_base_tag_are_retired_for_this_release_and_series():
    existing = PLANNED + ["0.5.31-bookworm-slim", "0.5-bookworm-slim", "bookworm-slim"]
    assert retired(existing, parse_release("0.5.31"), PLANNED, BASE_TAGS) == [
        "0.5-bookworm-slim", "0.5.31-bookworm-slim", "bookworm-slim"]
    # The next release: the old exact tag is frozen by design; the floating ones are retired.
    nxt = parse_release("0.5.32")
    assert retired(existing, nxt, [t.replace("0.5.31", "0.5.32") for t in PLANNED], BASE_TAGS) == [
        "0.5-bookworm-slim", "bookworm-slim"]
    # A new series: only the bare tag would have moved.
    assert retired(existing, parse_release("0.6.0"), [], BASE_TAGS) == ["bookworm-slim"]


def test_older_releases_signatures_and_dev_tags_are_not_retired():
    existing = ["0.5.30", "0.4", "0.5.30-alpine", "0.4-alpine3.20", "latest", "v0.3.0",
                "sha256-" + "a" * 64 + ".sig", "sha256-" + "b" * 64 + ".att", "something.sbom",
                "sha-0123abc", "sha-0123abc-alpine"]
    assert retired(existing, parse_release("0.5.31"), PLANNED, BASE_TAGS) == []
    # An unknown non-version tag is not the matrix's either: it is listed, so someone decides.
    assert retired(["nightly"], parse_release("0.5.31"), PLANNED, BASE_TAGS) == ["nightly"]


def test_retired_tags_in_the_table_and_as_lines():
    states = {"r/uv": {"alpine": retire(Current("sha256:" + "c" * 64, "0.5.31")),
                       "debian": retire(Current("sha256:" + "d" * 64))}}
    table = state_table(states, None).splitlines()
    assert table[0] == "r/uv: 0 new, 0 stays, 0 moves, 0 held, 0 conflict, 2 retired"
    assert table[1] == f"  retired   alpine  from 0.5.31 (sha256:{'c' * 12})  retired: last 0.5.31"
    assert retired_lines(states) == ["r/uv:alpine: retired: last 0.5.31", "r/uv:debian: retired: last unknown release"]


@pytest.mark.docker
def test_dry_run_without_a_base_lists_its_tags_as_retired(cli, tmp_path, engine, registry, mirror, cache, monkeypatch):
    repo = f"{registry.host}/dropping/uv"
    matrix = reduced_matrix(tmp_path, cli)
    run = publish(cli, matrix, mirror, cache, repo, extra=["--platform", "linux/amd64"])
    assert run.code == 0, run.err
    assert ": retired: " not in run.out

    # The same matrix without its debian base, beside the first one.
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    text = (tmp_path / "matrix.yaml").read_text().replace(REDUCED, REDUCED.split("  - base: debian")[0])
    assert "bookworm" not in text
    (smaller / "variants").mkdir()
    (smaller / "variants" / "Dockerfile.j2").write_bytes((tmp_path / "variants" / "Dockerfile.j2").read_bytes())
    (smaller / "matrix.yaml").write_text(text)
    matrix2 = str(smaller / "matrix.yaml")
    assert cli("render", "--matrix", matrix2).code == 0

    gone = ["0.5-bookworm-slim", "0.5-debian-slim", "0.5.31-bookworm-slim", "0.5.31-debian-slim",
            "bookworm-slim", "debian-slim"]
    # Published for amd64 only: for both platforms the exact tags would hold other content (a conflict).
    table = publish(cli, matrix2, mirror, cache, repo, extra=["--dry-run", "--platform", "linux/amd64"])
    assert table.code == 0, table.err

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    document = publish(cli, matrix2, mirror, cache, repo, extra=["--dry-run", "--output", "json", "--platform", "linux/amd64"])
    state = json.loads(document.out)["registry_state"][repo]
    assert sorted(t for t, s in state.items() if s["status"] == "retired") == gone
    stays = [t for t, s in state.items() if s["status"] == "stays"]
    assert sorted(stays) == sorted(t for v in json.loads(document.out)["variants"] for t in v["tags"])
    assert f"{repo}: 0 new, {len(stays)} stays, 0 moves, 0 held, 0 conflict, {len(gone)} retired" in table.out
    said = [line for line in table.out.splitlines() if line.endswith("retired: last 0.5.31")]
    assert len(said) == len(gone) and all(f" {tag}  from 0.5.31 " in line for tag, line in zip(gone, said))
    assert state["bookworm-slim"]["version"] == "0.5.31" and state["bookworm-slim"]["why"] == "retired: last 0.5.31"
    assert state["bookworm-slim"]["digest"].startswith("sha256:")
    assert f"::notice::{repo}:debian-slim: retired: last 0.5.31" in document.err.splitlines()

    # A real publish says so too, and leaves the retired tags where they were.
    monkeypatch.delenv("GITHUB_ACTIONS")
    again = publish(cli, matrix2, mirror, cache, repo, extra=["--platform", "linux/amd64"])
    assert again.code == 0, again.err
    assert f"{repo}:bookworm-slim: retired: last 0.5.31" in again.out.splitlines()
    assert set(gone) <= tags_in(repo)
