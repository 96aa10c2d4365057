"""Compiled kernels when numba is there (``GABP_KERNELS``): the one place that decides.

The environment variable ``GABP_KERNELS`` picks the implementation of the first-order step's
elementwise passes:

- ``auto`` (the default, also when unset or empty): the compiled kernels when numba (the
  optional extra ``gabp[fast]``) can be imported, else the NumPy passes, silently. An
  installed numba whose import fails (for example one built for another NumPy) logs one
  warning and the NumPy passes are used.
- ``numpy``: the NumPy passes, always. The test suite (and so CI) runs with this unless told
  otherwise (``tests/conftest.py``): ``.[test]`` brings numba in through skforecast, and the
  compiled kernels have their own tests, bit for bit against the NumPy passes.
- ``numba``: the compiled kernels; a ``ValueError`` if numba cannot be imported.

:func:`selected` resolves the setting to ``"numpy"`` or ``"numba"``; :func:`prepare` returns
every kernel ready for a dtype and :func:`compiled` one kernel by name, or ``None`` on the
NumPy path; an unknown value raises a ``ValueError``. Whether numba is installed is checked
with :func:`importlib.util.find_spec` (no import); numba itself is imported, once per
process, when a setting that may use it is first resolved (``import gabp`` never imports it).

The kernels, written here as plain Python loops and compiled on first use, are cached on disk
by numba: in ``NUMBA_CACHE_DIR`` if it is set and writable, else in ``__pycache__`` beside
this file when that is writable (an editable or a user-owned install), else in numba's
user-wide folder (``~/.cache/numba``); with none writable they are compiled in every process
(one warning). Compiling costs about 3 s per dtype once (logged at INFO when it takes over
:data:`SLOW_PREPARE` seconds); a process that loads them from the cache pays about 0.3 s,
numba's import included (``bench/bp_throughput.py --parts compile``). Every kernel gives
bit-identical results to the NumPy passes except the loss values of ``softmax_ce`` and
``mse_delta``:

- ``adam_rows``: Adam's ten passes in one (:class:`gabp.optimizers.Adam`), bit-identical.
- ``bias_relu``: ``z += b; z = max(z, 0)`` in one pass, bit-identical.
- ``relu_grad``: ``delta *= (a > 0)`` in one pass, bit-identical.
- ``bias_shift``: ``z += b``, the row maximum and ``z - max`` in one pass (the softmax's
  ``exp`` and row sum stay NumPy's: numba's scalar ``exp`` is slower than NumPy's SIMD
  one, and the row sum is OpenBLAS's product with ones), bit-identical.
- ``softmax_ce``: in training, the softmax's division by the row sums, the cross-entropy
  loss and ``dL/dz = (a - Y) / n`` in one pass; the softmax and ``dL/dz`` are
  bit-identical, the loss's sums are added left to right (NumPy: ``einsum``, in blocks) and
  its ``log`` is numba's, so the loss may differ from NumPy's by rounding.
- ``bias_add``: ``z += b`` in one pass (before NumPy's ``np.tanh``: a tanh layer),
  bit-identical.
- ``sigmoid_pre`` and ``sigmoid_post`` (``sigmoid_post_to``): the logistic function of
  :func:`gabp.activations._apply_sigmoid` around NumPy's ``exp`` (numba's scalar ``exp``
  and ``tanh`` differ from NumPy's by a few ulp, so the transcendental calls stay NumPy's):
  ``z += b; e = -|z|`` in one pass, ``np.exp(e, out=e)``, then
  ``(e if z < 0 else 1) / (e + 1)`` in one pass over ``z`` (into another array), bit-identical.
- ``tanh_grad``: ``delta *= 1 - a * a`` in one pass, bit-identical.
- ``sigmoid_grad``: ``delta *= (1 - a) * a`` in one pass, bit-identical.
- ``outer_rows``: a one-unit dense layer's input gradient ``0 + delta w`` (an outer product
  per network; :meth:`gabp.layers.Dense.backward`), bit-identical to NumPy's matmul loop.
- ``mse_delta``: MSE loss and ``dL/da = (a - Y) 2 / n`` in one pass (then ``tanh_grad`` or
  ``sigmoid_grad`` for such an output); like ``softmax_ce`` the loss's sum may differ from
  NumPy's ``einsum`` by rounding, ``dL/da`` is bit-identical.

Every kernel treats each network on its own, in an order that does not depend on how many
networks are in the population. ``error_model="numpy"`` keeps IEEE division (no
per-element zero check) so loops vectorize; no fast-math, so nothing is reordered or fused
(no multiply-add contraction either: ``1 - a * a`` rounds twice, as NumPy's two passes do).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._threads import rescan_blas

logger = logging.getLogger(__name__)

#: Values of the ``GABP_KERNELS`` environment variable (``auto`` when unset or empty).
KERNELS = ("auto", "numpy", "numba")
_COMPILED: dict[str, Callable[..., Any]] = {}
_READY: set[np.dtype] = set()  # dtypes every kernel was called with (compiled or loaded)
_PENDING_RESCAN: list[bool] = []
#: numba, looked for once per process: {"module": the module or None, "error": why its
#: import failed ("" if it worked or numba is not installed), "warned": the warnings given}
_NUMBA: dict[str, Any] = {}
_OPTIONS = {"nogil": True, "error_model": "numpy", "boundscheck": False}
#: Seconds above which preparing a dtype's kernels is logged (at INFO): a compile, not a
#: load from numba's disk cache.
SLOW_PREPARE = 1.0


def _numba() -> Any:
    """The numba module, or ``None`` if it is not installed or its import fails (once)."""
    if not _NUMBA:
        module, error = None, ""
        try:
            if importlib.util.find_spec("numba") is not None:
                module = importlib.import_module("numba")
        except Exception as exc:  # any broken install (an ImportError, or worse)
            error = f"{type(exc).__name__}: {exc}"
        _NUMBA.update(module=module, error=error, warned=set())
    return _NUMBA["module"]


def _requested() -> str:
    """The validated value of ``GABP_KERNELS`` (``"auto"`` when unset or empty)."""
    choice = os.environ.get("GABP_KERNELS", "").strip().lower() or "auto"
    if choice not in KERNELS:
        raise ValueError(f"The GABP_KERNELS environment variable must be one of "
                         f"{', '.join(KERNELS)}. Got {choice!r} instead.")
    return choice


def selected() -> str:
    """The kernels ``GABP_KERNELS`` resolves to: ``"numpy"`` or ``"numba"``.

    ``auto`` (or unset) is ``"numba"`` when numba can be imported, else ``"numpy"``; an
    installed numba whose import fails logs one warning. ``numba`` is ``"numba"`` whether
    or not numba can be imported (:func:`compiled` and :func:`check_kernels` raise then).
    """
    choice = _requested()
    if choice != "auto":
        return choice
    if _numba() is not None:
        return "numba"
    if _NUMBA["error"] and "import" not in _NUMBA["warned"]:
        _NUMBA["warned"].add("import")
        logger.warning("numba is installed but its import failed (%s): gabp uses its NumPy "
                       "passes (set GABP_KERNELS=numpy to say so and silence this).",
                       _NUMBA["error"])
    return "numpy"


def compiled(name: str) -> Callable[..., Any] | None:
    """The compiled kernel ``name`` if ``GABP_KERNELS`` resolves to numba, else ``None``.

    Parameters
    ----------
    name : str
        One of ``adam_rows``, ``bias_relu``, ``relu_grad``, ``bias_shift``, ``softmax_ce``,
        ``bias_add``, ``sigmoid_pre``, ``sigmoid_post``, ``sigmoid_post_to``, ``tanh_grad``,
        ``sigmoid_grad``, ``outer_rows``.
    """
    if selected() != "numba":
        return None
    fn = _COMPILED.get(name)
    if fn is None:
        numba = _numba()
        if numba is None:
            why = f" (its import failed: {_NUMBA['error']})" if _NUMBA["error"] else ""
            raise ValueError(f"GABP_KERNELS=numba needs numba{why}: pip install 'gabp[fast]' "
                             "(or unset GABP_KERNELS: without numba the NumPy passes run).")
        try:
            fn = numba.njit(cache=True, **_OPTIONS)(_SOURCES[name])
        except RuntimeError as exc:  # no writable cache folder (a read-only install, no HOME)
            if "cache" not in _NUMBA["warned"]:
                _NUMBA["warned"].add("cache")
                logger.warning("numba cannot cache gabp's compiled kernels (%s): every process "
                               "compiles them again (about 3 s); set NUMBA_CACHE_DIR to a "
                               "writable folder.", exc)
            fn = numba.njit(cache=False, **_OPTIONS)(_SOURCES[name])
        _COMPILED[name] = fn
        _PENDING_RESCAN.append(True)
    return fn


def check_kernels() -> str:
    """Resolve and validate ``GABP_KERNELS`` now, before any work; returns the choice.

    The value, and numba's import when it resolves to ``"numba"``. Training checks it too,
    but inside a GA a failing training is one failed individual; the public doors
    (:func:`gabp.evolution.evolve`, the search, a TOML config run) call this first so a bad
    setting is one clear ``ValueError`` instead of a run of failures.

    Returns
    -------
    str
        ``"numpy"`` or ``"numba"``, as :func:`selected`.
    """
    choice = selected()
    if choice == "numba":
        compiled("adam_rows")  # imports numba (the kernel itself compiles on first use)
    return choice


def ready(dtype: Any) -> dict[str, Callable[..., Any]] | None:
    """The compiled kernels for ``dtype`` if this process already prepared them (a training
    did, :func:`prepare`) and ``GABP_KERNELS`` still selects them, else ``None``.

    For forward-only passes (predictions, fitness): they never import numba or compile, so a
    process that only predicts (``gabp predict``, 0.3 s against 0.85 s with numba's import
    and cache load) stays on the NumPy passes, which give the same bits. The setting's
    value is still validated.
    """
    _requested()  # an unknown value raises, as everywhere else
    dtype = np.dtype(dtype)
    if dtype not in _READY or selected() != "numba":
        return None
    return {name: _COMPILED[name] for name in _SOURCES}


def prepare(dtype: Any) -> dict[str, Callable[..., Any]] | None:
    """Every compiled kernel, ready for ``dtype``; ``None`` on the NumPy path.

    Once per process and dtype each kernel is called on tiny arguments, so it compiles (or
    loads from numba's disk cache) now and no training step pays for it. The GA calls this
    before its first generation, whose timing the process-pool cost model uses: the one-off
    0.3-1 s would otherwise make every individual look several times dearer. Compiling can
    load another BLAS library (SciPy's OpenBLAS); the BLAS thread limit then rescans the
    loaded libraries on its next use.

    Parameters
    ----------
    dtype : numpy dtype or its name
        ``float32`` or ``float64``: the parameters' and data's precision.
    """
    if selected() != "numba":
        return None
    kernels = {name: compiled(name) for name in _SOURCES}
    dtype = np.dtype(dtype)
    if dtype not in _READY:
        start = time.perf_counter()
        t = dtype.type
        one, row, empty = np.ones((1, 1, 1), dtype), np.ones((1, 1), dtype), np.zeros((1, 0), dtype)
        kernels["adam_rows"](empty, empty, empty, empty, t(1), np.zeros(1, dtype), t(1), t(1),
                             np.ones(1, dtype=bool))
        kernels["bias_relu"](one.copy(), row, t(0))
        kernels["bias_shift"](one.copy(), row, one.copy(), row.copy())
        kernels["relu_grad"](one.copy(), one, t(0), t(1))
        kernels["softmax_ce"](one, one.copy(), row, row, row, t(1), t(1), one.copy(),
                              np.empty(1, dtype))
        kernels["bias_add"](one.copy(), row)
        kernels["sigmoid_pre"](one.copy(), row, one.copy())
        kernels["sigmoid_post"](one.copy(), one, t(1))
        kernels["sigmoid_post_to"](one, one, one.copy(), t(1))
        kernels["tanh_grad"](one.copy(), one, t(1))
        kernels["sigmoid_grad"](one.copy(), one, t(1))
        # the one-unit layer's weights arrive as a strided view of the genomes
        two = np.ones((2, 1, 1), dtype)
        kernels["outer_rows"](two, np.ones((2, 2, 1), dtype)[:, :1], two.copy(), t(0))
        kernels["mse_delta"](one, row, t(1), t(1), one.copy(), np.empty(1, dtype))
        _READY.add(dtype)
        seconds = time.perf_counter() - start
        if seconds > SLOW_PREPARE:  # a first compile (an empty cache) is a pause worth naming
            logger.info("compiled gabp's numba kernels for %s in %.1f s (once: numba caches "
                        "them on disk, later processes load them in about 0.3 s)",
                        dtype.name, seconds)
    if _PENDING_RESCAN:
        _PENDING_RESCAN.clear()
        rescan_blas()
    return kernels


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
    contiguous); NumPy's ``exp`` and row-sum product follow, so the softmax is
    bit-identical. The maximum is taken without a branch per element (a select, then one
    check per row) and, as ``np.maximum``, propagates NaN and takes the later of tied values
    (``-0.0`` and ``+0.0``).
    """
    k = z.shape[2]
    for p in range(z.shape[0]):
        bp = b[p]
        for i in range(z.shape[1]):
            zi = z[p, i]
            for j in range(k):
                zi[j] += bp[j]
            zmax = zi[0]
            nan = zmax != zmax
            for j in range(1, k):
                x = zi[j]
                zmax = zmax if zmax > x else x  # a tie takes x, as np.maximum
                nan = nan | (x != x)
            if nan:  # a diverged row: its maximum is NaN
                for j in range(k):
                    if zi[j] != zi[j]:
                        zmax = zi[j]
            rowmax[p, i] = zmax
            oi = out[p, i]
            for j in range(k):
                oi[j] = zi[j] - zmax


def softmax_ce(z, e, rowsum, rowmax, Y, n_rows, inv_n, delta, loss):  # pragma: no cover
    """Finish the softmax, and the cross-entropy ``loss`` (P,) and ``dL/dz``, in one pass.

    ``e`` holds ``exp(z - rowmax)`` and ``rowsum`` its row sums (the forward pass's NumPy
    ``exp`` and row-sum product); ``e`` becomes ``softmax(z) = e / rowsum`` (an IEEE
    division: NumPy's bits) and ``delta = (softmax - Y) * inv_n``. The loss is
    ``loss_p = sum_i (lse_pi sum_k Y_ik - sum_k z_pik Y_ik) / n`` with ``lse = rowmax +
    log(rowsum)``, as :func:`gabp.losses._cross_entropy`; ``n_rows`` and ``inv_n`` are ``n``
    and ``1 / n`` in the arrays' dtype.
    """
    n, k = z.shape[1], z.shape[2]
    zero = inv_n - inv_n
    ysum = np.empty(n, z.dtype)  # the targets' row sums (1 for one-hot rows)
    for i in range(n):
        s = zero
        for j in range(k):
            s += Y[i, j]
        ysum[i] = s
    for p in range(z.shape[0]):
        total = zero
        for i in range(n):
            rs = rowsum[p, i]
            zi, ei, di, yi = z[p, i], e[p, i], delta[p, i], Y[i]
            zy = zero
            for j in range(k):
                y = yi[j]
                a = ei[j] / rs
                ei[j] = a
                di[j] = (a - y) * inv_n
                zy += zi[j] * y
            total += (rowmax[p, i] + np.log(rs)) * ysum[i] - zy
        loss[p] = total / n_rows


def bias_add(z, b):  # pragma: no cover - compiled
    """``z += b`` in place; ``z`` (P, n, k) C-contiguous, ``b`` (P, k) contiguous.

    NumPy's ``np.tanh`` follows (a tanh layer). A one-unit layer (``k == 1``, the classic
    recipe's output) adds one scalar per network over a contiguous run.
    """
    P, n, k = z.shape
    zf = z.reshape(P, n * k)
    for p in range(P):
        bp, zp = b[p], zf[p]
        if k == 1:
            bias = bp[0]
            for i in range(n):
                zp[i] += bias
        else:
            for i in range(n):
                for j in range(k):
                    zp[i * k + j] += bp[j]


def sigmoid_pre(z, b, e):  # pragma: no cover - compiled
    """``z += b`` in place and ``e = -|z|``: the logistic function's first passes.

    NumPy's ``np.exp(e, out=e)`` follows (``exp(-|z|)`` in (0, 1]: it never overflows), then
    :func:`sigmoid_post`. ``z`` and ``e`` (P, n, k) C-contiguous, ``b`` (P, k) contiguous.
    """
    P, n, k = z.shape
    zf, ef = z.reshape(P, n * k), e.reshape(P, n * k)
    for p in range(P):
        bp, zp, ep = b[p], zf[p], ef[p]
        if k == 1:
            bias = bp[0]
            for i in range(n):
                x = zp[i] + bias
                zp[i] = x
                ep[i] = -abs(x)
        else:
            for i in range(n):
                for j in range(k):
                    x = zp[i * k + j] + bp[j]
                    zp[i * k + j] = x
                    ep[i * k + j] = -abs(x)


def sigmoid_post(z, e, one):  # pragma: no cover - compiled
    """``z = (e if z < 0 else 1) / (e + 1)`` in place, with ``e = exp(-|z|)`` (a hidden layer).

    :func:`gabp.activations._apply_sigmoid`'s numerator (``1`` for ``z >= 0``, also for
    ``-0.0`` and NaN) and denominator, with the same two roundings. C-contiguous arrays of
    one shape, walked as one flat run. (Writing over ``z`` through a second argument that is
    ``z`` would fail LLVM's run-time overlap check and run the scalar loop, 3x slower.)
    """
    zf, ef = z.reshape(z.size), e.reshape(e.size)
    for j in range(zf.size):
        t = ef[j]
        zf[j] = (t if zf[j] < 0 else one) / (t + one)


def sigmoid_post_to(z, e, out, one):  # pragma: no cover - compiled
    """:func:`sigmoid_post` into another array ``out`` (an output layer: ``z`` is kept)."""
    zf, ef, of = z.reshape(z.size), e.reshape(e.size), out.reshape(out.size)
    for j in range(zf.size):
        t = ef[j]
        of[j] = (t if zf[j] < 0 else one) / (t + one)


def tanh_grad(delta, a, one):  # pragma: no cover - compiled
    """``delta *= 1 - a * a`` in place (tanh' from the output ``a``), two roundings as NumPy.

    C-contiguous arrays of one shape, walked as one flat run.
    """
    df, af = delta.reshape(delta.size), a.reshape(a.size)
    for j in range(df.size):
        x = af[j]
        df[j] *= one - x * x


def sigmoid_grad(delta, a, one):  # pragma: no cover - compiled
    """``delta *= (1 - a) * a`` in place (the logistic derivative from the output ``a``).

    C-contiguous arrays of one shape, walked as one flat run.
    """
    df, af = delta.reshape(delta.size), a.reshape(a.size)
    for j in range(df.size):
        x = af[j]
        df[j] *= (one - x) * x


def outer_rows(delta, w, out, zero):  # pragma: no cover - compiled
    """``out[p] = 0 + delta[p] @ w[p].T`` for ``delta`` (P, n, 1) and ``w`` (P, k, 1).

    A one-unit layer's input gradient. NumPy's matmul sums its single product from 0, so
    ``-0.0`` products come out ``+0.0``; adding ``zero`` (never folded away without
    fast-math) gives the same bits. ``w`` is a strided view of the genomes: each network's
    column is copied into a contiguous scratch first, so the inner loop vectorizes (2x
    faster at 40 x 32 x 16).
    """
    k = out.shape[2]
    wl = np.empty(k, out.dtype)
    for p in range(out.shape[0]):
        for j in range(k):
            wl[j] = w[p, j, 0]
        for i in range(out.shape[1]):
            d = delta[p, i, 0]
            oi = out[p, i]
            for j in range(k):
                oi[j] = zero + d * wl[j]


def mse_delta(a, Y, scale, n_el, delta, loss):  # pragma: no cover - compiled
    """MSE ``loss`` (P,) and ``delta = (a - Y) * scale`` (``dL/da``) in one pass.

    As :func:`gabp.losses._mse` with ``scale = 2 / n_el`` and ``n_el`` (samples x outputs)
    in the arrays' dtype; the squares are summed left to right (NumPy: ``einsum``), so the
    loss may differ by rounding, ``delta`` is bit-identical.
    """
    for p in range(a.shape[0]):
        s = scale - scale  # a zero of the arrays' dtype
        for i in range(a.shape[1]):
            ai, yi, di = a[p, i], Y[i], delta[p, i]
            for j in range(a.shape[2]):
                d = ai[j] - yi[j]
                s += d * d
                di[j] = d * scale
        loss[p] = s / n_el


_SOURCES: dict[str, Callable[..., Any]] = {
    "adam_rows": adam_rows, "bias_relu": bias_relu, "relu_grad": relu_grad,
    "bias_shift": bias_shift, "softmax_ce": softmax_ce, "bias_add": bias_add,
    "sigmoid_pre": sigmoid_pre, "sigmoid_post": sigmoid_post, "sigmoid_post_to": sigmoid_post_to,
    "tanh_grad": tanh_grad, "sigmoid_grad": sigmoid_grad, "outer_rows": outer_rows,
    "mse_delta": mse_delta,
}
