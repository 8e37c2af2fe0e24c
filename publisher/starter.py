"""`publisher init`: a new project's matrix.yaml, template, rendered Dockerfiles and release workflow."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from publisher.errors import PublisherError
from publisher.image import reference

PLAIN = re.compile(r"[A-Za-z0-9_./-]+")  # a string written unquoted in the matrix, unless YAML reads it otherwise
# Where publisher's action lives, pinned by commit SHA with its version: pass --action
DEFAULT_ACTION = "OWNER/publisher@0000000000000000000000000000000000000000 # v1"
FILES = {"matrix.yaml": "matrix.yaml", "variants/Dockerfile.j2": "Dockerfile.j2",
         ".github/workflows/release.yml": "release.yml"}


@dataclass(frozen=True)
class Starter:
    image: str  # the repository the images go to, e.g. ghcr.io/org/tool
    root: Path = Path(".")
    payload: str | None = None  # a name in templates/payloads.yaml; None: its first
    action: str = DEFAULT_ACTION
    force: bool = False


@dataclass(frozen=True)
class Started:
    written: list[str]  # the paths written, relative to the project's folder
    release: str  # a release of the payload, for a first dry-run


def init(starter: Starter) -> Started:
    """Write the starter files (refusing to overwrite unless forced) and render them."""
    payload = _payload(starter.payload)
    parsed = _repository(starter.image)
    existing = [name for name in FILES if (starter.root / name).exists()]
    if existing and not starter.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise PublisherError(f"publisher init: {', '.join(existing)} already {verb} in {starter.root}; "
                             "pass --force to overwrite")
    values = {"@IMAGE@": starter.image, "@TITLE@": parsed.path.rsplit("/", 1)[-1], "@ACTION@": starter.action,
              "@LOGIN@": _login(parsed.host), "@PACKAGES@": _packages(parsed.host), **payload.values()}
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
    return Started(list(FILES) + render.write(matrix, render.render_all(matrix)), payload.release)


@dataclass(frozen=True)
class StarterPayload:
    """One entry of templates/payloads.yaml: what a new project's images carry."""

    name: str
    release: str  # a release of it, for pull requests and the first dry-run
    licenses: str
    payload: dict  # the matrix's payload block

    def values(self) -> dict[str, str]:
        """The starter files' placeholders this payload fills."""
        files, main = self.payload["files"], next(iter(self.payload["files"]))
        return {"@PAYLOAD_NAME@": self.name, "@FILES@": ", ".join(files), "@LICENSES@": self.licenses,
                "@PR_VERSION@": self.release, "@PAYLOAD@": "\n".join(_block(self.payload, 1)),
                "@PRIMARY_MAIN@": self.payload["primary"] + main, "@DERIVED_MAIN@": self.payload["derived"] + main,
                "@PRIMARY_SMOKE@": _smoke({main: files[main]}, entrypoint=True), "@DERIVED_SMOKE@": _smoke(files)}


def known_payloads() -> dict[str, StarterPayload]:
    text = resources.files("publisher").joinpath("templates", "payloads.yaml").read_text(encoding="utf-8")
    return {name: StarterPayload(name, entry["release"], entry["licenses"], entry["payload"])
            for name, entry in yaml.safe_load(text).items()}


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


def _payload(name: str | None) -> StarterPayload:
    known = known_payloads()
    if name is not None and name not in known:
        raise PublisherError(f"publisher init: --payload '{name}' is not a payload init knows; pass one of: {', '.join(known)}")
    return known[name or next(iter(known))]


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
