"""The commit each variant names: the newest that changed what it is made of, read from a real git history."""

from __future__ import annotations

import json
import shutil

from publisher.release.revisions import Commit, changed_last
from tests.family import VARIANTS, add_base, commit, git, make_family, render

REVISION, CREATED = "org.opencontainers.image.revision", "org.opencontainers.image.created"


def named(cli, root, *extra) -> dict[str, tuple[str | None, str | None]]:
    """Variant → (revision, created) as the plan labels them."""
    run = cli("publish", "--dry-run", "--offline", "--output", "json", "--version", "1.2.3",
              "--matrix", str(root / "matrix.yaml"), *extra)
    assert run.code == 0, run.err
    return {v["name"]: (v["labels"].get(REVISION), v["labels"].get(CREATED)) for v in json.loads(run.out)["variants"]}


def test_a_variant_names_the_commit_that_last_changed_it_and_no_later_one(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)  # GitHub always sets it: a release does not read it
    root = tmp_path / "box"
    first = make_family(root, cli)
    made = named(cli, root)
    assert {name: r for name, (r, _) in made.items()} == {name: first for name in VARIANTS}
    assert len({c for _, c in made.values()}) == 1 and made["static"][1].endswith("Z")

    (root / "README.md").write_text("# box\n\nDocs only.\n")
    commit(root, "docs")
    matrix = root / "matrix.yaml"
    matrix.write_text(matrix.read_text().replace('stdout: "^box$"', 'stdout: "^box\\\\s*$"'))  # a smoke test: not an input
    commit(root, "smoke tests")
    assert named(cli, root) == made

    added = add_base(root, cli)  # matrix.yaml and variants/bookworm/: nothing of the others
    after = named(cli, root)
    assert after["bookworm"][0] == added and after["bookworm"][1] != made["static"][1]
    assert {name: after[name] for name in VARIANTS} == made

    template = root / "variants" / "Dockerfile.j2"
    template.write_text(template.read_text().replace("WORKDIR /work", "WORKDIR /work\nENV BOX=1"))
    render(cli, root)
    debian = commit(root, "debian family: ENV BOX")  # only bookworm-slim's Dockerfile changes
    assert named(cli, root)["bookworm-slim"][0] == debian
    assert named(cli, root)["alpine3.20"] == made["alpine3.20"]

    git(root, "revert", "--no-edit", "HEAD")
    reverted = git(root, "rev-parse", "HEAD").strip()
    assert named(cli, root)["bookworm-slim"][0] == reverted  # the revert changed it (back): release/inputs keeps what it was

    matrix.write_text(matrix.read_text().replace("alone and on alpine", "alone, and on alpine"))
    labels = commit(root, "labels: description")  # what the matrix says of every variant
    assert {r for r, _ in named(cli, root).values()} == {labels}


def test_flags_name_one_commit_and_time_for_every_variant(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    root = tmp_path / "box"
    first = make_family(root, cli)
    given = named(cli, root, "--revision", "0123abc", "--created", "1732100000")
    assert set(given.values()) == {("0123abc", "2024-11-20T10:53:20Z")}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1732100000")
    assert set(named(cli, root).values()) == {(first, "2024-11-20T10:53:20Z")}
    outside = tmp_path / "copy"
    shutil.copytree(root, outside, ignore=shutil.ignore_patterns(".git"))
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert set(named(cli, outside).values()) == {(None, None)}  # no git: no commit to name


def test_a_shallow_clone_that_does_not_reach_a_change_is_refused_before_any_registry(cli, tmp_path):
    root = tmp_path / "box"
    make_family(root, cli)
    matrix = root / "matrix.yaml"
    matrix.write_text(matrix.read_text().replace("alone and on alpine", "alone, and on alpine"))
    commit(root, "labels: description")  # every variant's last change: the second commit
    for n in range(3):
        (root / "README.md").write_text(f"# box {n}\n")
        commit(root, f"docs {n}")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{root}", str(shallow))
    run = cli("publish", "--dry-run", "--version", "1.2.3", "--matrix", str(shallow / "matrix.yaml"),
              "--repository", "127.0.0.1:9/box")  # port 9: nothing listens, and nothing may be asked
    assert (run.code, run.out) == (2, "")
    assert run.err.splitlines() == [
        "publisher: this clone's history is shallow (depth 1) and does not reach the commit that last changed "
        "variants/static/; fetch the whole history (actions/checkout: fetch-depth: 0), or pass --revision and --created"]
    boundary = tmp_path / "boundary"
    git(tmp_path, "clone", "-q", "--depth", "4", f"file://{root}", str(boundary))  # its oldest commit: the change
    assert cli("publish", "--dry-run", "--offline", "--version", "1.2.3", "--matrix", str(boundary / "matrix.yaml")).code == 2
    deep = tmp_path / "deep"
    git(tmp_path, "clone", "-q", "--depth", "5", f"file://{root}", str(deep))  # one more: the change, and its parent
    assert (deep / ".git" / "shallow").exists()
    assert named(cli, deep) == named(cli, root)
    assert named(cli, shallow, "--revision", "0123abc", "--created", "1732100000")["static"] == ("0123abc", "2024-11-20T10:53:20Z")


def _commit(sha, folders=(), matrix=False, boundary=False) -> Commit:
    return Commit(sha, "1", frozenset(folders), matrix, boundary)


def test_changed_last_reads_the_matrix_before_a_commit_only_when_it_must():
    asked = []

    def before(c):
        asked.append(c.sha)
        return {"c3": {"a": "A", "b": "B0"}, "c1": None}.get(c.sha, {"a": "A", "b": "B"})

    commits = [_commit("c4", ["a"]), _commit("c3", matrix=True), _commit("c2", ["b"], matrix=True), _commit("c1", ["a", "b"], True)]
    found = changed_last({"a": "A", "b": "B"}, iter(commits), before)
    assert {n: c.sha for n, c in found.commits.items()} == {"a": "c4", "b": "c3"} and found.unknown == ()
    assert asked == ["c3"]  # c4 named a by its folder; c3 named b; c2 and c1 never read

    shallow = changed_last({"a": "A", "b": "B"}, iter([_commit("c2", ["a"]), _commit("c1", ["a", "b"], True, boundary=True)]),
                           lambda c: None)
    assert ({n: c.sha for n, c in shallow.commits.items()}, shallow.unknown) == ({"a": "c2"}, ("b",))


def test_what_earlier_matrices_said_is_read_once_and_kept_by_object_id(cli, tmp_path):
    root = tmp_path / "box"
    first = make_family(root, cli)
    matrix = root / "matrix.yaml"
    for n in range(3):  # matrix commits that change nothing of any variant: each earlier matrix is read
        matrix.write_text(matrix.read_text() + f"# note {n}\n")
        commit(root, f"note {n}")
    cache = tmp_path / "cache"
    assert set(named(cli, root, "--cache", str(cache)).values()) == {(first, named(cli, root)["static"][1])}
    kept = sorted((cache / "revisions").iterdir())
    assert len(kept) == 3 and all(p.name.endswith(".1.json") for p in kept)
    for path in kept:  # what is kept is what is used: said otherwise, each earlier matrix names another commit
        path.write_text(json.dumps({name: "sha256:other" for name in VARIANTS}))
    assert {r for r, _ in named(cli, root, "--cache", str(cache)).values()} != {first}
