"""Package URLs (https://github.com/package-url/purl-spec), built the one canonical way.

Shared by the SBOM (OS packages, base image, image) and the provenance (resolved dependencies), so
a package has the same purl wherever it appears.
"""

from __future__ import annotations

from urllib.parse import quote

DOCKER_HUB = "docker.io"


def encode(text: str) -> str:
    """purl percent-encoding: letters, digits, `.-_~` and `:` stay; `+`, `/`, `@`... become %XX."""
    return quote(text, safe=":")


def build(kind: str, namespace: str | None, name: str, version: str | None,
          qualifiers: dict[str, str | None]) -> str:
    """`pkg:kind/namespace/name@version?k=v`, qualifiers sorted by key, empty ones dropped."""
    out = f"pkg:{kind}/" + "".join(f"{encode(part)}/" for part in (namespace or "").split("/") if part)
    out += encode(name) + (f"@{encode(version)}" if version else "")
    pairs = sorted((key, value) for key, value in qualifiers.items() if value)
    return out + ("?" + "&".join(f"{k}={encode(v)}" for k, v in pairs) if pairs else "")


def package_type(purl: str) -> str:
    """A purl's type: `pkg:cargo/anyhow@1.0.98` → `cargo`."""
    return purl.removeprefix("pkg:").split("/", 1)[0]


def split_reference(reference: str) -> tuple[str, str, str | None]:
    """`python:3.12-alpine` → (`docker.io`, `library/python`, `3.12-alpine`); a digest is dropped."""
    name = reference.split("@", 1)[0]
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB, name
    if domain in (DOCKER_HUB, "index.docker.io") and "/" not in path:
        path = f"library/{path}"
    return ("docker.io" if domain == "index.docker.io" else domain), path, tag


def docker(reference: str, digest: str, platform: str | None = None) -> str:
    """`pkg:docker/python@sha256:…?platform=linux%2Famd64`: Docker Hub's official images without
    `library/` (as the purl spec's examples and BuildKit write them), `repository_url` elsewhere."""
    domain, path, _tag = split_reference(reference)
    namespace, _, name = path.rpartition("/")
    if domain == DOCKER_HUB and namespace == "library":
        namespace = ""
    return build("docker", namespace, name, digest, {
        "platform": platform, "repository_url": None if domain == DOCKER_HUB else domain})


def oci(reference: str, digest: str, arch: str | None = None) -> str:
    """`pkg:oci/tool@sha256:…?arch=amd64&repository_url=ghcr.io/acme/tool&tag=1.4.0`."""
    domain, path, tag = split_reference(reference)
    return build("oci", None, path.rsplit("/", 1)[-1].lower(), digest,
                 {"arch": arch, "repository_url": f"{domain}/{path}", "tag": tag})
