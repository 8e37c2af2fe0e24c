"""publisher installs like a tool: its wheel, in a fresh venv outside the checkout, starts a project from nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def sh(*argv, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_wheel_installs_and_starts_a_project_outside_the_checkout(tmp_path):
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ROOT, "-w", tmp_path / "dist", cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("publisher-*.whl")
    with zipfile.ZipFile(wheel) as archive:  # what `publisher init` writes ships inside the wheel
        assert {"publisher/templates/matrix.yaml", "publisher/templates/Dockerfile.j2",
                "publisher/templates/release.yml", "publisher/templates/payloads.yaml"} <= set(archive.namelist())
    tool = tmp_path / "tool"
    venv.create(tool, with_pip=True)
    sh(tool / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path)  # dependencies from the index
    publisher = tool / "bin" / "publisher"
    project = tmp_path / "project"
    project.mkdir()

    expected = ROOT.joinpath("publisher", "__init__.py").read_text().split('__version__ = "', 1)[1].split('"', 1)[0]
    assert wheel.name.startswith(f"publisher-{expected}-")  # the distribution's version is read from there too
    assert sh(publisher, "--version", cwd=project) == f"publisher {expected}\n"
    where = sh(tool / "bin" / "python", "-c", "import publisher; print(publisher.__file__)", cwd=project)
    assert Path(where).is_relative_to(tool) and not Path(where).is_relative_to(ROOT)  # not the checkout's code
    sh(publisher, "init", "--image", "ghcr.io/acme/tool", cwd=project)
    sh(publisher, "render", "--check", cwd=project)
    plan = sh(publisher, "publish", "--dry-run", "--offline", "--version", "0.5.31", cwd=project)
    assert plan.startswith("Release 0.5.31 (final release) to ghcr.io/acme/tool\n")
    assert "3 variants, 6 images, 15 tags per repository" in plan
