"""The engine tests on both image stores: the first engine's classic store (the default socket) and a
second dockerd beside it with the containerd image store (.ci/setup), what Docker 29 installs and
Docker Desktop uses.

A test marked `on_both_stores` runs once per store; `store` sets DOCKER_HOST for the containerd one, so
the docker CLI, buildx and publisher (in-process or as a subprocess) all reach that engine. Unmarked,
`store` is the classic one, so a fixture can depend on it whatever its tests are marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import need

CONTAINERD_HOST = "unix:///run/publisher-containerd.sock"
STORES = ("classic", "containerd")
on_both_stores = pytest.mark.parametrize("store", STORES, indirect=True)


@dataclass(frozen=True)
class Store:
    name: str  # "classic" or "containerd"
    client: object  # a docker.DockerClient on that engine

    @property
    def containerd(self) -> bool:
        return self.name == "containerd"


def _containerd_client():
    import docker

    try:
        client = docker.DockerClient(base_url=CONTAINERD_HOST, timeout=10)
        driver = dict(client.info().get("DriverStatus") or [])
    except docker.errors.DockerException as e:
        need(False, f"no second engine at {CONTAINERD_HOST} ({e}); run bash .ci/setup")
    need(driver.get("driver-type") == "io.containerd.snapshotter.v1",
         f"the engine at {CONTAINERD_HOST} is not on the containerd image store; run bash .ci/setup")
    return client


@pytest.fixture(scope="session")
def containerd_engine():
    return _containerd_client()


@pytest.fixture
def store(request, engine, monkeypatch) -> Store:
    """The engine this test runs on: `classic` unless parametrized (`on_both_stores`)."""
    name = getattr(request, "param", "classic")
    if name == "classic":
        return Store(name, engine)
    client = request.getfixturevalue("containerd_engine")
    monkeypatch.setenv("DOCKER_HOST", CONTAINERD_HOST)
    return Store(name, client)
