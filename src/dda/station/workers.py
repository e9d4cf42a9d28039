"""Background workers: ``setup`` / ``run_loop`` / ``teardown`` on a thread, stopped by an event."""

from __future__ import annotations

import threading
from typing import Any

from dda.core.logging import get_logger

log = get_logger(__name__)


class Worker:
    """Subclasses implement ``setup``, ``run_loop`` (return when ``self.stop_event`` is set) and
    ``teardown``. ``start`` runs setup on the caller's thread so its errors reach the caller."""

    name = "worker"

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def setup(self) -> None:
        pass

    def run_loop(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        pass

    def _main(self) -> None:
        try:
            self.run_loop()
        except BaseException as exc:  # a crashed worker is logged, not silently gone
            self.error = exc
            log.exception("worker crashed", worker=self.name)
        finally:
            try:
                self.teardown()
            except Exception:
                log.exception("worker teardown failed", worker=self.name)

    def start(self) -> None:
        self.stop_event.clear()
        self.setup()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("worker did not stop in time", worker=self.name, timeout_s=timeout_s)

    def _wake(self) -> None:
        """Unblock ``run_loop`` if it waits on something other than the stop event."""

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} alive={self.alive}>"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "alive": self.alive, "error": str(self.error) if self.error else None}
