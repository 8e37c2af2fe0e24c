"""What a join accepts of stage records: pure rules, no Docker."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from publisher.errors import PublisherError
from publisher.image.platform import parse_platform
from publisher.options import Arguments, compute_plan
from publisher.release.records import (FORMAT, StagedImage, StagedVariant, StageRecord, join_problems, joined_platforms,
                                       plan_identity)

ROOT = Path(__file__).resolve().parent.parent
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")


@pytest.fixture(scope="module")
def plan():
    return compute_plan(Arguments(matrix=str(ROOT / "matrix.yaml"), version="0.5.31", only=("distroless", "alpine3.20"),
                                  created="1732100000", revision="abc"))


def image(variant: str, platform: str, **changes) -> StagedImage:
    base = None if variant == "distroless" else "sha256:" + "b" * 64
    found = parse_platform(platform)
    made = StagedImage(variant, found, "sha256:" + "1" * 64, 500, "sha256:" + "2" * 64,
                       {"os": found.os, "architecture": found.architecture}, base, "sha256:" + "3" * 64,
                       "sha256:" + "4" * 64, ("--version",))
    return replace(made, **changes)


def stage(plan, platform: str, **changes) -> StageRecord:
    return StageRecord("0.5.31", plan_identity(plan), tuple(image(v, platform, **changes) for v in ("distroless", "alpine3.20")))


def test_one_stage_per_platform_is_accepted(plan):
    records = {"amd": stage(plan, "linux/amd64"), "arm": stage(plan, "linux/arm64")}
    assert join_problems(plan, records) == []
    assert StageRecord.from_json(records["amd"].to_json()) == records["amd"]


def test_a_missing_stage_is_one_line_naming_its_platform(plan):
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64")}) == [
        "linux/arm64: no stage record holds this platform; stage --platform linux/arm64 and join again"]


def test_a_missing_image_names_variant_and_platform(plan):
    arm = stage(plan, "linux/arm64")
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64"), "arm": replace(arm, images=arm.images[:1])}) == [
        "alpine3.20 linux/arm64: no stage record holds it; stage --platform linux/arm64 and join again"]


def test_a_record_of_another_format_is_refused_in_one_line(plan):
    old = json.loads(stage(plan, "linux/arm64").to_json())
    old["format"] = 2
    del old["variants"]
    record = StageRecord.from_json(json.dumps(old).encode())
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64"), "stage-linux-arm64.json": record})[0] == (
        f"stage-linux-arm64.json: a stage record of format 2, and this publisher reads format {FORMAT}; stage again with this publisher")


def test_a_duplicated_stage_is_refused(plan):
    records = {"a": stage(plan, "linux/amd64"), "b": stage(plan, "linux/amd64"), "c": stage(plan, "linux/arm64")}
    assert join_problems(plan, records) == [
        "b: distroless linux/amd64 is staged twice (also in a); keep one record of it",
        "b: alpine3.20 linux/amd64 is staged twice (also in a); keep one record of it"]


def test_a_failed_stage_is_refused(plan):
    failed = stage(plan, "linux/arm64", failures=("alpine3.20 linux/arm64: uv --version: expected exit code 0, got 139",))
    problems = join_problems(plan, {"amd": stage(plan, "linux/amd64"), "arm": failed})
    assert problems[0] == "arm: distroless linux/arm64 failed in its stage: alpine3.20 linux/arm64: uv --version: expected exit code 0, got 139"


def test_a_foreign_stage_is_refused(plan):
    other = replace(stage(plan, "linux/arm64"), release="0.5.30")
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64"), "old": other})[0] == (
        "old: a stage of another release or plan (release 0.5.30); stage again with this matrix and --version, or leave it out")
    edited = replace(stage(plan, "linux/arm64"), plan="sha256:" + "9" * 64)
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64"), "x": edited})[0].startswith("x: a stage of another release")


def test_stages_on_different_base_digests_are_refused(plan):
    arm = stage(plan, "linux/arm64")
    moved = replace(arm, images=(arm.images[0], replace(arm.images[1], base_digest="sha256:" + "c" * 64)))
    assert join_problems(plan, {"amd": stage(plan, "linux/amd64"), "arm": moved}) == [
        f"alpine3.20: its stages used different digests of its base (sha256:{'b' * 64}, sha256:{'c' * 64}); "
        "the base moved between stages: stage every platform again"]


# `platforms: from-base`: alpine3.20's base has linux/amd64 only; each stage says what it found.
FROM_BASE = ("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: from-base\n")
BASE = "sha256:" + "b" * 64


@pytest.fixture
def from_base(project):
    text = (project / "matrix.yaml").read_text()
    assert FROM_BASE[0] in text
    (project / "matrix.yaml").write_text(text.replace(*FROM_BASE))
    return compute_plan(Arguments(matrix=str(project / "matrix.yaml"), version="0.5.31", only=("distroless", "alpine3.20"),
                                  created="1732100000", revision="abc"))


def base_stage(plan, platform: str, alpine: bool, base: str = BASE) -> StageRecord:
    """A stage of `platform`; alpine3.20 made there only when `alpine` (its base has the platform)."""
    made = ("distroless", "alpine3.20") if alpine else ("distroless",)
    found = (parse_platform(platform),)
    variants = (StagedVariant("distroless", found),
                StagedVariant("alpine3.20", found if alpine else (), base, () if alpine else found))
    return StageRecord("0.5.31", plan_identity(plan), tuple(image(v, platform, base_digest=base if v != "distroless" else None)
                                                            for v in made), variants=variants)


def test_from_base_is_expected_where_its_base_has_the_platform(from_base):
    records = {"amd": base_stage(from_base, "linux/amd64", True), "arm": base_stage(from_base, "linux/arm64", False)}
    assert join_problems(from_base, records) == []
    joined = {name: tuple(map(str, found)) for name, found in joined_platforms(from_base, records).items()}
    assert joined == {"distroless": ("linux/amd64", "linux/arm64"), "alpine3.20": ("linux/amd64",)}
    assert StageRecord.from_json(records["arm"].to_json()) == records["arm"]


def test_from_base_without_the_stage_of_its_platform_is_one_line(from_base):
    assert join_problems(from_base, {"arm": base_stage(from_base, "linux/arm64", False)}) == [
        "linux/amd64: no stage record holds this platform; stage --platform linux/amd64 and join again"]


def test_from_base_a_stage_that_should_have_made_it_did_not(from_base):
    amd = base_stage(from_base, "linux/amd64", True)
    lost = replace(amd, images=amd.images[:1])  # the record says alpine3.20 amd64 was staged; no image of it
    assert join_problems(from_base, {"amd": lost, "arm": base_stage(from_base, "linux/arm64", False)}) == [
        "alpine3.20 linux/amd64: no stage record holds it, and its base alpine:3.20 has it (platforms: from-base); "
        "stage --platform linux/amd64 and join again"]


def test_from_base_with_none_of_the_staged_platforms_is_refused(from_base, project):
    records = {"amd": base_stage(from_base, "linux/amd64", False), "arm": base_stage(from_base, "linux/arm64", False)}
    line = (project / "matrix.yaml").read_text().splitlines().index("  - base: alpine:3.20") + 1
    assert join_problems(from_base, records) == [
        f"{from_base.source}:{line}: variant 'alpine3.20': platforms: from-base, and base alpine:3.20 has none of "
        "linux/amd64, linux/arm64 (as its stages found); list its platforms or choose another base"]


def test_from_base_stages_on_different_base_digests_are_refused(from_base):
    moved = "sha256:" + "c" * 64
    records = {"amd": base_stage(from_base, "linux/amd64", True), "arm": base_stage(from_base, "linux/arm64", False, moved)}
    assert join_problems(from_base, records) == [
        f"alpine3.20: its stages used different digests of its base ({BASE}, {moved}); "
        "the base moved between stages: stage every platform again"]


# A variant with its own, narrower list: `platforms: [linux/amd64]` where the matrix has amd64 and arm64.
OWN = ("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: [linux/amd64]\n")


@pytest.fixture
def amd64_only(project) -> str:
    text = (project / "matrix.yaml").read_text()
    assert OWN[0] in text
    (project / "matrix.yaml").write_text(text.replace(*OWN))
    return str(project / "matrix.yaml")


def own_plan(matrix: str, **flags):
    return compute_plan(Arguments(matrix=matrix, version="0.5.31", only=("distroless", "alpine3.20"),
                                  created="1732100000", revision="abc", **flags))


def test_a_stage_keeps_a_variant_it_makes_none_of_so_its_plan_is_the_join_s(amd64_only):
    join = own_plan(amd64_only, join=("stages",))
    arm = own_plan(amd64_only, platforms=("linux/arm64",), stage="stage")
    assert {v.variant.name: tuple(map(str, v.variant.platforms)) for v in arm.variants} == {
        "distroless": ("linux/arm64",), "alpine3.20": ()}
    assert plan_identity(arm) == plan_identity(own_plan(amd64_only, platforms=("linux/amd64",), stage="stage"))
    assert plan_identity(arm) == plan_identity(join)
    one_machine = own_plan(amd64_only, platforms=("linux/arm64",))  # no index without a manifest: left out
    assert [v.variant.name for v in one_machine.variants] == ["distroless"]


def test_the_join_expects_a_variant_s_own_platforms(amd64_only):
    join = own_plan(amd64_only, join=("stages",))
    amd = StageRecord("0.5.31", plan_identity(join), (image("distroless", "linux/amd64"), image("alpine3.20", "linux/amd64")),
                      variants=(StagedVariant("distroless", (AMD64,)), StagedVariant("alpine3.20", (AMD64,), BASE)))
    arm = StageRecord("0.5.31", plan_identity(join), (image("distroless", "linux/arm64"),),
                      variants=(StagedVariant("distroless", (ARM64,)), StagedVariant("alpine3.20", ())))
    assert join_problems(join, {"amd": amd, "arm": arm}) == []
    assert joined_platforms(join, {"amd": amd, "arm": arm}) == {"distroless": (AMD64, ARM64), "alpine3.20": (AMD64,)}
    extra = replace(arm, images=(*arm.images, image("alpine3.20", "linux/arm64")))
    assert join_problems(join, {"amd": amd, "arm": extra}) == [
        "arm: alpine3.20 linux/arm64 is not in the plan; stage with the same matrix and selections"]
    assert join_problems(join, {"amd": replace(amd, images=amd.images[:1]), "arm": arm}) == [
        "alpine3.20 linux/amd64: no stage record holds it; stage --platform linux/amd64 and join again"]


def test_a_stage_that_makes_no_selected_variant_is_refused(amd64_only):
    with pytest.raises(PublisherError) as refused:
        compute_plan(Arguments(matrix=amd64_only, version="0.5.31", only=("alpine3.20",), platforms=("linux/arm64",),
                               stage="stage"))
    assert refused.value.lines == ["publisher: no selected variant is published for linux/arm64; "
                                   "stage a platform they have, or select other variants"]
