"""How long one registry call may keep trying: attempts, a time budget, capped exponential backoff
with full jitter. No HTTP here: the options carry a Policy, and an offline dry-run never loads httpx."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

# The transports' count (Transport.stats) of calls that failed for a passing reason, then succeeded; in
# the summary's words, which say it to users (report.tally): here, where an offline dry-run may read it.
RECOVERED = "registry calls that succeeded on a retry"


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
