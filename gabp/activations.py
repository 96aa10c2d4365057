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
