"""Loss functions over a population of networks, keyed by name.

Each loss takes the output layer's pre-activation ``z`` and activation ``a`` (both of shape
``(P, n, n_out)``) and the targets ``Y`` (``(n, n_out)``, shared by the population) and
returns the per-network loss of shape ``(P,)`` and ``dL/dz`` of shape ``(P, n, n_out)``.

- ``"mse"``: ``mean((a - Y) ** 2)`` over samples and outputs; any output activation.
- ``"cross_entropy"``: ``-mean_i sum_k Y_ik log softmax(z)_ik``; needs a softmax output.
  Computed with log-softmax, so it never takes ``log(0)``.
- ``"binary_cross_entropy"``: ``mean_i sum_k [max(z,0) - z Y + log(1 + exp(-|z|))]``, the
  logistic loss written on logits; needs a sigmoid output.

The L2 penalty is added by the network (it concerns weights, not outputs).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .activations import ACTIVATIONS, log_softmax

LossFn = Callable[[np.ndarray, np.ndarray, np.ndarray, str], tuple[np.ndarray, np.ndarray]]


def _mse(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str):
    diff = a - Y
    n_el = diff.shape[-2] * diff.shape[-1]
    loss = np.einsum("pij,pij->p", diff, diff) / n_el
    g = (2.0 / n_el) * diff  # dL/da
    if out_act == "softmax":  # Jacobian-vector product of softmax
        delta = a * (g - np.sum(g * a, axis=-1, keepdims=True))
    else:
        delta = g * ACTIVATIONS[out_act][1](a)
    return loss, delta


def _cross_entropy(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str):
    n = z.shape[-2]
    loss = -np.einsum("pij,ij->p", log_softmax(z), Y) / n
    return loss, (a - Y) / n


def _binary_cross_entropy(z: np.ndarray, a: np.ndarray, Y: np.ndarray, out_act: str):
    n = z.shape[-2]
    per = np.maximum(z, 0.0) - z * Y + np.log1p(np.exp(-np.abs(z)))
    return per.sum(axis=(-2, -1)) / n, (a - Y) / n


LOSSES: dict[str, LossFn] = {
    "mse": _mse,
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
}

#: The output activation a loss requires (``None``: any output activation).
LOSS_OUTPUT: dict[str, str | None] = {
    "mse": None,
    "cross_entropy": "softmax",
    "binary_cross_entropy": "sigmoid",
}
