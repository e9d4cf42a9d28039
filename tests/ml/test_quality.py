"""Thresholds from a false-reject budget, k-fold splits and the cross-validated default (``auto``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset
from dda.ml.artifact import load_artifact
from dda.ml.quality.benchmark import format_summary, run_benchmark
from dda.ml.quality.crossval import stratified_kfold
from dda.ml.quality.thresholds import calibrate_from_scores, describe, false_reject_at_catch, wilson_interval
from dda.ml.training import TrainOptions, train_model
from tests.ml.test_train import make_disc_dataset

CV = {"input_size": (64, 64), "cv_folds": 3, "plots": False}


def test_wilson_interval_brackets_the_rate_and_is_none_without_trials() -> None:
    low, high = wilson_interval(0, 30) or (None, None)
    assert low == 0.0 and 0.05 < high < 0.15  # "none of 30" still allows ~11 %
    low, high = wilson_interval(5, 100) or (None, None)
    assert low < 0.05 < high
    assert wilson_interval(0, 0) is None


def test_budget_threshold_keeps_new_good_parts_inside_the_budget() -> None:
    rng = np.random.default_rng(0)
    normal = rng.lognormal(0.0, 0.15, 40)  # anomaly-like scores around 1
    defect = rng.lognormal(1.0, 0.3, 40)
    report = calibrate_from_scores(normal, defect, max_false_reject=0.01)
    assert report["rule"] == "budget" and report["false_reject"] == 0.0
    # The fitted tail extrapolates past the largest of 40 normals; fresh normals stay under budget.
    assert report["threshold"] >= normal.max()
    fresh = rng.lognormal(0.0, 0.15, 20000)
    assert np.mean(fresh > report["threshold"]) < 0.02
    assert 0.0 <= report["miss_rate"] <= 0.2 and report["miss_rate_interval_95"][1] > report["miss_rate"]
    assert dict(describe(report))["threshold"]


def test_probability_scores_use_a_logit_tail_and_f1_rule_is_kept() -> None:
    normal = np.array([0.01, 0.02, 0.05, 0.03, 0.1, 0.04])
    defect = np.array([0.6, 0.9, 0.95, 0.2])
    budget = calibrate_from_scores(normal, defect, max_false_reject=0.01)
    assert 0.1 <= budget["threshold"] < 1.0
    f1 = calibrate_from_scores(normal, defect, rule="f1")
    assert f1["rule"] == "f1" and 0.1 < f1["threshold"] < 0.2 and f1["miss_rate"] == 0.0
    assert false_reject_at_catch(normal, defect, 0.95) == 0.0


def test_threshold_needs_normal_images_and_a_sane_budget() -> None:
    with pytest.raises(InvalidInput, match="at least 2"):
        calibrate_from_scores(np.array([1.0]), np.array([2.0]))
    with pytest.raises(InvalidInput, match="outside"):
        calibrate_from_scores(np.ones(5), np.ones(2), max_false_reject=0.7)


def test_stratified_kfold_deals_every_image_once_and_balances_labels() -> None:
    labels = [0] * 10 + [1] * 7
    folds = stratified_kfold(labels, 3, seed=1)
    assert sorted(i for f in folds for i in f) == list(range(17))
    for fold in folds:
        defects = sum(labels[i] for i in fold)
        assert 2 <= defects <= 3 and 5 <= len(fold) <= 6
    assert folds != stratified_kfold(labels, 3, seed=2)
    with pytest.raises(InvalidInput):
        stratified_kfold(labels, 1, seed=0)


@pytest.fixture(scope="module")
def discs(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return make_disc_dataset(tmp_path_factory.mktemp("discs"), n_per_class=8)


@pytest.mark.slow
def test_auto_chooses_by_cross_validation_and_stores_the_threshold_report(
    discs: Dataset, tmp_path: Path
) -> None:
    result = train_model(discs, "auto", tmp_path / "m.tar.gz", options=TrainOptions(**CV), progress=False)
    config = result.config
    selection = config["selection"]
    assert set(selection["candidates"]) == {"linear", "padim"} and selection["folds"] == 3
    assert selection["chosen"] in selection["candidates"] and selection["chosen"] in selection["reason"]
    report = config["threshold_report"]
    assert report["normal_images"] == 8 and report["defect_images"] == 8
    assert config["threshold"] == report["threshold"]
    trained = load_artifact(result.artifact_path)  # the report travels in model.tar.gz
    assert trained.config["threshold_report"] == json.loads(json.dumps(report))
    assert trained.metrics["selection"]["chosen"] == selection["chosen"]
    assert result.metrics["image"]["auroc"] > 0.8  # out-of-fold, on images no fold model saw


@pytest.mark.slow
def test_forced_linear_head_deploys_as_a_classifier(discs: Dataset, tmp_path: Path) -> None:
    options = TrainOptions(**CV, method="linear", max_false_reject=0.05)
    result = train_model(discs, "auto", tmp_path / "lin.tar.gz", options=options, progress=False)
    trained = load_artifact(result.artifact_path)
    assert trained.model_type == "classification" and trained.config["method"] == "linear"
    assert trained.config["threshold_report"]["max_false_reject"] == 0.05


@pytest.mark.slow
def test_benchmark_reports_mean_and_spread_per_run_and_per_seed(discs: Dataset) -> None:
    summary = run_benchmark(
        discs, folds=2, seeds=(0,), options=TrainOptions(input_size=(64, 64), cv_folds=2, method="linear"),
        progress=False,
    )  # fmt: skip
    assert len(summary["runs"]) == 2 and summary["chosen"] == {"linear": 2}
    for key in ("auroc", "false_reject", "miss_rate", "false_reject_at_95_catch"):
        assert summary["per_run"][key]["mean"] is not None
        assert summary["per_seed_pooled"][key]["std"] == 0.0  # one seed
    assert any("image AUROC" in line for line in format_summary(summary))


@pytest.mark.slow
def test_without_imagenet_weights_the_fitted_maps_match_the_deployed_backbone(
    discs: Dataset, tmp_path: Path
) -> None:
    import torch

    options = TrainOptions(**CV, method="padim", pretrained=False, seed=3)
    result = train_model(discs, "anomaly", tmp_path / "a.tar.gz", options=options, progress=False)
    trained = load_artifact(result.artifact_path)
    from dda.ml.training.evaluate import image_scores

    defective, scores = image_scores(trained, discs)
    # Trained on every normal image: their scores sit on the normal scale (~1), not far above it.
    assert float(np.median(scores[~defective])) < 1.5
    assert torch.isfinite(torch.as_tensor(scores)).all()
