"""What every step of one publish shares: the Options, the log and the registries.

Not the Plan: a flow is handed the selected Plan, reads what it needs of it (targets, payload, bases),
and resolves it once (release/resolved); every step after that reads the flow's `Resolved`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.options import Options
from publisher.progress import Progress
from publisher.remote.hosts import Hosts


@dataclass(frozen=True)
class Run:
    options: Options
    progress: Progress
    hosts: Hosts  # one client per registry host, bases and targets alike
    network: Executor  # registry round-trips wait on the network, not the CPU: their own pool
