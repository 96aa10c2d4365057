"""Index splits for classification (stratified) and regression (random)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float, check_int, fail


def _fractions(val_fraction: float, test_fraction: float, where: str) -> tuple[float, float]:
    vf = check_float(val_fraction, "val_fraction", where, low=0.0, high=1.0, high_open=True)
    tf = check_float(test_fraction, "test_fraction", where, low=0.0, high=1.0, high_open=True)
    if vf + tf >= 1.0:
        fail(
            "val_fraction",
            where,
            f"less than 1 - test_fraction = {1 - tf:g}",
            vf,
            hint="The training part would be empty.",
        )
    return vf, tf


def _allocate(quota: np.ndarray, total: int, cap: np.ndarray) -> np.ndarray:
    """Integer counts near ``quota`` summing to ``total`` (largest remainder, capped)."""
    counts = np.minimum(np.floor(quota).astype(np.int64), cap)
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    i = 0
    while counts.sum() < total and i < 2 * len(order):
        c = order[i % len(order)]
        if counts[c] < cap[c]:
            counts[c] += 1
        i += 1
    return counts


def stratified_split(
    y: Any,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices so each part keeps the class proportions of ``y``.

    The test part gets ``round(n * test_fraction)`` samples and the validation part
    ``round(n * val_fraction)``, shared among classes by largest remainder, so every
    class count is within one sample of its exact share. Samples are drawn at random
    within each class.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class labels (any hashable values).
    val_fraction, test_fraction : float, default 0.15
    seed : int or None, default 0

    Returns
    -------
    train_idx, val_idx, test_idx : ndarray of int
        Sorted, disjoint indices covering ``0 .. n - 1``.
    """
    where = "stratified_split"
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.size == 0:
        fail("y", where, "a non-empty 1-D array of labels", labels)
    vf, tf = _fractions(val_fraction, test_fraction, where)
    rng = np.random.default_rng(seed)
    _, codes = np.unique(
        labels.astype(str) if labels.dtype.kind == "O" else labels, return_inverse=True
    )
    codes = codes.ravel()
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    sizes = np.array([len(m) for m in members])
    n = labels.size
    n_test = _allocate(sizes * tf, int(round(n * tf)), sizes)
    n_val = _allocate(sizes * vf, int(round(n * vf)), sizes - n_test)
    parts: tuple[list, list, list] = ([], [], [])
    for idx, nt, nv in zip(members, n_test, n_val, strict=True):
        perm = rng.permutation(idx)
        parts[2].append(perm[:nt])
        parts[1].append(perm[nt : nt + nv])
        parts[0].append(perm[nt + nv :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val, test


def random_split(
    n_samples: int,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle ``range(n_samples)`` and cut it into train / validation / test indices.

    Sizes are ``round(n * test_fraction)`` and ``round(n * val_fraction)``; the indices of
    each part are returned sorted.
    """
    where = "random_split"
    n = check_int(n_samples, "n_samples", where, low=1)
    vf, tf = _fractions(val_fraction, test_fraction, where)
    perm = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(n * tf)), int(round(n * vf))
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return np.sort(train), np.sort(val), np.sort(test)
