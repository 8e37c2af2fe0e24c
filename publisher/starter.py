"""`publisher init`: a new project's matrix.yaml, template, rendered Dockerfiles and release workflow."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image import reference
from publisher.spec import render
from publisher.spec.matrix import load_matrix

PAYLOADS = ("uv",)  # what the publish step can put in an image today: uv's binaries
PR_VERSION = "0.5.31"  # a payload release pull requests build with
DEFAULT_ACTION = "OWNER/publisher@v1"  # where publisher's action lives: pass --action
FILES = {"matrix.yaml": "matrix.yaml", "variants/Dockerfile.j2": "Dockerfile.j2",
         ".github/workflows/release.yml": "release.yml"}


@dataclass(frozen=True)
class Starter:
    image: str  # the repository the images go to, e.g. ghcr.io/org/tool
    root: Path = Path(".")
    payload: str = "uv"
    action: str = DEFAULT_ACTION
    force: bool = False


def init(starter: Starter) -> list[str]:
    """Write the starter files (refusing to overwrite unless forced) and render them; the paths written."""
    parsed = _check(starter)
    existing = [name for name in FILES if (starter.root / name).exists()]
    if existing and not starter.force:
        verb = "exists" if len(existing) == 1 else "exist"
        raise PublisherError(f"publisher init: {', '.join(existing)} already {verb} in {starter.root}; "
                             "pass --force to overwrite")
    values = {"@IMAGE@": starter.image, "@TITLE@": parsed.path.rsplit("/", 1)[-1], "@ACTION@": starter.action,
              "@PR_VERSION@": PR_VERSION, "@LOGIN@": _login(parsed.host)}
    for name, template in FILES.items():
        text = resources.files("publisher").joinpath("templates", template).read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        path = starter.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    matrix = load_matrix(starter.root / "matrix.yaml", "matrix.yaml")
    return list(FILES) + render.write(matrix, render.render_all(matrix))


def _check(starter: Starter) -> reference.Reference:
    if starter.payload not in PAYLOADS:
        raise PublisherError(f"publisher init: --payload '{starter.payload}': publisher publishes {', '.join(PAYLOADS)} "
                             "images today; pass --payload uv")
    try:
        return reference.parse_repository(starter.image)
    except ValueError as e:
        raise PublisherError(f"publisher init: --image '{starter.image}': {e}; write host/path, e.g. ghcr.io/org/tool") from None


def _login(host: str) -> str:
    """The workflow step logging in to the image's registry: GITHUB_TOKEN for ghcr.io, secrets elsewhere."""
    user, secret = (("${{ github.actor }}", "${{ secrets.GITHUB_TOKEN }}") if host == "ghcr.io" else
                    ("${{ secrets.REGISTRY_USERNAME }}", "${{ secrets.REGISTRY_PASSWORD }}"))
    return (f"      - name: log in to {host}\n"
            "        if: github.event_name == 'push'\n"
            "        uses: docker/login-action@v3\n"
            "        with:\n"
            f"          registry: {host}\n"
            f"          username: {user}\n"
            f"          password: {secret}")
