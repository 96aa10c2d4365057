"""Per-sample Jacobians of the output errors, by backpropagation, for a whole population.

For every network ``p``, sample ``i`` and output ``o`` the error is ``e[p, i, o] = a_L[p, i, o]
- Y[i, o]`` and its Jacobian row is ``d e[p, i, o] / d params[p]``. Rows are ordered sample
by sample, outputs within a sample (row ``i * n_out + o``), columns in the flat parameter
layout of :mod:`gabp.network`.

Backpropagation runs once per output unit (``n_out`` seeds at once, as an extra axis): the
seed of output ``o`` is ``d e_o / d z_L``, which is one-hot for an identity output, ``f'(a_o)``
on the diagonal for tanh / sigmoid and ``a_o (delta_oj - a_j)`` for softmax (so mse on a
softmax output is allowed, as MATLAB allows it). Everything is a batched array operation over
the population and the samples; nothing loops over either.

Levenberg-Marquardt never needs the full Jacobian: :func:`normal_equations` accumulates
``JᵀJ`` and ``Jᵀe`` over chunks of samples, so only one chunk of ``J`` exists at a time.
"""

from __future__ import annotations

import numpy as np

from ..activations import ACTIVATIONS
from ..network import Architecture, forward


def _output_seeds(out_act: str, a_out: np.ndarray) -> np.ndarray:
    """``d e_o / d z_L[j]`` for every output ``o``: shape ``(P, n_out (j), n_out (o), n)``."""
    aT = a_out.transpose(0, 2, 1)  # (P, k, n)
    P, k, n = aT.shape
    eye = np.eye(k, dtype=a_out.dtype)[None, :, :, None]
    if out_act == "softmax":
        return aT[:, None, :, :] * (eye - aT[:, :, None, :])
    if out_act == "identity":
        return np.broadcast_to(eye, (P, k, k, n)).copy()
    return eye * ACTIVATIONS[out_act].derivative(aT)[:, None, :, :]


def _jacobian_columns(
    arch: Architecture, params: np.ndarray, X: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``(P, n, n_out)`` and the transposed Jacobian ``(P, n_params, n_out * n)``.

    Column ``o * n + i`` of ``Jt[p]`` is the gradient of output ``o`` on sample ``i``.
    ``out``, if given, is a flat buffer of at least ``P * n_params * n_out * n`` entries.
    """
    P, n, k, q = params.shape[0], X.shape[0], arch.n_outputs, arch.n_params
    acts, _ = forward(arch, params, X)
    size = P * q * k * n
    Jt = (np.empty(size, dtype=params.dtype) if out is None else out[:size]).reshape(P, q, k * n)
    S = _output_seeds(arch.activations[-1], acts[-1])  # (P, fo, k, n)
    layers = arch.views(params)
    for i in range(arch.n_layers - 1, -1, -1):
        w0, _, b1 = arch.offsets[i]
        fi, fo = arch.layer_sizes[i], arch.layer_sizes[i + 1]
        a = acts[i] if acts[i].ndim == 3 else acts[i][None]
        aT = np.ascontiguousarray(a.transpose(0, 2, 1))  # (P or 1, fi, n)
        # rows w0..b1 are [W (fi x fo, row-major), b (fo)]: the outer product of the layer's
        # input with a trailing 1 and the sensitivities, one row per (input, unit) pair
        block = Jt[:, w0:b1].reshape(P, fi + 1, fo, k, n)
        np.multiply(aT[:, :, None, None, :], S[:, None], out=block[:, :fi])
        block[:, fi] = S
        if i > 0:
            S = np.matmul(layers[i][0], S.reshape(P, fo, k * n)).reshape(P, fi, k, n)
            ACTIVATIONS[arch.activations[i - 1]].mul_derivative(S, aT[:, :, None, :])
    return acts[-1], Jt


def error_jacobian(arch: Architecture, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The full Jacobian of the errors with respect to the parameters, for every network.

    Parameters
    ----------
    arch : Architecture
    params : ndarray of shape (P, n_params)
    X : ndarray of shape (n, n_in)

    Returns
    -------
    ndarray of shape (P, n * n_out, n_params)
        Row ``i * n_out + o`` is ``d output[p, i, o] / d params[p]`` (the targets do not enter).
    """
    P, n, k, q = params.shape[0], X.shape[0], arch.n_outputs, arch.n_params
    Jt = _jacobian_columns(arch, params, X)[1]
    return np.ascontiguousarray(Jt.reshape(P, q, k, n).transpose(0, 3, 2, 1)).reshape(P, n * k, q)


def normal_equations(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    chunk_samples: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``JᵀJ``, ``Jᵀe`` and the sum of squared errors, accumulated over chunks of samples.

    Parameters
    ----------
    params : ndarray of shape (P, n_params), float64
    X : ndarray of shape (n, n_in); Y : ndarray of shape (n, n_out)
    chunk_samples : int
        Samples per chunk; at most ``P * chunk_samples * n_out * n_params`` Jacobian entries
        exist at a time.

    Returns
    -------
    JtJ : ndarray of shape (P, n_params, n_params)
    Jte : ndarray of shape (P, n_params)
    sse : ndarray of shape (P,)
    """
    P, n_p, k = params.shape[0], arch.n_params, arch.n_outputs
    n = X.shape[0]
    JtJ = np.zeros((P, n_p, n_p))
    Jte = np.zeros((P, n_p))
    sse = np.zeros(P)
    buf = np.empty(P * n_p * k * min(chunk_samples, n))
    for start in range(0, n, chunk_samples):
        stop = min(start + chunk_samples, n)
        a, Jt = _jacobian_columns(arch, params, X[start:stop], out=buf)
        e = (a - Y[start:stop]).transpose(0, 2, 1).reshape(P, -1)  # column order of Jt
        JtJ += np.matmul(Jt, Jt.transpose(0, 2, 1))
        Jte += np.matmul(Jt, e[..., None])[..., 0]
        sse += np.einsum("pm,pm->p", e, e)
    return JtJ, Jte, sse
