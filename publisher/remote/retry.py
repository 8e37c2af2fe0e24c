"""When to try a registry call again, and how long to wait: capped exponential backoff with jitter."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

from publisher.remote.errors import Unreachable
from publisher.remote.transport import Request, Transport

# Worth another try: the registry or the path to it is overloaded or flaky, not refusing us.
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})
RECOVERED = "registry calls that succeeded on a retry"  # a Transport.stats key


@dataclass
class Policy:
    attempts: int = 6  # tries of one call, the first included
    total: float = 300.0  # seconds one call may spend in all, waits included
    delay: float = 0.5  # the first wait; doubles each time, up to cap, with full jitter
    cap: float = 30.0
    sleep: object = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def attempt(self):
        return Attempts(self)


class Attempts:
    """One call's retry budget."""

    def __init__(self, policy: Policy):
        self.policy, self.tries, self.started = policy, 0, time.monotonic()

    def again(self, retry_after: float | None = None) -> bool:
        """Wait before the next try and say True; or say False when the budget is spent."""
        self.tries += 1
        p = self.policy
        wait = retry_after if retry_after is not None else p.rng.uniform(0, min(p.cap, p.delay * 2 ** (self.tries - 1)))
        spent = time.monotonic() - self.started
        if self.tries >= p.attempts or spent + wait > p.total:
            return False
        p.sleep(wait)
        return True


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
