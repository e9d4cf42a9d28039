"""ONNX -> OpenVINO IR (``model.xml`` + ``model.bin``), kept in FP32 with dynamic image H and W."""

from __future__ import annotations

from pathlib import Path

from dda.core.errors import InvalidInput, Unavailable


def convert_openvino(onnx_path: Path, out_xml: Path) -> list[Path]:
    """Convert an exported ONNX model to IR next to ``out_xml``; returns the written files."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise Unavailable(
            "the openvino target needs the `openvino` package", hint="pip install 'dda[openvino]'"
        ) from exc
    try:
        model = ov.convert_model(str(onnx_path))
    except Exception as exc:  # conversion errors are RuntimeErrors naming the unsupported op
        raise InvalidInput(
            f"OpenVINO cannot convert {onnx_path.name}: {exc}",
            hint="export for x86_64-cpu (ONNX Runtime) instead",
        ) from exc
    # Weights stay FP32: FP16 compression would loosen parity for no speed-up on CPU.
    ov.save_model(model, str(out_xml), compress_to_fp16=False)
    bin_path = out_xml.with_suffix(".bin")
    return [out_xml, bin_path]
