"""Registry credentials from PUBLISHER_AUTH_<HOST> or the docker config file, never shown in text."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError

DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, secret=***)"

    __str__ = __repr__


def env_name(host: str) -> str:
    """PUBLISHER_AUTH_GHCR_IO for ghcr.io, PUBLISHER_AUTH_127_0_0_1_5000 for 127.0.0.1:5000."""
    return "PUBLISHER_AUTH_" + re.sub(r"[^A-Z0-9]", "_", host.upper())


def lookup(host: str, env: Mapping[str, str] = os.environ) -> Credentials | None:
    """Credentials for a registry host: the environment first, then the docker config file."""
    return _from_env(host, env) or _from_docker_config(host, env)


def _from_env(host: str, env: Mapping[str, str]) -> Credentials | None:
    name = env_name(host)
    value = env.get(name)
    if value is None:
        return None
    username, colon, secret = value.partition(":")
    if not (username and colon and secret):
        raise PublisherError(f"{name} must be 'username:secret'")
    return Credentials(username, secret)


def _config_path(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "config.json"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".docker" / "config.json"


def _load_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise PublisherError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PublisherError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise PublisherError(f"{path}: a docker config file must hold a JSON object")
    return config


def _names(host: str) -> tuple[str, ...]:
    return DOCKER_HUB_NAMES if host in DOCKER_HUB_NAMES else (host,)


def _hostname(key: str) -> str:
    """Docker's own normalisation: 'https://index.docker.io/v1/' names 'index.docker.io'."""
    return re.sub(r"^https?://", "", key).split("/", 1)[0]


def _entry(section: object, host: str):
    if not isinstance(section, dict):
        return None
    for name in _names(host):
        for key, value in section.items():
            if _hostname(key) == name:
                return value
    return None


def _from_docker_config(host: str, env: Mapping[str, str]) -> Credentials | None:
    path = _config_path(env)
    config = _load_config(path)
    helper = _entry(config.get("credHelpers"), host) or config.get("credsStore")
    if isinstance(helper, str) and helper:
        found = _from_helper(helper, host, env)
        if found:
            return found
    entry = _entry(config.get("auths"), host)
    return _from_auths_entry(entry, host, path) if isinstance(entry, dict) else None


def _from_helper(helper: str, host: str, env: Mapping[str, str]) -> Credentials | None:
    server = DOCKER_HUB_SERVER if host in DOCKER_HUB_NAMES else host
    try:
        done = subprocess.run(
            [f"docker-credential-{helper}", "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            env=dict(env),
        )
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not isinstance(answer, dict):
        return None
    username, secret = answer.get("Username"), answer.get("Secret")
    if isinstance(username, str) and isinstance(secret, str) and username and secret:
        return Credentials(username, secret)
    return None


def _from_auths_entry(entry: dict, host: str, path: Path) -> Credentials | None:
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
            decoded = ""
        username, colon, secret = decoded.partition(":")
        if not (username and colon and secret):
            raise PublisherError(f"{path}: auths entry for {host} is not base64 of 'username:password'")
        return Credentials(username, secret)
    username, secret = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(secret, str) and username and secret:
        return Credentials(username, secret)
    return None
