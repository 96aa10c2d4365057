"""Activation functions, keyed by name.

Every entry maps a name to ``(forward, derivative)``. ``forward(z)`` returns ``f(z)``;
``derivative(a)`` returns ``f'(z)`` written from the activation's *output* ``a = f(z)``, so the
backward pass needs only the stored activations. Softmax has no elementwise derivative: its
Jacobian is applied by the loss (see :mod:`gabp.losses`).

All formulas are numerically stable: no overflow warning for inputs of +-1000.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` computed without overflow."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum for stability."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` over the last axis without forming ``softmax`` first."""
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _leaky_relu(z: np.ndarray) -> np.ndarray:
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def _d_sigmoid(a: np.ndarray) -> np.ndarray:
    return a * (1.0 - a)


def _d_tanh(a: np.ndarray) -> np.ndarray:
    return 1.0 - a * a


def _d_relu(a: np.ndarray) -> np.ndarray:
    return (a > 0).astype(a.dtype)


def _d_leaky_relu(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0, 1.0, LEAKY_SLOPE)


def _d_identity(a: np.ndarray) -> np.ndarray:
    return np.ones_like(a)


def apply_inplace(name: str, z: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """Overwrite ``z`` with ``f(z)`` for the hidden activation ``name`` and return it.

    Same values as ``ACTIVATIONS[name][0](z)`` without allocating the result; ``tmp`` is an
    optional scratch array of ``z``'s shape and dtype (sigmoid and leaky ReLU use one).
    """
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0, out=z)
    if name == "tanh":
        return np.tanh(z, out=z)
    if tmp is None:
        tmp = np.empty_like(z)
    if name == "leaky_relu":
        np.multiply(z, LEAKY_SLOPE, out=tmp)
        return np.maximum(z, tmp, out=z)  # slope < 1: max(z, slope z) is the leaky ReLU
    if name == "sigmoid":
        neg = z < 0
        np.abs(z, out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)  # e = exp(-|z|) in (0, 1]: never overflows
        z.fill(1.0)
        np.copyto(z, tmp, where=neg)  # numerator: 1 for z >= 0, e for z < 0
        tmp += 1.0
        return np.divide(z, tmp, out=z)
    return ACTIVATIONS[name][0](z)  # pragma: no cover - softmax is not a hidden activation


def mul_derivative_inplace(
    name: str, delta: np.ndarray, a: np.ndarray, tmp: np.ndarray | None = None
) -> np.ndarray:
    """``delta *= f'(z)`` in place, with ``f'`` written from the output ``a = f(z)``."""
    if name == "identity":
        return delta
    if name == "relu":
        return np.multiply(delta, a > 0, out=delta)
    if name == "leaky_relu":
        return np.multiply(delta, LEAKY_SLOPE, out=delta, where=a <= 0)
    if tmp is None:
        tmp = np.empty_like(a)
    if name == "tanh":
        np.multiply(a, a, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
    elif name == "sigmoid":
        np.subtract(1.0, a, out=tmp)
        tmp *= a
    else:  # pragma: no cover - softmax's Jacobian is applied by the loss
        raise ValueError(f"no elementwise derivative for activation {name!r}")
    return np.multiply(delta, tmp, out=delta)


Activation = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray] | None]

ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": (sigmoid, _d_sigmoid),
    "tanh": (np.tanh, _d_tanh),
    "relu": (_relu, _d_relu),
    "leaky_relu": (_leaky_relu, _d_leaky_relu),
    "identity": (_identity, _d_identity),
    "softmax": (softmax, None),
}

#: Activations allowed between layers.
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
#: Activations allowed on the output layer.
OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "softmax", "tanh")
