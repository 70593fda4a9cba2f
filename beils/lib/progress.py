"""How a long operation (back up, archive, clean up, optimise) reports its progress."""

from typing import Protocol


class Progress(Protocol):
    """``percent`` done and what it is doing. A stage's first report comes with ``force=True``: a
    callback that throttles (the dashboard writes at most twice a second) must not drop it."""

    def __call__(self, percent: int, message: str, *, force: bool = False) -> None: ...
