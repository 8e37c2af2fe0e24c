"""What the repositories hold now, for the dry-run: each planned tag new, stays, moves, held or conflict.

The same reading and the same rules as a publish; only "same content" is judged by the release and
revision a tag carries, since the dry-run builds nothing.
"""

from __future__ import annotations

import socket
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from publisher.errors import PublisherError
from publisher.plan import REVISION, Plan
from publisher.reference import endpoint, parse_repository
from publisher.retry import Policy
from publisher.tagging import decide
from publisher.tags import is_floating


def reachable(host: str, timeout: float = 2.0) -> bool:
    """A TCP connect, before paying for an HTTP client: the offline dry-run stays instant."""
    _, name, port = endpoint(host)
    try:
        with socket.create_connection((name, port), timeout=timeout):
            return True
    except OSError:
        return False


def compare(plan: Plan, force: bool = False, downgrade: bool = False) -> tuple[dict | None, str | None]:
    """repository → tag → Decision; or None and why the comparison could not be made."""
    hosts = {parse_repository(r).host for r in plan.repositories}
    unreachable = sorted(h for h in hosts if not reachable(h))
    if unreachable:
        return None, f"could not compare with the registries: {', '.join(unreachable)} not reachable"
    from publisher.push import Repository, connect

    registries = connect(plan.repositories, Policy(attempts=2), timeout=10)
    try:
        states = {}
        for ref in plan.repositories:
            with ThreadPoolExecutor(8) as pool:
                current = Repository(ref, registries[parse_repository(ref).host], Counter()).read(plan.tags, pool)
            states[ref] = {
                tag: decide(is_floating(tag, plan.release), current[tag], _same(current[tag], plan, v.labels),
                            plan.release, force, downgrade)
                for v in plan.variants for tag in v.tags
            }
    except PublisherError as e:
        return None, f"could not compare with the registries: {e.lines[0]}"
    finally:
        for registry in registries.values():
            registry.close()
    return states, None


def _same(current, plan: Plan, labels: dict) -> bool:
    return current.version == plan.release.text and current.revision == labels.get(REVISION)
