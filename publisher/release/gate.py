"""Variants left out of a release because their base cannot be pulled here: visible, never silent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from publisher.image.reference import Reference
from publisher.release.plan import Plan


@dataclass(frozen=True)
class LeftOut:
    name: str
    base: Reference
    why: str

    def line(self) -> str:
        return f"left out: {self.name} ({self.base}): {self.why}"


def without_credentials(plan: Plan, has_credentials: Callable[[str], bool], env_name: Callable[[str], str]) -> Plan:
    """The plan without the variants whose base needs a login for which no credentials are here.

    `has_credentials(host)`: whether credentials for that registry host are available;
    `env_name(host)`: the variable that would carry them, for the message.
    """
    kept, left = [], []
    for v in plan.variants:
        host = v.variant.base.host if v.variant.needs_credentials else None
        if host and not has_credentials(host):
            why = f"its base needs a login to {host} and there are no credentials for it; set {env_name(host)} or run docker login {host}"
            left.append(LeftOut(v.variant.name, v.variant.base, why))
        else:
            kept.append(v)
    return replace(plan, variants=tuple(kept), left_out=plan.left_out + tuple(left))
