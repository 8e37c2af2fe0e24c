"""Our workflows, our action and the workflow `publisher init` writes, as zizmor and a careful reader see them.

zizmor (pinned in the test extras) runs offline at medium severity and above, on this repository's files
and on a freshly initialised project for each payload init knows. Offline it cannot tell whether a SHA is
real, so the pinning rule is checked here too, with the rest of what zizmor's default persona lets pass:
no `${{ }}` in a script, permissions per job, no persisted credentials, attestations only where they are made.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from publisher.starter import known_payloads
from tests.conftest import ROOT

OURS = [*sorted((ROOT / ".github" / "workflows").glob("*.yml")), ROOT / "action.yml"]
# owner/repo[/path]@<commit SHA> # v<version>: the comment is what a reader (and Dependabot) goes by.
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d[\w.-]*")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(.*?)\s*$", re.MULTILINE)
ATTEST = "actions/attest-build-provenance@"
STARTERS = [(payload, image) for payload in known_payloads() for image in ("ghcr.io/acme/tool", "docker.io/acme/tool")]


def zizmor(*paths: Path) -> list[dict]:
    """zizmor's findings of medium severity or above, offline, as its JSON lists them."""
    found = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert found, "zizmor is missing: pip install -e '.[test]'"
    done = subprocess.run([found, "--offline", "--no-progress", "--min-severity", "medium", "--format", "json",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 11, 12, 13, 14), done.stderr  # 1x: findings, the highest severity in x
    return json.loads(done.stdout)


def started(cli, tmp_path: Path, payload: str, image: str) -> Path:
    """A project as `publisher init` leaves it, with the default --action; its release workflow."""
    run = cli("init", "--image", image, "--payload", payload, "--dir", str(tmp_path))
    assert run.code == 0, run.err
    return tmp_path / ".github" / "workflows" / "release.yml"


def jobs(path: Path) -> dict[str, dict]:
    return yaml.safe_load(path.read_text())["jobs"]


def every_step(path: Path) -> list[dict]:
    document = yaml.safe_load(path.read_text())
    if "runs" in document:  # an action
        return document["runs"].get("steps", [])
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_our_workflows_and_action_pass_zizmor():
    findings = zizmor(ROOT / ".github" / "workflows", ROOT / "action.yml")
    assert findings == [], [(f["ident"], f["desc"]) for f in findings]


@pytest.mark.parametrize(("payload", "image"), STARTERS)
def test_the_starter_workflow_passes_zizmor(cli, tmp_path, payload, image):
    workflow = started(cli, tmp_path, payload, image)
    findings = zizmor(workflow.parent)
    assert findings == [], [(f["ident"], f["desc"]) for f in findings]


def check_pinned(path: Path) -> list[str]:
    """Every remote `uses:` names a full commit SHA and its version; read from the text, where comments are."""
    written = [use for use in USES.findall(path.read_text()) if not use.startswith("./")]
    assert len(written) == sum(1 for s in every_step(path) if "uses" in s and not s["uses"].startswith("./"))
    return [use for use in written if not PINNED.fullmatch(use)]


def test_every_action_we_use_is_pinned_by_commit_sha():
    assert {path.name: check_pinned(path) for path in OURS} == {path.name: [] for path in OURS}


@pytest.mark.parametrize(("payload", "image"), STARTERS)
def test_every_action_the_starter_uses_is_pinned_by_commit_sha(cli, tmp_path, payload, image):
    assert check_pinned(started(cli, tmp_path, payload, image)) == []


def test_the_pinning_rule_refuses_what_zizmor_offline_cannot_see():
    for bad in ("actions/checkout@v4", "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
                "actions/checkout@3d3c42e5aac5 # v7.0.1", "actions/checkout@main # v7.0.1"):
        assert not PINNED.fullmatch(bad), bad
    assert PINNED.fullmatch("github/codeql-action/upload-sarif@" + "a" * 40 + " # v4.31.2")


def check_hardened(path: Path) -> None:
    """No expression in a script; checkouts keep no credentials and fetch the whole history (each variant names
    the commit that last changed it: a shallow clone is refused); a workflow grants nothing by default, and
    each job only what it needs: the attestation's permissions in the job that attests, nowhere else."""
    for step in every_step(path):
        assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name', step['run'][:40])}: pass it through env:"
        if str(step.get("uses", "")).startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name
            assert step["with"].get("fetch-depth") == 0, f"{path.name}: actions/checkout needs fetch-depth: 0"
    if path.name == "action.yml":
        return
    assert yaml.safe_load(path.read_text())["permissions"] == {}, path.name
    for name, job in jobs(path).items():
        granted = job["permissions"]
        attests = any(str(s.get("uses", "")).startswith(ATTEST) for s in job["steps"])
        assert attests == ("id-token" in granted) == ("attestations" in granted), f"{path.name}: {name}"
        assert set(granted) <= {"contents", "packages", "id-token", "attestations"}, f"{path.name}: {name}"
        assert all(value in ("read", "write") for value in granted.values())


def test_our_workflows_are_hardened():
    for path in OURS:
        check_hardened(path)


@pytest.mark.parametrize(("payload", "image"), STARTERS)
def test_the_starter_workflow_is_hardened_and_attests_every_index(cli, tmp_path, payload, image):
    """The attest job: one per index the publish step hands on, pushed next to it, after logging in to its
    registry; only that job may mint an OIDC token; ghcr.io's job token needs packages: write, others none."""
    workflow = started(cli, tmp_path, payload, image)
    check_hardened(workflow)
    found = jobs(workflow)
    publish = next(s for s in found["images"]["steps"] if s.get("id") == "publish")
    assert found["images"]["outputs"]["subjects"] == "${{ steps.publish.outputs.subjects }}"
    assert "subjects" in yaml.safe_load((ROOT / "action.yml").read_text())["outputs"]  # what publish hands on
    attest = found["attest"]
    assert attest["needs"] == "images" and attest["strategy"]["matrix"]["subject"] == "${{ fromJSON(needs.images.outputs.subjects) }}"
    assert attest["permissions"] == {"id-token": "write", "attestations": "write",
                                     **({"packages": "write"} if image.startswith("ghcr.io/") else {})}
    assert found["images"]["permissions"] == {"contents": "read", **({"packages": "write"} if image.startswith("ghcr.io/") else {})}
    login, step = attest["steps"]
    assert login["with"]["registry"] == image.split("/")[0] and login["uses"] == next(
        s["uses"] for s in found["images"]["steps"] if s.get("name", "").startswith("log in"))
    assert step["uses"].startswith(ATTEST) and step["with"] == {
        "subject-name": "${{ matrix.subject.name }}", "subject-digest": "${{ matrix.subject.digest }}",
        "push-to-registry": True, "create-storage-record": False}
    assert publish["uses"].startswith("OWNER/publisher@")


def script(path: Path, job: str | None, step_id: str) -> str:
    """The Python a step runs through its heredoc, as written."""
    document = yaml.safe_load(path.read_text())
    steps = document["runs"]["steps"] if job is None else document["jobs"][job]["steps"]
    run = next(s["run"] for s in steps if s.get("id") == step_id)
    return re.search(r"<<'EOF'\n(.*?)\nEOF", run, re.S)[1]


RESULT = {"version": "0.5.31", "repositories": {
    "ghcr.io/acme/tool": {
        "0.5.31": {"digest": "sha256:" + "a" * 64, "status": "new"},
        "latest": {"digest": "sha256:" + "a" * 64, "status": "moves"},
        "0.5.31-alpine": {"digest": "sha256:" + "b" * 64, "status": "stays"},
        "alpine": {"digest": "sha256:" + "c" * 64, "status": "held"}},  # a newer release's index
    "docker.io/acme/tool": {"0.5.31": {"digest": "sha256:" + "a" * 64, "status": "new"}}}}
SUBJECTS = [{"name": "docker.io/acme/tool", "digest": "sha256:" + "a" * 64},
            {"name": "ghcr.io/acme/tool", "digest": "sha256:" + "a" * 64},
            {"name": "ghcr.io/acme/tool", "digest": "sha256:" + "b" * 64}]


def test_the_action_hands_on_each_index_once_per_repository_without_held_tags(tmp_path):
    """action.yml's outputs from a --result document: every repository's indexes once, never a held tag's."""
    (tmp_path / "result.json").write_text(json.dumps(RESULT))
    done = subprocess.run([sys.executable, "-c", script(ROOT / "action.yml", None, "publish"),
                           str(tmp_path / "result.json"), "DELIMITER"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "digests<<DELIMITER", json.dumps({repo: {tag: held["digest"] for tag, held in tags.items()}
                                          for repo, tags in RESULT["repositories"].items()}), "DELIMITER",
        "subjects<<DELIMITER", json.dumps(SUBJECTS), "DELIMITER"]


def test_the_refresh_attests_what_it_published(tmp_path):
    """refresh.yml's subjects, as written: the same rule as the action's, from the refresh's --result."""
    (tmp_path / "refreshed.json").write_text(json.dumps(RESULT))
    done = subprocess.run([sys.executable, "-c", script(ROOT / ".github/workflows/refresh.yml", "refresh", "subjects"),
                           "refreshed.json"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout == "subjects=" + json.dumps(SUBJECTS) + "\n"
    assert jobs(ROOT / ".github/workflows/refresh.yml")["attest"]["strategy"]["matrix"]["subject"] == (
        "${{ fromJSON(needs.refresh.outputs.subjects) }}")
