"""SIGINT and SIGTERM: handled by nmtkit, never thrown into whatever code happens to run.

Python's own SIGINT handling raises KeyboardInterrupt wherever the main thread is; inside a
finalizer (TensorFlow's AtomicFunction.__del__ runs often) the exception is swallowed and the
command goes on as if nothing happened. So nmtkit installs its own handlers:

- `exit_on_signals()` (every command, from the start): remove what is half-written (the
  temporary files and folders of nmtkit.atomic), print one line, exit with 128 + the signal's
  number (130 for SIGINT, 143 for SIGTERM, as shells report them) at once;
- `stop_requests()` (around the training loops): only record the request; the loop finishes
  its step, writes its checkpoint and ends with `Stopped`. Later signals, while it does so and
  until the process has exited, are ignored: the checkpoint is never cut short, and the first
  signal decides the exit code.

A signal that the command was started ignoring (a background job of a non-interactive shell
ignores SIGINT) stays ignored.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

from nmtkit.atomic import remove_unfinished
from nmtkit.errors import NmtkitError

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopping = False  # a stop was requested and is being carried out


class Stopped(NmtkitError):
    """A run stopped on SIGINT or SIGTERM after saving what it had."""

    kind = "stopped"

    def __init__(self, signal_number: int, message: str):
        super().__init__(message)
        self.exit_code = 128 + signal_number


def signal_name(number: int) -> str:
    return signal.Signals(number).name


def _exit_now(number: int, frame) -> None:
    if _stopping:
        return
    remove_unfinished()
    os.write(2, f"nmtkit: stopped by {signal_name(number)}\n".encode())
    os._exit(128 + number)  # no unwinding: nothing of the command is worth finishing now


def _install(handler) -> dict[int, object]:
    """Install `handler` for the signals not ignored; returns the handlers it replaced."""
    replaced = {}
    for number in SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            replaced[number] = signal.signal(number, handler)
    return replaced


def exit_on_signals() -> None:
    _install(_exit_now)


def settle() -> None:
    """At the end of a command: once a stop is being carried out, ignore the signals that arrive
    while Python shuts down (where it gives them back their default action: death)."""
    if _stopping:
        _install(signal.SIG_IGN)


class StopRequest:
    """The first SIGINT or SIGTERM received, if any."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None

    def _record(self, number: int, frame) -> None:
        if self.signal is None:
            self.signal = number
            os.write(2, f"nmtkit: {signal_name(number)} received: finishing the step in progress, "
                        "saving, then stopping\n".encode())

    def stopped(self, message: str) -> Stopped:
        return Stopped(self.signal, f"{signal_name(self.signal)} {message}")


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM only set the request the caller checks.

    Handlers can only be set from the main thread; elsewhere (a library caller's thread) the
    request is never set and signals keep their handlers."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    global _stopping
    replaced = _install(request._record)
    try:
        yield request
    finally:
        _stopping = _stopping or bool(request)
        for number, handler in replaced.items():
            signal.signal(number, handler)
