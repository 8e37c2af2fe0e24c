"""action.yml run the way the GitHub runner runs a composite action, against a loopback registry."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_publish import reduced_matrix, skopeo

pytestmark = [pytest.mark.docker, pytest.mark.slow]
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def substitute(text: str, context: dict[str, str]) -> str:
    """`${{ inputs.x }}` and `${{ github.action_path }}`; any other expression fails the test."""
    return EXPRESSION.sub(lambda m: context[m[1]], text)


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIMITER heredocs."""
    outputs, lines = {}, iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            for body in lines:
                if body == delimiter:
                    break
                value.append(body)
            outputs[name] = "\n".join(value)
        elif line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(workspace: Path, temp: Path, given: dict[str, str], env: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """Each step's shell lines in `bash --noprofile --norc -eo pipefail`, as `shell: bash` runs them."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(given) <= set(action["inputs"]), "an input the action does not declare"
    inputs = {name: str(given.get(name, spec.get("default", ""))) for name, spec in action["inputs"].items()}
    context = {f"inputs.{k}": v for k, v in inputs.items()} | {"github.action_path": str(ROOT)}
    files = {name: temp / name for name in ("output", "summary", "path")}
    base = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    base |= {"GITHUB_ACTIONS": "true", "CI": "true", "RUNNER_TEMP": str(temp), "GITHUB_WORKSPACE": str(workspace),
             "GITHUB_STEP_SUMMARY": str(files["summary"]), "GITHUB_PATH": str(files["path"])} | (env or {})
    steps, log = {}, []
    for i, step in enumerate(action["runs"]["steps"]):
        assert step["shell"] == "bash" and "if" not in step and "uses" not in step
        files["output"].write_text("")
        script = temp / f"step{i}.sh"
        script.write_text(substitute(step["run"], context))
        env = base | {"GITHUB_OUTPUT": str(files["output"])} | {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=1200)
        log.append(done.stdout + done.stderr)
        assert done.returncode == 0, f"step {step['name']}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        if "id" in step:
            steps[step["id"]] = read_outputs(files["output"])
    context |= {f"steps.{sid}.outputs.{name}": value for sid, outs in steps.items() for name, value in outs.items()}
    outputs = {name: EXPRESSION.sub(lambda m: context.get(m[1], ""), spec["value"]) for name, spec in action["outputs"].items()}
    assert files["path"].read_text() == f"{temp}/publisher/bin\n"
    return outputs, "\n".join(log) + files["summary"].read_text()


def test_action_publishes_and_hands_plan_and_digests_to_later_steps(cli, tmp_path, engine, registry, mirror, cache):
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir(), temp.mkdir()
    reduced_matrix(workspace, cli)
    repo = f"{registry.host}/action/uv"
    outputs, log = run_action(workspace, temp, {
        "version": "0.5.31", "only": "distroless, alpine3.*", "platforms": "linux/amd64", "repositories": repo,
        "args": f"--base-mirror {mirror} --cache {cache} --created 1732100000 --revision 0123abc",
    })

    plan = json.loads(outputs["plan"])
    assert [(v["name"], v["platforms"]) for v in plan["variants"]] == [("distroless", ["linux/amd64"]), ("alpine3.20", ["linux/amd64"])]
    assert plan["selection"]["of"] == 3 and plan["repositories"] == [repo]
    digests = json.loads(outputs["digests"])
    assert list(digests) == [repo] and list(digests[repo]) == [t for v in plan["variants"] for t in v["tags"]]
    for tag, digest in digests[repo].items():
        raw = skopeo("inspect", "--raw", f"docker://{repo}:{tag}").encode()
        assert digest == "sha256:" + hashlib.sha256(raw).hexdigest(), tag
    assert digests[repo]["latest"] != digests[repo]["alpine"]
    # What the attest job takes: each index once, whatever number of tags name it.
    assert json.loads(outputs["subjects"]) == [{"name": repo, "digest": d} for d in sorted(set(digests[repo].values()))]
    # On the runner: each step folded into a group; the summary on the run's page.
    for group in ("::group::plan", "::group::read (1)", "::group::assemble (2)", "::group::push (1)", "::endgroup::"):
        assert group in log
    assert "### publisher: 0.5.31: published;" in log


def test_action_input_attestations_false_passes_no_attestations(cli, tmp_path, registry):
    workspace, temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir(), temp.mkdir()
    (temp / "summary").write_text("")  # a dry-run writes no step summary
    reduced_matrix(workspace, cli)
    outputs, _ = run_action(workspace, temp, {"version": "0.5.31", "dry-run": "true", "attestations": "false",
                                              "repositories": f"{registry.host}/action-plain/uv"})
    plan = json.loads(outputs["plan"])
    assert plan["supply_chain"]["attestations"] == [] and plan["supply_chain"]["attestation_manifests"] == 0
    assert json.loads(outputs["digests"]) == {} and json.loads(outputs["subjects"]) == []
    assert "--no-attestations" in (temp / "publisher-args").read_text().split("\0")  # and so to the publish step
