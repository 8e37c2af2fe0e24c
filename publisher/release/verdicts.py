"""Smoke tests: run every built image and check its config, before anything is pushed."""

from __future__ import annotations

import re

from publisher.image.platform import Platform, platform_of
from publisher.matrix.schema import SmokeTest, Variant


def check_config(variant: Variant, platform: Platform, attrs: dict, labels: dict) -> list[str]:
    """Differences between an image's config and what the matrix and plan say it must be."""
    config = attrs.get("Config") or {}
    actual = {
        "entrypoint": config.get("Entrypoint") or None,
        "cmd": config.get("Cmd") or None,
        "workdir": config.get("WorkingDir") or "",
    }
    where = f"{variant.name} {platform}"
    failures = [
        f"{where}: image config {key}: expected {expected!r}, got {actual[key]!r}"
        for key, expected in variant.config.items()
        if key != "env" and (expected or None) != (actual[key] or None)
    ]
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    for name, value in variant.config.get("env", {}).items():
        if env.get(name) != value:
            failures.append(f"{where}: image config env {name}: expected {value!r}, got {env.get(name)!r}")
    image_labels = config.get("Labels") or {}
    for name, value in labels.items():
        if image_labels.get(name) != value:
            failures.append(f"{where}: label {name}: expected {value!r}, got {image_labels.get(name)!r}")
    found = platform_of({"os": attrs.get("Os"), "architecture": attrs.get("Architecture")})
    if (found.os, found.architecture) != (platform.os, platform.architecture):
        failures.append(f"{where}: image platform: expected {platform}, got {found}")
    return failures


def judge(test: SmokeTest, version: str, exit_code: int, stdout: str, stderr: str,
          not_started: str | None = None) -> str | None:
    """None when the run passed; otherwise what was expected and what came.

    `not_started`: why the command never ran, with exit code 127 when it is not in the image (e.g. `sh`
    in an image without a shell) as `docker run` gives: a test expecting 127 passes then.
    """
    if exit_code != test.exit:
        if not_started is not None:
            return f"did not start: {_short(not_started)}"
        return f"expected exit code {test.exit}, got {exit_code}: {_short(stderr or stdout)}"
    if test.stdout is not None:
        pattern = test.stdout.replace("{version}", re.escape(version) if version else r"\S+")
        if not re.search(pattern, stdout, re.MULTILINE):
            return f"expected stdout matching {pattern!r}, got {_short(stdout)}"
    return None


def _short(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 200 else text[:200] + "...")
