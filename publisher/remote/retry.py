"""When to try a registry call again, and how long to wait: capped exponential backoff with jitter."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx

from publisher.remote.errors import Unreachable
from publisher.remote.policy import RECOVERED, Policy
from publisher.remote.transport import Request, Transport

# Worth another try: the registry or the path to it is overloaded or flaky, not refusing us.
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class Retry:
    """Sends again what failed for a passing reason: no answer, or a transient status.

    Requests marked `retry=False` go through once: their caller knows better (an upload session).
    """

    def __init__(self, inner: Transport, policy: Policy):
        self.inner, self.policy = inner, policy
        self.origin = inner.origin

    def send(self, request: Request, authorization: str | None = None) -> httpx.Response:
        attempts = self.policy.attempt()
        while True:
            try:
                response = self.inner.send(request, authorization)
            except Unreachable:
                if request.retry and attempts.again():
                    continue
                raise
            wait = retry_after(response.headers.get("Retry-After"))
            if request.retry and response.status_code in TRANSIENT and attempts.again(wait):
                response.close()
                continue
            if attempts.tries and response.status_code not in TRANSIENT:
                self.inner.count(RECOVERED)
            return response
