"""SPDX 2.3 JSON SBOM of one platform image: payload binaries and what they are made of, base image, OS packages, Python.

Pure and deterministic: every input is a value (the creation time is the release's, IDs and the
document namespace derive from digests and purls), the output is canonical JSON bytes. It carries
the NTIA minimum elements (supplier, name, version, unique ID of every package, DESCRIBES and
CONTAINS relationships, author, timestamp): `spdx-tools` and `ntia-conformance-checker` pass it.
Wrapped in an in-toto statement (predicate type `PREDICATE_TYPE`) it is what `docker buildx
imagetools inspect --format '{{json .SBOM}}'` shows.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

from publisher import DISTRIBUTION, PROJECT_URL
from publisher.image import predicates, purl
from publisher.image.oci import sha256_hex
from publisher.image.packages import OsPackage, OsPackages
from publisher.image.platform import Platform

PREDICATE_TYPE = predicates.SBOM
# SPDX 2.3 §6.5's recommended form, https://[CreatorWebsite]/[pathToSpdx]/[DocumentName]-[UUID]:
# the tool's project page, then the document's name and a UUID5 of the image's digest (not a random
# UUID4), so a rebuild of the same image gives the same document.
NAMESPACE = f"{PROJECT_URL}spdx/"
OS_SUPPLIERS = {"debian": "Debian", "ubuntu": "Canonical Ltd.", "alpine": "Alpine Linux",
                "wolfi": "Chainguard, Inc."}
NOASSERTION = "NOASSERTION"


@dataclass(frozen=True)
class Binary:
    """A payload file the image ships, e.g. `pkg:pypi/tool@1.4.0` at `/usr/local/bin/tool`."""

    name: str
    version: str
    sha256: str  # hex of the file
    purl: str
    path: str  # in the image
    license: str | None = None  # SPDX expression, e.g. "MIT OR Apache-2.0"


@dataclass(frozen=True)
class Component:
    """A package inside payload files, from the SBOM their wheel carries (`embedded`): a crate, a library."""

    name: str
    version: str
    purl: str  # as the wheel's SBOM says it: `pkg:cargo/anyhow@1.0.98`
    supplier: str  # an SPDX actor: `Organization: crates.io`
    originator: str | None = None  # its authors, `Person: …`
    license: str | None = None
    checksums: tuple[tuple[str, str], ...] = ()  # (SPDX algorithm, hex)
    within: tuple[str, ...] = ()  # the payload files (Binary names) containing it; () every one


@dataclass(frozen=True)
class BaseImage:
    reference: str  # as the Dockerfile writes it: `python:3.12-alpine`
    digest: str  # of the platform manifest built on: `sha256:…`
    supplier: str  # an organization: "Docker Official Images"


@dataclass(frozen=True)
class SbomInputs:
    image: str  # as published; use one name for every repository, or the index digests differ
    version: str  # the release: `0.5.31`
    platform: Platform
    subject_digest: str  # the platform manifest: `sha256:…`
    supplier: str  # who publishes the image and its payload: "Acme Inc."
    created: datetime  # the release's creation time (timezone-aware), never "now"
    publisher_version: str
    binaries: tuple[Binary, ...] = ()
    base: BaseImage | None = None
    os_packages: OsPackages | None = None
    python_version: str | None = None  # PYTHON_VERSION of a python base's config
    components: tuple[Component, ...] = ()  # what the payload files are made of, from their wheel's SBOMs


def build_sbom(inputs: SbomInputs) -> bytes:
    """The SPDX document as canonical JSON (sorted keys, no spaces)."""
    refs: dict[str, str] = {}  # LicenseRef id -> the license text it stands for
    image = _image(inputs)
    name = f"{inputs.image} {inputs.platform}"
    contained = [_binary(b, inputs.supplier, refs) for b in inputs.binaries]
    parts, part_of = _components(inputs, refs)
    if inputs.base:
        contained.append(_base(inputs.base, inputs.platform))
    if inputs.python_version:
        contained.append(_python(inputs.python_version))
    if inputs.os_packages:
        contained += [_os_package(p, refs) for p in inputs.os_packages.packages]
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": document_namespace(name, inputs.subject_digest),
        "creationInfo": {"created": _timestamp(inputs.created), "creators": [
            f"Tool: {DISTRIBUTION}-{inputs.publisher_version}", f"Organization: {inputs.supplier}"]},
        "packages": [image, *contained, *parts],
        "relationships": [_rel("SPDXRef-DOCUMENT", "DESCRIBES", image["SPDXID"])]
        + [_rel(image["SPDXID"], "CONTAINS", p["SPDXID"]) for p in contained] + part_of,
    }
    if refs:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": key, "extractedText": text, "name": text} for key, text in sorted(refs.items())]
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def document_namespace(name: str, subject_digest: str) -> str:
    """`https://pypi.org/project/<tool>/spdx/<name, percent-encoded>-<UUID5 of the digest>`."""
    return f"{NAMESPACE}{quote(name, safe='')}-{uuid.uuid5(uuid.NAMESPACE_URL, NAMESPACE + subject_digest)}"


def _image(inputs: SbomInputs) -> dict:
    return _package("SPDXRef-Image", inputs.image, inputs.version, f"Organization: {inputs.supplier}",
                    purl.oci(inputs.image, inputs.subject_digest, inputs.platform.architecture),
                    {"primaryPackagePurpose": "CONTAINER", "checksums": _sha256(inputs.subject_digest)})


def _binary(binary: Binary, supplier: str, refs: dict[str, str]) -> dict:
    return _package(_id("Binary", binary.name, binary.purl), binary.name, binary.version,
                    f"Organization: {supplier}", binary.purl,
                    {"primaryPackagePurpose": "APPLICATION", "checksums": _sha256(binary.sha256),
                     "packageFileName": binary.path, "licenseDeclared": _license(binary.license, refs)})


def _components(inputs: SbomInputs, refs: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """The payload files' components as packages (one per purl), each CONTAINed by the files it is part of."""
    binaries = {b.name: _id("Binary", b.name, b.purl) for b in inputs.binaries}
    packages, relationships = {}, []
    for c in inputs.components:
        if c.purl in packages:
            continue
        packages[c.purl] = _component(c, refs)
        relationships += [_rel(binaries[name], "CONTAINS", packages[c.purl]["SPDXID"])
                          for name in (c.within or binaries) if name in binaries]
    return list(packages.values()), relationships


def _component(c: Component, refs: dict[str, str]) -> dict:
    extra = {"licenseDeclared": _license(c.license, refs)}
    if c.originator:
        extra["originator"] = c.originator
    if c.checksums:
        extra["checksums"] = [{"algorithm": kind, "checksumValue": value} for kind, value in c.checksums]
    return _package(_id(purl.package_type(c.purl), c.name, c.purl), c.name, c.version, c.supplier, c.purl, extra)


def _base(base: BaseImage, platform: Platform) -> dict:
    """Version is the digest: the exact base built on, whatever its tag points at today."""
    return _package("SPDXRef-BaseImage", base.reference, base.digest, f"Organization: {base.supplier}",
                    purl.docker(base.reference, base.digest, str(platform)),
                    {"primaryPackagePurpose": "CONTAINER", "checksums": _sha256(base.digest)})


def _python(version: str) -> dict:
    """Python of a python base is built from source: no package database lists it."""
    return _package("SPDXRef-Python", "python", version, "Organization: Python Software Foundation",
                    purl.build("generic", None, "python", version, {}), {"licenseDeclared": "PSF-2.0"})


def _os_package(package: OsPackage, refs: dict[str, str]) -> dict:
    supplier = OS_SUPPLIERS.get(package.namespace, package.namespace)
    return _package(_id(package.type, package.name, package.purl), package.name, package.version,
                    f"Organization: {supplier}", package.purl,
                    {"licenseDeclared": _license(package.license, refs)})


def _package(spdx_id: str, name: str, version: str, supplier: str, locator: str, extra: dict) -> dict:
    return {
        "SPDXID": spdx_id, "name": name, "versionInfo": version, "supplier": supplier,
        "downloadLocation": NOASSERTION, "filesAnalyzed": False, "copyrightText": NOASSERTION,
        "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION,
        "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                          "referenceLocator": locator}],
        **extra,
    }


def _license(raw: str | None, refs: dict[str, str]) -> str:
    """A valid SPDX expression stays (canonical case); anything else (apk's `custom`,
    `MIT BSD`) becomes one LicenseRef whose extracted text is the database's own words."""
    if not raw or not raw.strip():
        return NOASSERTION
    try:
        return str(canonicalize_license_expression(raw))
    except InvalidLicenseExpression:
        key = f"LicenseRef-{_clean(raw)[:40]}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
        refs[key] = raw
        return key


def _id(kind: str, name: str, locator: str) -> str:
    """Unique and stable: the sanitised name for humans, a digest of the purl for uniqueness."""
    return f"SPDXRef-{kind}-{_clean(name)}-{hashlib.sha256(locator.encode()).hexdigest()[:12]}"


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "x"


def _rel(source: str, kind: str, target: str) -> dict:
    return {"spdxElementId": source, "relationshipType": kind, "relatedSpdxElement": target}


def _sha256(digest: str) -> list[dict]:
    return [{"algorithm": "SHA256", "checksumValue": sha256_hex(digest)}]


def _timestamp(created: datetime) -> str:
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware (the release's time), not naive")
    return created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
