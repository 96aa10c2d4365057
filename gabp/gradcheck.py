"""Numerical checks of the backward pass: gradients and LM Jacobians against central differences.

The classic proof that a hand-written backpropagation is right: perturb each parameter by
``±eps``, difference the objective (or the outputs), and compare with the analytic derivative.
Networks of a population are independent, so parameter ``j`` of every network is perturbed at
once and one pair of forward passes gives every network's derivative.

The error reported per network is the worst entry's absolute difference divided by the largest
analytic or numerical entry of that network (so entries that are zero up to rounding do not
produce spurious large ratios). With ``eps=1e-6`` in float64, a correct backward pass gives
about ``1e-9``; a wrong one ``1e-2`` or more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_array, check_float, fail
from .network import Network, check_loss, forward, loss_and_grad
from .solvers.jacobian import error_jacobian
from .trainer import as_targets


def _worst(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, analytic.ndim))
    scale = np.maximum(np.abs(analytic).max(axis=axes), np.abs(numeric).max(axis=axes))
    return np.abs(analytic - numeric).max(axis=axes) / np.maximum(scale, np.finfo(float).tiny)


def _setup(net: Any, X: Any, eps: float, where: str) -> tuple[np.ndarray, np.ndarray, float]:
    if not isinstance(net, Network):
        fail("net", where, "a gabp.Network", net, exc=TypeError)
    eps = check_float(eps, "eps", where, low=0.0, low_open=True)
    X = check_array(X, "X", where, ndim=2)
    if X.shape[1] != net.arch.n_inputs:
        fail("X", where, f"an array with {net.arch.n_inputs} columns (the network's inputs)", X)
    return np.array(net.params, dtype=np.float64), X, eps


def check_gradients(
    net: Network,
    X: Any,
    Y: Any,
    *,
    loss: str = "mse",
    alpha: float | np.ndarray = 0.0,
    eps: float = 1e-6,
) -> np.ndarray:
    """Worst relative error of the backpropagated gradient against central differences.

    Parameters
    ----------
    net : Network
        Population of ``P`` networks (not modified; computed in float64).
    X : array-like of shape (n, n_in)
    Y : array-like of shape (n, n_out) or (n,)
    loss : str
        As in :func:`gabp.train`.
    alpha : float or ndarray of shape (P,)
        L2 strength of the objective (``loss + alpha / 2 * sum(W ** 2)``).
    eps : float
        Finite-difference step.

    Returns
    -------
    ndarray of shape (P,)
        ``max_j |g_j - g_num_j| / max_j max(|g_j|, |g_num_j|)`` per network.
    """
    where = "check_gradients"
    params, X, eps = _setup(net, X, eps, where)
    check_loss(loss, net.arch, where)
    Y = as_targets(Y, net.arch.n_outputs, "Y", where)
    if Y.shape[0] != X.shape[0]:
        fail("Y", where, f"an array with {X.shape[0]} rows (as many as X)", Y)
    if np.ndim(alpha) == 0:
        alpha = check_float(alpha, "alpha", where, low=0.0)
    else:
        alpha = check_array(alpha, "alpha", where, ndim=1)
        if alpha.shape[0] != params.shape[0] or np.any(alpha < 0):
            fail("alpha", where, f"a number or an array of shape ({params.shape[0]},) of "
                 "values >= 0", alpha)
    _, grad = loss_and_grad(net.arch, params, X, Y, loss=loss, alpha=alpha)
    numeric = np.empty_like(params)
    for j in range(params.shape[1]):
        p = params.copy()
        p[:, j] += eps
        fp = loss_and_grad(net.arch, p, X, Y, loss=loss, alpha=alpha)[0]
        p[:, j] -= 2 * eps
        fm = loss_and_grad(net.arch, p, X, Y, loss=loss, alpha=alpha)[0]
        numeric[:, j] = (fp - fm) / (2 * eps)
    return _worst(grad, numeric)


def check_jacobian(net: Network, X: Any, *, eps: float = 1e-6) -> np.ndarray:
    """Worst relative error of the Levenberg-Marquardt Jacobian against central differences.

    Parameters
    ----------
    net : Network
        Population of ``P`` networks (not modified; computed in float64).
    X : array-like of shape (n, n_in)
    eps : float
        Finite-difference step.

    Returns
    -------
    ndarray of shape (P,)
        Worst entry error of ``d outputs / d params`` (shape ``(n * n_out, n_params)`` per
        network, see :func:`gabp.solvers.error_jacobian`) relative to its largest entry.
    """
    params, X, eps = _setup(net, X, eps, "check_jacobian")
    J = error_jacobian(net.arch, params, X)
    numeric = np.empty_like(J)
    P = params.shape[0]
    for j in range(params.shape[1]):
        p = params.copy()
        p[:, j] += eps
        up = forward(net.arch, p, X)[0][-1].reshape(P, -1)
        p[:, j] -= 2 * eps
        down = forward(net.arch, p, X)[0][-1].reshape(P, -1)
        numeric[:, :, j] = (up - down) / (2 * eps)
    return _worst(J, numeric)
