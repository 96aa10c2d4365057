"""Gradient-descent optimizers over flat population parameters.

Each optimizer updates ``params`` (shape ``(P, n_params)``) in place from ``grad`` (same
shape). Hyperparameters may be scalars or one value per network (shape ``(P,)``); rows where
``active`` is False are left untouched (diverged or early-stopped networks).

- ``sgd``: ``p -= lr * g``
- ``momentum`` (classic): ``v = mu * v - lr * g; p += v``
- ``nesterov``: ``v = mu * v - lr * g; p += mu * v - lr * g`` (the look-ahead form used by
  Sutskever et al. and scikit-learn)
- ``adam``: ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``

Adam's step is ten NumPy passes over the parameters. When the optional extra ``gabp[fast]``
(numba) is installed it is one compiled pass with the same arithmetic in the same order:
bit-identical results, faster training (``bench/bp_throughput.py``). ``GABP_KERNELS``
(:mod:`gabp._kernels`) chooses: ``auto``, the default, compiles when numba can be imported;
``numpy`` keeps the NumPy passes (what the test suite runs, besides the compiled step's own
tests).

:data:`OPTIMIZERS` lists every name :func:`gabp.train` accepts: these four
(:data:`FIRST_ORDER`), the full-batch solvers of :mod:`gabp.solvers` (:data:`SECOND_ORDER`:
``"lm"``, ``"br"``, ``"lbfgs"``) and ``"auto"``.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import prepare
from .solvers.options import FIRST_ORDER, OPTIMIZERS, SECOND_ORDER

__all__ = [
    "FIRST_ORDER", "OPTIMIZERS", "SECOND_ORDER", "SGD", "Adam", "Momentum", "Optimizer",
    "make_optimizer",
]


def _column(value: float | np.ndarray, P: int, dtype: type = np.float64) -> np.ndarray:
    """Broadcast a scalar or ``(P,)`` hyperparameter to a ``(P, 1)`` column."""
    return np.broadcast_to(np.asarray(value, dtype=dtype).reshape(-1), (P,)).reshape(P, 1).copy()


#: Every this many steps, the optimizers' decaying state is flushed of subnormal numbers.
FLUSH_EVERY = 32


class Optimizer:
    """Base class: holds per-network learning rates and applies masked updates.

    State that decays geometrically where the gradient is zero (Adam's first moment of a unit
    that stopped firing, a momentum velocity) reaches subnormal numbers after some hundred
    steps in float32, and arithmetic on those is many times slower on x86: a float32 digits
    population trained 35 % slower from epoch 30 on. Every :data:`FLUSH_EVERY` steps such
    entries (``|x|`` below the dtype's smallest normal number) are set to zero. An Adam first
    moment that small moves a parameter by less than ``1e-30``, a second moment that small
    changes the denominator ``sqrt(v) + eps`` by less than its rounding; results change only
    where such entries occur (long float32 runs), and only by amounts of that size.
    """

    #: names of the state arrays flushed of subnormal numbers
    _decaying: tuple[str, ...] = ()

    def __init__(
        self, shape: tuple[int, int], learning_rate: float | np.ndarray, *, dtype: type = np.float64
    ) -> None:
        self.shape = shape
        self.dtype = dtype
        self.lr = _column(learning_rate, shape[0], dtype)
        # a shared rate broadcasts as a scalar, which is cheaper than a (P, 1) column
        self._lr = float(self.lr[0, 0]) if np.all(self.lr == self.lr[0, 0]) else self.lr

        self._buf = np.empty(shape, dtype)  # scratch for the update, reused every step
        self._n_steps = 0

    # Subclasses return the update; it may be an internal buffer or part of the state (it is
    # only read), valid until the next call.

    def step(self, params: np.ndarray, grad: np.ndarray, active: np.ndarray | None = None) -> None:
        """Apply one update to ``params`` in place (rows with ``active`` False untouched)."""
        self._flush_subnormals()
        update = self._update(grad).astype(params.dtype, copy=False)
        if active is not None and not active.all():
            # one masked pass (no gather/scatter of the active rows); the update may be the
            # optimizer's state (momentum's velocity), so it is only read
            np.add(params, update, out=params, where=active[:, None])
        else:
            params += update

    def _flush_subnormals(self) -> None:
        """Count a step; every :data:`FLUSH_EVERY` steps zero the subnormal state entries."""
        self._n_steps += 1
        if self._n_steps % FLUSH_EVERY or not self._decaying:
            return
        tiny = np.finfo(self._buf.dtype).tiny
        for name in self._decaying:
            state = getattr(self, name)
            np.abs(state, out=self._buf)  # the scratch buffer is free before the update
            state[self._buf < tiny] = 0.0

    def _update(self, grad: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that make up the optimizer's state (for checkpoints)."""
        return {}


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent."""

    def _update(self, grad: np.ndarray) -> np.ndarray:
        return np.multiply(grad, -self._lr, out=self._buf)


class Momentum(Optimizer):
    """Gradient descent with classic or Nesterov momentum."""

    _decaying = ("velocity",)

    def __init__(
        self,
        shape: tuple[int, int],
        learning_rate: float | np.ndarray,
        momentum: float | np.ndarray = 0.9,
        *,
        nesterov: bool = False,
        dtype: type = np.float64,
    ) -> None:
        super().__init__(shape, learning_rate, dtype=dtype)
        self.mu = _column(momentum, shape[0], dtype)
        self.nesterov = nesterov
        self.velocity = np.zeros(shape, dtype)

    def _update(self, grad: np.ndarray) -> np.ndarray:
        step = np.multiply(grad, self._lr, out=self._buf)  # lr * g
        self.velocity *= self.mu
        self.velocity -= step
        if self.nesterov:  # mu * v - lr * g, written into the scratch buffer
            return np.subtract(self.mu * self.velocity, step, out=step)
        return self.velocity

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that make up the optimizer's state."""
        return {"velocity": self.velocity}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction.

    The moments are stored rescaled so that one step costs ten passes over the parameters
    instead of thirteen (the arithmetic is the formula of the module docstring):
    ``_m = -r_t * m`` with ``r_t = lr * sqrt(1 - b2^t) / ((1 - b1^t) * sqrt(1 - b2))`` and
    ``_v = v / (1 - b2)``, so that the update is ``_m / (sqrt(_v) + eps')`` with
    ``eps' = eps * sqrt(1 - b2^t) / sqrt(1 - b2)``. :meth:`state` returns the plain ``m``
    and ``v``.
    """

    _decaying = ("_m", "_v")

    def __init__(
        self,
        shape: tuple[int, int],
        learning_rate: float | np.ndarray = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        *,
        dtype: type = np.float64,
    ) -> None:
        super().__init__(shape, learning_rate, dtype=dtype)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._m = np.zeros(shape, dtype)  # -r_t * m_t
        self._v = np.zeros(shape, dtype)  # v_t / (1 - b2)
        self._all = np.ones(shape[0], dtype=bool)
        self._rows = np.empty(shape[0], dtype)
        self.t = 0
        self._beta2_t = self._m.dtype.type(beta2)  # the compiled step's b2, in its dtype
        #: the compiled one-pass step if ``GABP_KERNELS`` resolves to numba, compiled (or
        #: loaded from the disk cache) here, outside training (:func:`gabp._kernels.prepare`),
        #: else None; a bad value, or ``GABP_KERNELS=numba`` without numba, fails here
        kernels = prepare(dtype)
        self._kernel = None if kernels is None else kernels["adam_rows"]

    def _scale(self, t: int) -> float:
        """``r_t / lr``."""
        b1, b2 = self.beta1, self.beta2
        return math.sqrt(1.0 - b2**t) / ((1.0 - b1**t) * math.sqrt(1.0 - b2))

    def _coefficients(self) -> tuple[float, float | np.ndarray, float]:
        """Advance ``t``; return the factor of ``_m``, the factor of ``g`` and ``eps'``."""
        b1, b2 = self.beta1, self.beta2
        self.t += 1
        t = self.t
        s_t = self._scale(t)
        # m_t = b1 m_{t-1} + (1 - b1) g, in the units -r_t: the lr column cancels in r_t/r_{t-1}
        c_m = b1 * s_t / self._scale(t - 1) if t > 1 else 1.0
        c_g = self._lr * (-(1.0 - b1) * s_t)
        return c_m, c_g, self.epsilon * math.sqrt(1.0 - b2**t) / math.sqrt(1.0 - b2)

    def step(self, params: np.ndarray, grad: np.ndarray, active: np.ndarray | None = None) -> None:
        """Apply one update to ``params`` in place (rows with ``active`` False untouched).

        With the compiled kernels (numba, the optional extra ``gabp[fast]``, and
        ``GABP_KERNELS`` unset, ``auto`` or ``numba``) the ten passes are one compiled pass
        with the same arithmetic in the same order, so the results are bit-identical.
        """
        same = params.dtype == self._m.dtype == grad.dtype
        kernel = self._kernel if same else None
        if kernel is None:
            return super().step(params, grad, active)
        self._flush_subnormals()
        c_m, c_g, eps = self._coefficients()
        t = params.dtype.type
        rows = self._rows  # the factor of g per network, as the NumPy path rounds it
        if isinstance(c_g, float):
            rows.fill(c_g)
        else:
            np.copyto(rows, c_g[:, 0])
        mask = self._all if active is None else active
        kernel(params, grad, self._m, self._v, t(c_m), rows, self._beta2_t, t(eps), mask)
        return None

    def _update(self, grad: np.ndarray) -> np.ndarray:
        c_m, c_g, eps = self._coefficients()
        tmp = self._buf
        if c_m != 1.0:
            self._m *= c_m
        np.multiply(grad, c_g, out=tmp)
        self._m += tmp
        # v_t / (1 - b2) = b2 (v_{t-1} / (1 - b2)) + g^2
        np.square(grad, out=tmp)
        self._v *= self.beta2
        self._v += tmp
        # -lr m_hat / (sqrt(v_hat) + eps) = _m / (sqrt(_v) + eps'); eps' is a Python float,
        # so a float32 population adds it in float32 (a NumPy float64 scalar would make the
        # pass run in float64 and cast back, 8x slower)
        np.sqrt(self._v, out=tmp)
        tmp += eps
        return np.divide(self._m, tmp, out=tmp)

    @property
    def m(self) -> np.ndarray:
        """First-moment estimate ``m_t`` (a new array; zero in rows whose rate is zero)."""
        if self.t == 0:
            return np.zeros_like(self._m)
        r = self.lr * self._scale(self.t)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, self._m / -np.where(r > 0, r, 1.0), 0.0).astype(self.dtype)

    @property
    def v(self) -> np.ndarray:
        """Second-moment estimate ``v_t`` (a new array)."""
        return self._v * (1.0 - self.beta2)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that make up the optimizer's state."""
        return {"m": self.m, "v": self.v, "t": np.array(self.t)}


def make_optimizer(
    name: str,
    shape: tuple[int, int],
    *,
    learning_rate: float | np.ndarray,
    momentum: float | np.ndarray = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    dtype: type = np.float64,
) -> Optimizer:
    """Build the mini-batch optimizer called ``name`` (one of :data:`FIRST_ORDER`).

    The full-batch solvers of :data:`SECOND_ORDER` are not step rules; :func:`gabp.train`
    dispatches to them itself.
    """
    if name == "sgd":
        return SGD(shape, learning_rate, dtype=dtype)
    if name in ("momentum", "nesterov"):
        return Momentum(shape, learning_rate, momentum, nesterov=name == "nesterov", dtype=dtype)
    if name == "adam":
        return Adam(shape, learning_rate, beta1, beta2, epsilon, dtype=dtype)
    raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(FIRST_ORDER)}.")
