"""Job handlers by type: each a parameters model (checked at submit) and a ``run(ctx, params)``
returning the job's result references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from dda.core.errors import InvalidInput
from dda.portal.jobs.models import JobType


@dataclass(frozen=True)
class Handler:
    params: type[BaseModel]
    run: Callable[[Any, Any], dict[str, Any]]


def handler_for(job_type: JobType) -> Handler:
    from dda.portal.jobs.handlers import compilation, evaluation, packaging, publishing, training

    table = {
        JobType.TRAINING: Handler(training.TrainingParams, training.run),
        JobType.EVALUATION: Handler(evaluation.EvaluationParams, evaluation.run),
        JobType.COMPILATION: Handler(compilation.CompilationParams, compilation.run),
        JobType.PACKAGING: Handler(packaging.PackagingParams, packaging.run),
        JobType.PUBLISHING: Handler(publishing.PublishingParams, publishing.run),
    }
    if job_type not in table:
        raise InvalidInput(
            f"jobs of type {job_type.value} are not submitted directly", hint="see the API docs"
        )
    return table[job_type]


def check_parameters(job_type: JobType, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the handler will read them (InvalidInput, never a 5xx, when malformed)."""
    try:
        model = handler_for(job_type).params.model_validate(parameters)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'parameters'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidInput(f"bad {job_type.value} parameters: {problems}", hint="see the API docs") from exc
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped
