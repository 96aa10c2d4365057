"""The :class:`Dataset` record returned by every loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

TASKS = ("regression", "classification", "series")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset, ready for :func:`gabp.data.split_task`.

    Attributes
    ----------
    name : str
        Short name (the key of :func:`gabp.data.load_dataset`, or the CSV file stem).
    X : ndarray of shape (n, d) or (n, C, H, W)
        Inputs: rows of ``d`` features, or images (``load_digits(as_images=True)``).
        For ``task == "series"`` these are the default supervised windows (see
        ``windowing``), one row per forecast origin.
    y : ndarray
        Targets: shape (n,) integer class codes for classification (the class of
        code ``c`` is ``target_names[c]``), shape (n, k) floats otherwise.
    task : {"regression", "classification", "series"}
    feature_names : list of str
        One name per column of ``X``.
    target_names : list of str
        Class names (classification) or one name per column of ``y``.
    index : ndarray of shape (n,) or None
        Time of each row's target (series datasets), e.g. years; ``None`` otherwise.
    series : ndarray of shape (n_t,) or (n_t, c) or None
        The raw series the windows were built from (series datasets only).
    description : str
        What the data is, where it comes from and its licence.
    series_index : ndarray of shape (n_t,) or None
        Time of each value of ``series``.
    windowing : dict or None
        Keyword arguments of :func:`gabp.data.make_windows` used to build ``X`` and
        ``y`` from ``series`` (``n_lags``, ``lag_step``, ``horizon``).
    exog : ndarray of shape (n_t, n_exog) or None
        Exogenous columns aligned with ``series`` (appended to each window's inputs at
        its origin), e.g. the non-target columns of a CSV series.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list[str]
    target_names: list[str]
    index: np.ndarray | None = None
    series: np.ndarray | None = None
    description: str = ""
    series_index: np.ndarray | None = None
    windowing: dict[str, Any] | None = field(default=None)
    exog: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Input values per sample: the columns of ``X``, or ``C * H * W`` for images."""
        return int(np.prod(self.X.shape[1:]))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: ``(d,)`` for rows, ``(C, H, W)`` for images."""
        return tuple(int(v) for v in self.X.shape[1:])

    @property
    def classes(self) -> list[str] | None:
        """Class names for classification datasets, else ``None``."""
        return list(self.target_names) if self.task == "classification" else None

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, X={self.X.shape}, y={self.y.shape})"
        )
