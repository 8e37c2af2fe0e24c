"""Every `publisher` command line the workflows run, run here exactly as written.

The workflow files are read, not copied: a flag combination a workflow uses cannot break unseen.
`${{ }}` values are filled in from VALUES; bases come through the test mirror
(PUBLISHER_BASE_MIRROR, which the workflows do not set), and nothing else differs from a runner.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
VALUES = {"steps.version.outputs.version": "0.5.31"}  # what the runner would put there
COMMAND = re.compile(r"(^|[\s/])publisher\s")


def command_lines() -> list[tuple[str, str, str]]:
    """(workflow, step name, run text) of every step whose run calls publisher."""
    found = []
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if COMMAND.search(step.get("run", "")):
                    found.append((path.name, step.get("name", step["run"][:40]), step["run"]))
    return found


def fill(run: str) -> str:
    def value(match: re.Match) -> str:
        assert match[1] in VALUES, f"no test value for ${{{{ {match[1]} }}}}: add it to VALUES"
        return VALUES[match[1]]

    return EXPRESSION.sub(value, run)


def test_the_workflows_run_publisher():
    names = {(w, n) for w, n, _ in command_lines()}
    assert ("release.yml", "build and smoke-test (pull request)") in names and len(names) >= 4, names


@pytest.mark.docker
@pytest.mark.parametrize(("workflow", "name", "run"), command_lines(), ids=lambda v: v if len(v) < 50 else None)
def test_a_workflow_command_runs_as_written(workflow, name, run, project, engine, mirror, cache, tmp_path):
    (project / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "publisher").symlink_to(cache)
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PUBLISHER_BASE_MIRROR": mirror, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    done = subprocess.run(["bash", "-e", "-c", fill(run)], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900)
    if "--dry-run" in run or "render --check" in run:
        assert done.returncode == 0, done.stderr
    elif "--no-push" in run:
        # Builds and smoke-tests everything; never contacts the target repositories (unreachable here).
        assert done.returncode == 0, done.stderr
        assert done.stdout.rstrip().splitlines()[-1].startswith("0.5.31: built and smoke-tested, not pushed;")
    else:
        # A real publish: ghcr.io and docker.io cannot be reached from here. It must say so in one
        # line, in the read step, before anything is built.
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "cannot talk to the registry" in done.stderr and "build:" not in done.stdout
    assert "Traceback" not in done.stderr
