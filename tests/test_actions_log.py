"""The log on GitHub Actions: each step a group, held tags as notices, errors as annotations; a terminal sees none of it."""

from __future__ import annotations

import io
from collections import Counter

import httpx

from publisher.progress import Progress
from publisher.remote.retry import RECOVERED, Policy, Retry
from publisher.remote.transport import Request
from publisher.report import summary
from tests.conftest import ROOT

BAD = "repositories: [ghcr.io/acme/tool]\nplatforms: [linux/amd64]\nlabels: {title: tool}\nfamilies: {scratch: {}}\nprimary: {name: distroless, family: scratch}\nvariants:\n  - base: alpine:3.20\n    family: alpine\n    tags: [alpine]\n"
BAD += "payload: {files: {tool: null}, primary: /, derived: /usr/local/bin/}\n"  # after line 8: its line stays


def run_phase(progress: Progress) -> str:
    with progress.phase("push", 2) as tick:
        tick("a")
        tick("b")
    progress.notice("r:latest: held: points at 0.5.31, newer than 0.5.30")
    return progress.stream.getvalue()


def test_each_step_is_a_group_and_held_tags_are_notices(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    lines = run_phase(Progress(io.StringIO(), live=False)).splitlines()
    assert lines[:4] == ["::group::push (2)", "push 1/2: a", "push 2/2: b", "::endgroup::"]
    assert lines[4].startswith("push: 2 in ")
    assert lines[5] == "::notice::r:latest: held: points at 0.5.31, newer than 0.5.30"


def test_a_failing_step_closes_its_group_so_the_error_shows(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    progress = Progress(io.StringIO(), live=False)
    try:
        with progress.phase("read", 1):
            raise RuntimeError("registry said no")
    except RuntimeError:
        pass
    assert progress.stream.getvalue() == "::group::read (1)\n::endgroup::\n"


def test_a_terminal_or_plain_ci_sees_no_workflow_command(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    live = run_phase(Progress(io.StringIO(), live=True))  # a terminal, even inside a runner: the live line stays
    assert "::" not in live and "\r\033[K[push 2/2] b" in live
    monkeypatch.delenv("GITHUB_ACTIONS")
    plain = run_phase(Progress(io.StringIO(), live=False))
    assert "::" not in plain and "r:latest: held" in plain


def test_bad_matrix_lines_become_annotations_on_file_and_line(cli, tmp_path, monkeypatch):
    (tmp_path / "matrix.yaml").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    args = ("publish", "--dry-run", "--offline", "--version", "0.5.31")
    plain = cli(*args).err
    assert plain == "matrix.yaml:8: family 'alpine' is not declared under families: (scratch)\n"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = cli(*args)
    assert run.code == 2
    assert run.err == "::error file=matrix.yaml,line=8::" + plain
    assert cli(*args, "--matrix", str(ROOT / "matrix.yaml"), "--only", "nope").err.startswith("::error::publisher: --only 'nope' matches no variant")


class Flaky:
    """A transport that answers 503 `failures` times, then 200; counts like the real one."""

    origin = ("http", "registry", 5000)

    def __init__(self, failures: int):
        self.failures, self.stats = failures, Counter()

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] += n

    def send(self, request, authorization=None):
        self.failures -= 1
        return httpx.Response(503 if self.failures >= 0 else 200)


def test_calls_that_succeed_on_a_retry_are_counted():
    policy = Policy(attempts=3, sleep=lambda s: None)
    request = Request("GET", "http://registry:5000/v2/")
    for failures, status, recovered in ((0, 200, 0), (2, 200, 1), (5, 503, 0)):
        transport = Flaky(failures)
        assert Retry(transport, policy).send(request).status_code == status
        assert transport.stats[RECOVERED] == recovered


def test_the_summary_says_how_many_calls_a_retry_saved():
    class Plan:
        release = type("R", (), {"text": "0.5.31"})
        left_out = ()

    counts = Counter({"tags verified": 4, "tags created": 4, RECOVERED: 3})
    assert summary(Plan, counts) == "0.5.31: published; 3 registry calls that succeeded on a retry, 4 tags created, 4 tags verified."
    assert "retry" not in summary(Plan, Counter({"tags verified": 4, "tags created": 4, RECOVERED: 0}))
