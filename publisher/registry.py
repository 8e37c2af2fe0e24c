"""A small OCI distribution client that pushes and reads blobs and manifests by digest."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import re
import threading

import httpx

from publisher.credentials import Credentials, env_name
from publisher.errors import PublisherError
from publisher.reference import api_url
from publisher.retry import TRANSIENT, Policy, retry_after

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


class RegistryError(PublisherError):
    """The registry refused a request, or could not be reached."""

    def __init__(self, host: str, repo: str, method: str, what: str, message: str,
                 status: int | None = None, code: str | None = None, retry_after: float | None = None):
        self.host, self.repo, self.status, self.code = host, repo, status, code
        self.retry_after = retry_after  # what the registry asked us to wait, if it did
        message = " ".join(message.split())[:300]
        if status is not None:
            message = f"HTTP {status}{f' {code}' if code else ''}: {message}"
        super().__init__(f"{host}/{repo}: {method} {what}: {message}")


class _Refused(Exception):
    """A refusal found below `_send`, which adds the request's context."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One registry host; every request goes through `_send`."""

    chunk_size = 128 * 1024 * 1024  # larger files go in PATCHes of this size

    def __init__(self, host: str, credentials: Credentials | None = None, timeout: float = 60.0,
                 policy: Policy | None = None):
        self.host = host
        self.policy = policy or Policy()
        self.credentials = credentials
        self.url = api_url(host)
        self._origin = _origin(httpx.URL(self.url))
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "publisher"})
        self._basic = False
        self._bearer: dict[str, str] | None = None
        self._tokens: dict[tuple[str, ...], str] = {}
        self.stats = {"requests": 0, "blob_uploads": 0, "bytes_uploaded": 0, "manifest_puts": 0}
        self._stats_lock = threading.Lock()  # calls come from several threads at once

    def _count(self, key: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats[key] += n

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Blobs

    def blob_exists(self, repo: str, digest: str) -> bool:
        response = self._send("HEAD", repo, f"/blobs/{digest}", f"blob {digest}", ok=(200, 404))
        return response.status_code == 200

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        response = self._send(
            "POST", repo, "/blobs/uploads/", f"mount of blob {digest} from {from_repo}",
            ok=(201, 202), push=True, mount_from=from_repo, params={"mount": digest, "from": from_repo},
        )
        return response.status_code == 201

    def upload_blob(self, repo: str, digest: str, data: bytes | pathlib.Path) -> bool:
        """Upload unless the registry has the blob already; True if bytes were sent.

        A failed session is never resumed through an old Location: the blob is looked up (the
        commit may have landed before the failure) and, if absent, sent again in a new session.
        """
        if self.blob_exists(repo, digest):
            return False
        attempts = self.policy.attempt()
        while True:
            try:
                size = self._upload_session(repo, digest, data)
                break
            except RegistryError as error:
                # Content-addressed: a blob present now is exactly these bytes, whoever committed it
                # (our lost answer, or a publish racing us that the registry let win).
                if self.blob_exists(repo, digest):
                    size = data.stat().st_size if isinstance(data, pathlib.Path) else len(data)
                    break
                if not _session_fault(error) or not attempts.again(error.retry_after):
                    raise
        self._count("blob_uploads", 1)
        self._count("bytes_uploaded", size)
        return True

    def _upload_session(self, repo: str, digest: str, data: bytes | pathlib.Path) -> int:
        what = f"upload of blob {digest}"
        started = self._send("POST", repo, "/blobs/uploads/", what, ok=(202,), push=True, retry=False)
        location = self._location(started, repo, what)
        if isinstance(data, bytes):
            self._put_upload(repo, location, digest, data, what)
            return len(data)
        size = data.stat().st_size
        if size <= self.chunk_size:  # fewer requests in a session: fewer chances to lose it
            self._put_upload(repo, location, digest, _stream(data), what, size)
            return size
        location, size = self._upload_chunks(repo, location, data, what)
        self._put_upload(repo, location, digest, b"", what)
        return size

    def _upload_chunks(self, repo: str, location: str, path: pathlib.Path, what: str) -> tuple[str, int]:
        offset = 0
        with path.open("rb") as file:
            while chunk := file.read(self.chunk_size):
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                }
                response = self._send("PATCH", repo, location, what, ok=(202,), push=True,
                                      headers=headers, content=chunk, retry=False)
                location = self._location(response, repo, what)
                offset += len(chunk)
        return location, offset

    def _put_upload(self, repo: str, location: str, digest: str, body, what: str, size: int | None = None) -> None:
        url = httpx.URL(location).copy_merge_params({"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        self._send("PUT", repo, str(url), what, ok=(201,), push=True, headers=headers, content=body, retry=False)

    def get_blob(self, repo: str, digest: str) -> bytes:
        response = self._send("GET", repo, f"/blobs/{digest}", f"blob {digest}", ok=(200,))
        if sha256_digest(response.content) != digest:
            raise RegistryError(self.host, repo, "GET", f"blob {digest}", "content does not match its digest")
        return response.content

    def download_blob(self, repo: str, digest: str, target: pathlib.Path) -> None:
        """Stream a blob into `target` (atomically), checking its digest; memory stays bounded."""
        what = f"blob {digest}"
        attempts = self.policy.attempt()
        while True:
            partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
            response = self._send("GET", repo, f"/blobs/{digest}", what, ok=(200,), stream=True)
            sha = hashlib.sha256()
            try:
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes(1 << 20):
                        sha.update(chunk)
                        file.write(chunk)
            except httpx.TransportError as exc:
                partial.unlink(missing_ok=True)
                if attempts.again():
                    continue
                raise RegistryError(self.host, repo, "GET", what, _transport_message(exc)) from None
            finally:
                response.close()
            if "sha256:" + sha.hexdigest() != digest:
                partial.unlink(missing_ok=True)
                raise RegistryError(self.host, repo, "GET", what, "content does not match its digest")
            os.replace(partial, target)
            return

    # Manifests

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        digest = sha256_digest(body)
        what = f"manifest {ref}"
        try:
            response = self._send("PUT", repo, f"/manifests/{ref}", what, ok=(201,), push=True,
                                  headers={"Content-Type": media_type}, content=body)
        except RegistryError:
            if ref == digest and self._head_manifest(repo, digest) == digest:
                return digest  # by digest: already there is exactly this body, whoever put it
            raise
        reported = response.headers.get("Docker-Content-Digest")
        if reported and reported != digest:
            raise RegistryError(self.host, repo, "PUT", what,
                                f"registry stored {reported}, the body's digest is {digest}")
        self._count("manifest_puts", 1)
        return digest

    def get_manifest(self, repo: str, ref: str) -> tuple[str, bytes, str] | None:
        """(media type, body, digest), or None if the registry has no such manifest."""
        what = f"manifest {ref}"
        response = self._send("GET", repo, f"/manifests/{ref}", what, ok=(200, 404), headers={"Accept": ACCEPT})
        if response.status_code == 404:
            if self._codes(response) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}:
                return None
            raise self._error(response, repo, "GET", what)
        body, digest = response.content, sha256_digest(response.content)
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(self.host, repo, "GET", what, f"body's digest is {digest}")
        media_type = response.headers.get("Content-Type", "").partition(";")[0].strip()
        return media_type or _body_media_type(body), body, digest

    def head_manifest(self, repo: str, ref: str, expect: str | None = None) -> str | None:
        """The manifest's digest, or None if the registry has no such manifest.

        With `expect`, "unknown" is asked again within the retry budget: right after a push,
        registries may answer from a replica that has not seen it yet. Another digest is an
        answer, not lag: someone else wrote the tag.
        """
        attempts = self.policy.attempt()
        while True:
            found = self._head_manifest(repo, ref)
            if expect is None or found is not None or not attempts.again():
                return found

    def _head_manifest(self, repo: str, ref: str) -> str | None:
        response = self._send("HEAD", repo, f"/manifests/{ref}", f"manifest {ref}", ok=(200, 404),
                              headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        found = self.get_manifest(repo, ref)
        return found[2] if found else None

    def list_tags(self, repo: str) -> list[str]:
        tags: list[str] = []
        url = "/tags/list"
        while url:
            response = self._send("GET", repo, url, "tags", ok=(200, 404))
            if response.status_code == 404:
                if "NAME_UNKNOWN" in self._codes(response):
                    return []
                raise self._error(response, repo, "GET", "tags")
            try:
                tags += response.json().get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(self.host, repo, "GET", "tags", "answer is not a JSON tag list") from None
            url = _next_link(response)
        return tags

    # Requests

    def _send(self, method: str, repo: str, path: str, what: str, *, ok: tuple[int, ...],
              push: bool = False, mount_from: str | None = None, headers: dict[str, str] | None = None,
              content: bytes | None = None, params: dict[str, str] | None = None,
              retry: bool = True, stream: bool = False) -> httpx.Response:
        """One registry call: auth, redirects, retries of transient faults, refusals as RegistryError.

        `path` is under /v2/<repo>, or an absolute URL the registry gave (an upload's Location).
        `stream`: a 200's body is left unread; the caller reads it, then closes the response.
        """
        url = httpx.URL(f"{self.url}/v2/{repo}{path}" if path.startswith("/") else path)
        if params:
            url = url.copy_merge_params(params)
        scopes = [f"repository:{repo}:{'pull,push' if push else 'pull'}"]
        if mount_from:
            scopes.append(f"repository:{mount_from}:pull")
        attempts = self.policy.attempt()
        while True:
            try:
                response = self._exchange(method, url, tuple(scopes), headers or {}, content, stream)
            except _Refused as refused:
                raise RegistryError(self.host, repo, method, what, refused.message, refused.status, refused.code) from None
            except httpx.TransportError as exc:
                if retry and attempts.again():
                    continue
                raise RegistryError(self.host, repo, method, what, _transport_message(exc)) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise RegistryError(self.host, repo, method, what, _transport_message(exc)) from None
            wait = retry_after(response.headers.get("Retry-After"))
            if retry and response.status_code in TRANSIENT and attempts.again(wait):
                continue
            if response.status_code not in ok:
                raise self._error(response, repo, method, what)
            return response

    def _exchange(self, method: str, url: httpx.URL, scopes: tuple[str, ...], headers: dict[str, str],
                  content: bytes | None, stream: bool = False) -> httpx.Response:
        response = self._follow(method, url, headers, content, self._known_auth(scopes), stream)
        if response.status_code != 401 or _origin(response.url) != self._origin:
            return response
        return self._follow(method, url, headers, content, self._answer(response, scopes), stream)

    def _follow(self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None,
                auth: str | None, stream: bool = False) -> httpx.Response:
        """Follow redirects by hand so Authorization never leaves the registry's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            if auth and _origin(url) == self._origin:
                sent["Authorization"] = auth
            response = self._request(method, url, headers=sent, content=content, stream=stream)
            if response.status_code not in REDIRECTS or "Location" not in response.headers:
                return response
            url = response.url.join(response.headers["Location"])
            if response.status_code == 303:
                method, content = "GET", None
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def _request(self, method: str, url: httpx.URL | str, stream: bool = False, **kwargs) -> httpx.Response:
        self._count("requests", 1)
        if not stream:
            return self._client.request(method, url, **kwargs)
        response = self._client.send(self._client.build_request(method, url, **kwargs), stream=True)
        if response.status_code != 200:
            response.read()  # redirects, challenges and refusals are read like any other answer
        return response

    # Auth

    def _known_auth(self, scopes: tuple[str, ...]) -> str | None:
        if self._basic:
            return self._basic_header()
        if self._bearer is None:
            return None
        if scopes not in self._tokens:
            self._tokens[scopes] = self._fetch_token(self._bearer, scopes)
        return f"Bearer {self._tokens[scopes]}"

    def _answer(self, response: httpx.Response, scopes: tuple[str, ...]) -> str:
        scheme, params = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self.credentials is None:
                raise _Refused(f"this registry needs credentials: {self._how_to_log_in()}", 401, "UNAUTHORIZED")
            self._basic = True
            return self._basic_header()
        if scheme == "bearer" and params.get("realm"):
            self._bearer = params
            self._tokens[scopes] = self._fetch_token(params, scopes)
            return f"Bearer {self._tokens[scopes]}"
        raise _Refused(f"unsupported authentication challenge '{scheme or 'none'}'", 401, "UNAUTHORIZED")

    def _fetch_token(self, challenge: dict[str, str], scopes: tuple[str, ...]) -> str:
        params = [("service", challenge["service"])] if challenge.get("service") else []
        params += [("scope", scope) for scope in scopes]
        headers = {"Authorization": self._basic_header()} if self.credentials else {}
        response = self._request("GET", challenge["realm"], params=params, headers=headers)
        if response.status_code != 200:
            codes = sorted(self._codes(response))
            hint = "" if self.credentials else f" ({self._how_to_log_in()})"
            raise _Refused(f"token service refused {' '.join(scopes)}{hint}", response.status_code,
                           codes[0] if codes else None)
        try:
            answer = response.json()
            return answer.get("token") or answer["access_token"]
        except (ValueError, KeyError, AttributeError):
            raise _Refused("token service answered without a token", response.status_code) from None

    def _basic_header(self) -> str:
        assert self.credentials is not None
        pair = f"{self.credentials.username}:{self.credentials.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def _how_to_log_in(self) -> str:
        return f"set {env_name(self.host)}=username:secret or run 'docker login {self.host}'"

    # Responses

    def _location(self, response: httpx.Response, repo: str, what: str) -> str:
        """The next upload URL: always the latest response's Location, which may be relative."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(self.host, repo, response.request.method, what, "answer has no Location",
                                response.status_code)
        return str(response.url.join(location))

    @staticmethod
    def _codes(response: httpx.Response) -> set[str]:
        return {code for code, _ in _errors(response) if code}

    def _error(self, response: httpx.Response, repo: str, method: str, what: str) -> RegistryError:
        errors = _errors(response)
        code = (errors[0][0] if errors else None) or None
        message = "; ".join(text for _, text in errors if text) or response.reason_phrase or "refused"
        if response.status_code in (401, 403) and self.credentials is None:
            message += f" ({self._how_to_log_in()})"
        wait = retry_after(response.headers.get("Retry-After"))
        return RegistryError(self.host, repo, method, what, message, response.status_code, code, wait)


# Faults of an upload session after which the blob is looked up and sent again in a new session.
SESSION_CODES = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})


def _session_fault(error: RegistryError) -> bool:
    return error.status is None or error.status in TRANSIENT or error.code in SESSION_CODES


def _stream(path: pathlib.Path, block: int = 1 << 20):
    """A file's bytes in blocks: the upload body without holding the file in memory."""
    with path.open("rb") as file:
        while chunk := file.read(block):
            yield chunk


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _errors(response: httpx.Response) -> list[tuple[str, str]]:
    """The registry's `{"errors": [{"code", "message", "detail"}]}` as (code, text) pairs."""
    try:
        errors = [e for e in response.json().get("errors") or [] if isinstance(e, dict)]
    except (ValueError, AttributeError, TypeError):
        return []
    return [(str(e.get("code") or ""), _error_text(e)) for e in errors]


def _error_text(error: dict) -> str:
    message, detail = str(error.get("message") or ""), error.get("detail")
    return f"{message}: {detail}" if isinstance(detail, str) and detail else message


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next", {}).get("url")
    return str(response.url.join(link)) if link else None


def _body_media_type(body: bytes) -> str:
    try:
        return json.loads(body).get("mediaType") or ""
    except (ValueError, AttributeError):
        return ""


def _transport_message(exc: Exception) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"cannot talk to the registry: {detail}"
