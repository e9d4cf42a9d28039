"""A TCP proxy on loopback that breaks connections on purpose: at random points of the byte
stream (either direction) it cuts the connection, resets it, or stalls it, so tests can prove that
downloads resume and uploads stay idempotent. Only ever forwards to a port on 127.0.0.1, and
injects at most ``max_faults`` faults, so a test always ends."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time


class FaultyProxy:
    def __init__(
        self, target_port: int, *, fault_rate: float = 0.05, max_faults: int = 30, seed: int = 1
    ) -> None:
        self.target = ("127.0.0.1", target_port)
        self.fault_rate = fault_rate  # chance per forwarded chunk
        self.max_faults = max_faults
        self.rng = random.Random(seed)
        self.counts = {"connections": 0, "cuts": 0, "resets": 0, "stalls": 0}
        self.enabled = True
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def faults(self) -> int:
        return self.counts["cuts"] + self.counts["resets"] + self.counts["stalls"]

    def close(self) -> None:
        self._stop.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=30)
        except OSError:
            client.close()
            return
        with self._lock:
            self.counts["connections"] += 1
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _fault(self) -> str | None:
        with self._lock:
            if not self.enabled or self.faults >= self.max_faults or self.rng.random() >= self.fault_rate:
                return None
            kind = self.rng.choice(["cut", "reset", "stall"])
            self.counts[{"cut": "cuts", "reset": "resets", "stall": "stalls"}[kind]] += 1
            return kind

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
                fault = self._fault()
                if fault == "stall":
                    time.sleep(1.5)
                elif fault is not None:
                    sink.sendall(data[: self.rng.randint(0, len(data))])  # part of the chunk, then break
                    if fault == "reset":
                        sink.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
