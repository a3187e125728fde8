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
    The CLI prints the one line and exits with ``exit_code``: 1, or 130 / 143 when SIGINT / SIGTERM stopped it."""

    def __init__(self, problem: str, *, exit_code: int = 1, **where):
        self.exit_code = exit_code
        super().__init__(problem, **where)


class InputErrors(InputError):
    """Every problem a run's up-front checks found (:func:`check_all`), reported together, one line each."""

    def __init__(self, problems: list[InputError], summary: str | None = None):
        self.problems, self.summary = problems, summary
        super().__init__(problems[0].problem, path=problems[0].path, line=problems[0].line,
                         column=problems[0].column, fix=problems[0].fix)

    def format(self) -> str:
        if len(self.problems) == 1 and self.summary is None:
            return self.problems[0].format()
        head = self.summary or f"{len(self.problems)} problems, found before any work"
        return "\n".join([f"{head}:"] + [f"  - {p.format()}" for p in self.problems])


class Problems:
    """Collects the problems of a run's up-front checks: :meth:`check` runs one (a callable raising
    :class:`InputError`) and keeps its problem instead of stopping; :meth:`raise_all` raises them together as
    one :class:`InputErrors`, so that a user fixes them in one pass instead of one run each."""

    def __init__(self) -> None:
        self.found: list[InputError] = []

    def check(self, check):
        """``check()``'s value, or ``None`` with its problem kept."""
        try:
            return check()
        except InputError as err:
            self.add(err)
        return None

    def must(self, read):
        """``read()``; when it fails, its problem is raised at once with those already found (what it reads is
        needed for the checks that follow)."""
        try:
            return read()
        except InputError as err:
            self.add(err)
            self.raise_all()
            raise

    def add(self, err: InputError) -> None:
        self.found += err.problems if isinstance(err, InputErrors) else [err]

    def raise_all(self) -> None:
        if self.found:
            raise InputErrors(self.found)


def check_all(checks, problems: Problems | None = None) -> None:
    """Run every check, then raise every problem found (with those ``problems`` already holds) at once."""
    problems = problems or Problems()
    for check in checks:
        problems.check(check)
    problems.raise_all()
