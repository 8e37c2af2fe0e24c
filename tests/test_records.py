"""What a join accepts of stage records: pure rules, no Docker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from publisher.options import Arguments, compute_plan
from publisher.release.records import StagedImage, StageRecord, check, plan_identity

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plan():
    return compute_plan(Arguments(matrix=str(ROOT / "matrix.yaml"), version="0.5.31", only=("distroless", "alpine3.20"),
                                  created="1732100000", revision="abc"))


def image(variant: str, platform: str, **changes) -> StagedImage:
    base = None if variant == "distroless" else "sha256:" + "b" * 64
    made = StagedImage(variant, platform, "sha256:" + "1" * 64, 500, "sha256:" + "2" * 64,
                       {"os": "linux", "architecture": platform.split("/")[1]}, base, "sha256:" + "3" * 64, ("--version",))
    return replace(made, **changes)


def stage(plan, platform: str, **changes) -> StageRecord:
    return StageRecord("0.5.31", plan_identity(plan), tuple(image(v, platform, **changes) for v in ("distroless", "alpine3.20")))


def test_one_stage_per_platform_is_accepted(plan):
    records = {"amd": stage(plan, "linux/amd64"), "arm": stage(plan, "linux/arm64")}
    assert check(plan, records) == []
    assert StageRecord.from_json(records["amd"].to_json()) == records["amd"]


def test_a_missing_platform_names_variant_and_platform(plan):
    assert check(plan, {"amd": stage(plan, "linux/amd64")}) == [
        "distroless linux/arm64: no stage record holds it; stage --platform linux/arm64 and join again",
        "alpine3.20 linux/arm64: no stage record holds it; stage --platform linux/arm64 and join again"]


def test_a_duplicated_stage_is_refused(plan):
    records = {"a": stage(plan, "linux/amd64"), "b": stage(plan, "linux/amd64"), "c": stage(plan, "linux/arm64")}
    assert check(plan, records) == [
        "b: distroless linux/amd64 is staged twice (also in a); keep one record of it",
        "b: alpine3.20 linux/amd64 is staged twice (also in a); keep one record of it"]


def test_a_failed_stage_is_refused(plan):
    failed = stage(plan, "linux/arm64", failures=("alpine3.20 linux/arm64: uv --version: expected exit code 0, got 139",))
    problems = check(plan, {"amd": stage(plan, "linux/amd64"), "arm": failed})
    assert problems[0] == "arm: distroless linux/arm64 failed in its stage: alpine3.20 linux/arm64: uv --version: expected exit code 0, got 139"


def test_a_foreign_stage_is_refused(plan):
    other = replace(stage(plan, "linux/arm64"), release="0.5.30")
    assert check(plan, {"amd": stage(plan, "linux/amd64"), "old": other})[0] == (
        "old: a stage of another release or plan (release 0.5.30); stage again with this matrix and --version, or leave it out")
    edited = replace(stage(plan, "linux/arm64"), plan="sha256:" + "9" * 64)
    assert check(plan, {"amd": stage(plan, "linux/amd64"), "x": edited})[0].startswith("x: a stage of another release")


def test_stages_on_different_base_digests_are_refused(plan):
    arm = stage(plan, "linux/arm64")
    moved = replace(arm, images=(arm.images[0], replace(arm.images[1], base="sha256:" + "c" * 64)))
    assert check(plan, {"amd": stage(plan, "linux/amd64"), "arm": moved}) == [
        f"alpine3.20: its stages used different digests of its base (sha256:{'b' * 64}, sha256:{'c' * 64}); "
        "the base moved between stages: stage every platform again"]
