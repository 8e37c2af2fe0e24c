"""The values that travel through a publish: a platform and a reference, parsed once, each with its rules."""

import pytest

from publisher.image.platform import Platform, parse_platform, platform_of
from publisher.image.reference import Digest, Name, Tag, parse, parse_mirror, parse_repository

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("text", ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x", "windows/amd64"])
def test_a_platform_prints_as_it_is_written(text):
    assert str(parse_platform(text)) == text
    assert parse_platform(text) == parse_platform(text) and hash(parse_platform(text)) == hash(parse_platform(text))


def test_arm64_and_arm64_v8_are_one_platform():
    plain, v8 = parse_platform("linux/arm64"), parse_platform("linux/arm64/v8")
    assert plain == v8 == platform_of({"os": "linux", "architecture": "arm64", "variant": "8"})
    assert str(v8) == "linux/arm64" and v8.variant is None
    assert parse_platform("linux/arm/v7") != parse_platform("linux/arm/v6")


@pytest.mark.parametrize("text", ["linux", "linux/", "Linux/amd64", "linux/amd64/7", "linux/amd64/v8/x", ""])
def test_a_platform_that_is_not_os_arch_variant_is_refused(text):
    with pytest.raises(ValueError, match="os/arch"):
        parse_platform(text)


def test_a_platform_satisfies_a_spec_that_names_less():
    arm7, arm = parse_platform("linux/arm/v7"), Platform("linux", "arm")
    assert arm7.satisfies(arm) and not arm.satisfies(arm7)
    assert platform_of({"os": "linux", "architecture": "arm64", "variant": "v8"}).satisfies(parse_platform("linux/arm64/v8"))
    assert not parse_platform("linux/arm64").satisfies(parse_platform("linux/amd64"))


def test_platforms_sort_as_their_text():
    texts = ["linux/arm64", "linux/arm/v7", "linux/amd64", "linux/arm", "darwin/arm64"]
    assert [str(p) for p in sorted(map(parse_platform, texts))] == sorted(texts)


def test_a_platform_is_written_for_folders_and_without_its_os():
    arm7 = parse_platform("linux/arm/v7")
    assert (arm7.text("-"), arm7.text(os=False), arm7.text("-", os=False)) == ("linux-arm-v7", "arm/v7", "arm-v7")


def test_an_attestation_entry_is_the_unknown_platform():
    assert platform_of({"os": "unknown", "architecture": "unknown"}).unknown
    assert not parse_platform("linux/amd64").unknown


@pytest.mark.parametrize(("text", "kind", "name", "identifier"), [
    ("alpine", Tag, "docker.io/library/alpine", "latest"),
    ("alpine:3.20", Tag, "docker.io/library/alpine:3.20", "3.20"),
    ("ghcr.io/org/img:t", Tag, "ghcr.io/org/img:t", "t"),
    ("localhost:5000/x/y", Tag, "localhost:5000/x/y", "latest"),
    (f"alpine:3.20@{DIGEST}", Digest, f"docker.io/library/alpine:3.20@{DIGEST}", DIGEST),
    (f"127.0.0.1:5000/x@{DIGEST}", Digest, f"127.0.0.1:5000/x@{DIGEST}", DIGEST),
])
def test_a_reference_is_a_tag_or_a_digest_and_prints_as_it_is_written(text, kind, name, identifier):
    ref = parse(text)
    assert type(ref) is kind and (str(ref), ref.name, ref.identifier) == (text, name, identifier)


def test_references_are_equal_when_they_name_the_same_image_however_written():
    assert parse("alpine:3.20") == parse("docker.io/library/alpine:3.20")
    assert hash(parse("alpine:3.20")) == hash(parse("docker.io/library/alpine:3.20"))
    assert parse("alpine:3.20") != parse("alpine:3.21") and parse("alpine") != parse("alpine:latest")
    assert parse(f"alpine:3.20@{DIGEST}") == parse(f"alpine@{DIGEST}")  # a digest names the image; the tag is text


def test_a_reference_names_its_repository_and_makes_others_in_it():
    ref = parse("ghcr.io/org/img:t")
    assert ref.context == Name("ghcr.io", "org/img") == parse_repository("ghcr.io/org/img")
    assert (ref.host, ref.path, str(ref.context)) == ("ghcr.io", "org/img", "ghcr.io/org/img")
    assert ref.context.digest(DIGEST) == parse(f"ghcr.io/org/img@{DIGEST}")
    assert ref.context.tag("u") == parse("ghcr.io/org/img:u")


@pytest.mark.parametrize(("text", "why"), [
    ("Alpine:3.20", "must be lowercase"), ("alpine@sha256:abc", "is not sha256:<64 hex digits>"),
    ("alpine:3.20", "takes no tag or digest"),
])
def test_a_reference_or_repository_that_is_not_valid_says_why(text, why):
    with pytest.raises(ValueError, match=why):
        parse_repository(text)


@pytest.mark.parametrize(("base", "mirror", "expected"), [
    ("alpine:3.20", "127.0.0.1:5000", "127.0.0.1:5000/library/alpine:3.20"),
    ("buildpack-deps:bookworm", "mirror.corp:8443/hub", "mirror.corp:8443/hub/library/buildpack-deps:bookworm"),
    ("ghcr.io/org/img:t", "127.0.0.1:5000/", "127.0.0.1:5000/org/img:t"),
    (f"alpine:3.20@{DIGEST}", "mirror", f"mirror/library/alpine:3.20@{DIGEST}"),
])
def test_a_base_through_a_mirror_is_laid_out_like_docker_hub(base, mirror, expected):
    through = parse(base).through(parse_mirror(mirror))
    assert (through.name, str(through), type(through)) == (expected, expected, type(parse(base)))
    assert through.identifier == parse(base).identifier


@pytest.mark.parametrize("text", ["http://mirror", "/hub", "mirror/Hub", "mirror:port"])
def test_a_mirror_that_is_not_host_port_prefix_says_so(text):
    with pytest.raises(ValueError, match=r"is not HOST\[:PORT\]\[/PREFIX\]"):
        parse_mirror(text)


def test_the_command_line_s_platform_is_parsed_as_the_matrix_s(project):
    from publisher.options import Arguments, compute_plan

    plan = compute_plan(Arguments(matrix=str(project / "matrix.yaml"), version="0.5.31", platforms=("linux/arm64/v8",)))
    assert plan.platforms == [parse_platform("linux/arm64")]


def test_a_publish_names_an_image_in_the_engine_by_its_id_and_the_publish():
    from publisher.local.names import LOCAL, OwnName

    name = OwnName.of("sha256:" + "a" * 64, "0123abcd")
    assert (str(name), name.tag) == (f"{LOCAL}:{'a' * 64}-0123abcd", f"{'a' * 64}-0123abcd")
    assert name.in_full == f"docker.io/library/{LOCAL}:{name.tag}"  # as the containerd store names it
