"""What the repositories hold now, for the dry-run: each planned tag is new, moves, or stays."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

from publisher.errors import PublisherError
from publisher.plan import Plan
from publisher.reference import endpoint, parse_repository

VERSION = "org.opencontainers.image.version"
REVISION = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class TagState:
    status: str  # "new", "moves" or "stays"
    digest: str | None = None  # what the tag points at now
    version: str | None = None  # the release it points at now, from the index's annotations


def reachable(host: str, timeout: float = 2.0) -> bool:
    """A TCP connect, before paying for an HTTP client: the offline dry-run stays instant."""
    _, name, port = endpoint(host)
    try:
        with socket.create_connection((name, port), timeout=timeout):
            return True
    except OSError:
        return False


def compare(plan: Plan) -> tuple[dict | None, str | None]:
    """repository → tag → TagState; or None and why the comparison could not be made."""
    hosts = {parse_repository(r).host for r in plan.repositories}
    unreachable = sorted(h for h in hosts if not reachable(h))
    if unreachable:
        return None, f"could not compare with the registries: {', '.join(unreachable)} not reachable"
    from publisher.credentials import lookup
    from publisher.registry import Registry

    states, registries = {}, {h: Registry(h, lookup(h), timeout=10) for h in hosts}
    try:
        for ref in plan.repositories:
            parsed = parse_repository(ref)
            states[ref] = _states(registries[parsed.host], parsed.path, plan)
    except PublisherError as e:
        return None, f"could not compare with the registries: {e.lines[0]}"
    finally:
        for registry in registries.values():
            registry.close()
    return states, None


def _states(registry, path: str, plan: Plan) -> dict[str, TagState]:
    existing = set(registry.list_tags(path))
    annotations: dict[str, dict] = {}
    states = {}
    for v in plan.variants:
        revision = v.labels.get(REVISION)
        for tag in v.tags:
            if tag not in existing:
                states[tag] = TagState("new")
                continue
            digest = registry.head_manifest(path, tag)
            if digest not in annotations:
                found = registry.get_manifest(path, digest) if digest else None
                annotations[digest] = json.loads(found[1]).get("annotations", {}) if found else {}
            now = annotations[digest]
            same = now.get(VERSION) == plan.release.text and now.get(REVISION) == revision
            states[tag] = TagState("stays" if same else "moves", digest, now.get(VERSION))
    return states
