"""Image references: registry host, repository path, tag or digest (Docker's grammar, simplified)."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
PATH = re.compile(rf"{COMPONENT}(?:/{COMPONENT})*")
HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class Reference:
    host: str  # docker.io for Docker Hub
    path: str  # library/alpine for an official image
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.host}/{self.path}"
        if self.tag:
            text += f":{self.tag}"
        return text + (f"@{self.digest}" if self.digest else "")

    @property
    def repository(self) -> str:
        return f"{self.host}/{self.path}"


def _split_host(ref: str) -> tuple[str, str]:
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, ref


def parse(ref: str) -> Reference:
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
    return Reference(host, path, tag or None, digest or None)


def parse_repository(ref: str) -> Reference:
    """A repository: a reference with neither tag nor digest."""
    parsed = parse(ref)
    if parsed.tag or parsed.digest:
        raise ValueError("a repository takes no tag or digest")
    return parsed


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


def mirrored(base: str, mirror: str | None) -> str | None:
    """`alpine:3.20` through mirror `HOST[/PREFIX]` is `HOST[/PREFIX]/library/alpine:3.20`."""
    if not mirror:
        return None
    ref = parse(base)
    name = f"{mirror.rstrip('/')}/{ref.path}"
    return name + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
