"""A workflow's decision settings (threshold override, recipes, active recipe), changed only through
audited revisions: each change stores who, why, the new settings and the ones they replaced, and
any earlier revision can be restored (which is itself a new revision)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound
from dda.station.context import Station
from dda.station.db.models import Workflow, WorkflowRevision
from dda.station.services.trace import Recipe
from dda.station.services.workflows import get, load_recipes


def settings_of(row: Workflow) -> dict[str, Any]:
    return {
        "threshold": row.threshold,
        "recipes": dict(row.recipes or {}),
        "active_recipe": row.active_recipe,
        "model_name": row.model_name,
        "model_version": row.model_version,
    }


def revisions(session: Session, workflow_id: int) -> list[WorkflowRevision]:
    get(session, workflow_id)
    query = (
        select(WorkflowRevision)
        .where(WorkflowRevision.workflow_id == workflow_id)
        .order_by(WorkflowRevision.revision)
    )
    return list(session.scalars(query))


def _check(station: Station, recipes: dict[int, Recipe], active: int | None) -> None:
    for recipe in recipes.values():
        station.registry.package_dir(recipe.model_name, recipe.model_version)  # NotFound if absent
    if active is not None and active != 0 and active not in recipes:
        raise InvalidInput(
            f"recipe {active} is not defined for this workflow",
            hint=f"defined recipes: {sorted(recipes) or 'none'}",
        )


def change(
    station: Station,
    session: Session,
    workflow_id: int,
    *,
    username: str,
    action: str,
    reason: str,
    **changes: Any,
) -> WorkflowRevision:
    """Apply ``changes`` (threshold, recipes, active_recipe) as the workflow's next revision."""
    row = get(session, workflow_id)
    previous = settings_of(row)
    recipes = load_recipes(changes["recipes"]) if "recipes" in changes else load_recipes(row.recipes)
    active = changes.get("active_recipe", row.active_recipe)
    _check(station, recipes, active)
    if not revisions(session, workflow_id):  # keep the settings before the first change restorable
        session.add(
            WorkflowRevision(
                workflow_id=row.id,
                revision=row.revision,
                username="",
                action="initial",
                settings=previous,
                previous={},
            )
        )
    if "threshold" in changes:
        row.threshold = None if changes["threshold"] is None else float(changes["threshold"])
    row.recipes = {str(k): v.model_dump(mode="json") for k, v in recipes.items()}
    row.active_recipe = active
    row.revision += 1
    entry = WorkflowRevision(
        workflow_id=row.id,
        revision=row.revision,
        username=username,
        action=action,
        reason=reason,
        settings=settings_of(row),
        previous=previous,
    )
    session.add(entry)
    session.flush()
    return entry


def restore(
    station: Station, session: Session, workflow_id: int, revision: int, *, username: str, reason: str
) -> WorkflowRevision:
    """Make an earlier revision's settings current again (as a new revision)."""
    old = next((r for r in revisions(session, workflow_id) if r.revision == revision), None)
    if old is None:
        raise NotFound(
            f"workflow {workflow_id} has no revision {revision}",
            hint=f"list them with GET /api/v1/workflows/{workflow_id}/revisions",
        )
    settings = old.settings
    return change(
        station,
        session,
        workflow_id,
        username=username,
        action=f"restore:{revision}",
        reason=reason,
        threshold=settings.get("threshold"),
        recipes=settings.get("recipes") or {},
        active_recipe=settings.get("active_recipe"),
    )


def push_to_runner(station: Station, workflow_id: int) -> None:
    """A running workflow uses the new settings from its next capture on (no restart)."""
    with station.session() as session:
        row = get(session, workflow_id)
        settings = (row.threshold, load_recipes(row.recipes), row.active_recipe)
    station.workflows.update_decisions(workflow_id, *settings)
