"""When and from which commit each variant is made: flags, then the environment, then git.

A release names, per variant, the newest commit that changed what it is made of (release/revisions);
the dev channel names the commit it publishes. Both read git here, and only here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from publisher.errors import PublisherError
from publisher.matrix.schema import Matrix, matrix_from_text
from publisher.release.plan import Provenance
from publisher.release.revisions import SHARES, Commit, changed_last, shares

FOLDERS = "variants/"  # where each variant's folder is, relative to the matrix's folder (Matrix.dockerfile)
TIMEOUT = 30


def provenance(root: Path, created: str | None, revision: str | None, env=os.environ) -> Provenance:
    """One commit for every image (the dev channel: `sha-<commit>` names it): the flags, then
    SOURCE_DATE_EPOCH and GITHUB_SHA, then git's HEAD."""
    created = created or env.get("SOURCE_DATE_EPOCH") or None
    revision = revision or env.get("GITHUB_SHA") or None
    if created is None or revision is None:
        commit, commit_time = _git_head(root)
        created = created or commit_time
        revision = revision or commit
    return Provenance(_rfc3339(created) if created else None, revision)


def variant_provenances(matrix: Matrix, matrix_file: str, created: str | None, revision: str | None,
                        cache: Path | None = None, env=os.environ) -> dict[str, Provenance]:
    """Variant name → the commit it names and that commit's time (release/revisions). `--revision` names one
    commit for every variant (its time from git when git has it); `--created` or SOURCE_DATE_EPOCH one time.
    Outside a git checkout, or for a variant no commit holds yet: no revision. A shallow clone that does not
    reach a variant's change is refused: exit 2, before any registry is read. `cache`: where what earlier
    matrix files say of each variant is kept, by their git object id (each is read once, ever)."""
    created = created or env.get("SOURCE_DATE_EPOCH") or None
    if revision:
        at = created or _time_of(matrix.root, revision)
        return {v.name: Provenance(_rfc3339(at) if at else None, revision) for v in matrix.variants}
    found = _changed_last(matrix, matrix_file, cache)
    own = {name: Provenance(_rfc3339(created or c.time), c.sha) for name, c in found.items()}
    return {v.name: own.get(v.name) or Provenance(_rfc3339(created) if created else None) for v in matrix.variants}


def _changed_last(matrix: Matrix, matrix_file: str, cache: Path | None) -> dict[str, Commit]:
    root = matrix.root
    shallow = _git(root, "rev-parse", "--is-shallow-repository")
    if shallow is None:  # not a git checkout
        return {}
    boundaries = _boundaries(root) if shallow.strip() == "true" else frozenset()
    with _Blobs(root) as blobs, _Log(root, matrix_file, boundaries) as commits:
        kept = _Kept(cache / "revisions" if cache else None)
        found = changed_last(shares(matrix), commits, lambda c: _shares_before(blobs, kept, c, matrix, matrix_file))
    if found.unknown:
        depth = sum(1 for _ in (_git(root, "rev-list", "HEAD") or "").split())
        raise PublisherError(f"publisher: this clone's history is shallow (depth {depth}) and does not reach the commit that "
                             f"last changed {FOLDERS}{found.unknown[0]}/; fetch the whole history (actions/checkout: "
                             "fetch-depth: 0), or pass --revision and --created")
    return found.commits


def _shares_before(blobs: _Blobs, kept: _Kept, commit: Commit, matrix: Matrix, matrix_file: str) -> dict[str, str] | None:
    """What the matrix said of each variant before `commit` (its first parent's matrix file); None when
    there is none or this publisher cannot read it."""
    found = blobs.text(f"{commit.sha}^1:./{matrix_file}")
    if found is None:
        return None
    return kept.get(found[0], lambda: _shares_of(found[1], matrix, matrix_file))


def _shares_of(text: str, matrix: Matrix, matrix_file: str) -> dict[str, str] | None:
    try:
        return shares(matrix_from_text(text, matrix_file, matrix.root))
    except PublisherError:
        return None


class _Kept:
    """What each matrix file said of its variants, kept by its git object id: reading an old matrix costs a
    parse, and a long-lived family's history has many (SHARES: what `shares` hashes, kept apart by it)."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def get(self, blob: str, make):
        path = self.folder / f"{blob}.{SHARES}.json" if self.folder else None
        try:
            return json.loads(path.read_text())
        except (AttributeError, OSError, ValueError):
            pass
        found = make()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
                partial.write_text(json.dumps(found))
                os.replace(partial, path)
            except OSError:
                pass  # a cache: what cannot be kept is read again next time
        return found


class _Log:
    """The commits that touched a variant folder or the matrix file, newest first, read as git lists them."""

    def __init__(self, root: Path, matrix_file: str, boundaries: frozenset[str]):
        self.process = subprocess.Popen(
            ["git", "-C", str(root), "log", "--format=%x00%H %ct", "--name-only", "--relative", "--", FOLDERS, matrix_file],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.matrix_file, self.boundaries = matrix_file, boundaries

    def __enter__(self) -> Iterator[Commit]:
        return self._commits()

    def __exit__(self, *exc) -> None:
        self.process.kill()  # read only as far as needed: the rest of the history is not listed
        self.process.communicate()

    def _commits(self) -> Iterator[Commit]:
        header, files = None, []
        for line in self.process.stdout:
            line = line.rstrip("\n")
            if line.startswith("\0"):
                if header:
                    yield self._commit(header, files)
                header, files = line[1:].split(), []
            elif line:
                files.append(line)
        if header:
            yield self._commit(header, files)

    def _commit(self, header: list[str], files: list[str]) -> Commit:
        folders = frozenset(f.split("/")[1] for f in files if f.startswith(FOLDERS) and f.count("/") >= 2)
        return Commit(header[0], header[1], folders, self.matrix_file in files, header[0] in self.boundaries)


class _Blobs:
    """`git cat-file --batch`: files of other commits, one process for all of them."""

    def __init__(self, root: Path):
        self.process = subprocess.Popen(["git", "-C", str(root), "cat-file", "--batch"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def __enter__(self) -> _Blobs:
        return self

    def __exit__(self, *exc) -> None:
        self.process.kill()
        self.process.communicate()

    def text(self, name: str) -> tuple[str, str] | None:
        """The file `name` (`<commit>:<path>`): its object id and its text; None when git has no such file."""
        self.process.stdin.write(name.encode() + b"\n")
        self.process.stdin.flush()
        header = self.process.stdout.readline().split()
        if len(header) != 3:  # "<name> missing"
            return None
        body = self.process.stdout.read(int(header[2]) + 1)[:-1]
        return (header[0].decode(), body.decode("utf-8", errors="replace")) if header[1] == b"blob" else None


def _boundaries(root: Path) -> frozenset[str]:
    """A shallow clone's boundary commits: those whose parents it does not have."""
    path = _git(root, "rev-parse", "--git-path", "shallow")
    try:
        return frozenset((root / path.strip()).read_text().split()) if path else frozenset()
    except OSError:
        return frozenset()


def _time_of(root: Path, revision: str) -> str | None:
    out = _git(root, "log", "-1", "--format=%ct", revision, "--")
    return out.strip() or None if out else None


def _git_head(root: Path) -> tuple[str | None, str | None]:
    out = (_git(root, "log", "-1", "--format=%H %ct") or "").split()
    return (out[0], out[1]) if len(out) == 2 else (None, None)


def _git(root: Path, *argv: str) -> str | None:
    """git's output, or None when git is missing, fails or `root` is not a checkout."""
    try:
        return subprocess.run(["git", "-C", str(root), *argv], capture_output=True, text=True, timeout=TIMEOUT,
                              check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _rfc3339(value: str) -> str:
    """Seconds since the epoch or an RFC 3339 time, as RFC 3339 in UTC."""
    try:
        moment = datetime.fromtimestamp(int(value), timezone.utc) if value.isdigit() else datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise PublisherError(f"publisher: --created/SOURCE_DATE_EPOCH '{value}' is neither seconds since 1970 nor an RFC 3339 time; e.g. 1732100000 or 2024-11-20T10:53:20Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
