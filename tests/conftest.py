from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from publisher.cli import main

ROOT = Path(__file__).resolve().parent.parent


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


pytest_plugins = ["tests.registry_server"]
