"""Graceful stop: the first Ctrl-C or SIGTERM asks training to stop after the current step.

Training then keeps the best model so far and writes its checkpoint and artifact. A second
Ctrl-C aborts at once (KeyboardInterrupt). Handlers are installed only in the main thread (Python
allows no other); elsewhere a caller stops a run through :meth:`GracefulStop.request`.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any


class GracefulStop:
    def __init__(self, announce: bool = True) -> None:
        self.requested = False
        self.reason = ""
        self.announce = announce
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        if not self.requested and self.announce:
            print(
                f"\n{reason}: finishing the current step, then saving the best model so far "
                "(press Ctrl-C again to abort without saving)",
                file=sys.stderr,
                flush=True,
            )
        self.requested = True
        self.reason = self.reason or reason

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.request(signal.Signals(signum).name)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
