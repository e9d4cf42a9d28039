"""Pictures of a training run (PNG bytes) and prediction overlays.

Matplotlib runs headless (Agg) and is imported only when a figure is drawn, so predicting does
not pay for it. Every figure states what it shows in its title and axis labels: a reader who
never trained a model should be able to tell whether the model is any good.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dda.ml.metrics import pr_curve, roc_curve

DEFECT_COLORS = np.array(
    [(230, 25, 75), (255, 165, 0), (0, 130, 200), (145, 30, 180), (70, 240, 240), (240, 50, 230)],
    dtype=np.float32,
)
VERDICT_COLORS = {"normal": (40, 170, 60), "anomaly": (220, 30, 30)}


def _heat_colors(values: np.ndarray) -> np.ndarray:
    """0..1 -> RGB float, a blue-yellow-red ramp (readable without a colour bar)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    low = np.array([30, 60, 200], dtype=np.float32)
    mid = np.array([250, 220, 40], dtype=np.float32)
    high = np.array([220, 20, 20], dtype=np.float32)
    colors: np.ndarray = np.where(v < 0.5, low + (mid - low) * (v * 2), mid + (high - mid) * ((v - 0.5) * 2))
    return colors


def _mask_edges(mask: np.ndarray) -> np.ndarray:
    on = mask > 0
    edge = np.zeros_like(on)
    edge[1:, :] |= on[1:, :] != on[:-1, :]
    edge[:, 1:] |= on[:, 1:] != on[:, :-1]
    return edge & on


def render_overlay(
    image: np.ndarray,
    mask: np.ndarray | None,
    heatmap: np.ndarray | None,
    verdict: str,
    heat_scale: float | None = None,
) -> np.ndarray:
    """uint8 RGB [H, W, 3]: the image with the defect mask tinted and outlined, an optional anomaly
    heatmap blended in (scaled so ``heat_scale`` -- e.g. the threshold -- maps to the middle of the
    ramp), and a frame in the verdict's colour (green normal, red anomaly)."""
    out: np.ndarray = image.astype(np.float32).copy()
    if heatmap is not None:
        scale = heat_scale if heat_scale else float(np.max(heatmap)) or 1.0
        heat = _heat_colors(np.asarray(heatmap, dtype=np.float32) / (2.0 * scale))
        out = 0.6 * out + 0.4 * heat
    if mask is not None and mask.any():
        ids = mask.astype(np.int64)
        colors = DEFECT_COLORS[(ids - 1) % len(DEFECT_COLORS)]
        on = (ids > 0)[..., None]
        out = np.where(on, 0.5 * out + 0.5 * colors, out)
        out[_mask_edges(mask)] = colors[_mask_edges(mask)]
    height, width = out.shape[:2]
    frame = max(2, round(min(height, width) * 0.015))
    color = np.array(VERDICT_COLORS.get(verdict, (128, 128, 128)), dtype=np.float32)
    out[:frame], out[-frame:], out[:, :frame], out[:, -frame:] = color, color, color, color
    result: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    return result


def _figure_png(fig: Any, top: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(buffer, format="png", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def training_curves_png(history: Sequence[Mapping[str, Any]]) -> bytes:
    """Loss (train, validation) and validation F1 / AUROC per epoch; the best epoch is marked."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h.get("train_loss") for h in history], "o-", label="training loss")
    left.plot(epochs, [h.get("val_loss") for h in history], "s-", label="validation loss")
    left.set(xlabel="epoch", ylabel="loss (lower is better)", title="Loss")
    for key, label in (("val_f1", "validation F1"), ("val_auroc", "validation AUROC")):
        values = [np.nan if h.get(key) is None else h[key] for h in history]
        right.plot(epochs, values, "o-", label=label)
    right.set(
        xlabel="epoch", ylabel="score (higher is better)", title="Validation quality", ylim=(-0.02, 1.02)
    )
    best = [h["epoch"] for h in history if h.get("best")]
    from matplotlib.ticker import MaxNLocator

    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if best:
            axis.axvline(best[-1], color="gray", linestyle="--", label=f"kept: epoch {best[-1]}")
        axis.grid(alpha=0.3)
        axis.legend()
    return _figure_png(fig)


def confusion_matrix_png(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str) -> bytes:
    plt = _pyplot()
    counts = np.asarray(matrix)
    fig, axis = plt.subplots(figsize=(1.2 * len(labels) + 3, 1.1 * len(labels) + 2.5))
    axis.imshow(counts, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    top = counts.max() if counts.size else 0
    for (row, col), value in np.ndenumerate(counts):
        axis.text(
            col, row, str(value), ha="center", va="center", color="white" if value > top / 2 else "black"
        )
    return _figure_png(fig)


def roc_png(y_true: np.ndarray, scores: np.ndarray, auroc_value: float | None) -> bytes:
    plt = _pyplot()
    fpr, tpr, _ = roc_curve(y_true, scores)
    fig, axis = plt.subplots(figsize=(4.8, 4.5))
    label = f"model (AUROC {auroc_value:.3f})" if auroc_value is not None else "model"
    axis.plot(fpr, tpr, drawstyle="steps-post", label=label)
    axis.plot([0, 1], [0, 1], "--", color="gray", label="chance")
    axis.set(xlabel="false positive rate (normal flagged)", ylabel="true positive rate (defects caught)")
    axis.set(title="ROC curve (validation)", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    return _figure_png(fig)


def pr_png(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> bytes:
    plt = _pyplot()
    precision, recall, thresholds = pr_curve(y_true, scores)
    fig, axis = plt.subplots(figsize=(4.8, 4.5))
    axis.plot(recall, precision, drawstyle="steps-post", label="model")
    chosen = np.flatnonzero(thresholds >= threshold)
    if chosen.size:
        i = chosen[-1]
        axis.plot(recall[i], precision[i], "o", color="red", label=f"threshold {threshold:.3g}")
    axis.set(xlabel="recall (defects caught)", ylabel="precision (flags that are real defects)")
    axis.set(title="Precision-recall (validation)", xlim=(-0.01, 1.01), ylim=(-0.01, 1.05))
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left")
    return _figure_png(fig)


def examples_png(examples: Sequence[Mapping[str, Any]]) -> bytes:
    """A grid of validation images: the model's overlay, with truth and verdict in the title.

    Each example has ``overlay`` (uint8 RGB), ``true`` and ``predicted`` label names, ``score``,
    and optionally ``true_mask`` (class ids, outlined in white).
    """
    plt = _pyplot()
    count = max(1, len(examples))
    cols = min(4, count)
    rows = (count + cols - 1) // cols
    height, width = np.asarray(examples[0]["overlay"]).shape[:2] if examples else (1, 1)
    cell_height = 3.0 * min(max(height / width, 0.5), 2.0) + 0.7  # image plus a two-line title
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, cell_height * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, example in zip(axes.flat, examples, strict=False):
        picture = np.asarray(example["overlay"]).copy()
        true_mask = example.get("true_mask")
        if true_mask is not None and np.asarray(true_mask).any():
            picture[_mask_edges(np.asarray(true_mask))] = (255, 255, 255)
        axis.imshow(picture)
        ok = example["true"] == example["predicted"]
        axis.set_title(
            f"true: {example['true']}\npredicted: {example['predicted']} ({example['score']:.2f})",
            fontsize=9,
            color="black" if ok else "red",
        )
    fig.suptitle(
        "Validation examples (red/orange: predicted defect, white outline: labelled defect)", fontsize=10
    )
    return _figure_png(fig, top=1.0 - 0.35 / (cell_height * rows))
