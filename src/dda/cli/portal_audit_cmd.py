"""`dda portal audit verify|purge`: check the audit hash chain, purge old rows behind a signed
checkpoint. Both run against the portal database named by the settings (no running portal needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from dda.cli._common import fail, handle_errors

audit_app = typer.Typer(help="Check and purge the portal's audit log.", no_args_is_help=True)


@audit_app.command()
@handle_errors
def verify() -> None:
    """Walk the hash chain (from the last purge's signed checkpoint); exit 1 at the first broken link."""
    from dda.core.settings import get_settings
    from dda.portal.context import build_portal
    from dda.portal.services import audit as audit_service

    portal = build_portal(get_settings())
    try:
        with portal.session() as session:
            key = audit_service.checkpoint_key(portal).public_key()
            report = audit_service.verify_chain(session, public_key=key)
    finally:
        portal.close()
    if not report.ok:
        raise fail(
            f"audit chain broken at row {report.first_broken_seq}: {report.reason} "
            f"({report.rows_checked} rows before it are intact)",
            hint="compare with a backup or export; rows from there on cannot be trusted",
        )
    typer.echo(f"audit chain intact: {report.rows_checked} rows checked")


@audit_app.command()
@handle_errors
def purge(
    older_than_days: int = typer.Option(..., "--older-than-days", min=1, help="delete rows older than this"),
) -> None:
    """Delete audit rows older than N days; the last purged row becomes a signed checkpoint, so
    `verify` still checks the rest of the chain."""
    from dda.core.settings import get_settings
    from dda.portal.context import build_portal
    from dda.portal.services import audit as audit_service
    from dda.portal.services.audit import AuditEntry

    portal = build_portal(get_settings())
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    try:
        with portal.session() as session:
            report = audit_service.purge(session, portal, cutoff)
            summary = {"older_than_days": older_than_days, "purged": report.purged}
            audit_service.append(
                session,
                AuditEntry(action="audit.purge", actor_name="cli", target_type="audit", summary=summary),
            )
    finally:
        portal.close()
    typer.echo(f"purged {report.purged} audit rows; chain checkpoint at row {report.checkpoint_seq}")
