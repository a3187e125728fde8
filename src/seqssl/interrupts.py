"""What a command says when it is stopped by a signal: SIGINT (Ctrl-C) exits 130 and SIGTERM 143 (the
shell's 128 + signal number), each with one line naming what the run kept and the exact command that
resumes it. Commands say what they keep with :func:`on_interrupt` when they start; the CLI prints
:func:`interrupt_line`. SIGTERM is turned into :class:`Terminated` so that ``finally`` blocks and atomic writes
finish instead of the process dying mid-write."""
from __future__ import annotations

import shlex
import signal
import threading
from contextlib import contextmanager

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

_NOTE: dict = {"kept": "nothing", "resume": None}


class Terminated(BaseException):
    """SIGTERM in the main thread (a BaseException, like KeyboardInterrupt, so ``except Exception`` does not
    swallow it)."""


SAME_PLUS_RESUME = ("--resume",)  # resume with the interrupted command's own arguments plus --resume


def on_interrupt(kept: str, resume_argv: list[str] | tuple | None = SAME_PLUS_RESUME) -> None:
    """Record what an interrupted run keeps and the arguments of the command that resumes it:
    :data:`SAME_PLUS_RESUME`, a list of arguments, or None (nothing to resume: the same command starts over)."""
    _NOTE.update(kept=kept, resume=resume_argv)


def interrupt_line(signum: int, argv: list[str]) -> str:
    """``interrupted (SIGINT): kept ...; resume with: seqssl ...`` (or ``run the command again``)."""
    resume = _NOTE["resume"]
    if resume == SAME_PLUS_RESUME:
        resume = with_resume(argv)
    again = ("resume with: " + shlex.join(["seqssl", *resume]) if resume is not None else
             "nothing to resume: run the command again" + (f" ({shlex.join(['seqssl', *argv])})" if argv else ""))
    return f"interrupted ({signal.Signals(signum).name}): kept {_NOTE['kept']}; {again}"


def with_resume(argv: list[str]) -> list[str]:
    """``argv`` plus ``--resume`` (once)."""
    return list(argv) if "--resume" in argv else [*argv, "--resume"]


def _raise_terminated(signum, frame):
    raise Terminated()


@contextmanager
def sigterm_raises():
    """Inside: SIGTERM raises :class:`Terminated` in the main thread (elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_KEEPING = {"on": False}


@contextmanager
def keep_best_on_interrupt():
    """Inside: a fine-tuning loop that is interrupted after at least one epoch stops, keeps its best weights and
    returns normally with ``interrupted_by`` in its details (``finetune`` saves that model, then exits 130/143
    itself); elsewhere (cross-validation folds) an interrupt propagates at once."""
    before = _KEEPING["on"]
    _KEEPING["on"] = True
    try:
        yield
    finally:
        _KEEPING["on"] = before


def keeping_best() -> bool:
    return _KEEPING["on"]


def signal_name(err: BaseException) -> str:
    """``SIGTERM`` for :class:`Terminated`, ``SIGINT`` for a KeyboardInterrupt."""
    return "SIGTERM" if isinstance(err, Terminated) else "SIGINT"
