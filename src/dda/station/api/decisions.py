"""Decision settings of a workflow: threshold calibration, recipes, audited revisions, drift.

Roles (for the route x role matrix): reading (calibration, plot, revisions, drift) is for every
logged-in user (viewer); changing (threshold, calibration apply, recipes, active recipe, restore,
drift reset) is for operators.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from dda.station.api.deps import Operator, SessionDep, StationDep, Viewer
from dda.station.schemas.decisions import (
    ActiveRecipeIn,
    CalibrationApplied,
    CalibrationApplyIn,
    CalibrationOut,
    RecipesIn,
    RestoreIn,
    RevisionOut,
    ThresholdIn,
)
from dda.station.services import calibration as calibration_service
from dda.station.services import decisions
from dda.station.services.workflows import get as get_workflow

router = APIRouter(prefix="/api/v1", tags=["decisions"])
WorkflowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Budget = Annotated[float, Query(gt=0, lt=1, description="Largest share of good parts rejected")]


@router.get("/workflows/{workflow_id}/calibration")
def calibration(
    workflow_id: WorkflowId, _: Viewer, session: SessionDep, budget: Budget = 0.01
) -> CalibrationOut:
    """The threshold that meets the false-reject budget on reviewed results, its miss rate, the curve."""
    return CalibrationOut(**calibration_service.calibrate(session, workflow_id, budget).as_dict())


@router.get("/workflows/{workflow_id}/calibration/plot", response_class=Response)
def calibration_plot(
    workflow_id: WorkflowId, _: Viewer, session: SessionDep, budget: Budget = 0.01
) -> Response:
    png = calibration_service.plot_png(calibration_service.calibrate(session, workflow_id, budget))
    return Response(png, media_type="image/png")


@router.post("/workflows/{workflow_id}/calibration/apply")
def apply_calibration(
    workflow_id: WorkflowId, data: CalibrationApplyIn, user: Operator, station: StationDep
) -> CalibrationApplied:
    """Calibrate and make the proposed threshold the workflow's, as a new revision."""
    with station.session() as session:
        result = calibration_service.calibrate(session, workflow_id, data.budget)
        reason = data.reason or f"calibrated: false-reject budget {data.budget:.2%}"
        entry = decisions.change(
            station, session, workflow_id, username=user.username, action="calibration",
            reason=reason, threshold=result.threshold,
        )  # fmt: skip
        revision = RevisionOut.model_validate(entry)
    decisions.push_to_runner(station, workflow_id)
    return CalibrationApplied(calibration=CalibrationOut(**result.as_dict()), revision=revision)


def _change(
    station: Any, workflow_id: int, username: str, action: str, reason: str, **changes: Any
) -> RevisionOut:
    with station.session() as session:
        entry = decisions.change(
            station, session, workflow_id, username=username, action=action, reason=reason, **changes
        )
        out = RevisionOut.model_validate(entry)
    decisions.push_to_runner(station, workflow_id)
    return out


@router.put("/workflows/{workflow_id}/threshold")
def set_threshold(
    workflow_id: WorkflowId, data: ThresholdIn, user: Operator, station: StationDep
) -> RevisionOut:
    return _change(station, workflow_id, user.username, "threshold", data.reason, threshold=data.threshold)


@router.put("/workflows/{workflow_id}/recipes")
def set_recipes(
    workflow_id: WorkflowId, data: RecipesIn, user: Operator, station: StationDep
) -> RevisionOut:
    recipes = {str(k): v.model_dump(mode="json") for k, v in data.recipes.items()}
    return _change(station, workflow_id, user.username, "recipes", data.reason, recipes=recipes)


@router.put("/workflows/{workflow_id}/active-recipe")
def set_active_recipe(
    workflow_id: WorkflowId, data: ActiveRecipeIn, user: Operator, station: StationDep
) -> RevisionOut:
    """The recipe for the next parts when the trigger brings none (changeover by API)."""
    return _change(
        station, workflow_id, user.username, "active_recipe", data.reason, active_recipe=data.recipe
    )


@router.get("/workflows/{workflow_id}/revisions")
def list_revisions(workflow_id: WorkflowId, _: Viewer, session: SessionDep) -> list[RevisionOut]:
    return [RevisionOut.model_validate(r) for r in decisions.revisions(session, workflow_id)]


@router.post("/workflows/{workflow_id}/revisions/{revision}/restore")
def restore_revision(
    workflow_id: WorkflowId,
    revision: Annotated[int, Path(ge=1, le=2**31 - 1)],
    data: RestoreIn,
    user: Operator,
    station: StationDep,
) -> RevisionOut:
    with station.session() as session:
        entry = decisions.restore(
            station, session, workflow_id, revision, username=user.username, reason=data.reason
        )
        out = RevisionOut.model_validate(entry)
    decisions.push_to_runner(station, workflow_id)
    return out


@router.get("/drift")
def drift(_: Viewer, station: StationDep) -> dict[str, dict[str, Any]]:
    """Per workflow: whether its scores or images drift from the reference, and by how much."""
    return station.inspector.drift.status()


@router.post("/workflows/{workflow_id}/drift/reset", status_code=204)
def reset_drift(workflow_id: WorkflowId, _: Operator, station: StationDep) -> Response:
    """Accept the current inputs as normal: the next results become the new reference."""
    with station.session() as session:
        name = get_workflow(session, workflow_id).name
    station.inspector.drift.reset(name)
    return Response(status_code=204)
