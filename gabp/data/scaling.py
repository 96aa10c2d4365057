"""Min-max scaling and standardization, fitted on training data only.

Both scalers accept arrays of shape (n,) or (n, d), return the same shape, never
divide by zero on constant columns and serialize to plain JSON-able dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_array, fail


class _Scaler:
    """Shared machinery: ``x_scaled = (x - offset_) * factor_ + shift``."""

    _params: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.n_features_in_: int | None = None

    # -- subclass hooks -------------------------------------------------
    def _fit_params(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _forward(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _backward(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public API -----------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has been called."""
        return self.n_features_in_ is not None

    def _check(self, X: Any, method: str, *, fitting: bool = False) -> tuple[np.ndarray, bool]:
        where = f"{type(self).__name__}.{method}"
        if not fitting and not self.is_fitted:
            raise RuntimeError(
                f"This {type(self).__name__} is not fitted yet. Call fit(X_train) first."
            )
        arr = check_array(X, "X", where, ndim=(1, 2))
        one_d = arr.ndim == 1
        arr2 = arr.reshape(-1, 1) if one_d else arr
        if not fitting and arr2.shape[1] != self.n_features_in_:
            fail(
                "X",
                where,
                f"an array with {self.n_features_in_} column(s), as seen in fit",
                arr,
            )
        return arr2, one_d

    def fit(self, X: Any) -> _Scaler:
        """Learn the scaling from ``X`` of shape (n,) or (n, d); returns ``self``."""
        arr, _ = self._check(X, "fit", fitting=True)
        self._fit_params(arr)
        self.n_features_in_ = int(arr.shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Scale ``X`` of shape (n,) or (n, d); returns the same shape."""
        arr, one_d = self._check(X, "transform")
        out = self._forward(arr)
        return out.ravel() if one_d else out

    def fit_transform(self, X: Any) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map scaled values of shape (n,) or (n, d) back to original units."""
        arr, one_d = self._check(X, "inverse_transform")
        out = self._backward(arr)
        return out.ravel() if one_d else out

    def tile(self, reps: int) -> _Scaler:
        """Return a fitted copy whose parameters are repeated ``reps`` times.

        Used to scale lagged-window inputs (``n_lags`` copies of the series columns)
        with the scaling of the series itself.
        """
        new = self.from_dict(self.to_dict())
        for p in self._params:
            setattr(new, p, np.tile(getattr(self, p), reps))
        new.n_features_in_ = self.n_features_in_ * reps
        return new

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able description (lists and floats only)."""
        out: dict[str, Any] = {"type": type(self).__name__}
        out.update(self._config())
        for p in self._params:
            value = getattr(self, p, None)
            out[p] = None if value is None else np.asarray(value, dtype=float).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Scaler:
        """Rebuild a scaler saved with :meth:`to_dict`."""
        if not isinstance(data, dict) or data.get("type") != cls.__name__:
            fail("data", f"{cls.__name__}.from_dict", f"a dict with type {cls.__name__!r}", data)
        obj = cls(**{k: data[k] for k in cls._config_keys()})
        values = [data.get(p) for p in cls._params]
        if all(v is not None for v in values):
            for p, v in zip(cls._params, values, strict=True):
                setattr(obj, p, np.asarray(v, dtype=float))
            obj.n_features_in_ = len(values[0])
        return obj

    def _config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._config_keys()}

    @classmethod
    def _config_keys(cls) -> tuple[str, ...]:
        return ()


class MinMaxScaler(_Scaler):
    """Scale each column linearly to ``feature_range`` (MATLAB's ``mapminmax``).

    Parameters
    ----------
    feature_range : (float, float), default (-1, 1)
        Target interval ``(low, high)`` with ``low < high``; the classic recipes use
        (-1, 1) or (0, 1).

    Notes
    -----
    A constant column (max == min) is mapped to ``low`` and back to its value.
    """

    _params = ("data_min_", "data_max_")

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        super().__init__()
        try:
            low, high = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            fail("feature_range", "MinMaxScaler", "a pair (low, high) of numbers", feature_range)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            fail(
                "feature_range", "MinMaxScaler", "a pair (low, high) with low < high", feature_range
            )
        self.feature_range = [low, high]
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None

    @classmethod
    def _config_keys(cls) -> tuple[str, ...]:
        return ("feature_range",)

    def _fit_params(self, X: np.ndarray) -> None:
        self.data_min_ = X.min(axis=0)
        self.data_max_ = X.max(axis=0)

    def _factor(self) -> np.ndarray:
        span = self.data_max_ - self.data_min_
        span = np.where(span > 0, span, 1.0)
        return (self.feature_range[1] - self.feature_range[0]) / span

    def _forward(self, X: np.ndarray) -> np.ndarray:
        return (X - self.data_min_) * self._factor() + self.feature_range[0]

    def _backward(self, X: np.ndarray) -> np.ndarray:
        return (X - self.feature_range[0]) / self._factor() + self.data_min_

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={tuple(self.feature_range)})"


class StandardScaler(_Scaler):
    """Standardize each column to zero mean and unit variance.

    The standard deviation is the population one (``ddof=0``); a constant column
    keeps scale 1 (it is only centred).
    """

    _params = ("mean_", "scale_")

    def __init__(self) -> None:
        super().__init__()
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _fit_params(self, X: np.ndarray) -> None:
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)

    def _forward(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean_) / self.scale_

    def _backward(self, X: np.ndarray) -> np.ndarray:
        return X * self.scale_ + self.mean_

    def __repr__(self) -> str:
        return "StandardScaler()"


_SCALERS = {"MinMaxScaler": MinMaxScaler, "StandardScaler": StandardScaler}


def scaler_from_dict(data: dict[str, Any]) -> MinMaxScaler | StandardScaler:
    """Rebuild either scaler from :meth:`to_dict` output, dispatching on ``data["type"]``."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in _SCALERS:
        fail(
            "data",
            "scaler_from_dict",
            "a dict whose 'type' is one of " + ", ".join(repr(k) for k in _SCALERS),
            data,
        )
    return _SCALERS[kind].from_dict(data)
