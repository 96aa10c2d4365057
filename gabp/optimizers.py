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
"""

from __future__ import annotations

import numpy as np


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

    # Subclasses return the update; it may be an internal buffer, valid until the next call.

    def step(self, params: np.ndarray, grad: np.ndarray, active: np.ndarray | None = None) -> None:
        """Apply one update to ``params`` in place."""
        update = self._update(grad)
        if active is not None and not active.all():
            update[~active] = 0.0
        params += update.astype(params.dtype, copy=False)

    def _update(self, grad: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that make up the optimizer's state (for checkpoints)."""
        return {}


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent."""

    def _update(self, grad: np.ndarray) -> np.ndarray:
        return -self.lr * grad


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
        self.velocity *= self.mu
        self.velocity -= self.lr * grad
        if self.nesterov:
            return self.mu * self.velocity - self.lr * grad
        return self.velocity.copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"velocity": self.velocity}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction."""

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
        self.m = np.zeros(shape, dtype)
        self.v = np.zeros(shape, dtype)
        self._tmp = np.zeros(shape, dtype)
        self.t = 0

    def _update(self, grad: np.ndarray) -> np.ndarray:
        # Same arithmetic as the docstring's formula, fused into in-place passes:
        # sqrt(v_hat) = sqrt(v) / sqrt(1 - b2^t) and m_hat = m / (1 - b1^t).
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        tmp = self._tmp
        self.m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        self.m += tmp
        self.v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        self.v += tmp
        np.sqrt(self.v, out=tmp)
        tmp *= 1.0 / np.sqrt(1.0 - b2**self.t)
        tmp += self.epsilon
        np.divide(self.m, tmp, out=tmp)
        tmp *= self.lr * (-1.0 / (1.0 - b1**self.t))
        return tmp

    def state(self) -> dict[str, np.ndarray]:
        return {"m": self.m, "v": self.v, "t": np.array(self.t)}


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


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
    """Build the optimizer called ``name`` (one of :data:`OPTIMIZERS`)."""
    if name == "sgd":
        return SGD(shape, learning_rate, dtype=dtype)
    if name in ("momentum", "nesterov"):
        return Momentum(shape, learning_rate, momentum, nesterov=name == "nesterov", dtype=dtype)
    if name == "adam":
        return Adam(shape, learning_rate, beta1, beta2, epsilon, dtype=dtype)
    raise ValueError(f"Unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}.")
