"""Where a publish is: a live status line on a terminal, plain log lines in CI, folded into groups on GitHub Actions."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager

from publisher import github


class Progress:
    def __init__(self, stream=None, live: bool | None = None, actions: bool | None = None):
        self.stream = stream = stream or sys.stdout
        self.live = stream.isatty() and os.environ.get("CI") != "true" if live is None else live
        # Workflow commands (::group::, ::notice::) only where the GitHub runner reads them, never on a terminal.
        self.actions = github.active() and not self.live if actions is None else actions
        self.lock = threading.Lock()
        self.status = ""

    def log(self, line: str) -> None:
        with self.lock:
            if self.live and self.status:
                self.stream.write("\r\033[K")
            self.stream.write(line + "\n")
            if self.live and self.status:
                self.stream.write(self.status)
            self.stream.flush()

    @contextmanager
    def phase(self, name: str, total: int):
        """A step of the publish; yields tick(item) to call as each of its `total` items is done."""
        started, done = time.monotonic(), [0]
        if self.actions:
            self.log(f"::group::{name} ({total})")

        def tick(item: str) -> None:
            with self.lock:
                done[0] += 1
                line = f"{name} {done[0]}/{total}: {item}"
                if self.live:
                    self.status = f"[{name} {done[0]}/{total}] {item}"[:150]
                    self.stream.write("\r\033[K" + self.status)
                else:
                    self.stream.write(line + "\n")
                self.stream.flush()

        try:
            yield tick
        finally:  # a failing step's error is printed after its group, where it shows
            with self.lock:
                if self.live and self.status:
                    self.stream.write("\r\033[K")
                self.status = ""
            if self.actions:
                self.log("::endgroup::")
        self.log(f"{name}: {total} in {time.monotonic() - started:.1f} s")

    def notice(self, said) -> None:
        """Something the reader should see (a held tag): a notice annotation on GitHub Actions, else a line.
        `said`: a notice (release/events: its str is its line) or a line."""
        line = str(said)
        self.log(github.notice(line) if self.actions else line)
