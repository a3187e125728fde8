"""User-facing errors: one line that names the file, the row, the column and a fix.

The CLI catches :class:`InputError` and exits with code 2 without a traceback.
"""
from __future__ import annotations

# characters str.splitlines() breaks at: a value quoted in a message (a CSV field may hold one) is shown escaped,
# so the message stays the one line the CLI prints
LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


class InputError(Exception):
    """Bad input the user can fix. ``str(err)`` is the single line the CLI prints."""

    def __init__(self, problem: str, *, path: str | None = None, line: int | None = None,
                 column: str | None = None, fix: str | None = None):
        self.problem, self.path, self.line, self.column, self.fix = problem, path, line, column, fix
        super().__init__(self.format())

    def format(self) -> str:
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = (": ".join([", ".join(where), self.problem]) if where else self.problem)
        if self.fix:
            text += f" (fix: {self.fix})"
        return text.translate(LINE_BREAKS)


class TrainingStopped(InputError):
    """Training ended early for a reason the user can act on (interrupted, non-finite loss).
    The CLI prints the one line and exits with code 1 (130 when interrupted)."""
