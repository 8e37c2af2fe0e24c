"""How a registry says no, read once: its error body, and our one-line error carrying the request's context."""

from __future__ import annotations

import httpx

from publisher.errors import PublisherError


class RegistryError(PublisherError):
    """The registry refused a request, or could not be reached."""

    def __init__(self, host: str, repo: str, method: str, what: str, message: str,
                 status: int | None = None, code: str | None = None, retry_after: float | None = None):
        self.host, self.repo, self.status, self.code = host, repo, status, code
        self.retry_after = retry_after  # what the registry asked us to wait, if it did
        message = " ".join(message.split())[:300]
        self.reason = message  # the registry's own words, without our context
        if status is not None:
            message = f"HTTP {status}{f' {code}' if code else ''}: {message}"
        where = f"{method} {what}: " if method else ""
        super().__init__(f"{host}/{repo}: {where}{message}")


class Refused(Exception):
    """A refusal found below the API layer, which adds the request's context."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None, whole: bool = False):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code
        self.whole = whole  # the message says it all: no method, no HTTP status in front of it


class Unreachable(Exception):
    """The request did not get an answer: connection refused or reset, timeout, TLS, protocol."""

    def __init__(self, exc: BaseException):
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        super().__init__(f"cannot talk to the registry: {detail}")
        self.message = str(self)


def errors(response: httpx.Response) -> list[tuple[str, str]]:
    """The registry's `{"errors": [{"code", "message", "detail"}]}` as (code, text) pairs.

    Token services answer in other shapes too (`{"details": ...}`, Docker Hub's); those become one
    pair without a code.
    """
    try:
        document = response.json()
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(document, dict):
        return []
    found = [e for e in document.get("errors") or [] if isinstance(e, dict)]
    pairs = [(str(e.get("code") or ""), _text(e)) for e in found]
    for key in ("details", "detail", "message", "error_description"):
        if not pairs and isinstance(document.get(key), str) and document[key]:
            pairs = [("", document[key])]
    return pairs


def codes(response: httpx.Response) -> set[str]:
    return {code for code, _ in errors(response) if code}


def _text(error: dict) -> str:
    message, detail = str(error.get("message") or ""), error.get("detail")
    return f"{message}: {detail}" if isinstance(detail, str) and detail else message
