"""The SPDX SBOM: valid per spdx-tools, NTIA-compliant per ntia-conformance-checker, deterministic."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ntia_conformance_checker import NTIAChecker
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from publisher.image import purl
from publisher.image.platform import parse_platform
from publisher.image.packages import merge
from publisher.image.sbom import BaseImage, Binary, SbomInputs, build_sbom
from tests.test_packages import (ALPINE_OS_RELEASE, APK_INSTALLED, DEBIAN, scan)

SUBJECT = "sha256:" + "5e" * 32
CREATED = datetime(2025, 2, 10, 17, 4, 31, tzinfo=timezone.utc)
UV = Binary("uv", "0.5.31", "a1" * 32, "pkg:pypi/uv@0.5.31", "/usr/local/bin/uv", "MIT OR Apache-2.0")
UVX = Binary("uvx", "0.5.31", "b2" * 32, "pkg:github/astral-sh/uv@0.5.31", "/usr/local/bin/uvx", "MIT OR Apache-2.0")


def alpine_inputs() -> SbomInputs:
    return SbomInputs(
        image="ghcr.io/astral-sh/uv:0.5.31-python3.12-alpine", version="0.5.31",
        platform=parse_platform("linux/amd64"), subject_digest=SUBJECT, supplier="Astral Software Inc.",
        created=CREATED, publisher_version="0.1.0", binaries=(UV, UVX),
        base=BaseImage("python:3.12-alpine", "sha256:" + "ba" * 32, "Docker Official Images"),
        os_packages=merge([scan({"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": APK_INSTALLED})]),
        python_version="3.12.8")


def debian_inputs() -> SbomInputs:
    return replace(alpine_inputs(), image="ghcr.io/astral-sh/uv:0.5.31-bookworm-slim",
                   base=BaseImage("debian:bookworm-slim", "sha256:" + "de" * 32, "Docker Official Images"),
                   os_packages=merge([scan(DEBIAN)]), python_version=None)


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "sbom.spdx.json"
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("inputs", [alpine_inputs, debian_inputs])
def test_spdx_tools_finds_nothing_wrong(tmp_path, inputs):
    document = parse_file(write(tmp_path, build_sbom(inputs())))
    assert validate_full_spdx_document(document) == []


@pytest.mark.parametrize("inputs", [alpine_inputs, debian_inputs])
def test_ntia_minimum_elements(tmp_path, inputs):
    checker = NTIAChecker(write(tmp_path, build_sbom(inputs())))
    assert checker.parsing_errors == []
    assert checker.validation_messages == []
    assert checker.all_components_without_info == []
    assert checker.floating_component_ids == set()
    assert checker.compliant


def test_every_package_is_there_with_supplier_and_purl():
    doc = json.loads(build_sbom(alpine_inputs()))
    packages = {p["name"]: p for p in doc["packages"]}
    assert list(packages) == [
        "ghcr.io/astral-sh/uv:0.5.31-python3.12-alpine", "uv", "uvx", "python:3.12-alpine", "python",
        "ca-certificates-bundle", "libcrypto3", "musl", "tzdata"]
    image = packages["ghcr.io/astral-sh/uv:0.5.31-python3.12-alpine"]
    assert image["SPDXID"] == "SPDXRef-Image" and image["primaryPackagePurpose"] == "CONTAINER"
    assert image["checksums"] == [{"algorithm": "SHA256", "checksumValue": "5e" * 32}]
    assert image["externalRefs"][0]["referenceLocator"] == (
        f"pkg:oci/uv@{SUBJECT}?arch=amd64&repository_url=ghcr.io%2Fastral-sh%2Fuv&tag=0.5.31-python3.12-alpine")
    assert packages["uv"]["supplier"] == "Organization: Astral Software Inc."
    assert packages["uv"]["packageFileName"] == "/usr/local/bin/uv"
    assert packages["uv"]["licenseDeclared"] == "MIT OR Apache-2.0"
    assert packages["musl"]["supplier"] == "Organization: Alpine Linux"
    assert packages["python"]["versionInfo"] == "3.12.8"
    assert packages["python"]["supplier"] == "Organization: Python Software Foundation"
    base = packages["python:3.12-alpine"]
    assert base["versionInfo"] == "sha256:" + "ba" * 32
    assert base["externalRefs"][0]["referenceLocator"] == (
        "pkg:docker/python@sha256:" + "ba" * 32 + "?platform=linux%2Famd64")
    assert all(p["supplier"].startswith("Organization: ") for p in doc["packages"])
    assert len({p["SPDXID"] for p in doc["packages"]}) == len(doc["packages"])


def test_relationships_document_describes_image_which_contains_the_rest():
    doc = json.loads(build_sbom(debian_inputs()))
    rels = [(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]]
    assert rels[0] == ("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")
    assert {r[2] for r in rels[1:]} == {p["SPDXID"] for p in doc["packages"][1:]}
    assert {r[:2] for r in rels[1:]} == {("SPDXRef-Image", "CONTAINS")}
    debian = {p["name"]: p for p in doc["packages"]}
    assert debian["libc6"]["supplier"] == "Organization: Debian"
    assert debian["libc6"]["licenseDeclared"] == "NOASSERTION"  # dpkg status has no license


def test_creation_info_and_namespace_come_from_inputs_not_the_clock():
    doc = json.loads(build_sbom(alpine_inputs()))
    assert doc["creationInfo"] == {"created": "2025-02-10T17:04:31Z", "creators": [
        "Tool: image-family-publisher-0.1.0", "Organization: Astral Software Inc."]}
    # SPDX 2.3 §6.5: https://[CreatorWebsite]/[pathToSpdx]/[DocumentName]-[UUID]; a UUID5 of the digest.
    expected_uuid = uuid.uuid5(uuid.NAMESPACE_URL, "https://pypi.org/project/image-family-publisher/spdx/sha256:" + "5e" * 32)
    assert doc["documentNamespace"] == (
        "https://pypi.org/project/image-family-publisher/spdx/"
        f"ghcr.io%2Fastral-sh%2Fuv%3A0.5.31-python3.12-alpine%20linux%2Famd64-{expected_uuid}")
    assert json.loads(build_sbom(alpine_inputs()))["documentNamespace"] == doc["documentNamespace"]  # a rebuild: the same
    other = json.loads(build_sbom(replace(alpine_inputs(), subject_digest="sha256:" + "77" * 32)))
    assert other["documentNamespace"] != doc["documentNamespace"]
    assert "github.com" not in doc["documentNamespace"]
    later = replace(alpine_inputs(), created=CREATED.astimezone(timezone(timedelta(hours=-5))))
    assert json.loads(build_sbom(later))["creationInfo"]["created"] == "2025-02-10T17:04:31Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        build_sbom(replace(alpine_inputs(), created=datetime(2025, 2, 10)))


def test_licenses_outside_the_spdx_list_become_license_refs():
    doc = json.loads(build_sbom(alpine_inputs()))
    tzdata = next(p for p in doc["packages"] if p["name"] == "tzdata")
    assert tzdata["licenseDeclared"].startswith("LicenseRef-Public-Domain-")
    assert doc["hasExtractedLicensingInfos"] == [
        {"licenseId": tzdata["licenseDeclared"], "extractedText": "Public-Domain", "name": "Public-Domain"}]
    bundle = next(p for p in doc["packages"] if p["name"] == "ca-certificates-bundle")
    assert bundle["licenseDeclared"] == "MPL-2.0 AND MIT"


def test_same_inputs_same_bytes():
    assert build_sbom(alpine_inputs()) == build_sbom(alpine_inputs())
    assert build_sbom(debian_inputs()) == build_sbom(debian_inputs())
    data = build_sbom(alpine_inputs())
    assert data == json.dumps(json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_minimal_image_without_base_is_still_compliant(tmp_path):
    scratch = replace(alpine_inputs(), image="ghcr.io/astral-sh/uv:0.5.31", base=None, os_packages=None,
                      python_version=None)
    checker = NTIAChecker(write(tmp_path, build_sbom(scratch)))
    assert checker.compliant and checker.validation_messages == []


def test_bad_digest_is_refused():
    with pytest.raises(ValueError, match="sha256"):
        build_sbom(replace(alpine_inputs(), subject_digest="sha256:short"))


def test_docker_purls_of_references():
    digest = "sha256:" + "ab" * 32
    assert purl.docker("python:3.12-alpine", digest) == f"pkg:docker/python@{digest}"
    assert purl.docker("ghcr.io/astral-sh/uv:0.5.31@" + digest, digest, "linux/arm64") == (
        f"pkg:docker/astral-sh/uv@{digest}?platform=linux%2Farm64&repository_url=ghcr.io")
    assert purl.docker("localhost:5000/team/img", digest) == (
        f"pkg:docker/team/img@{digest}?repository_url=localhost:5000")  # purl never encodes `:`
    assert purl.split_reference("index.docker.io/astral/uv:latest") == ("docker.io", "astral/uv", "latest")
