"""One client per registry host for a whole publish, bases and targets alike, each with its credentials."""

from __future__ import annotations

import threading

from publisher.remote.credentials import lookup
from publisher.remote.registry import Registry
from publisher.remote.policy import Policy


class Hosts:
    """host → Registry, made on first use (the same token cache serves every step); close() ends them all."""

    def __init__(self, policy: Policy | None = None, timeout: float = 60.0):
        self.policy, self.timeout = policy or Policy(), timeout
        self._registries: dict[str, Registry] = {}
        self._lock = threading.Lock()

    def __getitem__(self, host: str) -> Registry:
        with self._lock:
            if host not in self._registries:
                self._registries[host] = Registry(host, lookup(host), self.timeout, self.policy)
            return self._registries[host]

    def stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for registry in self._registries.values():
            for key, n in registry.stats.items():
                total[key] = total.get(key, 0) + n
        return total

    def close(self) -> None:
        for registry in self._registries.values():
            registry.close()

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
