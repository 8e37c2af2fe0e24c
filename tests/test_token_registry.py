"""The token-auth registry fixture itself, proven with plain httpx against the real registry."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time

import httpx
import jwt
import pytest

from tests.token_registry import SERVICE, WRONG_CREDENTIALS, TokenProxy, TokenService, auth_env_name

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def repo(name: str) -> str:
    """Storage is shared by the session: every test writes to a repository of its own."""
    return f"tests/token-{name}-{secrets.token_hex(4)}"


def scope(repository: str, actions: str = "pull,push") -> str:
    return f"repository:{repository}:{actions}"


def fetch(reg, user: str | None, *scopes: str, password: str | None = None) -> httpx.Response:
    """A token request as Docker's clients send it: GET realm?service=..&scope=.., basic auth."""
    auth = None if user is None else (user, password if password is not None else reg.users[user])
    params = [("service", SERVICE)] + [("scope", s) for s in scopes]
    return httpx.get(reg.service.realm, params=params, auth=auth)


def bearer(reg, user: str | None, *scopes: str) -> dict[str, str]:
    response = fetch(reg, user, *scopes)
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v",...` header."""
    header = response.headers.get("www-authenticate", "")
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def start_upload(reg, repository: str, headers: dict) -> str:
    response = httpx.post(f"{reg.url}/v2/{repository}/blobs/uploads/", headers=headers)
    assert response.status_code == 202
    return response.headers["location"]


def commit(location: str, data, blob_digest: str, headers: dict) -> httpx.Response:
    separator = "&" if "?" in location else "?"
    return httpx.put(f"{location}{separator}digest={blob_digest}", content=data, headers=headers)


def upload(reg, repository: str, data: bytes, headers: dict) -> str:
    response = commit(start_upload(reg, repository, headers), data, digest(data), headers)
    assert response.status_code == 201
    return digest(data)


def streamed(data: bytes):
    """A body sent chunked, piece by piece, as a client streaming a layer from disk sends it."""
    for i in range(0, len(data), 64 * 1024):
        yield data[i:i + 64 * 1024]


def test_anonymous_v2_gets_a_bearer_challenge_naming_the_token_service(token_registry):
    response = httpx.get(f"{token_registry.url}/v2/")
    assert response.status_code == 401
    params = challenge(response)
    assert params["realm"] == token_registry.service.realm
    assert params["service"] == SERVICE


def test_writer_pushes_blobs_and_a_manifest(token_registry):
    name = repo("writer")
    headers = bearer(token_registry, "writer", scope(name))
    config, layer = b"{}", secrets.token_bytes(4096)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": upload(token_registry, name, config, headers), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": upload(token_registry, name, layer, headers), "size": len(layer)}],
    }
    response = httpx.put(f"{token_registry.url}/v2/{name}/manifests/v1", content=json.dumps(manifest),
                         headers={**headers, "Content-Type": OCI_MANIFEST})
    assert response.status_code == 201


def test_reader_asking_for_push_gets_pull_only_and_insufficient_scope(token_registry):
    """ghcr.io and Docker Hub answer a push without the right with a token lacking push, not a 403."""
    name = repo("reader")
    response = fetch(token_registry, "reader", scope(name))
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": name, "actions": ["pull"]}]
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    refused = httpx.post(f"{token_registry.url}/v2/{name}/blobs/uploads/", headers=headers)
    assert refused.status_code == 401
    assert challenge(refused)["error"] == "insufficient_scope"


def test_wrong_password_is_refused_by_the_token_service_like_docker_hub(token_registry):
    response = fetch(token_registry, "writer", scope(repo("wrong")), password="not-the-password")
    assert response.status_code == 401
    assert response.json() == WRONG_CREDENTIALS == {"details": "incorrect username or password"}
    assert token_registry.service.requests[-1].status == 401


def test_an_expired_token_is_refused_by_the_registry(token_registry):
    name = repo("expired")
    token = token_registry.service.mint_expired("writer", [scope(name)])
    response = httpx.get(f"{token_registry.url}/v2/{name}/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"


def test_a_two_second_token_lives_two_seconds_despite_the_registry_leeway(token_registry):
    """The `exp - 60` rule, checked on the real registry: accepted now, refused within [2 s, 3 s)."""
    token_registry.service.lifetime = 2
    name = repo("short")
    started = time.monotonic()
    response = fetch(token_registry, "writer", scope(name, "pull"))
    assert response.json()["expires_in"] == 2
    headers = {"Authorization": f"Bearer {response.json()['token']}"}
    url = f"{token_registry.url}/v2/{name}/tags/list"
    assert httpx.get(url, headers=headers).status_code != 401  # 404 NAME_UNKNOWN: authorised
    refused_after = poll_until_refused(url, headers, bound=5.0) - started
    assert 1.9 < refused_after < 3.5


def poll_until_refused(url: str, headers: dict, bound: float) -> float:
    """When the registry first answered 401: polls every 50 ms, fails past `bound` seconds."""
    deadline, tick = time.monotonic() + bound, threading.Event()
    while time.monotonic() < deadline:
        if httpx.get(url, headers=headers).status_code == 401:
            return time.monotonic()
        tick.wait(0.05)
    pytest.fail(f"token still accepted after {bound} s")


def test_the_next_upload_put_meets_an_expired_token_then_a_retry_passes(token_registry):
    """The 401 comes from the real registry (its headers and error body), for one PUT only."""
    name, data = repo("expire-put"), secrets.token_bytes(512 * 1024)
    headers = bearer(token_registry, "writer", scope(name))
    location = start_upload(token_registry, name, headers)
    token_registry.expire_next_upload_put()
    refused = commit(location, streamed(data), digest(data), headers)
    assert refused.status_code == 401
    assert challenge(refused)["error"] == "invalid_token"
    assert refused.headers["docker-distribution-api-version"] == "registry/2.0"
    assert refused.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert [(m, s) for m, _, s in token_registry.expired] == [("PUT", 401)]
    fresh = bearer(token_registry, "writer", scope(name))
    assert commit(location, streamed(data), digest(data), fresh).status_code == 201
    upload(token_registry, name, b"next blob", fresh)  # disarmed: passes untouched
    assert len(token_registry.expired) == 1


def test_cancelling_an_upload_session_needs_the_delete_action(token_registry):
    name = repo("cancel")
    pusher = bearer(token_registry, "pusher", scope(name, "pull,push,delete"))
    location = start_upload(token_registry, name, pusher)
    refused = httpx.delete(location, headers=pusher)
    assert refused.status_code == 401
    assert challenge(refused)["error"] == "insufficient_scope"
    writer = bearer(token_registry, "writer", scope(name, "pull,push,delete"))
    assert httpx.delete(location, headers=writer).status_code == 204


def test_token_requests_are_counted_by_user_and_scopes(token_registry):
    a, b = repo("count-a"), repo("count-b")
    service = token_registry.service
    fetch(token_registry, "writer", scope(a), scope(b))
    fetch(token_registry, "writer", scope(b, "push,pull"), scope(a))  # same scopes, other order
    anonymous = fetch(token_registry, None, scope(a))
    assert service.count("writer", scope(a), scope(b)) == 2
    assert service.count(None, scope(a)) == 1
    assert service.count("reader", scope(a)) == 0
    claims = jwt.decode(anonymous.json()["token"], options={"verify_signature": False})
    assert claims["access"][0]["actions"] == ["pull"]


def test_anonymous_access_is_a_knob(token_registry):
    """Docker Hub gives an anonymous caller of a private repository a token that grants nothing."""
    token_registry.service.anonymous = frozenset()
    response = fetch(token_registry, None, scope(repo("private"), "pull"))
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["access"][0]["actions"] == []


def test_auth_env_names_the_host_like_publisher_reads_it(token_registry):
    assert auth_env_name("127.0.0.1:5000") == "PUBLISHER_AUTH_127_0_0_1_5000"
    (name, value), = token_registry.auth_env("reader").items()
    assert name == auth_env_name(token_registry.host)
    assert value.split(":", 1)[0] == "reader"


def test_stop_ends_kept_alive_connections_and_their_threads(token_registry_server, tmp_path):
    """A client holding a connection open must not keep a handler thread past its fixture."""
    service = TokenService(tmp_path, {"writer": "pw"})
    proxy = TokenProxy(token_registry_server.host, service)
    with httpx.Client() as client:
        client.get(f"http://{proxy.host}/v2/")
        client.get(service.realm, params={"service": SERVICE})
        threads = [*proxy.connections.open.values(), *service.connections.open.values()]
        proxy.stop()
        service.stop()
    assert len(threads) == 2
    assert not any(t.is_alive() for t in threads)
