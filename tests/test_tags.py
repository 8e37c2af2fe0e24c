"""Tag rules: the full uv 0.5.31 tag set, prereleases, refused versions."""

import pytest

from publisher.errors import PublisherError
from publisher.release.tags import tags_for
from publisher.release.version import parse_release

# uv's published tags for 0.5.31, per variant, written out by hand from REFERENCE.md §1.
EXPECTED_0_5_31 = {
    "distroless": "latest 0.5.31 0.5",
    "alpine3.20": "0.5.31-alpine3.20 0.5-alpine3.20 alpine3.20 0.5.31-alpine 0.5-alpine alpine",
    "bookworm-slim": "0.5.31-bookworm-slim 0.5-bookworm-slim bookworm-slim 0.5.31-debian-slim 0.5-debian-slim debian-slim",
    "bookworm": "0.5.31-bookworm 0.5-bookworm bookworm 0.5.31-debian 0.5-debian debian",
    "python3.13-alpine": "0.5.31-python3.13-alpine 0.5-python3.13-alpine python3.13-alpine",
    "python3.12-alpine": "0.5.31-python3.12-alpine 0.5-python3.12-alpine python3.12-alpine",
    "python3.11-alpine": "0.5.31-python3.11-alpine 0.5-python3.11-alpine python3.11-alpine",
    "python3.10-alpine": "0.5.31-python3.10-alpine 0.5-python3.10-alpine python3.10-alpine",
    "python3.9-alpine": "0.5.31-python3.9-alpine 0.5-python3.9-alpine python3.9-alpine",
    "python3.8-alpine": "0.5.31-python3.8-alpine 0.5-python3.8-alpine python3.8-alpine",
    "python3.13-bookworm": "0.5.31-python3.13-bookworm 0.5-python3.13-bookworm python3.13-bookworm",
    "python3.12-bookworm": "0.5.31-python3.12-bookworm 0.5-python3.12-bookworm python3.12-bookworm",
    "python3.11-bookworm": "0.5.31-python3.11-bookworm 0.5-python3.11-bookworm python3.11-bookworm",
    "python3.10-bookworm": "0.5.31-python3.10-bookworm 0.5-python3.10-bookworm python3.10-bookworm",
    "python3.9-bookworm": "0.5.31-python3.9-bookworm 0.5-python3.9-bookworm python3.9-bookworm",
    "python3.8-bookworm": "0.5.31-python3.8-bookworm 0.5-python3.8-bookworm python3.8-bookworm",
    "python3.13-bookworm-slim": "0.5.31-python3.13-bookworm-slim 0.5-python3.13-bookworm-slim python3.13-bookworm-slim",
    "python3.12-bookworm-slim": "0.5.31-python3.12-bookworm-slim 0.5-python3.12-bookworm-slim python3.12-bookworm-slim",
    "python3.11-bookworm-slim": "0.5.31-python3.11-bookworm-slim 0.5-python3.11-bookworm-slim python3.11-bookworm-slim",
    "python3.10-bookworm-slim": "0.5.31-python3.10-bookworm-slim 0.5-python3.10-bookworm-slim python3.10-bookworm-slim",
    "python3.9-bookworm-slim": "0.5.31-python3.9-bookworm-slim 0.5-python3.9-bookworm-slim python3.9-bookworm-slim",
    "python3.8-bookworm-slim": "0.5.31-python3.8-bookworm-slim 0.5-python3.8-bookworm-slim python3.8-bookworm-slim",
}
BASES = {
    "alpine3.20": "alpine:3.20",
    "bookworm-slim": "debian:bookworm-slim",
    "bookworm": "buildpack-deps:bookworm",
    **{f"python3.{x}-alpine": f"python:3.{x}-alpine" for x in range(8, 14)},
    **{f"python3.{x}-bookworm": f"python:3.{x}-bookworm" for x in range(8, 14)},
    **{f"python3.{x}-bookworm-slim": f"python:3.{x}-slim-bookworm" for x in range(8, 14)},
}


def test_shipped_matrix_gives_uv_0_5_31_tag_set_tag_by_tag(cli):
    import json

    run = cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--output", "json")
    assert run.code == 0, run.err
    plan = json.loads(run.out)
    got = {v["name"]: " ".join(v["tags"]) for v in plan["variants"]}
    assert list(got) == list(EXPECTED_0_5_31)
    for name, tags in EXPECTED_0_5_31.items():
        assert got[name] == tags, name
    assert plan["totals"]["tags_per_repository"] == sum(len(tags.split()) for tags in EXPECTED_0_5_31.values())
    assert {v["name"]: v["base"] for v in plan["variants"][1:]} == BASES
    assert plan["variants"][0]["base"] is None
    assert all(v["platforms"] == ["linux/amd64", "linux/arm64"] for v in plan["variants"])
    assert plan["repositories"] == ["ghcr.io/astral-sh/uv", "docker.io/astral/uv"]
    assert not any(t == "0" or t.startswith("latest-") for v in plan["variants"] for t in v["tags"])


@pytest.mark.parametrize(
    "given, exact",
    [
        ("0.6.0rc1", "0.6.0rc1"),
        ("0.6.0-rc.1", "0.6.0-rc.1"),
        ("0.6.0a2", "0.6.0a2"),
        ("0.6.0.dev3", "0.6.0.dev3"),
        ("0.5.31.post1", "0.5.31.post1"),
        ("v0.6.0rc1", "0.6.0rc1"),
    ],
)
def test_prereleases_get_exact_tags_only(given, exact):
    release = parse_release(given)
    assert release.prerelease
    assert release.text == exact
    assert tags_for(release, ()) == [exact]
    assert tags_for(release, ("alpine3.20", "alpine")) == [f"{exact}-alpine3.20", f"{exact}-alpine"]


def test_leading_v_is_dropped():
    release = parse_release("v0.5.31")
    assert (release.text, release.series, release.prerelease) == ("0.5.31", "0.5", False)
    assert tags_for(release, ()) == ["latest", "0.5.31", "0.5"]


@pytest.mark.parametrize(
    "given, why",
    [
        ("banana", "not a PEP 440 or semver version; give X.Y.Z, e.g. 0.5.31 or 0.6.0rc1"),
        ("0.5", "a release needs exactly three numbers; give X.Y.Z, e.g. 0.5.31"),
        ("0.5.31.1", "a release needs exactly three numbers; give X.Y.Z, e.g. 0.5.31"),
        ("0.5.31+build.7", "build metadata '+build.7' cannot appear in a tag; drop it"),
        ("1!0.5.31", "an epoch ('N!') cannot appear in a tag; drop it"),
        ("0.5.31.post1+abc", "local version '+abc' cannot appear in a tag; drop it"),
        ("0.5.31+local7", "build metadata '+local7' cannot appear in a tag; drop it"),
        ("", "not a PEP 440 or semver version; give X.Y.Z, e.g. 0.5.31 or 0.6.0rc1"),
    ],
)
def test_bad_versions_are_refused(given, why):
    with pytest.raises(PublisherError) as e:
        parse_release(given)
    assert e.value.lines == [f"publisher: --version '{given}': {why}"]


def test_release_order_compares_semver_and_pep440_spellings():
    assert parse_release("0.6.0-rc.1").key < parse_release("0.6.0").key
    assert parse_release("0.5.30").key < parse_release("0.5.31").key < parse_release("0.5.31.post1").key


def test_a_primary_on_a_base_gets_the_primary_tags_then_its_base_tags():
    base_tags = ("trixie-slim", "debian-slim")
    assert tags_for(parse_release("0.8.0"), base_tags, primary=True) == [
        "latest", "0.8.0", "0.8", "0.8.0-trixie-slim", "0.8-trixie-slim", "trixie-slim",
        "0.8.0-debian-slim", "0.8-debian-slim", "debian-slim"]
    assert tags_for(parse_release("0.8.0rc1"), base_tags, primary=True) == ["0.8.0rc1", "0.8.0rc1-trixie-slim",
                                                                            "0.8.0rc1-debian-slim"]
    assert tags_for(parse_release("0.8.0"), (), primary=True) == tags_for(parse_release("0.8.0"), ())
