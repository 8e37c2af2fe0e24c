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
    (wheel,) = (tmp_path / "dist").glob("image_family_publisher-*.whl")  # the distribution's own name
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
    assert wheel.name.startswith(f"image_family_publisher-{expected}-")  # the distribution's version is read from there too
    assert sh(publisher, "--version", cwd=project) == f"publisher {expected}\n"
    # `pip install image-family-publisher` gives `publisher`; the same command under the distribution's name is
    # what `uvx image-family-publisher` runs.
    assert sh(tool / "bin" / "image-family-publisher", "--version", cwd=project) == f"publisher {expected}\n"
    metadata = sh(tool / "bin" / "python", "-c", "import importlib.metadata as m; d = m.distribution('image-family-publisher'); "
                  "print(d.metadata['Project-URL'])", cwd=project)
    assert metadata == "Homepage, https://pypi.org/project/image-family-publisher/\n"
    where = sh(tool / "bin" / "python", "-c", "import publisher; print(publisher.__file__)", cwd=project)
    assert Path(where).is_relative_to(tool) and not Path(where).is_relative_to(ROOT)  # not the checkout's code
    sh(publisher, "init", "--image", "ghcr.io/acme/tool", cwd=project)
    sh(publisher, "render", "--check", cwd=project)
    plan = sh(publisher, "publish", "--dry-run", "--offline", "--version", "0.5.31", cwd=project)
    assert plan.startswith("Release 0.5.31 (final release) to ghcr.io/acme/tool\n")
    assert "4 variants, 8 images, 18 tags per repository" in plan
    uvx(wheel, tmp_path)


def uvx(wheel: Path, tmp_path: Path) -> None:
    """`uvx image-family-publisher`: uvx runs the executable named like the package (uv from uv's wheel)."""
    import platform as host

    from publisher.local.artifacts import fetch_wheels
    from publisher.matrix.schema import load_matrix

    from publisher.image.platform import parse_platform

    native = parse_platform("linux/arm64" if host.machine() in ("aarch64", "arm64") else "linux/amd64")
    uv_folder = fetch_wheels(load_matrix(ROOT / "matrix.yaml").payload, "0.5.31", [native], ROOT / ".work" / "cache")[native]
    env = {"UV_CACHE_DIR": str(ROOT / ".work" / "cache" / "uv"), "UV_TOOL_DIR": str(tmp_path / "uv-tools")}  # kept, as CI caches
    done = subprocess.run([uv_folder / "uvx", "--from", wheel, "image-family-publisher", "--version"], cwd=tmp_path,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == sh(tmp_path / "tool" / "bin" / "publisher", "--version", cwd=tmp_path)
