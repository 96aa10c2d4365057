"""Ridge regression with its penalty chosen by leave-one-out error, in closed form.

The linear part of :class:`gabp.GABPRegressor` with ``linear=True`` (and of
:class:`gabp.GABPForecaster`): a ridge fit on the training rows whose residuals the GA-BP
network then learns (the linear-plus-network hybrid of Zhang, *Neurocomputing* 50, 2003).
One SVD of the centred inputs gives every penalty's fit and its exact leave-one-out
residuals ``e_i / (1 - h_ii)`` (``h`` the hat matrix of the centred ridge fit), as
scikit-learn's ``RidgeCV`` computes them; no validation rows are used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import check_array, fail

#: Penalties tried, for inputs standardized column by column (the estimators' default).
ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))


@dataclass(frozen=True)
class RidgeFit:
    """``Y ≈ X @ coef + intercept``, with the penalty chosen and its leave-one-out MSE.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_outputs)
    intercept : ndarray of shape (n_outputs,)
    alpha : float
        The chosen penalty (on ``||coef||²``; the intercept is not penalized).
    loo_mse : ndarray of shape (n_alphas,)
        Leave-one-out mean squared error of each penalty tried (over rows and outputs;
        NaN with fewer than 3 rows).
    """

    coef: np.ndarray
    intercept: np.ndarray
    alpha: float
    loo_mse: np.ndarray

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``X @ coef + intercept``, shape (n, n_outputs)."""
        return X @ self.coef + self.intercept


def fit_ridge(X: np.ndarray, Y: np.ndarray, alphas: tuple[float, ...] = ALPHAS) -> RidgeFit:
    """Fit a ridge regression with an intercept; choose ``alpha`` by leave-one-out MSE.

    Parameters
    ----------
    X : ndarray of shape (n, n_features)
    Y : ndarray of shape (n, n_outputs)
    alphas : tuple of float
        Non-negative penalties to try; ties go to the larger one (the simpler fit). With
        fewer than 3 rows there is no leave-one-out choice: the largest is used (and
        ``loo_mse`` is NaN).

    Returns
    -------
    RidgeFit
    """
    where = "fit_ridge"
    X = check_array(X, "X", where, ndim=2)
    Y = check_array(Y, "Y", where, ndim=2)
    if X.shape[0] != Y.shape[0]:
        fail("Y", where, f"{X.shape[0]} rows (as X)", Y)
    a = np.asarray(alphas, dtype=float)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
        fail("alphas", where, "a non-empty sequence of finite penalties >= 0", alphas)
    n = X.shape[0]
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    UtY = U.T @ Yc
    s2 = s * s
    loo = np.full(a.size, np.nan)
    for i, alpha in enumerate(a if n >= 3 else ()):  # leave-one-out needs 2 rows to fit
        shrink = s2 / (s2 + alpha) if alpha > 0 else (s2 > s2.max() * 1e-12).astype(float)
        fitted = U @ (shrink[:, None] * UtY)
        # the centred fit's hat matrix plus the intercept's 1/n
        h = np.einsum("ij,j,ij->i", U, shrink, U) + 1.0 / n
        resid = (Yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
        loo[i] = float(np.mean(resid**2))
    if n >= 3:
        best = int(np.flatnonzero(loo <= loo.min() * (1 + 1e-12))[-1])  # ties: the larger
    else:  # too few rows to choose: the strongest penalty
        best = int(np.argmax(a))
    alpha = float(a[best])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(s2 > 0, s / (s2 + alpha), 0.0) if alpha > 0 else np.where(
            s2 > s2.max() * 1e-12, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    coef = Vt.T @ (inv[:, None] * UtY)
    return RidgeFit(coef=coef, intercept=y_mean - x_mean @ coef, alpha=alpha, loo_mse=loo)


def residual_scale(residuals: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The factor that gives a linear part's residuals the targets' spread, per output.

    The network then learns the remainder at the scale its targets had (a fresh network's
    outputs, the GA's weight bounds), not a few times below it: ``std(residuals) /
    std(targets)``, 1 where either is 0.
    """
    r, t = np.std(residuals, axis=0), np.std(targets, axis=0)
    ok = (r > 0) & (t > 0)
    return np.where(ok, r / np.where(ok, t, 1.0), 1.0)


def fit_linear_part(X: np.ndarray, Y: np.ndarray) -> tuple[RidgeFit, np.ndarray]:
    """The linear part of a ridge + network model, fitted on training rows ``(X, Y)``: the
    ridge and the :func:`residual_scale` of its residuals there. The network then learns
    ``(Y - fit.predict(X)) / scale``, and a prediction is ``fit.predict(X) + scale * net``.
    """
    fit = fit_ridge(X, Y)
    return fit, residual_scale(Y - fit.predict(X), Y)
