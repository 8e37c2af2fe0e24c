from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from publisher.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def not_on_github_actions(monkeypatch):
    """Tests see plain output even when CI runs them inside GitHub Actions; some set it back to see workflow commands."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shipped matrix, template and rendered Dockerfiles, outside git."""
    shutil.copy(ROOT / "matrix.yaml", tmp_path / "matrix.yaml")
    shutil.copytree(ROOT / "variants", tmp_path / "variants")
    return tmp_path


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run the publisher command line in-process and capture what it prints."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


pytest_plugins = ["tests.registry_server", "tests.token_registry", "tests.engines"]


def need(condition: bool, message: str) -> None:
    """A missing engine fails the run under CI=true; elsewhere the test is skipped."""
    if not condition:
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)


@pytest.fixture(scope="session")
def engine():
    import docker

    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except docker.errors.DockerException as e:
        need(False, f"no Docker engine ({e}); run bash .ci/setup")
    need(shutil.which("skopeo") is not None, "skopeo is missing; run bash .ci/setup")
    return client


@pytest.fixture(scope="session")
def cache() -> Path:
    """Wheels and compressed layers, kept between runs like a CI cache would be."""
    path = ROOT / ".work" / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mirror(engine, registry, tmp_path_factory) -> str:
    """Stand-ins for every base of the shipped matrix, both platforms, served like Docker Hub."""
    from publisher.matrix.schema import load_matrix
    from tests.images import push_base

    work = tmp_path_factory.mktemp("bases")
    for v in load_matrix(ROOT / "matrix.yaml").variants[1:]:
        python = v.base.identifier.split("-")[0] if v.base.path == "library/python" else None
        push_base(work, registry.host, str(v.base), [str(p) for p in v.platforms], python)
    return registry.host


@pytest.fixture
def proxies(registry):
    """Make fault-injecting proxies in front of the test registry; stopped after the test."""
    from tests.fault_proxy import FaultProxy

    made = []

    def make(**kwargs) -> FaultProxy:
        made.append(FaultProxy(registry.host, **kwargs))
        return made[-1]

    yield make
    for proxy in made:
        proxy.stop()
