"""The bottom layer: send one request, follow redirects by hand, and nothing else.

Redirects are followed here rather than by httpx so the Authorization header never leaves the
registry's origin (blob storage behind a redirect gets none). A body is bytes, a file or a part
of one (`Extent`), and a file is opened afresh at every send and read in blocks (memory stays flat
whatever its size): any request can be sent again, by the retry or the auth
layer above, without re-sending a consumed stream. Every failure to get an answer, whatever the
HTTP stack raised, becomes `Unreachable`.
"""

from __future__ import annotations

import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from publisher.remote.errors import Unreachable

REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
BLOCK = 1 << 20
# Whatever the HTTP stack may raise when a request gets no answer: httpx wraps most of it, not all.
FAILURES = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, ssl.SSLError, OSError, ValueError)


@dataclass(frozen=True)
class Extent:
    """`length` bytes of a file from `offset`: one chunk of a blob uploaded in parts."""

    path: Path
    offset: int
    length: int


@dataclass(frozen=True)
class Request:
    method: str
    url: httpx.URL
    scopes: tuple[str, ...] = ()  # what a bearer token must grant, e.g. repository:org/img:pull,push
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Path | Extent | None = None  # a file is read at each send, so the request can be sent again
    retry: bool = True  # False: the caller recovers (an upload session is never resumed)
    stream: bool = False  # a 200's body is left unread: the caller reads, then closes it
    follow: bool = True  # follow redirects
    reauth: bool = True  # False: a 401 is the answer (no fresh token, no second try)


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class Transport:
    """One HTTP client for one registry; counts what it sends (threads share it)."""

    def __init__(self, url: str, timeout: float):
        self.origin = origin(httpx.URL(url))
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "publisher"})
        self.stats: Counter = Counter()
        self._lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def close(self) -> None:
        self._client.close()

    def send(self, request: Request, authorization: str | None = None) -> httpx.Response:
        """The final answer after redirects; raises Unreachable when there is none."""
        try:
            return self._follow(request, authorization)
        except FAILURES as exc:
            raise Unreachable(exc) from None

    def _follow(self, request: Request, authorization: str | None) -> httpx.Response:
        method, url, body = request.method, request.url, request.body
        for _ in range(MAX_REDIRECTS + 1):
            headers = dict(request.headers)
            if authorization and origin(url) == self.origin:
                headers["Authorization"] = authorization
            response = self._once(method, url, headers, body, request.stream)
            if not request.follow or response.status_code not in REDIRECTS or "Location" not in response.headers:
                return response
            response.close()
            url = response.url.join(response.headers["Location"])
            if response.status_code == 303:
                method, body = "GET", None
        raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    def _once(self, method: str, url: httpx.URL, headers: dict, body, stream: bool) -> httpx.Response:
        self.count("requests")
        if isinstance(body, Path):
            body = Extent(body, 0, body.stat().st_size)
        if isinstance(body, Extent):
            headers["Content-Length"] = str(body.length)
            body = _blocks(body)
        built = self._client.build_request(method, url, headers=headers, content=body)
        response = self._client.send(built, stream=stream)
        if stream and response.status_code != 200:
            response.read()  # redirects, challenges and refusals are read like any other answer
        return response


def _blocks(extent: Extent):
    """A file's bytes in blocks: the body of one send, without holding the file in memory."""
    with extent.path.open("rb") as file:
        file.seek(extent.offset)
        left = extent.length
        while left and (chunk := file.read(min(BLOCK, left))):
            left -= len(chunk)
            yield chunk
