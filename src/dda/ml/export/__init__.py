"""Export trained models for the edge: ONNX (FP32 / INT8), OpenVINO IR, Jetson, with a parity gate.

Public API::

    export_onnx(module, config, out_path) -> Path
    export_model(module, config, target, out_dir, *, int8=False, calibration=None, golden=None)
        -> ExportResult
    export_trained(trained_model, target, out_dir, **same_options) -> ExportResult
    load_image_set(source, *, limit=64, mappings=None) -> ImageSet
    run_parity(reference, candidate, golden, config, *, target, precision) -> ParityReport
"""

from dda.ml.export.exporter import INT8_TARGETS, ExportResult, export_model, export_trained, torch_runner
from dda.ml.export.images import ImageSet, load_image_set, synthetic_image_set
from dda.ml.export.jetson import EngineProfile, write_build_script
from dda.ml.export.onnx_export import export_onnx, read_onnx_metadata, verify_onnx
from dda.ml.export.openvino_export import convert_openvino
from dda.ml.export.parity import (
    FP32_THRESHOLDS,
    INT8_THRESHOLDS,
    ParityReport,
    ParityThresholds,
    run_parity,
    thresholds_for,
)
from dda.ml.export.quantize import DEFAULT_RECIPES, QuantRecipe, quantize_int8, trunk_node_names
from dda.packaging.manifest import TARGETS

__all__ = [
    "DEFAULT_RECIPES",
    "FP32_THRESHOLDS",
    "INT8_TARGETS",
    "INT8_THRESHOLDS",
    "TARGETS",
    "EngineProfile",
    "ExportResult",
    "ImageSet",
    "ParityReport",
    "ParityThresholds",
    "QuantRecipe",
    "convert_openvino",
    "export_model",
    "export_onnx",
    "export_trained",
    "load_image_set",
    "quantize_int8",
    "read_onnx_metadata",
    "run_parity",
    "synthetic_image_set",
    "thresholds_for",
    "torch_runner",
    "trunk_node_names",
    "verify_onnx",
    "write_build_script",
]
