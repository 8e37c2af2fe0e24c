"""The registry client against real loopback registries, and credentials lookup."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from publisher.image.reference import Name
from publisher.remote.credentials import Credentials, env_name, lookup
from publisher.errors import PublisherError
from publisher.remote.retry import Policy
from publisher.image.oci import DOCKER_MANIFEST
from publisher.image.oci import INDEX as OCI_INDEX
from publisher.image.oci import MANIFEST as OCI_MANIFEST
from publisher.image.oci import digest as sha256_digest
from publisher.remote.errors import RegistryError
from publisher.remote.registry import Registry

CANARY = "canary-" + secrets.token_hex(8)


def new_repo() -> str:
    return f"test/{secrets.token_hex(4)}"


@pytest.fixture
def client(registry):
    with Registry(registry.host) as reg:
        yield reg


def descriptor(media_type: str, body: bytes) -> dict:
    return {"mediaType": media_type, "digest": sha256_digest(body), "size": len(body)}


def image(reg: Registry, repo: str) -> bytes:
    """Upload a config and a layer; return the OCI image manifest body that names them."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    layer = secrets.token_bytes(64)
    reg.upload_blob(repo, sha256_digest(config), config)
    reg.upload_blob(repo, sha256_digest(layer), layer)
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
    }).encode()


def index_of(*manifests: bytes) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            descriptor(OCI_MANIFEST, body) | {"platform": {"architecture": "amd64", "os": "linux"}}
            for body in manifests
        ],
    }).encode()


# Blobs


def test_monolithic_upload_round_trips(client):
    repo, data = new_repo(), secrets.token_bytes(1000)
    digest = sha256_digest(data)

    assert client.upload_blob(repo, digest, data) is True
    assert client.blob_exists(repo, digest)
    assert client.get_blob(repo, digest) == data
    assert client.stats["blob_uploads"] == 1 and client.stats["bytes_uploaded"] == 1000


def test_chunked_upload_from_a_file_round_trips(client, tmp_path):
    repo, data = new_repo(), secrets.token_bytes(2500)
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    client.chunk_size = 1024

    assert client.upload_blob(repo, sha256_digest(data), path) is True
    # HEAD, POST, three PATCHes, each to the previous answer's Location, then the closing PUT
    assert client.stats["requests"] == 6
    assert client.get_blob(repo, sha256_digest(data)) == data


def test_an_empty_file_uploads(client, tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert client.upload_blob(new_repo(), sha256_digest(b""), path) is True


def test_a_blob_already_present_is_not_sent_again(client):
    repo, data = new_repo(), b"same bytes"
    digest = sha256_digest(data)

    assert client.upload_blob(repo, digest, data) is True
    assert client.upload_blob(repo, digest, data) is False
    assert client.stats["blob_uploads"] == 1
    assert client.stats["bytes_uploaded"] == len(data)


def test_one_blob_sent_by_many_threads_at_once_is_sent_once(client):
    """As a publish's bundles send the `{}` config they share: one upload, and every manifest naming it lands
    (distribution rewrites a blob's link on each commit; a manifest put meanwhile read it as invalid)."""
    repo, empty = new_repo(), b"{}"
    layers = [secrets.token_bytes(32) for _ in range(24)]
    for layer in layers:
        client.upload_blob(repo, sha256_digest(layer), layer)
    before = client.stats["blob_uploads"]

    def put(layer: bytes) -> str:
        client.upload_blob(repo, sha256_digest(empty), empty, ask_first=False)
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": descriptor("application/vnd.oci.empty.v1+json", empty),
                           "layers": [descriptor("application/octet-stream", layer)]}).encode()
        return client.put_manifest(Name(client.host, repo).digest(sha256_digest(body)), body, OCI_MANIFEST)

    with ThreadPoolExecutor(len(layers)) as pool:
        put_all = list(pool.map(put, layers))
    assert client.stats["blob_uploads"] - before == 1
    assert all(client.head_manifest(Name(client.host, repo).digest(d)) == d for d in put_all)


def test_a_wrong_digest_is_refused(client):
    with pytest.raises(RegistryError) as caught:
        client.upload_blob(new_repo(), sha256_digest(b"other"), b"data")
    assert caught.value.code == "DIGEST_INVALID"


def test_cross_repository_mount(client):
    source, target, data = new_repo(), new_repo(), secrets.token_bytes(100)
    digest = sha256_digest(data)
    client.upload_blob(source, digest, data)

    assert not client.blob_exists(target, digest)
    assert client.mount_blob(target, digest, source) is True
    assert client.get_blob(target, digest) == data
    assert client.mount_blob(new_repo(), sha256_digest(b"nowhere"), source) is False


# Manifests


def test_image_manifest_put_get_head(client):
    repo = new_repo()
    body = image(client, repo)

    digest = client.put_manifest(Name(client.host, repo).tag("1.0.0"), body, OCI_MANIFEST)

    assert digest == sha256_digest(body)
    assert client.get_manifest(Name(client.host, repo).tag("1.0.0")) == (OCI_MANIFEST, body, digest)
    assert client.get_manifest(Name(client.host, repo).digest(digest)) == (OCI_MANIFEST, body, digest)
    assert client.head_manifest(Name(client.host, repo).tag("1.0.0")) == digest
    assert client.put_manifest(Name(client.host, repo).tag("1.0.0"), body, OCI_MANIFEST) == digest  # identical re-PUT: idempotent
    assert client.stats["manifest_puts"] == 2


def test_index_pushed_by_digest_then_tagged(client):
    repo = new_repo()
    child = image(client, repo)
    client.put_manifest(Name(client.host, repo).digest(sha256_digest(child)), child, OCI_MANIFEST)
    index = index_of(child)

    digest = client.put_manifest(Name(client.host, repo).digest(sha256_digest(index)), index, OCI_INDEX)
    assert client.list_tags(repo) == []
    client.put_manifest(Name(client.host, repo).tag("latest"), index, OCI_INDEX)

    assert client.head_manifest(Name(client.host, repo).tag("latest")) == digest
    assert client.get_manifest(Name(client.host, repo).tag("latest")) == (OCI_INDEX, index, digest)
    assert client.list_tags(repo) == ["latest"]


def test_content_type_must_match_the_media_type(client):
    repo = new_repo()
    body = image(client, repo)

    with pytest.raises(RegistryError) as caught:
        client.put_manifest(Name(client.host, repo).tag("x"), body, DOCKER_MANIFEST)

    error = caught.value
    assert (error.status, error.code) == (400, "MANIFEST_INVALID")
    assert str(error).startswith(f"{client.host}/{repo}: PUT manifest x: HTTP 400 MANIFEST_INVALID: ")
    assert "\n" not in str(error) and error.exit_code == 2


def test_index_with_a_missing_child_is_refused(client):
    repo = new_repo()
    child = image(client, repo)  # blobs there, but the manifest itself never pushed

    with pytest.raises(RegistryError) as caught:
        client.put_manifest(Name(client.host, repo).tag("latest"), index_of(child), OCI_INDEX)
    assert caught.value.code == "MANIFEST_BLOB_UNKNOWN"


def test_absent_manifests_and_repositories(client):
    repo = new_repo()
    client.put_manifest(Name(client.host, repo).tag("present"), image(client, repo), OCI_MANIFEST)

    assert client.head_manifest(Name(client.host, repo).tag("absent")) is None
    assert client.get_manifest(Name(client.host, repo).tag("absent")) is None
    assert client.head_manifest(Name(client.host, new_repo()).tag("latest")) is None
    assert client.get_manifest(Name(client.host, new_repo()).tag("latest")) is None
    assert client.list_tags(new_repo()) == []


def test_list_tags(client):
    repo = new_repo()
    body = image(client, repo)
    for tag in ("1.0.0", "1.0", "latest"):
        client.put_manifest(Name(client.host, repo).tag(tag), body, OCI_MANIFEST)
    assert sorted(client.list_tags(repo)) == ["1.0", "1.0.0", "latest"]


def test_an_unreachable_registry_is_a_one_line_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Registry(f"127.0.0.1:{port}", Credentials("me", CANARY), timeout=2, policy=Policy(attempts=3, delay=0.001)) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.blob_exists("a/b", sha256_digest(b""))
    assert reg.stats["requests"] == 3  # a refused connection is tried again, within the bound
    error = caught.value
    assert error.status is None and error.code is None
    assert "cannot talk to the registry" in str(error)
    assert CANARY not in str(error) and "\n" not in str(error)


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("127.8.9.10", "http://127.8.9.10"),
    ("localhost:5000", "http://localhost:5000"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("ghcr.io", "https://ghcr.io"),
    ("registry.example:5000", "https://registry.example:5000"),
    ("docker.io", "https://registry-1.docker.io"),
])
def test_scheme_and_api_host(host, url):
    with Registry(host) as reg:
        assert reg.url == url


# Basic auth (the real registry, htpasswd)


def test_basic_auth_with_credentials(auth_registry):
    creds = Credentials(auth_registry.username, auth_registry.password)
    repo, data = new_repo(), b"private"
    with Registry(auth_registry.host, creds) as reg:
        assert reg.upload_blob(repo, sha256_digest(data), data)
        assert reg.get_blob(repo, sha256_digest(data)) == data
        requests = reg.stats["requests"]
        reg.blob_exists(repo, sha256_digest(data))
        assert reg.stats["requests"] == requests + 1  # basic auth is sent up front once known


def test_basic_auth_without_credentials_says_how_to_give_them(auth_registry):
    with Registry(auth_registry.host) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.head_manifest(Name(reg.host, "a/b").tag("latest"))
    error = caught.value
    assert (error.status, error.code) == (401, "UNAUTHORIZED")
    assert env_name(auth_registry.host) in str(error) and "docker login" in str(error)


def test_wrong_password_is_refused_without_showing_it(auth_registry):
    with Registry(auth_registry.host, Credentials(auth_registry.username, CANARY)) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.list_tags("a/b")
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED")
    assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)


# Bearer tokens and redirects (an in-test registry front, token service and blob storage)


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.seen: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.peer: Recorder | None = None
        self.accept_tokens = True

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder
    BLOB = b"blob in storage"
    TOKEN = "token-" + secrets.token_hex(4)

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        url = urlsplit(self.path)
        if url.path == "/token":
            return self._answer(200, json.dumps({"token": self.TOKEN}).encode())
        if url.path.startswith("/storage/"):
            return self._answer(200, self.BLOB)
        if self.headers.get("Authorization") != f"Bearer {self.TOKEN}" or not self.server.accept_tokens:
            challenge = f'Bearer realm="{self.server.peer.origin}/token",service="fake",scope="repository:r:pull"'
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            return self._answer(401, body.encode(), WWW_Authenticate=challenge)
        if self.command == "POST":
            return self._answer(201, Location="/v2/r/blobs/x")
        return self._answer(307, Location=f"{self.server.peer.origin}/storage/blob?signature=abc")

    do_GET = do_HEAD = do_POST = _route


@pytest.fixture
def fake():
    """A registry front on 127.0.0.1; its token service and blob storage on 127.0.0.2."""
    front = Recorder(("127.0.0.1", 0), Handler)
    other = Recorder(("127.0.0.2", 0), Handler)
    front.peer = other
    for server in (front, other):
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield front, other
    for server in (front, other):
        server.shutdown()
        server.server_close()


def scopes_of(path: str) -> list[str]:
    return parse_qs(urlsplit(path).query)["scope"]


def test_bearer_token_and_redirect_keep_authorization_home(fake):
    front, other = fake
    creds = Credentials("me", CANARY)
    with Registry(f"127.0.0.1:{front.server_address[1]}", creds) as reg:
        digest = sha256_digest(Handler.BLOB)
        assert reg.get_blob("r", digest) == Handler.BLOB
        assert reg.get_blob("r", digest) == Handler.BLOB

    basic = "Basic " + base64.b64encode(f"me:{CANARY}".encode()).decode()
    token_requests = [seen for seen in other.seen if seen[1].startswith("/token")]
    assert [auth for _, _, auth in token_requests] == [basic]  # one token, cached for the second GET
    assert scopes_of(token_requests[0][1]) == ["repository:r:pull"]
    assert "service=fake" in token_requests[0][1]
    storage = [seen for seen in other.seen if seen[1].startswith("/storage/")]
    assert len(storage) == 2 and all(auth is None for _, _, auth in storage)
    bearer = f"Bearer {Handler.TOKEN}"
    assert [auth for _, _, auth in front.seen] == [None, bearer, bearer]


def test_a_streamed_download_follows_the_redirect_without_authorization(fake, tmp_path):
    front, other = fake
    with Registry(f"127.0.0.1:{front.server_address[1]}", Credentials("me", CANARY)) as reg:
        reg.download_blob("r", sha256_digest(Handler.BLOB), tmp_path / "blob")
        with pytest.raises(RegistryError, match="does not match its digest"):
            reg.download_blob("r", sha256_digest(b"other bytes"), tmp_path / "other")
    assert (tmp_path / "blob").read_bytes() == Handler.BLOB
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob"]  # no partial file left behind
    storage = [seen for seen in other.seen if seen[1].startswith("/storage/")]
    assert len(storage) == 2 and all(auth is None for _, _, auth in storage)


def test_anonymous_token_and_mount_scopes(fake):
    front, other = fake
    with Registry(f"127.0.0.1:{front.server_address[1]}") as reg:
        assert reg.mount_blob("r", sha256_digest(b"x"), "library/base") is True

    (token_request,) = [seen for seen in other.seen if seen[1].startswith("/token")]
    assert token_request[2] is None
    assert scopes_of(token_request[1]) == ["repository:r:pull,push", "repository:library/base:pull"]


def test_a_refused_token_is_asked_for_once_then_unauthorized(fake):
    front, other = fake
    front.accept_tokens = False
    with Registry(f"127.0.0.1:{front.server_address[1]}", Credentials("me", CANARY)) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.get_blob("r", sha256_digest(Handler.BLOB))
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED")
    assert len(front.seen) == 2 and len(other.seen) == 1
    assert CANARY not in str(caught.value)


# Credentials


def test_credentials_never_show_the_secret():
    creds = Credentials("me", CANARY)
    assert CANARY not in str(creds) and CANARY not in repr(creds) and CANARY not in f"{creds}"
    assert repr(creds) == "Credentials(username='me', secret=***)"


@pytest.mark.parametrize(("host", "name"), [
    ("ghcr.io", "PUBLISHER_AUTH_GHCR_IO"),
    ("127.0.0.1:5000", "PUBLISHER_AUTH_127_0_0_1_5000"),
    ("docker.io", "PUBLISHER_AUTH_DOCKER_IO"),
    ("my-registry.example:443", "PUBLISHER_AUTH_MY_REGISTRY_EXAMPLE_443"),
])
def test_env_name(host, name):
    assert env_name(host) == name


def test_lookup_from_the_environment_first(tmp_path):
    write_config(tmp_path, {"auths": {"ghcr.io": {"auth": b64("config:user")}}})
    env = {"PUBLISHER_AUTH_GHCR_IO": f"me:{CANARY}:x", "DOCKER_CONFIG": str(tmp_path)}
    assert lookup("ghcr.io", env) == Credentials("me", f"{CANARY}:x")


def test_a_malformed_environment_value_is_not_echoed(tmp_path):
    with pytest.raises(PublisherError) as caught:
        lookup("ghcr.io", {"PUBLISHER_AUTH_GHCR_IO": CANARY, "DOCKER_CONFIG": str(tmp_path)})
    assert "PUBLISHER_AUTH_GHCR_IO" in str(caught.value) and CANARY not in str(caught.value)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory, config) -> None:
    (directory / "config.json").write_text(json.dumps(config))


def test_lookup_from_docker_config_auths(tmp_path):
    write_config(tmp_path, {"auths": {
        "ghcr.io": {"auth": b64(f"me:{CANARY}")},
        "https://index.docker.io/v1/": {"auth": b64("hubber:hubsecret")},
        "127.0.0.1:5000": {"username": "plain", "password": "text"},
    }})
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert lookup("ghcr.io", env) == Credentials("me", CANARY)
    assert lookup("docker.io", env) == Credentials("hubber", "hubsecret")
    assert lookup("127.0.0.1:5000", env) == Credentials("plain", "text")
    assert lookup("quay.io", env) is None


def test_lookup_finds_the_default_config_under_home(tmp_path):
    (tmp_path / ".docker").mkdir()
    write_config(tmp_path / ".docker", {"auths": {"ghcr.io": {"auth": b64("me:pw")}}})
    assert lookup("ghcr.io", {"HOME": str(tmp_path)}) == Credentials("me", "pw")
    assert lookup("ghcr.io", {"HOME": str(tmp_path / "nowhere")}) is None


def test_a_malformed_config_names_the_file_only(tmp_path):
    (tmp_path / "config.json").write_text('{"auths": {"ghcr.io": {"auth": "%s"' % CANARY)
    with pytest.raises(PublisherError) as caught:
        lookup("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})
    text = str(caught.value)
    assert str(tmp_path / "config.json") in text and CANARY not in text and "\n" not in text


@pytest.fixture
def helper_env(tmp_path):
    """A `docker-credential-fake` on PATH that knows ghcr.io only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(f"""#!/bin/sh
[ "$1" = get ] || exit 2
read server
case "$server" in
  ghcr.io) echo '{{"ServerURL": "ghcr.io", "Username": "helped", "Secret": "{CANARY}"}}' ;;
  *) echo "credentials not found in native keychain {CANARY}"; exit 1 ;;
esac
""")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    return config_dir, {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                        "DOCKER_CONFIG": str(config_dir)}


def test_lookup_from_a_credential_helper(helper_env):
    config_dir, env = helper_env
    write_config(config_dir, {"credHelpers": {"ghcr.io": "fake"}, "auths": {"ghcr.io": {}}})
    assert lookup("ghcr.io", env) == Credentials("helped", CANARY)


def test_lookup_from_a_credentials_store(helper_env):
    config_dir, env = helper_env
    write_config(config_dir, {"credsStore": "fake", "auths": {"quay.io": {"auth": b64("q:pw")}}})
    assert lookup("ghcr.io", env) == Credentials("helped", CANARY)
    assert lookup("quay.io", env) == Credentials("q", "pw")  # the store knows nothing; auths does
    assert lookup("docker.io", env) is None


def test_a_missing_helper_gives_no_credentials(helper_env):
    config_dir, env = helper_env
    write_config(config_dir, {"credHelpers": {"ghcr.io": "absent"}})
    assert lookup("ghcr.io", env) is None
