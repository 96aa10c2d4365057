"""A trained model ready to predict on raw data: network + scalers + label encoder.

Saved as one ``.npz`` (parameters) with the architecture, scalers, encoder and task
description stored as JSON inside it; loading never unpickles anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_array, check_choice, check_int, fail
from .data import OneHotEncoder, scaler_from_dict
from .data.tasks import Scaler
from .forecasting.transforms import forecast_paths
from .network import Network, check_inputs, load_network, save_network


@dataclass
class Model:
    """A network with the preprocessing it was trained with.

    Attributes
    ----------
    network : Network
        The network working in scaled units; several members (an ensemble) are averaged.
    task : {"regression", "classification", "series"}
    x_scaler, y_scaler : fitted scalers or None
    encoder : OneHotEncoder or None
        Classification: maps output columns to class labels.
    windowing : dict or None
        Series: ``n_lags``, ``lag_step``, ``horizon`` of the input windows.
    feature_names, target_names : list of str
    linear : dict or None
        A linear part the network's outputs are added to (``GABPRegressor(linear=True)``,
        ``[network] linear``): ``coef`` (n_inputs, n_out), ``intercept`` and ``scale``
        (n_out,) on scaled inputs and targets, and the ridge's ``alpha``; the model's scaled
        output is ``X @ coef + intercept + scale * network(X)``.
    """

    network: Network
    task: str
    x_scaler: Scaler | None = None
    y_scaler: Scaler | None = None
    encoder: OneHotEncoder | None = None
    windowing: dict[str, Any] | None = None
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    linear: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.linear is not None:
            self.linear = _check_linear(self.linear, self.network)

    @classmethod
    def from_estimator(cls, est: Any, *, task: str | None = None,
                       windowing: dict[str, Any] | None = None,
                       feature_names: list[str] | None = None,
                       target_names: list[str] | None = None) -> Model:
        """The :class:`Model` of a fitted :class:`~gabp.GABPRegressor` / ``GABPClassifier``."""
        classes = getattr(est, "classes_", None)
        fit = getattr(est, "linear_", None)
        linear = None if fit is None else linear_part(fit.coef, fit.intercept,
                                                      est.residual_scale_, fit.alpha)
        return cls(
            network=est.network_,
            task=task or ("classification" if classes is not None else "regression"),
            x_scaler=est.input_scaler_,
            y_scaler=getattr(est, "target_scaler_", None),
            encoder=None if classes is None else OneHotEncoder().fit(list(classes)),
            windowing=windowing,
            feature_names=list(feature_names or []),
            target_names=list(target_names or []),
            linear=linear,
        )

    def predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """Raw model outputs for already-scaled inputs: shape ``(n, n_out)``.

        An ensemble (``network.n_networks > 1``) gives the mean of its members' outputs
        (averaged regression outputs or class probabilities); a model with a ``linear``
        part adds the network's (rescaled) output to it.
        """
        out = self.network.forward(X_scaled).mean(axis=0)
        lin = self.linear
        if lin is None:
            return out
        return X_scaled @ lin["coef"] + lin["intercept"] + out * lin["scale"]

    def _scale_x(self, X: Any) -> np.ndarray:
        arch = self.network.arch
        if len(arch.input_shape) == 3:  # images (n, C, H, W) or flat rows, as rows
            X = check_inputs(arch, X, "X", "Model.predict")
        else:
            X = check_array(X, "X", "Model.predict", ndim=2)
        if X.shape[1] != arch.n_inputs:
            fail("X", "Model.predict", f"an array with {arch.n_inputs} columns "
                 f"({', '.join(self.feature_names) or 'the training inputs'})", X)
        return X if self.x_scaler is None else self.x_scaler.transform(X)

    def _proba(self, out: np.ndarray) -> np.ndarray:
        # A binary classifier may have one sigmoid output: P(classes_[1]).
        if self.encoder is not None and out.shape[1] == 1 and self.encoder.n_classes == 2:
            return np.column_stack([1.0 - out[:, 0], out[:, 0]])
        return out

    def output_to_target(self, out: np.ndarray) -> np.ndarray:
        """Network outputs -> original units (regression/series) or labels (classification)."""
        if self.encoder is not None:
            return self.encoder.inverse_transform(self._proba(out))
        return out if self.y_scaler is None else self.y_scaler.inverse_transform(out)

    def predict(self, X: Any) -> np.ndarray:
        """Predict from raw inputs of shape ``(n, n_inputs)`` (series: the lag windows).

        A model with image input ``(C, H, W)`` also takes images of shape ``(n, C, H, W)``.

        Returns original units of shape ``(n, n_targets)`` or class labels of shape ``(n,)``.
        """
        return self.output_to_target(self.predict_scaled(self._scale_x(X)))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` (classification only)."""
        if self.encoder is None:
            raise ValueError("predict_proba is only defined for classification models.")
        return self._proba(self.predict_scaled(self._scale_x(X)))

    def forecast_plan(self) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """``(lags, differencing ops, n_out)`` of a series model that can forecast ahead.

        Raises ``ValueError`` for a model that cannot: not a series model, exogenous inputs,
        several series columns, or horizons other than ``1`` / ``1, 2, ..., H``.
        """
        w = self.windowing
        if self.task != "series" or w is None:
            raise ValueError("forecast needs a model trained on a series task.")
        lags = tuple((int(w["n_lags"]) - 1 - j) * int(w.get("lag_step") or 1) + 1
                     for j in range(int(w["n_lags"])))
        hs = [int(h) for h in np.atleast_1d(w.get("horizon", 1))]
        if hs != list(range(1, len(hs) + 1)):
            raise ValueError(f"forecast needs horizons 1, 2, ..., H; this model predicts {hs}.")
        if self.network.arch.n_inputs != len(lags) or self.network.arch.n_outputs != len(hs):
            raise ValueError("forecast needs a model of one series column without exogenous "
                             f"inputs; this one has inputs {', '.join(self.feature_names)}.")
        return lags, tuple(int(o) for o in w.get("differencing") or ()), len(hs)

    def forecast(self, history: Any, steps: int) -> np.ndarray:
        """Forecast ``steps`` values after a raw 1-D ``history``, in original units.

        One-step models are applied recursively (forecasts fed back as lags); a model of
        horizons ``1..H`` forecasts up to ``H`` steps at once. The run's differencing is
        inverted on every forecast. ``history`` needs ``max lag + differencing order``
        values (12 for 12 lags without differencing).
        """
        where = "Model.forecast"
        lags, ops, n_out = self.forecast_plan()
        y = check_array(history, "history", where, ndim=1)
        look = max(lags) + sum(ops)
        if y.shape[0] < look:
            fail("history", where, f"at least {look} values (lags up to {max(lags)} plus "
                 f"differencing of order {sum(ops)})", f"{y.shape[0]} values")
        steps = check_int(steps, "steps", where, low=1, high=n_out if n_out > 1 else None)
        return forecast_paths(self.predict, y[None, -look:], lags=lags, ops=ops, steps=steps,
                              n_out=n_out)[0]

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (``.npz``; atomic)."""
        extra = {
            "task": self.task,
            "x_scaler": None if self.x_scaler is None else self.x_scaler.to_dict(),
            "y_scaler": None if self.y_scaler is None else self.y_scaler.to_dict(),
            "encoder": None if self.encoder is None else self.encoder.to_dict(),
            "windowing": self.windowing,
            "feature_names": list(self.feature_names),
            "target_names": list(self.target_names),
            "linear": None if self.linear is None else {
                k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in self.linear.items()},
        }
        save_network(path, self.network, extra=extra)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Model:
        """Read a model written by :meth:`save`.

        Raises ``ValueError`` naming the file when it is not a complete gabp model (bad
        archive, missing or mistyped keys); nothing is unpickled.
        """
        path = os.fspath(path)
        net, extra = load_network(path)
        if "task" not in extra:
            raise ValueError(f"{path} holds a bare network, not a gabp model.")
        try:
            model = cls(
                network=net,
                task=check_choice(extra["task"], ("regression", "classification", "series"),
                                  "task", "Model.load"),
                x_scaler=_opt(extra["x_scaler"], scaler_from_dict),
                y_scaler=_opt(extra["y_scaler"], scaler_from_dict),
                encoder=_opt(extra["encoder"], OneHotEncoder.from_dict),
                windowing=extra.get("windowing"),
                feature_names=[str(f) for f in extra.get("feature_names", [])],
                target_names=[str(t) for t in extra.get("target_names", [])],
                linear=extra.get("linear"),
            )
        except KeyError as exc:
            raise ValueError(f"{path} is not a valid gabp model: the key {exc} is missing "
                             "from its metadata.") from None
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"{path} is not a valid gabp model: {exc}") from None
        if model.windowing is not None and not isinstance(model.windowing, dict):
            raise ValueError(f"{path} is not a valid gabp model: 'windowing' is not a table.")
        if model.task == "classification" and model.encoder is None:
            raise ValueError(f"{path} is not a valid gabp model: a classifier without classes.")
        return model


def linear_part(coef: Any, intercept: Any, scale: Any, alpha: float) -> dict[str, Any]:
    """The ``linear`` table of a :class:`Model`: ``X @ coef + intercept + scale * network``."""
    return {"coef": np.asarray(coef, dtype=float), "intercept": np.asarray(intercept, float),
            "scale": np.asarray(scale, dtype=float), "alpha": float(alpha)}


def _check_linear(value: Any, net: Network) -> dict[str, Any]:
    """A model's ``linear`` table as arrays of the network's input / output sizes."""
    if not isinstance(value, dict):
        raise ValueError(f"'linear' must be a table, not {type(value).__name__}")
    lin = linear_part(value["coef"], value["intercept"], value["scale"], value["alpha"])
    n_in, n_out = net.arch.n_inputs, net.arch.n_outputs
    if (lin["coef"].shape != (n_in, n_out) or lin["intercept"].shape != (n_out,)
            or lin["scale"].shape != (n_out,)):
        raise ValueError(f"'linear' must have coef ({n_in}, {n_out}), intercept and scale "
                         f"({n_out},); got {lin['coef'].shape}, {lin['intercept'].shape}, "
                         f"{lin['scale'].shape}")
    if not all(np.all(np.isfinite(lin[k])) for k in ("coef", "intercept", "scale")):
        raise ValueError("'linear' must hold finite numbers")
    return lin


def _opt(value: Any, build: Any) -> Any:
    """``build(value)``, or None when ``value`` is None."""
    return None if value is None else build(value)
