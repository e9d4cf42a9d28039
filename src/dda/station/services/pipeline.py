"""One capture through the station: camera settings -> model -> durable store -> metrics.

Outputs are not called here: the caller hands the stored result to them, so an output only ever
sees a result that is already durable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from dda.runtime.types import Prediction, Verdict
from dda.station.db.models import InferenceResult
from dda.station.plugins.outputs import OutputConfigBase
from dda.station.plugins.processing import CameraSettings, apply_camera_settings
from dda.station.plugins.sources import Frame, SourceConfigBase
from dda.station.plugins.triggers import TriggerConfigBase
from dda.station.services.drift import DriftMonitor, package_reference
from dda.station.services.image_stats import image_stats
from dda.station.services.metrics import StationMetrics
from dda.station.services.model_registry import ModelRegistry
from dda.station.services.result_store import PendingResult, ResultContext, ResultStore
from dda.station.services.retention import StoragePolicy
from dda.station.services.trace import Choice, Recipe, Trace, choose


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow as the runtime uses it: validated configs, read once from its row."""

    id: int | None
    name: str
    source_id: int | None
    source: SourceConfigBase
    camera: CameraSettings
    model_name: str
    model_version: str
    triggers: list[TriggerConfigBase] = field(default_factory=list)
    outputs: list[OutputConfigBase] = field(default_factory=list)
    threshold: float | None = None  # None: the model's own
    recipes: dict[int, Recipe] = field(default_factory=dict)
    active_recipe: int | None = None
    storage: StoragePolicy = field(default_factory=lambda: StoragePolicy())

    def choose(self, recipe: int | None) -> Choice:
        """Model and threshold for a part with ``recipe`` (None: the active recipe, if any)."""
        wanted = self.active_recipe if recipe is None else recipe
        return choose((self.model_name, self.model_version), self.threshold, self.recipes, wanted)


def apply_threshold(prediction: Prediction, threshold: float | None) -> Prediction:
    """The verdict against the workflow's (calibrated) threshold instead of the model's own."""
    if threshold is None:
        return prediction
    anomalous = prediction.anomaly_score > threshold
    label = prediction.label
    if not anomalous:
        label = "normal"
    elif label == "normal":
        label = "anomaly"
    verdict: Verdict = "anomaly" if anomalous else "normal"
    return replace(prediction, verdict=verdict, label=label, threshold=float(threshold))


class Inspector:
    """The two halves of a capture: ``infer`` (camera settings + model) and ``store`` (durable)."""

    def __init__(self, registry: ModelRegistry, store: ResultStore, metrics: StationMetrics) -> None:
        self.registry = registry
        self.results = store
        self.metrics = metrics
        self.drift = DriftMonitor(metrics)

    def infer(
        self,
        frame: Frame,
        spec: WorkflowSpec,
        capture_type: str,
        hardware: frozenset[str],
        acquire_ms: float,
        trace: Trace | None = None,
    ) -> PendingResult:
        """Run one frame through the model its recipe selects (nothing stored yet)."""
        trace = trace or Trace()
        choice = spec.choose(trace.recipe)
        started = time.perf_counter()
        image = apply_camera_settings(frame.image, spec.camera, hardware)
        if spec.camera.pipeline or (spec.camera.roi and "roi" not in hardware):
            frame = replace(frame, image=image, encoded=None, encoded_format=None)  # stored bytes must match
        preprocessed = time.perf_counter()
        try:
            with self.registry.lease(choice.model_name, choice.model_version) as model:
                # No overlay here: it is drawn when someone looks at it (services/overlays.py).
                raw = model.predict(frame.image, draw_overlay=False)
                prediction = apply_threshold(raw, choice.threshold)
                mask_classes = list(getattr(model.manifest, "mask_labels", []) or [])
                dataset = getattr(model.manifest, "dataset_id", None)
                reference = package_reference(getattr(model.manifest, "metrics", None))
        except Exception:
            self.metrics.errors.labels(spec.name, "inference").inc()
            raise
        inferred = time.perf_counter()
        latency = {
            "acquire": acquire_ms,
            "preprocess": (preprocessed - started) * 1000,
            "inference": (inferred - preprocessed) * 1000,
            **{f"model_{k}": v for k, v in prediction.timings_ms.items() if k != "total"},
        }
        ctx = ResultContext(capture_type, spec.source_id, spec.id, spec.name)
        trace = replace(trace, recipe=choice.recipe)
        return PendingResult(
            frame,
            prediction,
            ctx,
            latency,
            mask_classes,
            started=started - acquire_ms / 1000,
            trace=trace,
            dataset_version=str(dataset) if dataset else None,
            stats=image_stats(frame.image),
            drift_reference=reference,
        )

    def store(self, items: list[PendingResult]) -> list[InferenceResult]:
        """Store a group of inferred results durably (one sync, one commit); returns committed rows."""
        try:
            rows = self.results.save_results(items)
        except Exception:
            for item in items:
                self.metrics.errors.labels(item.ctx.workflow_name, "store").inc()
            raise
        for item in items:
            self._observe(item)
        return rows

    def _observe(self, item: PendingResult) -> None:
        """Metrics and the drift alarm hear of every result, stored or not."""
        prediction = item.prediction
        observed = {**item.latency_ms, "total": (time.perf_counter() - item.started) * 1000}
        self.metrics.observe(item.ctx.workflow_name, prediction.verdict, observed)
        model = (prediction.model_name, prediction.model_version)
        name = item.ctx.workflow_name or "(manual)"
        self.drift.observe(name, model, prediction.anomaly_score, item.stats, item.drift_reference)

    def discard(self, item: PendingResult) -> None:
        """A result the storage policy does not keep: counted, not stored."""
        self._observe(item)

    def inspect(
        self, frame: Frame, spec: WorkflowSpec, capture_type: str, hardware: frozenset[str], acquire_ms: float
    ) -> InferenceResult:
        """Infer and store one frame; returns the committed row."""
        return self.store([self.infer(frame, spec, capture_type, hardware, acquire_ms)])[0]
