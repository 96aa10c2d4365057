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

:data:`OPTIMIZERS` lists every name :func:`gabp.train` accepts: these four
(:data:`FIRST_ORDER`), the full-batch solvers of :mod:`gabp.solvers` (:data:`SECOND_ORDER`:
``"lm"``, ``"br"``, ``"lbfgs"``) and ``"auto"``.
"""

from __future__ import annotations

import math

import numpy as np

from .solvers.options import FIRST_ORDER, OPTIMIZERS, SECOND_ORDER

__all__ = [
    "FIRST_ORDER", "OPTIMIZERS", "SECOND_ORDER", "SGD", "Adam", "Momentum", "Optimizer",
    "make_optimizer",
]


def _column(value: float | np.ndarray, P: int, dtype: type = np.float64) -> np.ndarray:
    """Broadcast a scalar or ``(P,)`` hyperparameter to a ``(P, 1)`` column."""
    return np.broadcast_to(np.asarray(value, dtype=dtype).reshape(-1), (P,)).reshape(P, 1).copy()


class Optimizer:
    """Base class: holds per-network learning rates and applies masked updates."""

    def __init__(
        self, shape: tuple[int, int], learning_rate: float | np.ndarray, *, dtype: type = np.float64
    ) -> None:
        self.shape = shape
        self.dtype = dtype
        self.lr = _column(learning_rate, shape[0], dtype)
        # a shared rate broadcasts as a scalar, which is cheaper than a (P, 1) column
        self._lr = float(self.lr[0, 0]) if np.all(self.lr == self.lr[0, 0]) else self.lr

        self._buf = np.empty(shape, dtype)  # scratch for the update, reused every step

    # Subclasses return the update; it may be an internal buffer or part of the state (it is
    # only read), valid until the next call.

    def step(self, params: np.ndarray, grad: np.ndarray, active: np.ndarray | None = None) -> None:
        """Apply one update to ``params`` in place (rows with ``active`` False untouched)."""
        update = self._update(grad)
        if active is not None and not active.all():
            # one masked pass (no gather/scatter of the active rows); the update may be the
            # optimizer's state (momentum's velocity), so it is only read
            np.add(params, update, out=params, where=active[:, None])
        else:
            params += update

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
        self.t = 0

    def _scale(self, t: int) -> float:
        """``r_t / lr``."""
        b1, b2 = self.beta1, self.beta2
        return math.sqrt(1.0 - b2**t) / ((1.0 - b1**t) * math.sqrt(1.0 - b2))

    def _update(self, grad: np.ndarray) -> np.ndarray:
        b1, b2 = self.beta1, self.beta2
        self.t += 1
        t = self.t
        s_t = self._scale(t)
        tmp = self._buf
        # m_t = b1 m_{t-1} + (1 - b1) g, in the units -r_t: the lr column cancels in r_t/r_{t-1}
        if t > 1:
            self._m *= b1 * s_t / self._scale(t - 1)
        np.multiply(grad, self._lr * (-(1.0 - b1) * s_t), out=tmp)
        self._m += tmp
        # v_t / (1 - b2) = b2 (v_{t-1} / (1 - b2)) + g^2
        np.square(grad, out=tmp)
        self._v *= b2
        self._v += tmp
        # -lr m_hat / (sqrt(v_hat) + eps) = _m / (sqrt(_v) + eps'); eps' is a Python float,
        # so a float32 population adds it in float32 (a NumPy float64 scalar would make the
        # pass run in float64 and cast back, 8x slower)
        np.sqrt(self._v, out=tmp)
        tmp += self.epsilon * math.sqrt(1.0 - b2**t) / math.sqrt(1.0 - b2)
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
