"""Optional compiled kernels (``GABP_KERNELS=numba``): the one place that decides.

The environment variable ``GABP_KERNELS`` picks the implementation of the first-order step's
elementwise passes: ``numpy`` (the default, what CI tests) or ``numba`` (the optional extra
``gabp[fast]``). :func:`compiled` returns a kernel by name, or ``None`` on the NumPy path;
an unknown value, or ``numba`` without numba installed, raises a ``ValueError``.

The kernels, written here as plain Python loops and compiled on first use (cached on disk):

- ``adam_rows``: Adam's ten passes in one (:class:`gabp.optimizers.Adam`), bit-identical.
- ``bias_relu``: ``z += b; z = max(z, 0)`` in one pass, bit-identical.
- ``relu_grad``: ``delta *= (a > 0)`` in one pass, bit-identical.
- ``bias_shift``: ``z += b``, the row maximum and ``z - max`` in one pass (the softmax's
  ``exp``, row sum and division stay NumPy's: numba's scalar ``exp`` is slower than
  NumPy's SIMD one), bit-identical.
- ``softmax_ce``: cross-entropy loss and ``dL/dz = (a - Y) / n`` in one pass; the loss's
  two sums are added left to right (NumPy: ``einsum``, in blocks), so the loss may differ
  from NumPy's by rounding (``dL/dz`` is bit-identical).

Every kernel treats each network on its own, in an order that does not depend on how many
networks are in the population. ``error_model="numpy"`` keeps IEEE division (no
per-element zero check) so loops vectorize; no fast-math, so nothing is reordered or fused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._threads import rescan_blas

#: Values of the ``GABP_KERNELS`` environment variable.
KERNELS = ("numpy", "numba")
_COMPILED: dict[str, Callable[..., Any]] = {}
_PENDING_RESCAN: list[bool] = []


def selected() -> str:
    """The validated value of ``GABP_KERNELS`` (``"numpy"`` when unset or empty)."""
    choice = os.environ.get("GABP_KERNELS", "numpy").strip().lower() or "numpy"
    if choice not in KERNELS:
        raise ValueError(f"The GABP_KERNELS environment variable must be one of "
                         f"{', '.join(KERNELS)}. Got {choice!r} instead.")
    return choice


def compiled(name: str) -> Callable[..., Any] | None:
    """The compiled kernel ``name`` if ``GABP_KERNELS=numba``, else ``None``.

    Parameters
    ----------
    name : str
        One of ``adam_rows``, ``bias_relu``, ``relu_grad``, ``bias_shift``, ``softmax_ce``.
    """
    if selected() != "numba":
        return None
    fn = _COMPILED.get(name)
    if fn is None:
        try:
            import numba
        except ImportError:
            raise ValueError("GABP_KERNELS=numba needs numba: pip install 'gabp[fast]' "
                             "(or unset GABP_KERNELS for the NumPy passes).") from None
        fn = _COMPILED[name] = numba.njit(cache=True, nogil=True, error_model="numpy",
                                          boundscheck=False)(_SOURCES[name])
        _PENDING_RESCAN.append(True)
    return fn


def check_kernels() -> str:
    """Validate ``GABP_KERNELS`` now, before any work: the value, and numba when it is chosen.

    Training checks it too, but inside a GA a failing training is one failed individual;
    the public doors (:func:`gabp.evolution.evolve`, the search, a TOML config) call this
    first so a bad setting is one clear ``ValueError`` instead of a run of failures.
    Returns the validated choice.
    """
    choice = selected()
    if choice == "numba":
        compiled("adam_rows")  # imports numba (the kernel itself compiles on first use)
    return choice


def warm(fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn`` on tiny arguments so it compiles (or loads from the disk cache) now.

    Compiling can load another BLAS library (SciPy's OpenBLAS); the BLAS thread limit then
    rescans the loaded libraries on its next use.
    """
    fn(*args)
    if _PENDING_RESCAN:
        _PENDING_RESCAN.clear()
        rescan_blas()


# The kernels (compiled by numba; plain Python would be correct and very slow).


def adam_rows(p, g, m, v, c_m, c_g, b2, eps, active):  # pragma: no cover - compiled
    """One Adam step over rows ``r`` of ``p`` (see :meth:`Adam._update`, same arithmetic)."""
    for r in range(p.shape[0]):
        cg = c_g[r]
        if active[r]:
            for j in range(p.shape[1]):
                gj = g[r, j]
                mj = m[r, j] * c_m + gj * cg
                vj = v[r, j] * b2 + gj * gj
                m[r, j] = mj
                v[r, j] = vj
                p[r, j] += mj / (np.sqrt(vj) + eps)
        else:  # a frozen network: its moments move on, its parameters do not
            for j in range(p.shape[1]):
                gj = g[r, j]
                m[r, j] = m[r, j] * c_m + gj * cg
                v[r, j] = v[r, j] * b2 + gj * gj


def bias_relu(z, b, zero):  # pragma: no cover - compiled
    """``z = max(z + b, 0)`` in place; ``z`` (P, n, k), ``b`` (P, k) contiguous.

    As NumPy's SIMD ``np.maximum(x, 0)``: ``0`` where ``x <= 0`` (also for ``-0.0``), ``x``
    elsewhere (NaN stays NaN).
    """
    for p in range(z.shape[0]):
        bp = b[p]
        for i in range(z.shape[1]):
            zi = z[p, i]
            for j in range(z.shape[2]):
                x = zi[j] + bp[j]
                zi[j] = zero if x <= zero else x


def relu_grad(delta, a, zero, one):  # pragma: no cover - compiled
    """``delta *= (a > 0)`` in place (a product, so ``inf * 0`` is NaN as in NumPy)."""
    for p in range(delta.shape[0]):
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                delta[p, i, j] *= one if a[p, i, j] > zero else zero


def bias_shift(z, b, out, rowmax):  # pragma: no cover - compiled
    """``z += b`` in place, ``rowmax = max z`` per row and ``out = z - rowmax``.

    The first half of :func:`gabp.activations.softmax` with the bias add (``b`` (P, k)
    contiguous); NumPy's ``exp``, row-sum product and division follow, so the softmax is
    bit-identical. The maximum propagates NaN as ``np.maximum`` does.
    """
    k = z.shape[2]
    for p in range(z.shape[0]):
        bp = b[p]
        for i in range(z.shape[1]):
            zi = z[p, i]
            zmax = zi[0] + bp[0]
            zi[0] = zmax
            for j in range(1, k):
                x = zi[j] + bp[j]
                zi[j] = x
                if x > zmax or x != x:
                    zmax = x
            rowmax[p, i] = zmax
            oi = out[p, i]
            for j in range(k):
                oi[j] = zi[j] - zmax


def softmax_ce(z, a, Y, lse, n_rows, inv_n, delta, loss):  # pragma: no cover - compiled
    """Cross-entropy ``loss`` (P,) and ``delta = (a - Y) * inv_n`` in one pass.

    ``loss_p = (sum_i lse_pi sum_k Y_ik - sum_ik z_pik Y_ik) / n`` with
    ``lse = log sum exp z`` from the forward pass, as :func:`gabp.losses._cross_entropy`;
    ``n_rows`` and ``inv_n`` are ``n`` and ``1 / n`` in the arrays' dtype (NumPy's rounding).
    """
    n, k = z.shape[1], z.shape[2]
    for p in range(z.shape[0]):
        s_lse = inv_n - inv_n  # a zero of the arrays' dtype
        s_zy = s_lse
        for i in range(n):
            ysum = s_lse - s_lse
            zi, ai, di, yi = z[p, i], a[p, i], delta[p, i], Y[i]
            for j in range(k):
                y = yi[j]
                ysum += y
                s_zy += zi[j] * y
                di[j] = (ai[j] - y) * inv_n
            s_lse += lse[p, i] * ysum
        loss[p] = (s_lse - s_zy) / n_rows


_SOURCES: dict[str, Callable[..., Any]] = {
    "adam_rows": adam_rows, "bias_relu": bias_relu, "relu_grad": relu_grad,
    "bias_shift": bias_shift, "softmax_ce": softmax_ce,
}
