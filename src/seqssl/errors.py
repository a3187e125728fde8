"""User-facing errors: one line that names the file, the row, the column and a fix.

The CLI catches :class:`InputError` and exits with code 2 without a traceback.
"""
from __future__ import annotations


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
        return text


class TrainingStopped(InputError):
    """Training ended early for a reason the user can act on (interrupted, non-finite loss).
    The CLI prints the one line and exits with code 1 (130 when interrupted)."""
