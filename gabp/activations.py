"""Activation functions, each defined once, keyed by name.

Every entry of :data:`ACTIVATIONS` is an :class:`Activation` with two primitives written
once: ``apply(z, out, tmp)`` (``out = f(z)``; ``out`` may be ``z`` itself, ``tmp`` an optional
scratch array) and ``mul_derivative(delta, a, tmp)`` (``delta *= f'(z)`` in place, with ``f'``
written from the activation's *output* ``a = f(z)``, so the backward pass needs only the
stored activations). The allocating ``forward(z)`` and ``derivative(a)`` are derived from
them, so ``ACTIVATIONS[name][0]`` and ``[1]`` (forward and derivative) never disagree with
the buffered hot path. Softmax has no elementwise derivative (``None``): its Jacobian is
applied by the loss (see :mod:`gabp.losses`).

All formulas are numerically stable: no overflow warning for inputs of +-1000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

LEAKY_SLOPE = 0.01


def _scratch(tmp: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    return np.empty_like(like) if tmp is None else tmp


def _apply_identity(z, out, tmp=None):
    if out is not z:
        np.copyto(out, z)
    return out


def _apply_relu(z, out, tmp=None):
    return np.maximum(z, 0.0, out=out)


def _apply_tanh(z, out, tmp=None):
    return np.tanh(z, out=out)


def _apply_leaky_relu(z, out, tmp=None):
    tmp = _scratch(tmp, z)
    np.multiply(z, LEAKY_SLOPE, out=tmp)
    return np.maximum(z, tmp, out=out)  # slope < 1: max(z, slope z) is the leaky ReLU


def _apply_sigmoid(z, out, tmp=None):
    tmp = _scratch(tmp, z)
    np.abs(z, out=tmp)
    np.negative(tmp, out=tmp)
    np.exp(tmp, out=tmp)  # e = exp(-|z|) in (0, 1]: never overflows
    # numerator: e for z < 0, 1 for z >= 0 (and NaN): max(e, 0) = e and max(e, 1) = 1 as
    # e <= 1, without a masked copy (np.copyto(where=) is ~4 ns per element, 5-10x a pass)
    np.greater_equal(z, 0.0, out=out)
    np.maximum(tmp, out, out=out)
    tmp += 1.0
    return np.divide(out, tmp, out=out)


def softmax(
    z: np.ndarray,
    out: np.ndarray | None = None,
    tmp: np.ndarray | None = None,
    *,
    rowmax: np.ndarray | None = None,
    rowsum: np.ndarray | None = None,
) -> np.ndarray:
    """Softmax over the last axis, shifted by the row maximum for stability.

    Parameters
    ----------
    z : ndarray of shape (..., k)
    out : ndarray like ``z``, optional
        Where to write the result (may not be ``z``).
    rowmax, rowsum : ndarray of shape (...), optional
        Filled with ``max z`` and ``sum exp(z - max z)`` of every row, so that
        ``log sum exp(z) = rowmax + log(rowsum)`` needs no second ``exp``.
    """
    out = np.empty_like(z) if out is None else out
    lead, k = z.shape[:-1], z.shape[-1]
    zmax = np.empty(lead, z.dtype) if rowmax is None else rowmax
    ssum = np.empty(lead, z.dtype) if rowsum is None else rowsum
    if k <= 16:  # a few column maxima beat a reduction over a short contiguous axis
        np.copyto(zmax, z[..., 0])
        for j in range(1, k):
            np.maximum(zmax, z[..., j], out=zmax)
    else:
        np.max(z, axis=-1, out=zmax)
    np.subtract(z, zmax[..., None], out=out)
    return softmax_shifted(out, ssum)


def softmax_shifted(out: np.ndarray, rowsum: np.ndarray) -> np.ndarray:
    """Finish a softmax in place: ``out`` holds ``z - max z`` and becomes ``softmax(z)``.

    ``rowsum`` (shape ``out.shape[:-1]``) is filled with ``sum exp(z - max z)``. The second
    half of :func:`softmax`, shared with the compiled bias+shift pass (``GABP_KERNELS``).
    """
    np.exp(out, out=out)  # in (0, 1], the row maximum is exactly 1
    np.matmul(out, np.ones(out.shape[-1], out.dtype), out=rowsum)
    out /= rowsum[..., None]
    return out


def log_softmax(z: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` over the last axis without forming ``softmax`` first."""
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def _mul_d_identity(delta, a, tmp=None):
    return delta


def _mul_d_relu(delta, a, tmp=None):
    return np.multiply(delta, a > 0, out=delta)


def _mul_d_leaky_relu(delta, a, tmp=None):
    # delta *= slope where a <= 0, else 1 (NaN too): four SIMD passes instead of a masked
    # multiply (np.multiply(where=) runs ~100 us on 40 x 32 x 16, 8x these), same bits
    tmp = _scratch(tmp, a)
    np.less_equal(a, 0.0, out=tmp)  # 1 where a <= 0
    np.subtract(1.0, tmp, out=tmp)  # 0 there, 1 elsewhere
    np.maximum(tmp, LEAKY_SLOPE, out=tmp)  # the slope there, 1 elsewhere
    return np.multiply(delta, tmp, out=delta)


def _mul_d_tanh(delta, a, tmp=None):
    tmp = _scratch(tmp, a)
    np.multiply(a, a, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    return np.multiply(delta, tmp, out=delta)


def _mul_d_sigmoid(delta, a, tmp=None):
    tmp = _scratch(tmp, a)
    np.subtract(1.0, a, out=tmp)
    tmp *= a
    return np.multiply(delta, tmp, out=delta)


InPlace = Callable[..., np.ndarray]


class Activation(NamedTuple):
    """One activation: allocating ``forward`` / ``derivative`` and the in-place primitives.

    ``forward(z) -> f(z)``; ``derivative(a) -> f'(z)`` from the output ``a`` (``None`` for
    softmax); ``apply(z, out, tmp=None)``; ``mul_derivative(delta, a, tmp=None)``.
    """

    forward: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray] | None
    apply: InPlace
    mul_derivative: InPlace | None


def _make(apply: InPlace, mul_derivative: InPlace | None) -> Activation:
    def forward(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        dt = z.dtype if z.dtype.kind == "f" else np.float64
        return apply(z.astype(dt, copy=False), np.empty(z.shape, dt))

    derivative = None
    if mul_derivative is not None:
        def derivative(a: np.ndarray) -> np.ndarray:
            a = np.asarray(a)
            dt = a.dtype if a.dtype.kind == "f" else np.float64
            return mul_derivative(np.ones(a.shape, dt), a)

    return Activation(forward, derivative, apply, mul_derivative)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": _make(_apply_sigmoid, _mul_d_sigmoid),
    "tanh": _make(_apply_tanh, _mul_d_tanh),
    "relu": _make(_apply_relu, _mul_d_relu),
    "leaky_relu": _make(_apply_leaky_relu, _mul_d_leaky_relu),
    "identity": _make(_apply_identity, _mul_d_identity),
    "softmax": _make(softmax, None),
}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` computed without overflow."""
    return ACTIVATIONS["sigmoid"].forward(z)


#: Activations allowed between layers.
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")
#: Activations allowed on the output layer.
OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "softmax", "tanh")
