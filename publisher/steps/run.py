"""What every step of one publish shares: the Plan, the Options, the log, the registries and the counts."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field

from publisher.options import Options
from publisher.progress import Progress
from publisher.release.plan import Plan
from publisher.remote.hosts import Hosts


@dataclass(frozen=True)
class Run:
    plan: Plan
    options: Options
    progress: Progress
    hosts: Hosts  # one client per registry host, bases and targets alike
    network: Executor  # registry round-trips wait on the network, not the CPU: their own pool
    counts: Counter = field(default_factory=Counter)

    @property
    def platforms(self) -> list[str]:
        """Every platform some variant is published for; each needs the primary image."""
        return self.plan.platforms
