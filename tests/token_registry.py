"""A real registry behind token auth, shaped like ghcr.io and Docker Hub, for tests.

`docker-registry` (distribution 2.8.2) runs with `auth: token` and trusts RS256 JWTs whose header
carries the signing certificate in `x5c`, chained to a CA written at start (`rootcertbundle`); no
`kid` is needed on that path. The token service is the tests' own: a ThreadingHTTPServer that
answers `GET /token?service=..&scope=repository:NAME:pull,push` like auth.docker.io does:
basic auth, a token granting what was asked AND what the user may do (a reader asking for push
gets pull only, so the registry answers the push with 401 `error="insufficient_scope"`), and
`401 {"details":"incorrect username or password"}` for bad credentials.

distribution 2.8.2 accepts a token up to 60 s past its `exp`, so a token meant to live L seconds
is minted with `exp = now + L - 60`: its `exp` claim is in the past for L < 60 (clients must rely
on `expires_in`, as Docker's do).

Per test, a FaultProxy subclass fronts the registry (`token_registry.host`). Armed with
`expire_next_upload_put()`, it swaps the bearer token of the next blob-commit PUT
(`PUT .../blobs/uploads/...?digest=`) for an expired one minted by the service, so the real
registry answers that PUT with 401 `error="invalid_token"`; later requests pass untouched.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import math
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fault_proxy import HOP, FaultProxy, _Handler
from tests.registry_server import RegistryServer, _require_binary

SERVICE = "publisher-tests-registry"
ISSUER = "publisher-tests-token-service"
LEEWAY = 60  # seconds distribution 2.8.2 accepts a token past its exp (and before its nbf)
DEFAULT_LIFETIME = 300  # what Docker Hub grants
GRANTS = {"writer": ("pull", "push", "delete"), "pusher": ("pull", "push"), "reader": ("pull",)}
ANONYMOUS = frozenset({"pull"})
WRONG_CREDENTIALS = {"details": "incorrect username or password"}  # auth.docker.io's 401 body


def is_upload_put(method: str, path: str) -> bool:
    """The PUT that commits a blob upload (its body may be the whole blob, streamed)."""
    return method == "PUT" and "/blobs/uploads/" in path and "digest=" in path


def normal_scope(scope: str) -> str:
    """`repository:NAME:push,pull` -> `repository:NAME:pull,push`, so counters ignore the order."""
    kind, name, actions = parse_scope(scope)
    return f"{kind}:{name}:{','.join(sorted(actions))}"


def parse_scope(scope: str) -> tuple[str, str, set[str]]:
    """A scope is TYPE:NAME:ACTIONS; NAME may hold a colon (never in repository names, but cheap)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return kind, name, {a for a in actions.split(",") if a}


def auth_env_name(host: str) -> str:
    """`PUBLISHER_AUTH_<HOST>`: host upper-cased, every non-alphanumeric replaced by `_`."""
    return "PUBLISHER_AUTH_" + re.sub(r"[^A-Za-z0-9]", "_", host).upper()


class _Connections:
    """A server's open connections and their handler threads, so that stop() can end them all
    (a client's kept-alive connection otherwise holds its handler thread past the test)."""

    def __init__(self):
        self.lock, self.open = threading.Lock(), {}

    def add(self, connection: socket.socket) -> None:
        with self.lock:
            self.open[connection] = threading.current_thread()

    def discard(self, connection: socket.socket) -> None:
        with self.lock:
            self.open.pop(connection, None)

    def close(self) -> None:
        with self.lock:
            items = list(self.open.items())
        for connection, _ in items:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # a handler waiting for a request reads EOF
            except OSError:
                pass
        for _, thread in items:
            thread.join(timeout=5)


class _Tracked:
    """Handler mixin: the connection is in `connections` while its handler runs."""

    connections: _Connections

    def setup(self) -> None:
        super().setup()
        self.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the peer or stop() closed it first
        finally:
            self.connections.discard(self.connection)


class _Authority:
    """A CA (written to `ca.pem`, the registry's rootcertbundle) and a leaf that signs tokens."""

    def __init__(self, root: Path):
        ca_key, self.key = _rsa_key(), _rsa_key()
        ca = _certificate("publisher-tests token CA", ca_key, ca_key.public_key(), None, ca=True)
        leaf = _certificate("publisher-tests token signer", ca_key, self.key.public_key(), ca, ca=False)
        self.bundle = root / "ca.pem"
        self.bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.x5c = [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self.x5c})


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(cn: str, signer, public_key, issuer: x509.Certificate | None, ca: bool) -> x509.Certificate:
    """Go's x509 verification wants CA:TRUE + keyCertSign on the root, digitalSignature on the leaf."""
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    usage = dict.fromkeys(("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                           "encipher_only", "decipher_only"), False)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer.subject if issuer else name)
        .public_key(public_key).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage), critical=True)
    )
    return builder.sign(signer, hashes.SHA256())


@dataclass
class TokenRequest:
    """One request the token service answered: who (None = anonymous), which scopes, what status."""

    user: str | None
    scopes: tuple[str, ...]
    status: int
    granted: list[dict] = field(default_factory=list)


class TokenService:
    """auth.docker.io in miniature: users, grants, lifetimes, and a record of every token request."""

    def __init__(self, root: Path, passwords: dict[str, str]):
        self.authority = _Authority(root)
        self.service, self.issuer = SERVICE, ISSUER
        self._passwords = dict(passwords)
        self.lock, self.connections = threading.Lock(), _Connections()
        self.reset()
        handler = type("Handler", (_TokenHandler,), {"service_": self, "connections": self.connections})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def reset(self) -> None:
        """Back to the defaults (users, grants, lifetime, anonymous pull) with empty counters."""
        with self.lock:
            self.users = dict(self._passwords)
            self.grants = {user: frozenset(GRANTS.get(user, ())) for user in self.users}
            self.lifetime = DEFAULT_LIFETIME
            self.anonymous = ANONYMOUS  # actions granted without credentials; frozenset() for none
            self.requests: list[TokenRequest] = []

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.connections.close()
        self._thread.join(timeout=5)

    def mint(self, user: str | None, access, lifetime: float | None = None) -> str:
        """A token for `user` granting exactly `access` (scope strings or access dicts), no checks.

        The registry accepts it for `lifetime` seconds (at least that, less than one more): its
        `exp` is set 60 s early to cancel distribution's leeway. A negative lifetime: expired now.
        """
        lifetime = self.lifetime if lifetime is None else lifetime
        now = time.time()
        claims = {
            "iss": self.issuer, "sub": user or "", "aud": self.service,
            "exp": math.ceil(now + lifetime) - LEEWAY, "nbf": int(now), "iat": int(now),
            "jti": secrets.token_urlsafe(12), "access": [_access(a) for a in access],
        }
        return self.authority.sign(claims)

    def mint_expired(self, user: str | None, access) -> str:
        """A token the registry refuses right away: already past its exp plus the leeway."""
        return self.mint(user, access, lifetime=-1)

    def add_user(self, user: str, password: str, actions=("pull",)) -> None:
        """Another account, until the end of the test (reset() forgets it)."""
        with self.lock:
            self.users[user], self.grants[user] = password, frozenset(actions)

    def grant(self, user: str | None, scopes) -> list[dict]:
        """What a request gets: for each scope, the asked actions the user may perform."""
        allowed = self.anonymous if user is None else self.grants.get(user, frozenset())
        access = []
        for scope in scopes:
            kind, name, actions = parse_scope(scope)
            access.append({"type": kind, "name": name, "actions": sorted(actions & allowed)})
        return access

    def check(self, user: str, password: str) -> bool:
        known = self.users.get(user)
        return known is not None and secrets.compare_digest(known.encode(), password.encode())

    def record(self, request: TokenRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def counts(self) -> Counter:
        """Token requests by (user, sorted normalised scopes): how often each was fetched."""
        with self.lock:
            return Counter((r.user, r.scopes) for r in self.requests)

    def count(self, user: str | None, *scopes: str) -> int:
        """How many times `user` (None: anonymous) asked for exactly these scopes, in any order."""
        return self.counts()[(user, tuple(sorted(normal_scope(s) for s in scopes)))]


def _access(entry) -> dict:
    if isinstance(entry, dict):
        return {"type": entry["type"], "name": entry["name"], "actions": list(entry["actions"])}
    kind, name, actions = parse_scope(entry)
    return {"type": kind, "name": name, "actions": sorted(actions)}


class _TokenHandler(_Tracked, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    service_: TokenService

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/token":
            return self._answer(404, {"details": "not found"})
        query = parse_qs(url.query)
        scopes = tuple(sorted(normal_scope(s) for v in query.get("scope", []) for s in v.split() if s))
        user, ok = self._credentials()
        if not ok:
            self.service_.record(TokenRequest(user, scopes, 401))
            return self._answer(401, WRONG_CREDENTIALS)
        self._issue(user, scopes)

    def do_POST(self) -> None:
        """OAuth2 POST is not offered: 404 makes Docker's clients fall back to GET, as for ghcr.io."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(404, {"details": "not found"})

    def _credentials(self) -> tuple[str | None, bool]:
        """(user, ok): no or non-Basic Authorization is anonymous; bad Basic credentials are not ok."""
        header = self.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None, True
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except ValueError:
            return None, False
        return user, self.service_.check(user, password)

    def _issue(self, user: str | None, scopes: tuple[str, ...]) -> None:
        service = self.service_
        access = service.grant(user, scopes)
        lifetime = service.lifetime
        token = service.mint(user, access, lifetime)
        service.record(TokenRequest(user, scopes, 200, access))
        issued = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._answer(200, {"token": token, "access_token": token, "expires_in": lifetime, "issued_at": issued})

    def _answer(self, status: int, document: dict) -> None:
        data = (json.dumps(document) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class TokenRegistryServer(RegistryServer):
    """`docker-registry serve` with `auth: token`, trusting `service`'s CA and sending its realm."""

    def __init__(self, root: Path, service: TokenService):
        super().__init__(root)
        self.service = service

    def _auth_config(self) -> str:
        s = self.service
        return (f"auth:\n  token:\n    realm: {s.realm}\n    service: {s.service}\n"
                f"    issuer: {s.issuer}\n    rootcertbundle: {s.authority.bundle}\n")


class TokenProxy(FaultProxy):
    """A FaultProxy that can swap the bearer token of chosen requests for an expired one."""

    poll_interval = 0.02  # one proxy per test: its stop() should not cost half a second

    def __init__(self, upstream: str, service: TokenService, **kwargs):
        self.service, self.connections = service, _Connections()
        self._armed: list = [is_upload_put, 0]  # predicate, requests left to spoil
        self.expired: list[tuple[str, str, int]] = []  # (method, path, the registry's status)
        super().__init__(upstream, **kwargs)

    def handler_base(self) -> type:
        return _ExpiringHandler

    def stop(self) -> None:
        super().stop()
        self.connections.close()

    def expire_next(self, predicate=is_upload_put, times: int = 1) -> None:
        """The next `times` requests matching `predicate(method, path)` carry an expired token."""
        with self.lock:
            self._armed = [predicate, times]

    def expire_next_upload_put(self, times: int = 1) -> None:
        """The next blob-commit PUT(s) reach the registry with an expired token: it answers 401."""
        self.expire_next(is_upload_put, times)

    def take(self, method: str, path: str) -> bool:
        """Whether this request is one to spoil (counts it down, so exactly `times` are)."""
        with self.lock:
            predicate, left = self._armed
            if left <= 0 or not predicate(method, path):
                return False
            self._armed[1] = left - 1
            return True

    def note(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.expired.append((method, path, status))


class _ExpiringHandler(_Tracked, _Handler):
    proxy: TokenProxy

    @property
    def connections(self) -> _Connections:
        return self.proxy.connections

    def _forward(self, body: bytes):
        if not self.proxy.take(self.command, self.path):
            return super()._forward(body)
        self._spoil_token()
        status, headers, data = self._forward_refused(body)
        self.proxy.note(self.command, self.path, status)
        return status, headers, data

    def _spoil_token(self) -> None:
        """Same subject and access as the client's token, but expired: only the time is wrong."""
        claims = _claims(self.headers.get("Authorization") or "")
        expired = self.proxy.service.mint_expired(claims.get("sub") or None, claims.get("access") or [])
        del self.headers["Authorization"]
        self.headers["Authorization"] = f"Bearer {expired}"

    def _forward_refused(self, body: bytes):
        """Like _forward, but the registry answers 401 without reading the body and may hang up
        before all of it is sent (seen with 64 MiB): the send fails, the answer is read anyway."""
        connection = http.client.HTTPConnection(self.proxy.upstream, timeout=60)
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                headers[k] = f"{headers[k]}, {v}" if k in headers else v
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheaders(), data


def _claims(authorization: str) -> dict:
    """The claims of a bearer token, unverified: only used to copy them into an expired one."""
    if not authorization.lower().startswith("bearer "):
        return {}
    try:
        return jwt.decode(authorization[7:].strip(), options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


@dataclass
class TokenRegistry:
    """What a test gets: where to push (`host`, through the proxy), who may, and the knobs."""

    server: TokenRegistryServer
    proxy: TokenProxy
    service: TokenService

    @property
    def users(self) -> dict[str, str]:
        """name -> password: writer (pull, push, delete), pusher (pull, push), reader (pull)."""
        return self.service.users

    @property
    def host(self) -> str:
        return self.proxy.host

    @property
    def url(self) -> str:
        return f"http://{self.proxy.host}"

    @property
    def expired(self) -> list[tuple[str, str, int]]:
        """Requests sent on with an expired token, with the registry's status (401 expected)."""
        return self.proxy.expired

    def expire_next_upload_put(self, times: int = 1) -> None:
        self.proxy.expire_next_upload_put(times)

    def auth_env(self, user: str) -> dict[str, str]:
        """`{PUBLISHER_AUTH_<HOST>: user:password}` for publisher's environment."""
        return {auth_env_name(self.host): f"{user}:{self.users[user]}"}


@pytest.fixture(scope="session")
def token_registry_server(tmp_path_factory):
    """The registry and its token service, started once per session (a CA, keys, a process)."""
    _require_binary()
    root = tmp_path_factory.mktemp("token-registry")
    service = TokenService(root, {user: secrets.token_urlsafe(16) for user in GRANTS})
    try:
        server = TokenRegistryServer(root, service).start()
    except BaseException:
        service.stop()
        raise
    yield server
    server.stop()
    service.stop()


@pytest.fixture
def token_registry(token_registry_server):
    """Per test: a fresh proxy in front of the session's registry, service knobs and counters reset.

    Storage is shared by the session: use repository names of your own.
    """
    service = token_registry_server.service
    service.reset()
    proxy = TokenProxy(token_registry_server.host, service)
    yield TokenRegistry(token_registry_server, proxy, service)
    proxy.stop()
    service.reset()
