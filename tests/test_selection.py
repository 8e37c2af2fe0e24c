"""Selectors: shell-style --only and --skip patterns over variant names, shown in the dry-run."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from publisher.release.selection import Selection, unmatched, words

NAMES = ["distroless", "alpine3.20", "bookworm-slim", "python3.13-alpine", "python3.12-alpine", "python3.9-alpine",
         "python3.13-bookworm-slim"]


@pytest.mark.parametrize("only, skip, kept", [
    ((), (), NAMES),
    (("python3.1*-alpine",), (), ["python3.13-alpine", "python3.12-alpine"]),
    (("*-bookworm-slim", "alpine3.20"), (), ["alpine3.20", "python3.13-bookworm-slim"]),
    ((), ("python*",), ["distroless", "alpine3.20", "bookworm-slim"]),
    (("*alpine*",), ("python3.1[23]-*",), ["alpine3.20", "python3.9-alpine"]),
    (("Alpine3.20",), (), []),  # case-sensitive on every platform
])
def test_patterns_select_as_cibuildwheel_build_and_skip(only, skip, kept):
    selection = Selection(only, skip)
    assert [n for n in NAMES if selection.keeps(n)] == kept


def test_unmatched_patterns_name_what_they_could_have_meant():
    assert unmatched(Selection(("python3.1*-alpine",), ("*-slim",)), NAMES) == []
    assert unmatched(Selection(("python3.2*-alpine",)), NAMES) == [
        "publisher: --only 'python3.2*-alpine' matches no variant of the matrix; did you mean 'python3.12-alpine' or "
        "'python3.9-alpine' or 'python3.13-alpine'?"]
    assert unmatched(Selection((), ("windows*",)), NAMES) == [
        "publisher: --skip 'windows*' matches no variant of the matrix; variants: " + ", ".join(NAMES)]


def test_values_split_on_spaces_and_commas():
    assert words(["python3.1*-alpine *-slim", "a,b"]) == ("python3.1*-alpine", "*-slim", "a", "b")


def dry_run(cli, *extra):
    return cli("publish", "--dry-run", "--offline", "--version", "0.5.31", *extra)


def planned(cli, *extra) -> dict:
    return json.loads(dry_run(cli, "--output", "json", *extra).out)


def test_dry_run_shows_what_was_selected(cli):
    flags = ("--only", "python3.1*-alpine", "--skip", "python3.10-*")
    run = dry_run(cli, *flags)
    assert run.code == 0, run.err
    every = [v["name"] for v in planned(cli)["variants"]]
    chosen = [name for name in every if fnmatchcase(name, "python3.1*-alpine") and not fnmatchcase(name, "python3.10-*")]
    assert [v["name"] for v in planned(cli, *flags)["variants"]] == chosen
    assert f"\nselected {len(chosen)} of {len(every)} variants (--only 'python3.1*-alpine' --skip 'python3.10-*')\n" in run.out


def test_json_carries_the_selection_only_when_given(cli):
    plan = planned(cli, "--only", "*-bookworm-slim,distroless")
    every = [v["name"] for v in planned(cli)["variants"]]
    assert plan["selection"] == {"only": ["*-bookworm-slim", "distroless"], "skip": [], "of": len(every),
                                 "selected": [n for n in every if n == "distroless" or n.endswith("-bookworm-slim")]}
    assert [v["name"] for v in plan["variants"]] == plan["selection"]["selected"]
    assert "selection" not in json.loads(dry_run(cli, "--output", "json").out)
    assert "selected" not in dry_run(cli).out


def test_a_pattern_selecting_nothing_is_one_line(cli):
    run = dry_run(cli, "--only", "python4*")
    assert run.code == 2 and len(run.err.splitlines()) == 1
    assert run.err.startswith("publisher: --only 'python4*' matches no variant of the matrix; ")
