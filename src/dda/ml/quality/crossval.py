"""Seeded, stratified k-fold splits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dda.core.errors import InvalidInput


def stratified_kfold(labels: Sequence[int], folds: int, seed: int) -> list[list[int]]:
    """``folds`` disjoint, sorted index lists covering every sample; each label is dealt round-robin
    after a seeded shuffle, so every fold holds its share of each label (differing by at most one)."""
    if folds < 2:
        raise InvalidInput(f"{folds} folds are too few", hint="use at least 2 folds")
    if folds > len(labels):
        raise InvalidInput(f"{folds} folds for {len(labels)} images", hint="use fewer folds")
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        rng.shuffle(members)
        for position, index in enumerate(members):
            parts[(position + offset) % folds].append(int(index))
        offset += len(members)  # the next label starts where this one stopped: balanced sizes
    return [sorted(p) for p in parts]
