"""The SBOMs a payload wheel carries (PEP 770: `<name>.dist-info/sboms/`), read as components of its files.

Rust CLIs built with maturin carry cargo-cyclonedx's CycloneDX JSON there (every crate linked in, as
`pkg:cargo/…` purls); PEP 770 allows SPDX JSON as well. Each document describes one product (CycloneDX
`metadata.component`, SPDX the package the document DESCRIBES) and lists what it is made of: those
become `sbom.Component`s of the image SBOM, contained in the payload files the product names (its
binary targets), or in every payload file when it names none of them.

Every component needs a supplier for the NTIA minimum elements. SPDX 2.3 defines the supplier as
"the actual distribution source": the document's own supplier when it says one; a crate from
crates.io (a `pkg:cargo` purl without `download_url`), crates.io, and a PyPI or npm package likewise
its registry; anything else (a workspace crate, `download_url=file://…`) is shipped by the payload's
own supplier, inside its binary. The authors a document names are the originator. Pure: bytes in, values out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from publisher.image.purl import package_type
from publisher.image.sbom import Component

REGISTRIES = {"cargo": "crates.io", "pypi": "Python Package Index", "npm": "npm"}
_CHECKSUMS = {"SHA-256": "SHA256", "SHA-1": "SHA1", "SHA-512": "SHA512", "SHA256": "SHA256", "SHA1": "SHA1",
              "SHA512": "SHA512"}
_HEX = re.compile(r"[0-9a-f]+")


def read_embedded(data: bytes, files: Iterable[str], supplier: str) -> tuple[Component, ...]:
    """The components one embedded document lists; ValueError when it is neither CycloneDX nor SPDX JSON.
    `files`: the payload's file names; `supplier`: the payload's (an organization name)."""
    try:
        document = json.loads(data)
    except ValueError:
        raise ValueError("not JSON (CycloneDX or SPDX JSON are read)") from None
    if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        return _cyclonedx(document, set(files), supplier)
    if isinstance(document, dict) and str(document.get("spdxVersion", "")).startswith("SPDX-2"):
        return _spdx(document, set(files), supplier)
    raise ValueError("neither a CycloneDX nor an SPDX 2 JSON document")


def _cyclonedx(document: dict, files: set[str], supplier: str) -> tuple[Component, ...]:
    product = (document.get("metadata") or {}).get("component") or {}
    within = tuple(sorted(files & {c.get("name") for c in [product, *_flat(product.get("components"))]}))
    return tuple(_cyclonedx_component(c, within, supplier) for c in _flat(document.get("components")) if c.get("name") and c.get("purl"))


def _flat(components) -> list[dict]:
    out = []
    for c in components or []:
        if isinstance(c, dict):
            out += [c, *_flat(c.get("components"))]
    return out


def _cyclonedx_component(c: dict, within: tuple[str, ...], supplier: str) -> Component:
    purl = c["purl"]
    own = (c.get("supplier") or {}).get("name") or c.get("publisher")
    authors = c.get("author") or ", ".join(a.get("name", "") for a in c.get("authors") or [] if isinstance(a, dict))
    return Component(c["name"], str(c.get("version") or "NOASSERTION"), purl,
                     f"Organization: {own or _distributor(purl) or supplier}", _person(authors),
                     _cyclonedx_license(c.get("licenses")), _cyclonedx_checksums(c.get("hashes")), within)


def _distributor(purl: str) -> str | None:
    """The registry a purl's package comes from, when it names none other (`download_url`, `repository_url`)."""
    qualifiers = purl.partition("?")[2]
    return None if "download_url=" in qualifiers or "repository_url=" in qualifiers else REGISTRIES.get(package_type(purl))


def _person(authors: str) -> str | None:
    """`A <a@x>, b@y, C (c)` → `Person: A, C c`: names only (no mail address), nothing SPDX's actor syntax would misread."""
    parts = (re.sub(r"<[^>]*>|[()]", "", part).strip() for part in (authors or "").split(","))
    names = ", ".join(part for part in parts if part and "@" not in part)
    return f"Person: {names}" if names else None


def _cyclonedx_license(licenses) -> str | None:
    parts = []
    for entry in licenses or []:
        found = entry.get("expression") or (entry.get("license") or {}).get("id") or (entry.get("license") or {}).get("name")
        if found:
            parts.append(found if len(licenses) == 1 else f"({found})")
    return " AND ".join(parts) or None


def _cyclonedx_checksums(hashes) -> tuple[tuple[str, str], ...]:
    return tuple((_CHECKSUMS[h["alg"]], h["content"].lower()) for h in hashes or []
                 if h.get("alg") in _CHECKSUMS and _HEX.fullmatch(str(h.get("content", "")).lower()))


def _spdx(document: dict, files: set[str], supplier: str) -> tuple[Component, ...]:
    described = {r.get("relatedSpdxElement") for r in document.get("relationships") or []
                 if r.get("relationshipType") == "DESCRIBES"} | set(document.get("documentDescribes") or [])
    packages = [p for p in document.get("packages") or [] if isinstance(p, dict)]
    within = tuple(sorted(files & {p.get("name") for p in packages if p.get("SPDXID") in described}))
    return tuple(_spdx_component(p, within, supplier) for p in packages
                 if p.get("SPDXID") not in described and p.get("name") and _spdx_purl(p))


def _spdx_purl(package: dict) -> str | None:
    return next((r.get("referenceLocator") for r in package.get("externalRefs") or []
                 if r.get("referenceType") == "purl"), None)


def _spdx_component(p: dict, within: tuple[str, ...], supplier: str) -> Component:
    purl = _spdx_purl(p)
    own = p.get("supplier") if str(p.get("supplier", "")).startswith(("Organization:", "Person:")) else None
    license_ = next((p.get(k) for k in ("licenseDeclared", "licenseConcluded") if p.get(k) not in (None, "NOASSERTION", "NONE")), None)
    checksums = tuple((c["algorithm"], c["checksumValue"].lower()) for c in p.get("checksums") or []
                      if c.get("algorithm") in _CHECKSUMS.values() and _HEX.fullmatch(str(c.get("checksumValue", "")).lower()))
    originator = p.get("originator") if str(p.get("originator", "")).startswith(("Organization:", "Person:")) else None
    return Component(p["name"], str(p.get("versionInfo") or "NOASSERTION"), purl,
                     own or f"Organization: {_distributor(purl) or supplier}", originator, license_, checksums, within)
