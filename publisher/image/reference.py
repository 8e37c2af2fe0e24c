"""Image references: a repository's name (registry host and path) and a tag or a digest in it.

A base is parsed once, where the matrix declares it; a target repository is checked where it is given and
read as a `Name` by holdings/repository. `Tag` and `Digest` say which kind a reference is, so nothing
tells them apart by their text (go-containerregistry's name.Reference, with `context` its
name.Repository and `identifier`). A reference prints as it was
written (`alpine:3.20`); `name` is its full form (`docker.io/library/alpine:3.20`). Docker's grammar, simplified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
PATH = re.compile(rf"{COMPONENT}(?:/{COMPONENT})*")
HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class Name:
    """A repository: `ghcr.io/org/image`, `docker.io/library/alpine` for an official image."""

    host: str  # docker.io for Docker Hub
    path: str  # library/alpine for an official image

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"

    def tag(self, tag: str) -> Tag:
        return Tag(self, tag)

    def digest(self, digest: str) -> Digest:
        return Digest(self, digest)


@dataclass(frozen=True)
class Reference:
    """A tag or a digest in a repository (`Tag` or `Digest`); equal when they name the same thing, however written."""

    context: Name
    written: str = field(default="", compare=False, repr=False, kw_only=True)  # as the user wrote it

    @property
    def host(self) -> str:
        return self.context.host

    @property
    def path(self) -> str:
        return self.context.path

    @property
    def identifier(self) -> str:
        """What the registry's API takes after /manifests/: the tag or the digest."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.written or self.name

    def through(self, mirror: Mirror) -> Reference:
        """This reference read through a mirror laid out like Docker Hub:
        `alpine:3.20` through `127.0.0.1:5000` is `127.0.0.1:5000/library/alpine:3.20`."""
        path = f"{mirror.prefix}/{self.path}" if mirror.prefix else self.path
        return replace(self, context=Name(mirror.host, path), written="")


@dataclass(frozen=True)
class Tag(Reference):
    tag: str | None = None  # None: written without one, which is `latest`

    @property
    def identifier(self) -> str:
        return self.tag or "latest"

    @property
    def name(self) -> str:
        return f"{self.context}" + (f":{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class Digest(Reference):
    digest: str
    tag: str | None = field(default=None, compare=False)  # written with the digest (`alpine:3.20@sha256:…`): for its text only

    @property
    def identifier(self) -> str:
        return self.digest

    @property
    def name(self) -> str:
        return f"{self.context}" + (f":{self.tag}" if self.tag else "") + f"@{self.digest}"


@dataclass(frozen=True)
class Mirror:
    """A registry laid out like Docker Hub that bases are read through (--base-mirror `HOST[:PORT][/PREFIX]`)."""

    host: str
    prefix: str  # "" for none


def parse_mirror(text: str) -> Mirror:
    """Parse `127.0.0.1:5000`, `mirror.corp/hub` (a trailing `/` left out); raise ValueError saying what is wrong."""
    host, _, prefix = text.rstrip("/").partition("/")
    if not HOST.fullmatch(host) or (prefix.strip("/") and not PATH.fullmatch(prefix.strip("/"))):
        raise ValueError(f"'{text}' is not HOST[:PORT][/PREFIX], e.g. 127.0.0.1:5000 or mirror.corp/hub")
    return Mirror(host, prefix)


def _split_host(ref: str) -> tuple[str, str]:
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, ref


def parse(ref: str) -> Tag | Digest:
    """Parse `alpine:3.20`, `ghcr.io/org/img@sha256:...`; raise ValueError saying what is wrong."""
    host, rest = _split_host(ref)
    rest, _, digest = rest.partition("@")
    path, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not HOST.fullmatch(host):
        raise ValueError(f"registry host '{host}' is not valid")
    if path.lower() != path:
        raise ValueError(f"repository path '{path}' must be lowercase")
    if not PATH.fullmatch(path):
        raise ValueError(f"repository path '{path}' is not valid (lowercase letters, digits, '.', '_', '-', '/')")
    if digest and not DIGEST.fullmatch(digest):
        raise ValueError(f"digest '{digest}' is not sha256:<64 hex digits>")
    if digest:
        return Digest(Name(host, path), digest, tag or None, written=ref)
    return Tag(Name(host, path), tag or None, written=ref)


def parse_repository(ref: str) -> Name:
    """A repository: a reference with neither tag nor digest."""
    parsed = parse(ref)
    if not isinstance(parsed, Tag) or parsed.tag:
        raise ValueError("a repository takes no tag or digest")
    return parsed.context


DOCKER_HUB_API = "registry-1.docker.io"


def endpoint(host: str) -> tuple[str, str, int]:
    """Scheme, bare host name and port of a registry's API: plain HTTP on loopback only."""
    import ipaddress

    api = DOCKER_HUB_API if host == DOCKER_HUB else host
    if api.startswith("["):
        name, _, rest = api[1:].partition("]")
        port = rest.lstrip(":")
    else:
        name, _, port = api.partition(":")
    try:
        loopback = name == "localhost" or ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    scheme = "http" if loopback else "https"
    return scheme, name, int(port) if port else (80 if loopback else 443)


def api_url(host: str) -> str:
    """The base URL of a registry's API, with the port only where it is not the default."""
    scheme, name, port = endpoint(host)
    name = f"[{name}]" if ":" in name else name
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{name}" + ("" if port == default else f":{port}")
