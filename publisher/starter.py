"""`publisher init`: a new project's matrix.yaml, template, rendered Dockerfiles and release workflow."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import yaml

from publisher.errors import PublisherError
from publisher.image import reference
from publisher.image.platform import Platform

PLAIN = re.compile(r"[A-Za-z0-9_./-]+")  # a string written unquoted in the matrix, unless YAML reads it otherwise
# Where publisher's action lives, pinned by commit SHA with its version: pass --action
DEFAULT_ACTION = "OWNER/publisher@0000000000000000000000000000000000000000 # v1"
PLATFORMS = (Platform("linux", "amd64"), Platform("linux", "arm64"))  # what a starter publishes for
FILES = {"matrix.yaml": "matrix.yaml", "variants/Dockerfile.j2": "Dockerfile.j2",
         ".github/workflows/release.yml": "release.yml"}


@dataclass(frozen=True)
class Starter:
    image: str  # the repository the images go to, e.g. ghcr.io/org/tool
    root: Path = Path(".")
    payload: str | None = None  # a name in templates/payloads.yaml, or a package on the index; None: the first known
    action: str = DEFAULT_ACTION
    force: bool = False
    version: str | None = None  # of a package on the index: this release, not its newest
    cache: Path | None = None  # where its wheels are kept (the publish's cache)


@dataclass(frozen=True)
class Started:
    written: list[str]  # the paths written, relative to the project's folder
    release: str  # a release of the payload, for a first dry-run
    notes: tuple[str, ...] = ()  # what init chose for the user and why


@dataclass(frozen=True)
class Base:
    """A base a starter's derived images are made on."""

    image: str
    family: str  # alpine (musl) or debian (glibc)
    tags: tuple[str, ...]
    python: str | None = None  # the Python it carries, checked by a smoke test


ALPINE, DEBIAN = Base("alpine:3.23", "alpine", ("alpine3.23", "alpine")), Base("debian:trixie-slim", "debian", ("trixie-slim", "debian-slim"))
PYTHON = {"alpine": Base("python:3.14-alpine3.23", "alpine", ("python3.14-alpine3.23",), "3.14"),
          "debian": Base("python:3.14-slim-trixie", "debian", ("python3.14-trixie-slim",), "3.14")}
BASES = {"none": (ALPINE, DEBIAN, PYTHON["debian"]), "musl": (ALPINE, PYTHON["alpine"]), "glibc": (DEBIAN, PYTHON["debian"])}


def init(starter: Starter) -> Started:
    """Write the starter files (refusing to overwrite unless forced) and render them."""
    parsed = _repository(starter.image)
    existing = [name for name in FILES if (starter.root / name).exists()]
    if existing and not starter.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise PublisherError(f"publisher init: {', '.join(existing)} already {verb} in {starter.root}; "
                             "pass --force to overwrite")
    payload = _payload(starter)
    title = parsed.path.rsplit("/", 1)[-1]
    values = {"@IMAGE@": starter.image, "@TITLE@": title, "@ACTION@": starter.action,
              "@LOGIN@": _login(parsed.host), "@PACKAGES@": _packages(parsed.host), **payload.values(title)}
    for name, template in FILES.items():
        text = resources.files("publisher").joinpath("templates", template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        path = starter.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    from publisher import render  # jinja2: not for every command line's --help text (known_payloads)
    from publisher.matrix.schema import load_matrix

    matrix = load_matrix(starter.root / "matrix.yaml", "matrix.yaml")
    return Started(list(FILES) + render.write(matrix, render.render_all(matrix)), payload.release, payload.notes())


@dataclass(frozen=True)
class StarterPayload:
    """What a new project's images carry: an entry of templates/payloads.yaml, or what a package's wheels hold."""

    name: str
    release: str  # a release of it, for pull requests and the first dry-run
    licenses: str | None
    payload: dict  # the matrix's payload block
    libc: str = "none"  # what its executables need: none (static), musl or glibc
    description: str | None = None
    found: str | None = None  # what init found on the index, said to the user

    def values(self, title: str) -> dict[str, str]:
        """The starter files' placeholders this payload fills. Static executables get a primary FROM scratch;
        others a primary on the first base their C library has, holding the files where derived images do."""
        static, bases = self.libc == "none", BASES[self.libc]
        payload = self.payload if static else {**self.payload, "primary": self.payload["derived"]}
        files, main = payload["files"], next(iter(payload["files"]))
        return {"@PAYLOAD_NAME@": self.name, "@FILES@": ", ".join(files), "@PR_VERSION@": self.release,
                "@LICENSES@": f"  licenses: {_scalar(self.licenses)}" if self.licenses else "  # licenses: an SPDX expression",
                "@DESCRIPTION@": _scalar(self.description or f"{title}, with the {self.name} binaries."),
                "@PLATFORMS@": ", ".join(map(str, payload["wheels"]["platforms"])) if "wheels" in payload else
                               ", ".join(map(str, PLATFORMS)), "@SHAPE@": _shape(static, bases),
                "@PAYLOAD@": "\n".join(_block(payload, 1)), "@PRIMARY@": _primary_block(None if static else bases[0]),
                "@FAMILIES@": _families_block(static, payload, main, {b.family for b in bases}),
                "@VARIANTS@": "\n".join(_variant_block(b) for b in (bases if static else bases[1:]))}

    def notes(self) -> tuple[str, ...]:
        """Why the family has the images it has, when it is not every kind."""
        found = (self.found,) if self.found else ()
        if self.libc == "none":
            return found
        lacks = "no alpine image (musl)" if self.libc == "glibc" else "no Debian image (glibc)"
        return found + (f"{self.name}'s executables are linked against {self.libc}: no FROM scratch image and {lacks}; "
                        f"the primary image (latest, X.Y.Z, X.Y) is on {BASES[self.libc][0].image}",)


def known_payloads() -> dict[str, StarterPayload]:
    text = resources.files("publisher").joinpath("templates", "payloads.yaml").read_text(encoding="utf-8")
    return {name: StarterPayload(name, entry["release"], entry["licenses"], entry["payload"])
            for name, entry in yaml.safe_load(text).items()}


def _shape(static: bool, bases: tuple[Base, ...]) -> str:
    if static:
        return f"one primary image FROM scratch and one derived image per base ({_kinds(bases)})."
    return f"one primary image on {bases[0].image} and one derived image per other base ({_kinds(bases[1:])})."


def _kinds(bases: tuple[Base, ...]) -> str:
    return ", ".join(dict.fromkeys(b.family for b in bases))


def _primary_block(base: Base | None) -> str:
    """The primary: FROM scratch, or on `base` with its base tags (its first names it)."""
    if base is None:
        return "# The primary image: tags latest, X.Y.Z, X.Y.\nprimary:\n  name: distroless\n  family: scratch"
    return (f"# The primary image, on {base.image}: tags latest, X.Y.Z, X.Y and, for each base tag T, X.Y.Z-T, X.Y-T, T.\n"
            "# The derived images copy the files from it.\nprimary:\n" + "\n".join(f"  {line}" for line in _on_base(base)))


def _families_block(static: bool, payload: dict, main: str, kinds: set[str]) -> str:
    """The families block: scratch for a static primary, then alpine and debian as the bases need them (one
    shares its settings)."""
    files, where = payload["files"], payload["primary"]
    lines = (["  scratch:", f"    config: {{entrypoint: [{where}{main}], cmd: null, workdir: /io}}", "    smoke:",
              _smoke({main: files[main]}, entrypoint=True)] if static else [])
    derived = [kind for kind in ("alpine", "debian") if kind in kinds]
    lines += [f"  {derived[0]}:", f"    config: &derived {{entrypoint: null, cmd: [{payload['derived']}{main}]}}",
              "    smoke: &posix", _smoke(files)]
    for kind in derived[1:]:
        lines += [f"  {kind}:", "    config: *derived", "    smoke: *posix"]
    return "\n".join(lines)


def _variant_block(base: Base) -> str:
    first, *rest = _on_base(base)
    return "\n".join([f"  - {first}", *(f"    {line}" for line in rest)])


def _on_base(base: Base) -> list[str]:
    """An image's entry on `base`: base, family, tags and, for a Python base, a smoke test of its Python."""
    lines = [f"base: {base.image}", f"family: {base.family}", f"tags: [{', '.join(base.tags)}]"]
    if base.python:
        pattern = "^Python " + base.python.replace(".", "\\.") + "\\."
        lines += ["smoke:", "  - run: [python, --version]", f"    stdout: {_scalar(pattern)}"]
    return lines


def _smoke(checks: dict[str, str | None], entrypoint: bool = False) -> str:
    """A smoke test per checked file: `<file> --version` (the primary's entrypoint is the file itself)."""
    tests = [f"      - run: [{'' if entrypoint else name + ', '}--version]\n        stdout: {json.dumps(pattern)}"
             for name, pattern in checks.items() if pattern is not None]
    return "\n".join(tests) or "      []"


def _block(mapping: dict, depth: int) -> list[str]:
    """A YAML block of nested mappings, as a person writes it: strings quoted only where YAML needs it."""
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines += [f"{'  ' * depth}{key}:", *_block(value, depth + 1)]
        else:
            lines.append(f"{'  ' * depth}{key}: {_scalar(value)}")
    return lines


def _scalar(value: str | None) -> str:
    if value is None:
        return "null"
    plain = PLAIN.fullmatch(value) and yaml.safe_load(value) == value
    return value if plain else json.dumps(value)


def _payload(starter: Starter) -> StarterPayload:
    """A payload init knows (at --version, if given), else the package of that name on the index."""
    known = known_payloads()
    if starter.payload is None or starter.payload in known:
        entry = known[starter.payload or next(iter(known))]
        return replace(entry, release=starter.version or entry.release)
    from publisher.local.carried import carried  # pip and the wheels: only for a package init does not know

    found = carried(starter.payload, starter.version, list(PLATFORMS), starter.cache)
    wheels = {"package": found.package, **({"python": found.wheels.python} if found.wheels.python else {}),
              "platforms": found.wheels.platforms}
    payload = {"wheels": wheels, "files": found.checks, "primary": "/", "derived": "/usr/local/bin/"}
    linked = "static" if found.libc == "none" else f"linked against {found.libc}"
    wheels = ", ".join(f"{p}: {tag}" for p, tag in found.wheels.platforms.items())
    said = f"{found.package} {found.version}'s wheels ({wheels}) install {', '.join(found.files)} ({linked})"
    return StarterPayload(found.package, found.version, found.licenses, payload, found.libc, found.summary, said)


def _repository(image: str) -> reference.Name:
    try:
        return reference.parse_repository(image)
    except ValueError as e:
        raise PublisherError(f"publisher init: --image '{image}': {e}; write host/path, e.g. ghcr.io/org/tool") from None


def _login(host: str) -> str:
    """The workflow step logging in to the image's registry: GITHUB_TOKEN for ghcr.io, secrets elsewhere."""
    user, secret = (("${{ github.actor }}", "${{ secrets.GITHUB_TOKEN }}") if host == "ghcr.io" else
                    ("${{ secrets.REGISTRY_USERNAME }}", "${{ secrets.REGISTRY_PASSWORD }}"))
    return (f"      - name: log in to {host}\n"
            "        if: github.event_name == 'push'\n"
            "        uses: docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121 # v4.1.0\n"
            "        with:\n"
            f"          registry: {host}\n"
            f"          username: {user}\n"
            f"          password: {secret}")


def _packages(host: str) -> str:
    """The permission a job pushing to ghcr.io with the job's token needs, as a line to end the template's
    line before it; none elsewhere."""
    return "\n      packages: write  # push to ghcr.io with the job's token" if host == "ghcr.io" else ""
