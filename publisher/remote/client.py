"""The layers stacked for one registry host, and one call: a request in, an answer or a RegistryError out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from publisher.image.reference import api_url
from publisher.remote.auth import Auth
from publisher.remote.credentials import Credentials
from publisher.remote.errors import Refused, RegistryError, Unreachable, codes, errors
from publisher.remote.policy import Policy
from publisher.remote.retry import Retry, retry_after
from publisher.remote.transport import Extent, Request, Transport

PUSH_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Call:
    """One registry call, described: `path` is under /v2/<repo>, or an absolute URL the registry gave."""

    method: str
    path: str
    what: str  # for messages: "manifest latest", "upload of blob sha256:..."
    ok: tuple[int, ...] = (200,)
    push: bool = False  # needs a token with push
    mount_from: str | None = None  # also pull from this repository (a cross-repository mount)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Path | Extent | None = None
    params: dict[str, str] | None = None
    retry: bool = True
    stream: bool = False
    reauth: bool = True  # False: a 401 is the answer, no fresh token asked for


class Client:
    """Transport ← retry ← auth, for one host; `call` adds the repository and turns refusals into errors."""

    def __init__(self, host: str, credentials: Credentials | None = None, timeout: float = 60.0,
                 policy: Policy | None = None):
        self.host, self.credentials, self.url = host, credentials, api_url(host)
        self.policy = policy or Policy()
        self.transport = Transport(self.url, timeout)
        self.auth = Auth(Retry(self.transport, self.policy), host, credentials)

    @property
    def stats(self):
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, repo: str, call: Call) -> httpx.Response:
        url = httpx.URL(f"{self.url}/v2/{repo}{call.path}" if call.path.startswith("/") else call.path)
        if call.params:
            url = url.copy_merge_params(call.params)
        scopes = [f"repository:{repo}:{'pull,push' if call.push else 'pull'}"]
        if call.mount_from:
            scopes.append(f"repository:{call.mount_from}:pull")
        request = Request(call.method, url, tuple(scopes), call.headers, call.body, call.retry, call.stream,
                          reauth=call.reauth)
        try:
            response = self.auth.send(request)
        except Refused as refused:
            method = None if refused.whole else call.method
            status = None if refused.whole else refused.status
            raise RegistryError(self.host, repo, method, call.what, refused.message, status, refused.code) from None
        except Unreachable as unreachable:
            raise RegistryError(self.host, repo, call.method, call.what, unreachable.message) from None
        if response.status_code not in call.ok:
            raise self.error(response, repo, call)
        return response

    def error(self, response: httpx.Response, repo: str, call: Call) -> RegistryError:
        found = errors(response)
        code = next((c for c, _ in found if c), None)
        wait = retry_after(response.headers.get("Retry-After"))
        if response.status_code == 403 and call.method in PUSH_METHODS:
            message = (f"the credentials for {self.host} were accepted but do not allow push; "
                       "grant write access or log in as another user")
            return RegistryError(self.host, repo, None, call.what, message, None, code or "DENIED")
        message = "; ".join(text for _, text in found if text) or response.reason_phrase or "refused"
        if response.status_code in (401, 403) and self.credentials is None:
            message += f" ({self.auth.how_to_log_in()})"
        return RegistryError(self.host, repo, call.method, call.what, message, response.status_code, code, wait)

    @staticmethod
    def codes(response: httpx.Response) -> set[str]:
        return codes(response)

    def location(self, response: httpx.Response, repo: str, what: str) -> str:
        """The next upload URL: always the latest response's Location, which may be relative."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(self.host, repo, response.request.method, what, "answer has no Location",
                                response.status_code)
        return str(response.url.join(location))
