"""Every `publisher` command the workflows run, run here exactly as written.

The workflow files are read, not copied: a flag combination a workflow uses cannot break unseen.
A `run:` step that calls publisher runs as it is; a step that `uses: ./` runs this repository's
action (action.yml) with the step's inputs, the way the runner does (tests/test_action.py), for a
pull request: the release path is the same commands without --no-push, run by test_action against
a loopback registry. A `run:` step gets its values through `env:` (the workflow's, the job's and its
own, as the runner merges them), never `${{ }}` in the script; `${{ }}` values are filled in from
VALUES; bases come through the test mirror (PUBLISHER_BASE_MIRROR, which the workflows do not set); nothing else differs from a runner.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_action import run_action

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# What the runner would put there, on a pull request (the stage job: its amd64 entry).
VALUES = {"steps.version.outputs.version": "0.5.31", "needs.plan.outputs.version": "0.5.31",
          "matrix.platform": "linux/amd64", "github.event_name == 'push'": "false",
          "github.event_name != 'pull_request'": "false",
          "github.event_name == 'push' && needs.join.outputs.subjects != '[]'": "false",
          "github.event_name != 'pull_request' && needs.refresh.outputs.subjects != '[]'": "false"}
COMMAND = re.compile(r"(^|[\s/(])publisher\s")


def steps() -> list[tuple[str, str, dict]]:
    """(workflow, step name, step) of every step that runs publisher or this repository's action; the
    step's `env` is what it runs with: the workflow's, the job's and its own."""
    found = []
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            for step in job.get("steps", []) if runs(job.get("if")) else []:
                if runs(step.get("if")) and (COMMAND.search(step.get("run", "")) or step.get("uses") == "./"):
                    env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                    found.append((path.name, step.get("name", str(step.get("run", ""))[:40]), {**step, "env": env}))
    return found


def runs(condition: str | None) -> bool:
    """Whether a job or step with this `if:` runs on a pull request."""
    if condition is None:
        return True
    assert condition.strip() in VALUES, f"no test value for if: {condition}: add it to VALUES"
    return VALUES[condition.strip()] == "true"


def fill(text: str) -> str:
    def value(match: re.Match) -> str:
        assert match[1] in VALUES, f"no test value for ${{{{ {match[1]} }}}}: add it to VALUES"
        return VALUES[match[1]]

    return EXPRESSION.sub(value, text)


def test_the_workflows_run_publisher():
    names = {(w, n) for w, n, _ in steps()}
    assert ("release.yml", "stage") in names and ("release.yml", "matrix") in names and len(names) >= 5, names


@pytest.fixture
def runner_env(project, mirror, cache, tmp_path) -> dict[str, str]:
    (project / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "publisher").symlink_to(cache)
    return {"PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "PUBLISHER_BASE_MIRROR": mirror,
            "XDG_CACHE_HOME": str(tmp_path / "xdg"), "GITHUB_OUTPUT": str(tmp_path / "github-output")}


@pytest.mark.docker
@pytest.mark.parametrize(("workflow", "name", "step"), steps(), ids=lambda v: v if isinstance(v, str) else None)
def test_a_workflow_step_runs_as_written(workflow, name, step, project, engine, runner_env, tmp_path):
    if step.get("uses") == "./":
        temp = tmp_path / "runner-temp"
        temp.mkdir()
        inputs = {key: fill(str(value)) for key, value in step.get("with", {}).items()}
        _, log = run_action(project, temp, inputs, runner_env)
        assert "0.5.31: built and smoke-tested, not pushed;" in log  # the pull request's path
        if "stage" in inputs:  # this runner's platform only, and its record written
            from publisher.options import Arguments, compute_plan

            images = compute_plan(Arguments(matrix=str(project / "matrix.yaml"), version=inputs["version"],
                                            platforms=(inputs["platforms"],))).images
            assert f"smoke-test: {images} in" in log and (project / inputs["stage"] / "stage-linux-amd64.json").exists()
        return
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"} | runner_env
    env |= {name: fill(str(value)) for name, value in step["env"].items()}
    done = subprocess.run(["bash", "-e", "-c", fill(step["run"])], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if "github-matrix" in step["run"]:  # what the stage job's strategy.matrix takes: one native runner each
        line = Path(runner_env["GITHUB_OUTPUT"]).read_text().strip()
        include = json.loads(line.removeprefix("matrix="))["include"]
        assert [(e["platform"], e["runner"]) for e in include] == [
            ("linux/amd64", "ubuntu-24.04"), ("linux/arm64", "ubuntu-24.04-arm")]


def test_the_refresh_workflow_finds_the_newest_final_release(tmp_path):
    """refresh.yml's version step, as written, in a repository with tags: prereleases and non-releases skipped."""
    step = next(s for s in yaml.safe_load((ROOT / ".github/workflows/refresh.yml").read_text())["jobs"]["refresh"]["steps"]
                if s.get("id") == "version")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q", str(tmp_path)], check=True)
    subprocess.run(git + ["-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    for tag in ("0.5.9", "0.5.31", "0.5.4", "0.6.0rc1", "v9.9.9", "0.5.31-alpine"):
        subprocess.run(git + ["-C", str(tmp_path), "tag", tag], check=True)
    output = tmp_path / "github-output"
    subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env={**os.environ, "GITHUB_OUTPUT": str(output)}, check=True)
    assert output.read_text() == "version=0.5.31\n"


def test_the_jobs_that_move_tags_share_one_concurrency_group():
    """The release's join and the refresh take turns whatever their ref (issue 20); a pull request keeps out."""
    release = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    refresh = yaml.safe_load((ROOT / ".github" / "workflows" / "refresh.yml").read_text())
    assert "concurrency" not in release  # not one group per ref: the stages push by digest only
    assert release["jobs"]["join"]["concurrency"] == {"group": "publish-${{ github.repository }}", "cancel-in-progress": False}
    group = EXPRESSION.fullmatch(refresh["concurrency"]["group"])[1]
    assert group.endswith("|| format('publish-{0}', github.repository)") and "pull_request" in group
    assert refresh["concurrency"]["cancel-in-progress"] is False
