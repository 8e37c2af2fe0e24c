"""GitHub Actions: the plan as a strategy.matrix, and annotations of bad input. No Docker, no network."""

from __future__ import annotations

import json

from publisher import github


def matrix(cli, *extra) -> dict:
    run = cli("publish", "--dry-run", "--version", "0.5.31", *extra)
    assert run.code == 0, run.err
    assert len(run.out.splitlines()) == 1  # one line: `echo "matrix=$(publisher ...)" >> "$GITHUB_OUTPUT"` works
    return json.loads(run.out)


def planned(cli, *extra) -> list[dict]:
    """The variants the dry-run's JSON plans with these flags."""
    run = cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--output", "json", *extra)
    assert run.code == 0, run.err
    return json.loads(run.out)["variants"]


def test_one_job_per_platform_on_a_native_runner(cli):
    jobs = matrix(cli, "--output", "github-matrix", "--only", "distroless *-alpine")["include"]
    names = " ".join(v["name"] for v in planned(cli, "--only", "distroless *-alpine"))
    assert jobs == [
        {"platform": "linux/amd64", "arch": "amd64", "runner": "ubuntu-24.04", "variants": names},
        {"platform": "linux/arm64", "arch": "arm64", "runner": "ubuntu-24.04-arm", "variants": names},
    ]


def test_platform_selection_narrows_the_jobs(cli):
    jobs = matrix(cli, "--output", "github-matrix", "--platform", "linux/arm64", "--only", "alpine3.20")["include"]
    assert jobs == [{"platform": "linux/arm64", "arch": "arm64", "runner": "ubuntu-24.04-arm", "variants": "alpine3.20"}]


def test_one_job_per_variant_group(cli):
    jobs = matrix(cli, "--output", "github-matrix-variants", "--skip", "python*")["include"]
    assert jobs == [
        {"group": "scratch", "variants": "distroless", "platforms": "linux/amd64,linux/arm64", "runner": "ubuntu-24.04"},
        {"group": "alpine", "variants": "alpine3.20", "platforms": "linux/amd64,linux/arm64", "runner": "ubuntu-24.04"},
        {"group": "debian", "variants": "bookworm-slim bookworm", "platforms": "linux/amd64,linux/arm64", "runner": "ubuntu-24.04"},
    ]
    arm = matrix(cli, "--output", "github-matrix-variants", "--platform", "linux/arm64")["include"]
    assert {job["runner"] for job in arm} == {"ubuntu-24.04-arm"}
    on_arm = [v["name"] for v in planned(cli, "--platform", "linux/arm64") if v["platforms"]]
    assert sorted(name for job in arm for name in job["variants"].split()) == sorted(on_arm)


def test_a_job_s_values_select_what_it_publishes(cli):
    """Each entry's values, passed back as --only/--platform, plan exactly that job's images."""
    for job in matrix(cli, "--output", "github-matrix-variants")["include"]:
        plan = json.loads(cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--output", "json",
                              "--only", job["variants"], "--platform", job["platforms"]).out)
        assert " ".join(v["name"] for v in plan["variants"]) == job["variants"]


def test_github_matrix_needs_dry_run(cli):
    run = cli("publish", "--version", "0.5.31", "--output", "github-matrix")
    assert (run.code, run.err) == (2, "publisher: --output github-matrix prints a plan: add --dry-run\n")


def test_error_annotations_land_on_file_and_line():
    assert github.error("matrix.yaml:12: tag 'x' is claimed by both 'a' and 'b'; rename one base tag") == (
        "::error file=matrix.yaml,line=12::matrix.yaml:12: tag 'x' is claimed by both 'a' and 'b'; rename one base tag")
    assert github.error("ci/my matrix.yaml:3: bad") == "::error::ci/my matrix.yaml:3: bad"  # no file:line to trust
    assert github.error("publisher: --only 'x' matches no variant; 100% sure\nsecond") == (
        "::error::publisher: --only 'x' matches no variant; 100%25 sure%0Asecond")
    assert github.error("a,b.yaml:1: odd") == "::error file=a%2Cb.yaml,line=1::a,b.yaml:1: odd"


def test_each_platform_job_stages_the_plan_the_join_checks(cli, project):
    """A variant with its own, narrower platforms: every job's --only is the same, so every stage's plan is the join's."""
    from publisher.options import Arguments, compute_plan
    from publisher.release.records import plan_identity

    text = (project / "matrix.yaml").read_text()
    narrowed = text.replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: [linux/amd64]\n")
    assert narrowed != text
    (project / "matrix.yaml").write_text(narrowed)
    only = ("--only", "distroless alpine3.20 bookworm-slim")
    jobs = matrix(cli, "--output", "github-matrix", "--matrix", str(project / "matrix.yaml"), *only)["include"]
    assert [(job["platform"], job["variants"]) for job in jobs] == [
        ("linux/amd64", "distroless alpine3.20 bookworm-slim"), ("linux/arm64", "distroless alpine3.20 bookworm-slim")]
    plan = lambda **flags: compute_plan(Arguments(matrix=str(project / "matrix.yaml"), version="0.5.31", **flags))
    joined = plan_identity(plan(only=only[1:], join=("stages",)))
    for job in jobs:
        staged = plan(only=(job["variants"],), platforms=(job["platform"],), stage="stage")
        assert plan_identity(staged) == joined
        made = {v.variant.name for v in staged.variants if v.variant.platforms}
        assert made == ({"distroless", "alpine3.20", "bookworm-slim"} if job["arch"] == "amd64" else {"distroless", "bookworm-slim"})
