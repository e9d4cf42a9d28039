"""Apply a desired state atomically: check its configuration -> download -> verify -> install ->
golden check -> swap the workflows to the new versions -> check they run -> apply the
configuration (config_apply) -> commit. Any failure, and a crash at any
instant (the journal is written before the swap), puts the previous versions back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.fleet_protocol import DeploymentReport, DesiredState, InstalledModel
from dda.packaging.golden import check_golden
from dda.runtime.predictor import load_predictor
from dda.station.agent.client import AgentClient
from dda.station.agent.config_apply import ConfigApplier, ConfigFailed, ConfigRejected
from dda.station.agent.downloads import download
from dda.station.agent.journal import Journal
from dda.station.context import Station
from dda.station.db.models import Workflow
from dda.station.services.models import install_archive

log = get_logger(__name__)
Reporter = Callable[[DeploymentReport], None]


class InstallFailed(Exception):
    def __init__(self, reason: str, *, swapped: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.swapped = swapped


class Installer:
    def __init__(self, station: Station, client: AgentClient, folder: Path, report: Reporter) -> None:
        self.station = station
        self.client = client
        self.folder = folder
        self.journal_path = folder / "journal.json"
        self.report = report
        self.config = ConfigApplier(station, folder)

    def journal(self) -> Journal:
        return Journal.load(self.journal_path)

    def recover(self) -> DeploymentReport | None:
        """After a restart: a swap or a configuration that was not committed is undone (the old
        versions are still installed: nothing is removed before a commit; the configuration it
        replaced is in its snapshot file)."""
        journal = self.journal()
        snapshot = self.config.load_snapshot()
        if snapshot is not None:
            self.config.restore(snapshot)
        if journal.phase not in ("swapping", "configuring"):
            return None
        self._restore(journal)
        reason = "the station restarted during the install; the previous versions were restored"
        journal.phase, journal.failed_etag, journal.reason = "rolled_back", journal.etag, reason
        journal.save(self.journal_path)
        log.warning("interrupted install rolled back", deployment=journal.deployment_id)
        if journal.deployment_id is None:
            return None
        return DeploymentReport(deployment_id=journal.deployment_id, phase="rolled_back", reason=reason)

    def needs(self, desired: DesiredState) -> bool:
        journal = self.journal()
        return desired.deployment_id is not None and desired.etag not in (
            journal.applied_etag,
            journal.failed_etag,
        )

    def apply(self, desired: DesiredState) -> None:
        assert desired.deployment_id is not None
        deployment_id = desired.deployment_id
        try:
            if desired.config is not None:
                self._check_config(desired)
            installed = self._download_and_install(desired)
            self._golden_checks(installed, deployment_id)
            self._swap(desired, installed)
            if desired.config is not None:
                self._configure(desired)
        except InstallFailed as exc:
            self._give_up(desired, exc)
            return
        except DDAError as exc:
            self._give_up(
                desired,
                InstallFailed(exc.message, swapped=self.journal().phase in ("swapping", "configuring")),
            )
            return
        self.report(
            DeploymentReport(
                deployment_id=deployment_id,
                phase="healthy",
                progress_pct=100.0,
                installed=[InstalledModel(name=n, version=v) for n, v in installed],
            )
        )

    # Steps ---------------------------------------------------------------------------------------
    def _download_and_install(self, desired: DesiredState) -> list[tuple[str, str]]:
        deployment_id = desired.deployment_id or ""
        installed: list[tuple[str, str]] = []
        total = max(len(desired.models), 1)
        for index, model in enumerate(desired.models):

            def progress(pct: float, index: int = index) -> None:
                self._progress(deployment_id, (index + pct / 100.0) / total * 100.0)

            self.report(
                DeploymentReport(
                    deployment_id=deployment_id, phase="downloading", progress_pct=100.0 * index / total
                )
            )
            archive = download(self.client, model, self.folder / "downloads", progress)
            self.report(
                DeploymentReport(
                    deployment_id=deployment_id, phase="installing", progress_pct=100.0 * (index + 1) / total
                )
            )
            name, version = install_archive(self.station.paths, archive)
            if (name, version) != (model.model_name, model.model_version):
                raise InstallFailed(
                    f"the package holds {name} {version}, not {model.model_name} {model.model_version}",
                    swapped=False,
                )
            installed.append((name, version))
        return installed

    _last_progress: float = -10.0

    def _progress(self, deployment_id: str, pct: float) -> None:
        if pct - self._last_progress >= 10.0 or pct >= 100.0:  # a report per 10 %, not per chunk
            self._last_progress = pct
            self.report(DeploymentReport(deployment_id=deployment_id, phase="downloading", progress_pct=pct))

    def _golden_checks(self, installed: list[tuple[str, str]], deployment_id: str) -> None:
        self.report(DeploymentReport(deployment_id=deployment_id, phase="checking", progress_pct=100.0))
        for name, version in installed:
            package_dir = self.station.registry.package_dir(name, version)
            try:
                with load_predictor(package_dir) as predictor:
                    result = check_golden(package_dir, predictor)
            except DDAError as exc:
                raise InstallFailed(f"{name} {version} does not load: {exc.message}", swapped=False) from exc
            if not result.ok:
                raise InstallFailed(
                    f"{name} {version} failed its health check: {result.reason}", swapped=False
                )

    def _swap(self, desired: DesiredState, installed: list[tuple[str, str]]) -> None:
        journal = self.journal()
        new = dict(installed)
        with self.station.session() as session:
            rows = list(session.scalars(select(Workflow).where(Workflow.model_name.in_(list(new)))))
            journal.workflows = {str(r.id): [r.model_name, r.model_version] for r in rows}
        journal.phase, journal.deployment_id, journal.etag = "swapping", desired.deployment_id, desired.etag
        journal.previous = {name: version for _, (name, version) in journal.workflows.items()}
        journal.new, journal.reason = new, None
        journal.save(self.journal_path)  # from here on, a crash means "restore journal.workflows"
        with self.station.session() as session:
            for row in session.scalars(select(Workflow).where(Workflow.model_name.in_(list(new)))):
                row.model_version = new[row.model_name]
        for workflow_id in journal.workflows:
            self.station.workflows.restart_if_running(int(workflow_id))
            state, error = self._state(int(workflow_id))
            if state == "error":
                raise InstallFailed(
                    f"workflow {workflow_id} does not run on the new model: {error}", swapped=True
                )
        if desired.config is not None:  # not committed before the configuration runs too
            journal.phase = "configuring"
        else:
            journal.phase, journal.applied_etag, journal.failed_etag = "committed", desired.etag, None
        journal.save(self.journal_path)

    def _check_config(self, desired: DesiredState) -> None:
        """Before anything is downloaded: a document this station cannot take fails at once.
        (Models the document pins that this deployment brings are checked when applied.)"""
        brought = {(m.model_name, m.model_version) for m in desired.models}
        document = dict(desired.config or {})
        document["workflows"] = [
            w
            for w in document.get("workflows", [])
            if (w.get("model_name"), w.get("model_version")) not in brought
        ]
        try:
            self.config.check(document)
        except ConfigRejected as exc:
            raise InstallFailed(str(exc), swapped=False) from exc

    def _configure(self, desired: DesiredState) -> None:
        version = str((desired.config or {}).get("version", "?"))
        try:
            self.config.apply(desired.config or {}, version=version)
        except (ConfigRejected, ConfigFailed) as exc:
            raise InstallFailed(str(exc), swapped=True) from exc
        journal = self.journal()
        journal.phase, journal.applied_etag, journal.failed_etag = "committed", desired.etag, None
        journal.save(self.journal_path)

    def _state(self, workflow_id: int) -> tuple[str, str | None]:
        with self.station.session() as session:
            row = session.get(Workflow, workflow_id)
            if row is None:
                return "missing", None
            return self.station.workflows.actual_state(row)

    def _restore(self, journal: Journal) -> None:
        with self.station.session() as session:
            for workflow_id, (name, version) in journal.workflows.items():
                row = session.get(Workflow, int(workflow_id))
                if row is not None and row.model_name == name:
                    row.model_version = version
        for workflow_id in journal.workflows:
            self.station.workflows.restart_if_running(int(workflow_id))

    def _give_up(self, desired: DesiredState, exc: InstallFailed) -> None:
        journal = self.journal()
        if exc.swapped or journal.phase in ("swapping", "configuring"):
            self._restore(journal)
        journal.phase = "rolled_back" if exc.swapped else "idle"
        journal.failed_etag, journal.reason = desired.etag, exc.reason
        journal.save(self.journal_path)
        log.warning("deployment failed on this station", deployment=desired.deployment_id, reason=exc.reason)
        self.report(
            DeploymentReport(
                deployment_id=desired.deployment_id or "",
                phase="rolled_back" if exc.swapped else "failed",
                reason=exc.reason[:2000],
            )
        )
