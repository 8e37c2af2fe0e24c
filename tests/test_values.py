"""The values that travel through a publish: a platform and a reference, parsed once, each with its rules."""

import pytest

from publisher.image.platform import Platform, parse_platform, platform_of


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
