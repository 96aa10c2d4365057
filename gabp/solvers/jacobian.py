"""Per-sample Jacobians of the output errors, by backpropagation, for a whole population, and
the normal equations of Levenberg-Marquardt built from them.

For every network ``p``, sample ``i`` and output ``o`` the error is ``e[p, i, o] = a_L[p, i, o]
- Y[i, o]`` and its Jacobian row is ``d e[p, i, o] / d params[p]``, columns in the flat
parameter layout of :mod:`gabp.network`. :func:`error_jacobian` returns the rows sample by
sample, outputs within a sample (row ``i * n_out + o``).

Backpropagation runs once per output unit (``n_out`` seeds at once, as an extra axis): the
seed of output ``o`` is ``d e_o / d z_L``, which is one-hot for an identity output, ``f'(a_o)``
on the diagonal for tanh / sigmoid and ``a_o (delta_oj - a_j)`` for softmax (so mse on a
softmax output is allowed, as MATLAB allows it). A dense layer's parameters ``[W (fi x fo,
row-major), b (fo)]`` are the outer product of the layer's input with a trailing 1,
``ã (fi + 1)``, and the layer's sensitivities ``s (fo)``: the Jacobian's columns of layer
``l`` are ``ã_l ⊗ s_l``, one per sample and output. Everything is laid out with the samples
last (``(P, units, n_out, n)``), so every elementwise product and backpropagated product runs
along the long, contiguous samples axis; nothing loops over the networks or the samples.

:func:`normal_equations` accumulates ``JᵀJ`` and ``Jᵀe`` over chunks of samples, in one of two
ways, whichever needs fewer flops for the network (:func:`normal_equations_method`):

- ``"jacobian"``: materialise the chunk's transposed Jacobian ``(P, n_params, n_out * n)``
  and form ``JᵀJ`` with one symmetric product per network (``n n_out q²`` flops);
- ``"blocks"``: never materialise ``J``; block ``(l, m)`` of ``JᵀJ`` is ``sum_i (ã_l ã_mᵀ) ⊗
  C_lm``, ``C_lm = sum_o s_l s_mᵀ``, i.e. one product of the ``(fi+1)(fj+1) x n`` Kronecker
  rows of the inputs with the ``n x fo fm`` rows of ``C`` (``2 n sum (fi+1)(fj+1) fo fm``
  flops over the blocks ``l <= m``). The sum over the outputs happens before the product, so
  this wins by about ``n_out / 2`` for multi-output networks; the first layer's input is the
  data itself, shared by the population, and its block is one large product for all networks.
  For one output the Jacobian is cheaper.
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


def _layer_factors(
    arch: Architecture, params: np.ndarray, X: np.ndarray
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Outputs ``(P, n, n_out)`` and, per layer (input to output), ``(ã, s)``.

    ``ã`` is the layer's input with a trailing row of ones, ``(P, fi + 1, n)`` (``(1, fi + 1,
    n)`` for the data, shared by the networks); ``s`` its sensitivities ``d e_o / d z``,
    ``(P, fo, n_out, n)``.
    """
    P, n = params.shape[0], X.shape[0]
    k = arch.n_outputs
    acts, _ = forward(arch, params, X)
    S = _output_seeds(arch.activations[-1], acts[-1])
    layers = arch.views(params)
    factors = []
    for i in range(arch.n_layers - 1, -1, -1):
        fi, fo = arch.layer_sizes[i], arch.layer_sizes[i + 1]
        a = acts[i] if acts[i].ndim == 3 else acts[i][None]
        A = np.empty((a.shape[0], fi + 1, n), dtype=params.dtype)
        A[:, :fi] = a.transpose(0, 2, 1)
        A[:, fi] = 1.0
        factors.append((A, S))
        if i > 0:
            S = np.matmul(layers[i][0], S.reshape(P, fo, k * n)).reshape(P, fi, k, n)
            ACTIVATIONS[arch.activations[i - 1]].mul_derivative(S, A[:, :fi, None, :])
    return acts[-1], factors[::-1]


def _jacobian_columns(
    arch: Architecture, params: np.ndarray, X: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``(P, n, n_out)`` and the transposed Jacobian ``(P, n_params, n_out * n)``.

    Column ``o * n + i`` of ``Jt[p]`` is the gradient of output ``o`` on sample ``i``.
    ``out``, if given, is a flat buffer of at least ``P * n_params * n_out * n`` entries.
    """
    P, n, k, q = params.shape[0], X.shape[0], arch.n_outputs, arch.n_params
    a_out, factors = _layer_factors(arch, params, X)
    size = P * q * k * n
    Jt = (np.empty(size, dtype=params.dtype) if out is None else out[:size]).reshape(P, q, k * n)
    for (w0, _, b1), (A, S) in zip(arch.offsets, factors, strict=True):
        fi1, fo = A.shape[1], S.shape[1]
        np.multiply(A[:, :, None, None, :], S[:, None], out=Jt[:, w0:b1].reshape(P, fi1, fo, k, n))
    return a_out, Jt


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


def normal_equations_method(arch: Architecture) -> str:
    """``"blocks"`` or ``"jacobian"``: which way :func:`normal_equations` forms ``JᵀJ``.

    The one that needs fewer flops per sample: ``n_out * n_params²`` for the symmetric product
    of the Jacobian, ``2 * sum_{l <= m} (fi_l + 1)(fi_m + 1) fo_l fo_m`` for the blocks.
    """
    sizes = arch.layer_sizes
    pairs = [((sizes[i] + 1) * sizes[i + 1]) for i in range(arch.n_layers)]
    rows = [sizes[i] + 1 for i in range(arch.n_layers)]
    blocks = sum(2 * rows[l] * rows[m] * sizes[l + 1] * sizes[m + 1]
                 for l in range(arch.n_layers) for m in range(l, arch.n_layers))
    jacobian = arch.n_outputs * sum(pairs) ** 2
    return "blocks" if blocks < jacobian else "jacobian"


def _add_blocks(arch: Architecture, factors: list[tuple[np.ndarray, np.ndarray]],
                e: np.ndarray, acc: dict[tuple[int, int], list], Jte: np.ndarray) -> None:
    """Add one chunk to ``Jᵀe`` and to the blocks of ``JᵀJ`` (no ``J``); ``e`` is ``(P, n_out,
    n)``.

    ``acc[l, m]`` (``l <= m``) holds block ``(l, m)`` with its rows ordered ``(a, c)`` (the
    inputs of layers ``l`` and ``m``) and its columns ``(b, d)`` (their units), as the product
    gives it: :func:`_assemble` reorders it once, after the last chunk. The data-input block
    is kept as ``(rows, P, columns)``, the layout of its one product for all networks.
    """
    P = Jte.shape[0]
    for l, ((w0, _, b1), (Al, Sl)) in enumerate(zip(arch.offsets, factors, strict=True)):
        fi1, fo, n = Al.shape[1], Sl.shape[1], Al.shape[2]
        r = np.einsum("pbon,pon->pbn", Sl, e)  # sum over the outputs first
        Jte[:, w0:b1] += np.matmul(Al, r.transpose(0, 2, 1)).reshape(P, fi1 * fo)
        for m in range(l, arch.n_layers):
            Am, Sm = factors[m]
            fj1, fm = Am.shape[1], Sm.shape[1]
            C = np.einsum("pbon,pdon->pbdn", Sl, Sm).reshape(P, fo * fm, n)
            K = (Al[:, :, None, :] * Am[:, None, :, :]).reshape(-1, fi1 * fj1, n)
            shared = K.shape[0] == 1  # both inputs are the data: one product for all networks
            if shared:
                G = (K[0] @ C.reshape(P * fo * fm, n).T).reshape(fi1 * fj1, P, fo * fm)
            else:
                G = np.matmul(K, C.transpose(0, 2, 1))
            if (l, m) in acc:
                acc[l, m][0] += G
            else:
                acc[l, m] = [G, shared]


def _assemble(arch: Architecture, acc: dict[tuple[int, int], list],
              JtJ: np.ndarray) -> None:
    """Write the blocks of :func:`_add_blocks` into ``JtJ`` (both triangles)."""
    P = JtJ.shape[0]
    for (l, m), (G, shared) in acc.items():
        (w0, _, b1), (v0, _, c1) = arch.offsets[l], arch.offsets[m]
        fi1, fo = arch.layer_sizes[l] + 1, arch.layer_sizes[l + 1]
        fj1, fm = arch.layer_sizes[m] + 1, arch.layer_sizes[m + 1]
        G = (G.transpose(1, 0, 2) if shared else G).reshape(P, fi1, fj1, fo, fm)
        # splitting the axes of a slice is always a view: this writes into JtJ
        JtJ[:, w0:b1, v0:c1].reshape(P, fi1, fo, fj1, fm)[...] = G.transpose(0, 1, 3, 2, 4)
        if m != l:
            JtJ[:, v0:c1, w0:b1] = JtJ[:, w0:b1, v0:c1].transpose(0, 2, 1)


def normal_equations(
    arch: Architecture,
    params: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    chunk_samples: int,
    method: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``JᵀJ``, ``Jᵀe`` and the sum of squared errors, accumulated over chunks of samples.

    Parameters
    ----------
    params : ndarray of shape (P, n_params), float64
    X : ndarray of shape (n, n_in); Y : ndarray of shape (n, n_out)
    chunk_samples : int
        Samples per chunk (see :func:`gabp.solvers.memory.lm_bytes` for the memory per sample).
    method : {"jacobian", "blocks"}, optional
        How ``JᵀJ`` is formed; default :func:`normal_equations_method`. Both give the same
        result up to rounding.

    Returns
    -------
    JtJ : ndarray of shape (P, n_params, n_params)
    Jte : ndarray of shape (P, n_params)
    sse : ndarray of shape (P,)
    """
    P, n_p, k = params.shape[0], arch.n_params, arch.n_outputs
    n = X.shape[0]
    blocks = (method or normal_equations_method(arch)) == "blocks"
    JtJ = np.zeros((P, n_p, n_p))
    Jte = np.zeros((P, n_p))
    sse = np.zeros(P)
    buf = None if blocks else np.empty(P * n_p * k * min(chunk_samples, n))
    acc: dict[tuple[int, int], list] = {}
    for start in range(0, n, chunk_samples):
        stop = min(start + chunk_samples, n)
        if blocks:
            a, factors = _layer_factors(arch, params, X[start:stop])
            e = (a - Y[start:stop]).transpose(0, 2, 1)
            _add_blocks(arch, factors, e, acc, Jte)
        else:
            a, Jt = _jacobian_columns(arch, params, X[start:stop], out=buf)
            e = (a - Y[start:stop]).transpose(0, 2, 1)  # the column order of Jt
            JtJ += np.matmul(Jt, Jt.transpose(0, 2, 1))
            Jte += np.matmul(Jt, e.reshape(P, -1, 1))[..., 0]
        sse += np.einsum("pon,pon->p", e, e)
    _assemble(arch, acc, JtJ)
    return JtJ, Jte, sse
