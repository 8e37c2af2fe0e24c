"""Is a registry host reachable at all: one TCP connect, before paying for an HTTP client (the dry-run stays instant)."""

from __future__ import annotations

import socket

from publisher.image.reference import endpoint


def reachable(host: str, timeout: float = 2.0) -> bool:
    """A TCP connect, before paying for an HTTP client: the offline dry-run stays instant."""
    _, name, port = endpoint(host)
    try:
        with socket.create_connection((name, port), timeout=timeout):
            return True
    except OSError:
        return False
