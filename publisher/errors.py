"""Errors the user can act on: printed one per line, never with a traceback."""


class PublisherError(Exception):
    """Bad input or a refused operation. Exit code 2, nothing pushed."""

    exit_code = 2

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = list(lines)


class PublishFailed(PublisherError):
    """The publish ran and its result is wrong (a smoke test, a verification)."""

    exit_code = 1


class Problems:
    """Collects every problem of one input so the user sees them all at once."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)

    @classmethod
    def of(cls, lines) -> "Problems":
        problems = cls()
        for line in lines:
            problems.add(line)
        return problems

    def raise_if_any(self) -> None:
        if self.lines:
            raise PublisherError(*self.lines)
