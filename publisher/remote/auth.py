"""The auth layer: answers a registry's challenge (basic, or bearer tokens per set of scopes).

A token is fetched once per set of scopes and shared by every thread; a 401 to a request that
carried a token (it expired: Docker Hub's live 300 s) gets a fresh one and one more try.
`insufficient_scope` means the credentials were fine and the permission is missing: said so.
"""

from __future__ import annotations

import base64
import re
import threading
from collections import defaultdict

import httpx

from publisher.remote.credentials import Credentials, env_name
from publisher.remote.errors import Refused, Unreachable, errors
from publisher.remote.retry import Retry
from publisher.remote.transport import Request, origin

CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


class Auth:
    def __init__(self, inner: Retry, host: str, credentials: Credentials | None):
        self.inner, self.host, self.credentials = inner, host, credentials
        self._basic = False
        self._bearer: dict[str, str] | None = None  # the challenge's realm, service
        self._tokens: dict[tuple[str, ...], str] = {}
        self._locks: defaultdict[tuple[str, ...], threading.Lock] = defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def send(self, request: Request) -> httpx.Response:
        sent = self._known(request.scopes)
        response = self.inner.send(request, sent)
        if response.status_code != 401 or origin(response.url) != self.inner.origin or not request.reauth:
            return response
        response.close()
        response = self.inner.send(request, self._answer(response, request.scopes, sent))
        if response.status_code == 401 and _challenge(response)[1].get("error") == "insufficient_scope":
            raise Refused(self._not_allowed(request.scopes), 401, "UNAUTHORIZED", whole=True)
        return response

    def how_to_log_in(self) -> str:
        return f"set {env_name(self.host)}=username:secret or run 'docker login {self.host}'"

    def _known(self, scopes: tuple[str, ...]) -> str | None:
        if self._basic:
            return self._basic_header()
        if self._bearer is None:
            return None
        return f"Bearer {self._token(scopes, None)}"

    def _answer(self, response: httpx.Response, scopes: tuple[str, ...], sent: str | None) -> str:
        scheme, params = _challenge(response)
        if scheme == "basic":
            if self.credentials is None:
                raise Refused(f"this registry needs credentials: {self.how_to_log_in()}", 401, "UNAUTHORIZED")
            self._basic = True
            return self._basic_header()
        if scheme == "bearer" and params.get("realm"):
            self._bearer = params
            stale = sent.removeprefix("Bearer ") if sent and sent.startswith("Bearer ") else None
            return f"Bearer {self._token(scopes, stale)}"
        raise Refused(f"unsupported authentication challenge '{scheme or 'none'}'", 401, "UNAUTHORIZED")

    def _token(self, scopes: tuple[str, ...], stale: str | None) -> str:
        """The token for `scopes`; a new one only if none is known or the known one is `stale`."""
        with self._lock:
            lock = self._locks[scopes]
        with lock:  # threads asking at once wait for one fetch
            known = self._tokens.get(scopes)
            if known is None or known == stale:
                self._tokens[scopes] = known = self._fetch(scopes)
            return known

    def _fetch(self, scopes: tuple[str, ...]) -> str:
        challenge = self._bearer or {}
        url = httpx.URL(challenge["realm"])
        params = [("service", challenge["service"])] if challenge.get("service") else []
        headers = {"Authorization": self._basic_header()} if self.credentials else {}
        request = Request("GET", url.copy_merge_params(params + [("scope", s) for s in scopes]), headers=headers, follow=False)
        try:
            response = self.inner.send(request)
        except Unreachable as unreachable:
            raise Refused(f"token service {url.host}: {unreachable.message}") from None
        if response.status_code != 200:
            raise self._token_refused(response, scopes)
        try:
            answer = response.json()
            return answer.get("token") or answer["access_token"]
        except (ValueError, KeyError, AttributeError, TypeError):
            raise Refused("token service answered without a token", response.status_code) from None

    def _token_refused(self, response: httpx.Response, scopes: tuple[str, ...]) -> Refused:
        found = errors(response)
        reason = "; ".join(text for _, text in found if text) or response.reason_phrase or "refused"
        hint = f" ({self.how_to_log_in()})" if self.credentials is None else ""
        code = next((c for c, _ in found if c), None) or ("UNAUTHORIZED" if response.status_code == 401 else None)
        return Refused(f"token service refused {' '.join(scopes)}: {reason}{hint}", response.status_code, code)

    def _not_allowed(self, scopes: tuple[str, ...]) -> str:
        action = "push" if any(s.endswith(",push") or s.endswith(":push") for s in scopes) else "pull"
        if self.credentials is None:
            return f"anonymous access to {self.host} does not allow {action}; {self.how_to_log_in()}"
        return (f"the credentials for {self.host} were accepted but do not allow {action}; "
                f"grant {'write' if action == 'push' else 'read'} access or log in as another user")

    def _basic_header(self) -> str:
        assert self.credentials is not None
        pair = f"{self.credentials.username}:{self.credentials.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def _challenge(response: httpx.Response) -> tuple[str, dict[str, str]]:
    scheme, _, rest = response.headers.get("WWW-Authenticate", "").strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params
