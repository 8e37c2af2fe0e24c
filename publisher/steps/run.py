"""What every step of one publish shares: the Plan, the Options, the log and the registries."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.image.platform import Platform
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

    @property
    def platforms(self) -> list[Platform]:
        """Every platform some variant is published for; each needs the primary image."""
        return self.plan.platforms
