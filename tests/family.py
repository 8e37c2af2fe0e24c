"""A family that is not uv, in a git repository the test makes: a static busybox as the payload, in a
FROM scratch image, on the alpine stand-in (assembled) and on the Debian stand-in (a WORKDIR: built by
BuildKit). Its bases are the shipped matrix's stand-ins (the `mirror` fixture), for amd64 and arm64.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.images import BUSYBOX

MATRIX = """\
# box: a static busybox, alone and on two bases.
repositories:
  - example.org/acme/box

platforms: [linux/amd64, linux/arm64]

labels:
  title: box
  description: A static busybox, alone and on alpine and Debian.
  source: https://example.org/acme/box

payload:
  files:
    busybox: null
  primary: /
  derived: /usr/local/bin/

families:
  scratch:
    config: {entrypoint: [/busybox], cmd: null}
    smoke:
      - run: [echo, box]
        stdout: "^box$"
  alpine:
    config: {entrypoint: null, cmd: [/usr/local/bin/busybox, sh]}
    smoke:
      - run: [/usr/local/bin/busybox, echo, alpine]
        stdout: "^alpine$"
  debian:
    config: {entrypoint: null, workdir: /work}
    smoke:
      - run: [/usr/local/bin/busybox, pwd]
        stdout: "^/work$"

primary:
  name: static
  family: scratch

variants:
  - base: alpine:3.20
    family: alpine
    tags: [alpine3.20, alpine]
  - base: debian:bookworm-slim
    family: debian
    tags: [bookworm-slim, debian]
"""

TEMPLATE = """\
{% if variant.family == "scratch" -%}
FROM scratch
COPY busybox /
ENTRYPOINT ["/busybox"]
{% else -%}
ARG PRIMARY_IMAGE
ARG BASE_IMAGE={{ variant.base }}
FROM ${PRIMARY_IMAGE} AS box
FROM ${BASE_IMAGE}
COPY --from=box /busybox /usr/local/bin/
{% if variant.family == "debian" -%}
WORKDIR /work
{% endif -%}
ENTRYPOINT []
CMD ["/usr/local/bin/busybox", "sh"]
{% endif -%}
"""

# A base added later: its stand-in is in the `mirror` fixture (the shipped matrix has it).
ADDED = """\
  - base: buildpack-deps:bookworm
    family: alpine
    tags: [bookworm]
"""

VARIANTS = ("static", "alpine3.20", "bookworm-slim")
TAGS = {
    "static": ["latest", "1.2.3", "1.2"],
    "alpine3.20": ["1.2.3-alpine3.20", "1.2-alpine3.20", "alpine3.20", "1.2.3-alpine", "1.2-alpine", "alpine"],
    "bookworm-slim": ["1.2.3-bookworm-slim", "1.2-bookworm-slim", "bookworm-slim", "1.2.3-debian", "1.2-debian", "debian"],
    "bookworm": ["1.2.3-bookworm", "1.2-bookworm", "bookworm"],
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
                               "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin",
                               "GIT_AUTHOR_DATE": "1732100000 +0000", "GIT_COMMITTER_DATE": _next_date(root)}).stdout


def _next_date(root: Path) -> str:
    """Each commit a second after the one before, so commit times tell them apart and tests do not depend on the clock."""
    stamp = root / ".git" / "publisher-test-clock"
    n = int(stamp.read_text()) + 1 if stamp.exists() else 0
    if stamp.parent.exists():
        stamp.write_text(str(n))
    return f"{1732100000 + n} +0000"


def commit(root: Path, message: str) -> str:
    """Everything in the work tree committed; the new commit's id."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def render(cli, root: Path) -> None:
    assert cli("render", "--matrix", str(root / "matrix.yaml")).code == 0


def make_family(root: Path, cli) -> str:
    """The family written, rendered and committed in a new git repository at `root`; the commit's id."""
    (root / "variants").mkdir(parents=True)
    (root / "matrix.yaml").write_text(MATRIX)
    (root / "variants" / "Dockerfile.j2").write_text(TEMPLATE)
    (root / "README.md").write_text("# box\n")
    render(cli, root)
    git(root, "init", "-q", "-b", "main")
    return commit(root, "box: a scratch image, alpine and Debian")


def add_base(root: Path, cli) -> str:
    """A base added to the matrix, rendered and committed, as docs/adding-a-base.md says."""
    (root / "matrix.yaml").write_text((root / "matrix.yaml").read_text() + ADDED)
    render(cli, root)
    return commit(root, "box: add bookworm")


def payload(tmp: Path) -> Path:
    """--artifacts DIR: the static busybox of each platform, as the payload."""
    for platform in ("linux-amd64", "linux-arm64"):
        folder = tmp / "artifacts" / platform
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX / platform / "busybox", folder / "busybox")
    return tmp / "artifacts"
