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
from numpy.lib.stride_tricks import as_strided

from ..activations import ACTIVATIONS
from ..network import Architecture, forward


def _output_seeds(out_act: str, a_out: np.ndarray) -> np.ndarray:
    """``d e_o / d z_L`` for every output ``o``: shape ``(P, n, n_out (o), n_out (j))``."""
    k = a_out.shape[-1]
    eye = np.eye(k, dtype=a_out.dtype)
    if out_act == "softmax":
        return a_out[..., :, None] * (eye - a_out[..., None, :])
    if out_act == "identity":
        return np.broadcast_to(eye, a_out.shape[:-1] + (k, k)).copy()
    return eye * ACTIVATIONS[out_act][1](a_out)[..., None, :]


def _jacobian_rows(
    arch: Architecture, params: np.ndarray, X: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``(P, n, n_out)`` and the Jacobian ``(P, n * n_out, n_params)`` on ``X``.

    ``out``, if given, is a ``(P, >= n * n_out, n_params)`` buffer whose leading rows are used.
    """
    P, n, k = params.shape[0], X.shape[0], arch.n_outputs
    acts, _ = forward(arch, params, X)
    if out is None:
        J = np.empty((P, n * k, arch.n_params), dtype=params.dtype)
    else:
        J = out[:, : n * k]
    J4 = J.reshape(P, n, k, arch.n_params)
    D = _output_seeds(arch.activations[-1], acts[-1])  # (P, n, k, n_L)
    layers = arch.views(params)
    for i in range(arch.n_layers - 1, -1, -1):
        w0, b0, b1 = arch.offsets[i]
        fi, fo = arch.layer_sizes[i], arch.layer_sizes[i + 1]
        a_prev = acts[i]
        a4 = a_prev[None, :, None, :, None] if a_prev.ndim == 2 else a_prev[:, :, None, :, None]
        block = J4[..., w0:b0]  # (P, n, k, fi * fo), viewed as (P, n, k, fi, fo) below
        rows = as_strided(block, shape=(P, n, k, fi, fo),
                          strides=block.strides[:3] + (fo * block.itemsize, block.itemsize))
        np.multiply(a4, D[..., None, :], out=rows)  # d e / d W[a, b] = a_prev[a] * D[b]
        J4[..., b0:b1] = D
        if i > 0:
            W = layers[i][0]  # (P, fi, fo)
            D = np.matmul(D.reshape(P, n * k, fo), W.transpose(0, 2, 1)).reshape(P, n, k, fi)
            D *= ACTIVATIONS[arch.activations[i - 1]][1](a_prev)[:, :, None, :]
    return acts[-1], J


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
    return _jacobian_rows(arch, params, X)[1]


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
    buf = np.empty((P, min(chunk_samples, n) * k, n_p))
    for start in range(0, n, chunk_samples):
        stop = min(start + chunk_samples, n)
        a, J = _jacobian_rows(arch, params, X[start:stop], out=buf)
        e = (a - Y[start:stop]).reshape(P, -1)
        JtJ += np.matmul(J.transpose(0, 2, 1), J)
        Jte += np.matmul(J.transpose(0, 2, 1), e[..., None])[..., 0]
        sse += np.einsum("pm,pm->p", e, e)
    return JtJ, Jte, sse
