"""The agent loop: setup (identity, key, crash recovery) -> run_loop (heartbeat; on a new desired
state, apply it) -> teardown, with a stop event; runs as a thread of `dda station serve` or alone
as `dda station agent`."""

from __future__ import annotations

import threading
from collections import deque

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.fleet_protocol import DeploymentReport, DesiredState, HeartbeatResponse
from dda.station.agent import telemetry
from dda.station.agent.client import AgentClient, PortalRefused
from dda.station.agent.commands import CommandRunner
from dda.station.agent.identity import FleetIdentity, fleet_dir, load_identity, load_key
from dda.station.agent.installer import Installer
from dda.station.agent.uploader import ResultUploader
from dda.station.context import Station

log = get_logger(__name__)
MAX_PENDING_REPORTS = 100


class Agent:
    def __init__(self, station: Station, identity: FleetIdentity, *, interval_s: float | None = None) -> None:
        self.station = station
        self.identity = identity
        self.interval_s = interval_s if interval_s is not None else float(identity.heartbeat_interval_s)
        self.stop_event = threading.Event()
        self.client: AgentClient | None = None
        self.installer: Installer | None = None
        self.uploader: ResultUploader | None = None
        self.commands: CommandRunner | None = None
        # Reports that could not be sent yet (portal unreachable): sent, in order, when it answers.
        self._pending: deque[DeploymentReport] = deque(maxlen=MAX_PENDING_REPORTS)
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @classmethod
    def for_station(cls, station: Station, interval_s: float | None = None) -> Agent | None:
        identity = load_identity(station.paths)
        return cls(station, identity, interval_s=interval_s) if identity is not None else None

    # Lifecycle -------------------------------------------------------------------------------------
    def setup(self) -> None:
        folder = fleet_dir(self.station.paths)
        self.client = AgentClient(
            self.identity.portal_url, self.identity.device_id, load_key(self.station.paths)
        )
        self.installer = Installer(self.station, self.client, folder, self._queue_report)
        self.commands = CommandRunner(
            self.station.paths,
            self.client,
            self.identity.device_id,
            folder,
            self.station.settings.station.remote,
            configure=self.installer.config,
        )
        self.uploader = ResultUploader(
            self.station, self.client, folder, self.station.settings.station.upload
        )
        recovered = self.installer.recover()
        if recovered is not None:
            self._queue_report(recovered)

    def run_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.tick()
                self.last_error = None
            except DDAError as exc:
                self.last_error = exc.message
                log.warning("fleet agent: portal call failed", error=exc.message)
            self.stop_event.wait(self.interval_s)

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()

    def start(self) -> None:
        def main() -> None:
            self.setup()
            try:
                self.run_loop()
            finally:
                self.teardown()

        self._thread = threading.Thread(target=main, name="dda-fleet-agent", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # One round -------------------------------------------------------------------------------------
    def tick(self) -> None:
        assert self.client is not None and self.installer is not None
        self._flush_reports()
        journal = self.installer.journal()
        beat = telemetry.collect(self.station, journal.applied_etag, with_logs=self._logs_asked)
        answer = HeartbeatResponse.model_validate_json(
            self.client.call("POST", "/api/v1/agent/heartbeat", beat.model_dump_json().encode()).content
        )
        self._logs_asked = answer.send_logs
        for command in answer.commands:
            assert self.commands is not None
            self.commands.handle(command)
        if answer.desired_etag not in (journal.applied_etag, journal.failed_etag):
            desired = DesiredState.model_validate_json(
                self.client.call("GET", "/api/v1/agent/desired").content
            )
            if self.installer.needs(desired):
                self.installer.apply(desired)
                self._flush_reports()
        if self.uploader is not None:
            self.uploader.tick()

    _logs_asked = False

    def _queue_report(self, report: DeploymentReport) -> None:
        self._pending.append(report)
        if report.phase in ("downloading", "installing", "checking"):
            self._flush_reports()

    def _flush_reports(self) -> None:
        assert self.client is not None
        while self._pending:
            report = self._pending[0]
            try:
                self.client.call("POST", "/api/v1/agent/reports", report.model_dump_json().encode())
            except PortalRefused as exc:
                if exc.status in (400, 404, 409, 422):  # the portal will never take it: drop it
                    self._pending.popleft()
                    continue
                return
            except DDAError:
                return  # unreachable: keep it for the next round
            self._pending.popleft()
