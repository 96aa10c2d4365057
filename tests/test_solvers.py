"""Full-batch solvers behind train(): the LM Jacobian, LM steps with known answers, BR's
effective number of parameters on a linear model, L-BFGS against scipy, batched == alone,
divergence isolation, the memory guard, "epoch -1", budgets and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gabp import Network, check_gradients, check_jacobian, resolve_optimizer, train
from gabp.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from gabp.network import Architecture, evaluate_loss, forward, init_params, loss_and_grad
from gabp.solvers import error_jacobian, normal_equations, plan_lm
from gabp.solvers.memory import lm_bytes

SOLVERS = ("lm", "br", "lbfgs")


def _regression(rng, n=40, d=3, k=1, noise=0.0):
    X = rng.uniform(-1, 1, (n, d))
    y = np.sin(2 * X[:, :1]) - 0.5 * X[:, 1:2] * X[:, 2:3] + 0.3
    y = np.repeat(y, k, axis=1) * np.arange(1, k + 1)
    return X, y + noise * rng.normal(size=y.shape)


# ------------------------------------------------------------------ Jacobian and gradients


# one and two hidden layers, 1 and 3 outputs; a one-unit softmax is constant (left out)
_SHAPES = [(sizes, out) for sizes in [(3, 4, 1), (3, 4, 3), (3, 5, 4, 1), (3, 5, 4, 3)]
           for out in ("identity", "tanh", "sigmoid", "softmax")
           if not (out == "softmax" and sizes[-1] == 1)]


@pytest.mark.parametrize("sizes,out_act", _SHAPES)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_jacobian_matches_finite_differences(sizes, hidden, out_act, rng):
    n_hidden = len(sizes) - 2
    acts = (hidden, "tanh") if n_hidden == 2 else hidden  # two hidden layers: mixed kinds
    net = Network(sizes, hidden_activation=acts, output_activation=out_act, n_networks=3,
                  init="uniform", init_range=0.9, seed=rng)
    assert not np.allclose(net.params[0], net.params[1])
    X = rng.normal(size=(7, 3))
    err = check_jacobian(net, X)
    assert err.shape == (3,)
    assert np.all(err < 1e-7), err


def test_jacobian_check_can_fail(rng, monkeypatch):
    import gabp.gradcheck as gc

    net = Network((3, 4, 2), n_networks=2, seed=0)
    X = rng.normal(size=(5, 3))
    real = gc.error_jacobian
    monkeypatch.setattr(gc, "error_jacobian", lambda a, p, x: real(a, p, x) * 1.01)
    assert np.all(check_jacobian(net, X) > 1e-3)


@pytest.mark.parametrize("loss,out_act", [("mse", "identity"), ("cross_entropy", "softmax"),
                                          ("binary_cross_entropy", "sigmoid")])
def test_check_gradients_small_for_backprop_and_large_for_a_wrong_gradient(
        loss, out_act, rng, monkeypatch):
    import gabp.gradcheck as gc

    net = Network((3, 5, 3), output_activation=out_act, n_networks=3, seed=1)
    X = rng.normal(size=(6, 3))
    Y = np.eye(3)[rng.integers(0, 3, 6)] if loss != "mse" else rng.normal(size=(6, 3))
    err = check_gradients(net, X, Y, loss=loss, alpha=np.array([0.0, 0.1, 1.0]))
    assert err.shape == (3,) and np.all(err < 1e-7), err
    real = gc.loss_and_grad

    def wrong(*args, **kw):  # "W -= lr * W": the classic bug, a gradient off by the weights
        value, grad = real(*args, **kw)
        return value, grad + 0.05 * args[1]

    monkeypatch.setattr(gc, "loss_and_grad", wrong)
    assert np.all(check_gradients(net, X, Y, loss=loss) > 1e-3)


def test_normal_equations_in_chunks_equal_the_full_jacobian(rng):
    arch = Architecture.build((3, 6, 2), hidden_activation="tanh")
    params = init_params(arch, 4, rng=rng)
    X, Y = _regression(rng, n=23, k=2)
    J = error_jacobian(arch, params, X)
    e = (forward(arch, params, X)[0][-1] - Y).reshape(4, -1)
    for chunk in (23, 5, 1):
        JtJ, Jte, sse = normal_equations(arch, params, X, Y, chunk_samples=chunk)
        np.testing.assert_allclose(JtJ, J.transpose(0, 2, 1) @ J, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(Jte, np.einsum("pmq,pm->pq", J, e), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sse, (e * e).sum(axis=1), rtol=1e-12)


def _old_jacobian(arch, params, X):
    """The formulation before the transposed / block rewrite, kept as an oracle: rows
    ``i * n_out + o``, seeds ``(P, n, o, j)``, one broadcast outer product per layer."""
    P, n, k = params.shape[0], X.shape[0], arch.n_outputs
    acts, _ = forward(arch, params, X)
    a_out = acts[-1]
    eye = np.eye(k)
    if arch.activations[-1] == "softmax":
        D = a_out[..., :, None] * (eye - a_out[..., None, :])
    elif arch.activations[-1] == "identity":
        D = np.broadcast_to(eye, a_out.shape[:-1] + (k, k)).copy()
    else:
        D = eye * ACTIVATIONS[arch.activations[-1]].derivative(a_out)[..., None, :]
    J = np.empty((P, n, k, arch.n_params))
    for i in range(arch.n_layers - 1, -1, -1):
        w0, b0, b1 = arch.offsets[i]
        a = acts[i] if acts[i].ndim == 3 else np.broadcast_to(acts[i], (P,) + acts[i].shape)
        J[..., w0:b0] = (a[:, :, None, :, None] * D[..., None, :]).reshape(P, n, k, -1)
        J[..., b0:b1] = D
        if i > 0:
            W = arch.views(params)[i][0]
            D = np.einsum("pnoj,paj->pnoa", D, W)
            D = D * ACTIVATIONS[arch.activations[i - 1]].derivative(a)[:, :, None, :]
    return J.reshape(P, n * k, arch.n_params)


_NE_CASES = [((3, 4, 1), "tanh", "identity"), ((4, 6, 5, 3), "relu", "softmax"),
             ((2, 5, 3, 2), "sigmoid", "tanh"), ((5, 4, 3), "identity", "sigmoid"),
             ((3, 6, 4, 4, 2), ["tanh", "relu", "sigmoid"], "identity"),
             ((6, 7, 4), "leaky_relu", "softmax"), ((4, 3), "tanh", "sigmoid")]


@pytest.mark.parametrize("P", [1, 3])
@pytest.mark.parametrize("sizes,hidden,out_act", _NE_CASES)
def test_jacobian_and_normal_equations_equal_the_old_formulation(sizes, hidden, out_act, P,
                                                                 rng):
    arch = Architecture.build(sizes, hidden_activation=hidden, output_activation=out_act)
    params = init_params(arch, P, rng=rng) * rng.uniform(0.5, 3.0, (P, 1))  # unlike weights
    X = rng.uniform(-1, 1, (29, sizes[0]))
    Y = rng.uniform(0, 1, (29, sizes[-1]))
    J = _old_jacobian(arch, params, X)
    np.testing.assert_allclose(error_jacobian(arch, params, X), J, rtol=1e-12, atol=1e-14)
    e = (forward(arch, params, X)[0][-1] - Y).reshape(P, -1)
    JtJ, Jte = J.transpose(0, 2, 1) @ J, np.einsum("pmq,pm->pq", J, e)
    for method in ("jacobian", "blocks"):
        for chunk in (29, 8):
            A, b, sse = normal_equations(arch, params, X, Y, chunk_samples=chunk, method=method)
            np.testing.assert_allclose(A, JtJ, rtol=1e-11, atol=1e-12 * np.abs(JtJ).max())
            np.testing.assert_allclose(b, Jte, rtol=1e-11, atol=1e-12 * np.abs(Jte).max())
            np.testing.assert_allclose(sse, (e * e).sum(axis=1), rtol=1e-12)
            np.testing.assert_array_equal(A, A.transpose(0, 2, 1))  # both triangles written


def test_blocks_normal_equations_match_finite_differences(rng):
    arch = Architecture.build((3, 4, 3, 3), hidden_activation="tanh",
                              output_activation="softmax")
    params = init_params(arch, 2, rng=rng)
    X = rng.uniform(-1, 1, (11, 3))
    eps, J = 1e-6, np.empty((2, 33, arch.n_params))
    for j in range(arch.n_params):
        step = np.zeros(arch.n_params)
        step[j] = eps
        up, down = forward(arch, params + step, X)[0][-1], forward(arch, params - step, X)[0][-1]
        J[:, :, j] = ((up - down) / (2 * eps)).reshape(2, -1)
    A = normal_equations(arch, params, X, np.zeros((11, 3)), chunk_samples=4,
                         method="blocks")[0]
    np.testing.assert_allclose(A, J.transpose(0, 2, 1) @ J, rtol=1e-6, atol=1e-8)


def test_normal_equations_method_follows_the_flop_count():
    from gabp.solvers.jacobian import normal_equations_method

    assert normal_equations_method(Architecture.build((4, 10, 1))) == "jacobian"
    assert normal_equations_method(Architecture.build((12, 8, 1))) == "jacobian"
    digits = Architecture.build((64, 32, 10), output_activation="softmax")
    assert normal_equations_method(digits) == "blocks"
    # the blocks' per-sample memory is far below the Jacobian rows' (n_out * n_params)
    assert lm_bytes(digits, 100)[1] < 2 * 10 * digits.n_params * 8 / 5


# ------------------------------------------------------------------------- LM known answers


def _linear_problem(rng, n=30, d=3, k=2):
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, k)) + 0.5 + 0.1 * rng.normal(size=(n, k))
    return X, Y


def test_one_lm_step_with_tiny_mu_is_least_squares(rng):
    X, Y = _linear_problem(rng)
    net = Network((3, 2), output_activation="identity", n_networks=2, seed=0)
    hist = train(net, X, Y, optimizer="lm", epochs=1, solver_options={"mu": 1e-12})
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    coef = np.linalg.lstsq(A, Y, rcond=None)[0]  # (4, 2): rows W (3) then b
    expected = np.concatenate([coef[:3].ravel(), coef[3]])
    for p in range(2):
        np.testing.assert_allclose(net.params[p], expected, rtol=1e-9, atol=1e-10)
    assert hist.n_steps.tolist() == [1, 1]


def test_one_lm_step_with_tiny_mu_and_l2_is_ridge(rng):
    X, Y = _linear_problem(rng, k=1)
    alpha = 0.3
    net = Network((3, 1), n_networks=1, seed=0)
    train(net, X, Y, optimizer="lm", epochs=1, alpha=alpha, solver_options={"mu": 1e-12})
    # objective mean((Aw - y)^2) + alpha / 2 * |W|^2 (bias not penalized): normal equations
    n = X.shape[0]
    A = np.hstack([X, np.ones((n, 1))])
    D = np.diag([1.0, 1.0, 1.0, 0.0])
    coef = np.linalg.solve(A.T @ A / n + alpha / 2 * D, A.T @ Y[:, 0] / n)
    np.testing.assert_allclose(net.params[0], coef, rtol=1e-9, atol=1e-10)


def test_one_lm_step_with_large_mu_is_a_scaled_gradient_step(rng):
    X, y = _regression(rng, n=25)
    net = Network((3, 5, 1), hidden_activation="tanh", n_networks=3, seed=3)
    p0 = net.params.copy()
    mu = 1e7
    train(net, X, y, optimizer="lm", epochs=1, solver_options={"mu": mu})
    _, grad = loss_and_grad(net.arch, p0, X, y)  # gradient of mean((a - y)^2)
    N = X.shape[0]
    # (JᵀJ + mu I) delta = -Jᵀe and grad = 2 Jᵀe / N, so delta -> -N grad / (2 mu)
    np.testing.assert_allclose(net.params - p0, -N * grad / (2 * mu), rtol=1e-4, atol=1e-14)


def test_lm_fits_a_smooth_function_far_better_than_its_start(rng):
    X, y = _regression(rng, n=60)
    net = Network((3, 8, 1), hidden_activation="tanh", n_networks=4, seed=0)
    start = evaluate_loss(net.arch, net.params, X, y)
    hist = train(net, X, y, optimizer="lm", epochs=100)
    end = evaluate_loss(net.arch, net.params, X, y)
    assert np.all(end < 1e-3 * start), (start, end)
    assert hist.resolved_optimizer == "lm"
    assert hist.gamma is None
    assert np.all(np.diff(hist.train_loss, axis=0) <= 0)  # LM accepts only decreasing steps


def test_lm_mse_on_softmax_outputs_is_allowed(rng):
    labels = rng.integers(0, 3, 40)
    X = rng.normal(size=(40, 2)) + np.eye(3)[labels][:, :2] * 2
    Y = np.eye(3)[labels]
    net = Network((2, 5, 3), output_activation="softmax", n_networks=2, seed=0)
    hist = train(net, X, Y, optimizer="lm", epochs=30)
    assert np.all(hist.train_loss[-1] < hist.train_loss[0])


# ------------------------------------------------------------------------------------- BR


def _evidence_fixed_point(A, y, n_iter=2000):
    """MacKay's evidence iteration for the linear model y = A w (independent of gabp)."""
    N, q = A.shape
    lam = np.linalg.eigvalsh(A.T @ A)
    alpha, beta = 1.0, 1.0
    for _ in range(n_iter):
        w = np.linalg.solve(beta * A.T @ A + alpha * np.eye(q), beta * A.T @ y)
        gamma = np.sum(beta * lam / (beta * lam + alpha))
        alpha = gamma / (2 * w @ w)
        beta = (N - gamma) / (2 * np.sum((A @ w - y) ** 2))
    return w, gamma


def test_br_on_a_linear_model_reaches_the_evidence_fixed_point(rng):
    n, d = 25, 4
    X = rng.normal(size=(n, d))
    y = X @ np.array([1.0, -0.5, 0.0, 0.05]) + 0.2 + 0.4 * rng.normal(size=n)
    net = Network((d, 1), n_networks=2, seed=0)
    hist = train(net, X, y, optimizer="br", epochs=300, restore_best=False)
    A = np.hstack([X, np.ones((n, 1))])  # flat layout: W (d) then b
    w, gamma = _evidence_fixed_point(A, y)
    for p in range(2):
        np.testing.assert_allclose(net.params[p], w, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(hist.gamma[-1, p], gamma, rtol=1e-6)
    assert 1.0 < gamma < d + 1  # some parameters are not well determined
    assert hist.gamma.shape == hist.train_loss.shape
    ols = np.linalg.lstsq(A, y, rcond=None)[0]
    assert np.linalg.norm(w) < np.linalg.norm(ols)  # regularized towards 0


def test_br_recovers_from_a_badly_fitting_start():
    # the estimator on inputs min-max scaled to [0, 1]: BR used to drive gamma to ~1e-15 in
    # the final fine-tune (stop "mu_max", the network predicting the mean, R² 0.01; LM 1.0)
    from gabp import GABPRegressor

    rng = np.random.default_rng(0)  # tests/test_estimators.py::regression_data(n=120)
    X = rng.uniform(-2.0, 2.0, size=(120, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2]
    lo, hi = X[:90].min(axis=0), X[:90].max(axis=0)
    Xs = (X - lo) / (hi - lo)
    est = GABPRegressor(population_size=4, n_generations=2, bp_epochs=1, max_epochs=60,
                        optimizer="br", scale_inputs=False, random_state=0).fit(Xs[:90], y[:90])
    hist = est.result_.bp_history
    assert hist.stop_reason[0] != "mu_max"
    assert hist.gamma[-1, 0] > 5.0  # a handful of well-determined parameters, not ~0
    assert est.score(Xs[90:], y[90:]) > 0.95


def test_br_starts_with_a_plain_lm_step(rng):
    # a = 0, beta = 1 at the start (Foresee & Hagan): the first BR step is the first LM step
    X, y = _regression(rng, n=30)
    nets = [Network((3, 6, 1), n_networks=2, seed=3) for _ in range(2)]
    for net, opt in zip(nets, ("lm", "br"), strict=True):
        train(net, X, y, optimizer=opt, epochs=1, restore_best=False,
              solver_options={"mu": 5e-3})
    np.testing.assert_array_equal(nets[0].params, nets[1].params)


def test_br_rejects_an_l2_term_and_lm_rejects_cross_entropy(rng):
    X, y = _regression(rng)
    net = Network((3, 4, 1), seed=0)
    with pytest.raises(ValueError, match=r"'alpha'.*0 with optimizer='br'"):
        train(net, X, y, optimizer="br", alpha=0.1)
    clf = Network((3, 4, 2), output_activation="softmax", seed=0)
    with pytest.raises(ValueError, match=r"'loss'.*'mse' with optimizer='lm'.*lbfgs"):
        train(clf, X, np.eye(2)[(y[:, 0] > 0).astype(int)], optimizer="lm",
              loss="cross_entropy")


# --------------------------------------------------------------------------------- L-BFGS


@pytest.mark.parametrize("loss,out_act", [("mse", "identity"),
                                          ("binary_cross_entropy", "sigmoid")])
def test_lbfgs_matches_scipy_on_a_convex_problem(loss, out_act, rng):
    optimize = pytest.importorskip("scipy.optimize")
    X = rng.normal(size=(40, 3))
    if loss == "mse":
        Y = (X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(40, 1)))
    else:
        Y = (X[:, :1] - 0.5 * X[:, 1:2] + 0.5 * rng.normal(size=(40, 1)) > 0).astype(float)
    alpha = 0.05
    net = Network((3, 1), output_activation=out_act, n_networks=2, seed=0)
    p0 = net.params.copy()
    train(net, X, Y, loss=loss, optimizer="lbfgs", alpha=alpha, epochs=500,
          solver_options={"gtol": 1e-12, "ftol": 0.0})

    def fun(w):
        value, grad = loss_and_grad(net.arch, w[None, :], X, Y, loss=loss, alpha=alpha)
        return value[0], grad[0]

    for p in range(2):
        ref = optimize.minimize(fun, p0[p], jac=True, method="L-BFGS-B",
                                options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 500})
        np.testing.assert_allclose(net.params[p], ref.x, rtol=1e-6, atol=1e-7)


def test_lbfgs_trains_a_softmax_classifier_on_cross_entropy():
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, 150)
    X = centers[labels] + rng.normal(0, 0.5, (150, 2))
    net = Network((2, 6, 3), output_activation="softmax", n_networks=3, seed=0)
    hist = train(net, X, np.eye(3)[labels], loss="cross_entropy", optimizer="lbfgs",
                 epochs=100)
    acc = (net.forward(X).argmax(axis=2) == labels).mean(axis=1)
    assert np.all(acc > 0.95), acc
    assert np.all(hist.sample_passes >= 150 * (hist.n_steps + 1))  # n per evaluation


# -------------------------------------------------------- batched == alone, divergence


@pytest.mark.parametrize("optimizer", SOLVERS)
def test_batched_equals_alone(optimizer, rng):
    X, y = _regression(rng, n=30, noise=0.05)
    Xv, yv = _regression(rng, n=12, noise=0.05)
    kw = {"layer_sizes": (3, 6, 1), "hidden_activation": "tanh"}
    P = 4
    net = Network(n_networks=P, seed=2, **kw)
    p0 = net.params.copy()
    alpha = np.zeros(P) if optimizer == "br" else np.array([0.0, 1e-3, 1e-2, 0.0])
    common = {"optimizer": optimizer, "epochs": 25, "X_val": Xv, "Y_val": yv,
              "early_stopping": True, "patience": 4}
    hist = train(net, X, y, alpha=alpha, **common)
    for p in range(P):
        alone = Network(params=p0[p : p + 1].copy(), **kw)
        h1 = train(alone, X, y, alpha=alpha[p], **common)
        np.testing.assert_allclose(net.params[p], alone.params[0], rtol=1e-8, atol=1e-10)
        n = h1.n_epochs
        np.testing.assert_allclose(hist.train_loss[:n, p], h1.train_loss[:, 0], rtol=1e-8)
        np.testing.assert_allclose(hist.val_loss[:n, p], h1.val_loss[:, 0], rtol=1e-8)
        assert hist.best_epoch[p] == h1.best_epoch[0]
        assert hist.n_steps[p] == h1.n_steps[0]
        assert hist.sample_passes[p] == h1.sample_passes[0]
        assert hist.stop_reason[p] == h1.stop_reason[0]
        if optimizer == "br":
            np.testing.assert_allclose(hist.gamma[:n, p], h1.gamma[:, 0], rtol=1e-8)


@pytest.mark.parametrize("optimizer", SOLVERS)
def test_divergence_leaves_the_other_networks_untouched(optimizer, rng):
    X, y = _regression(rng, n=30)
    kw = {"layer_sizes": (3, 5, 1), "hidden_activation": "tanh"}
    net = Network(n_networks=3, seed=4, **kw)
    net.params[1, -6:] = 1e200  # output weights and bias: the outputs overflow
    p0 = net.params.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning escapes
        hist = train(net, X, y, optimizer=optimizer, epochs=15)
    assert hist.diverged.tolist() == [False, True, False]
    assert hist.stop_reason[1] == "diverged"
    assert hist.final_loss[1] == np.inf and np.all(np.isfinite(hist.final_loss[[0, 2]]))
    for p in (0, 2):
        alone = Network(params=p0[p : p + 1].copy(), **kw)
        h1 = train(alone, X, y, optimizer=optimizer, epochs=15)
        np.testing.assert_allclose(net.params[p], alone.params[0], rtol=1e-10)
        np.testing.assert_allclose(hist.train_loss[:, p], h1.train_loss[:, 0], rtol=1e-10)


# ---------------------------------------------------------------------------- memory guard


@pytest.mark.parametrize("n_nets,n_samples", [(2, 50), (1, 20)])
def test_memory_guard_chunks_the_work_and_gives_the_same_result(n_nets, n_samples, rng):
    X, y = _regression(rng, n=50)
    net = Network((3, 6, 1), n_networks=5, seed=0)
    p0 = net.params.copy()
    per_net, per_sample = lm_bytes(net.arch, 50)
    budget = n_nets * (per_net + n_samples * per_sample)
    plan = plan_lm(net.arch, 50, 5, budget)
    assert (plan.net_chunk, plan.sample_chunk) == (n_nets, n_samples)
    assert plan.peak_bytes <= budget
    hist = train(net, X, y, optimizer="lm", epochs=20, memory_budget=budget)
    ref = Network((3, 6, 1), params=p0.copy())
    h_ref = train(ref, X, y, optimizer="lm", epochs=20)
    # the same sums in another order: equal up to rounding
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(hist.train_loss, h_ref.train_loss, rtol=1e-7)


def test_memory_guard_refuses_a_network_that_cannot_fit_before_any_work(rng):
    net = Network((64, 200, 10), n_networks=2, seed=0)  # 15,010 parameters: JᵀJ 1.8 GB
    p0 = net.params.copy()
    X = rng.normal(size=(30, 64))
    Y = rng.normal(size=(30, 10))
    with pytest.raises(ValueError, match=r"'memory_budget'.*n_params=15010.*'lbfgs' or 'adam'"):
        train(net, X, Y, optimizer="lm")
    np.testing.assert_array_equal(net.params, p0)
    assert resolve_optimizer(net.arch, 30, "mse", 2) != "lm"


def test_lbfgs_memory_guard_chunks_the_evaluations_and_gives_the_same_result(rng):
    from gabp.solvers.memory import lbfgs_bytes, plan_lbfgs

    X, y = _regression(rng, n=50)
    net = Network((3, 6, 1), n_networks=5, seed=0)
    p0 = net.params.copy()
    history, evaluation = lbfgs_bytes(net.arch, 50, 10)
    budget = 5 * history + 2 * evaluation
    plan = plan_lbfgs(net.arch, 50, 5, 10, budget)
    assert plan.net_chunk == 2 and plan.peak_bytes <= budget
    hist = train(net, X, y, optimizer="lbfgs", epochs=30, memory_budget=budget)
    ref = Network((3, 6, 1), params=p0.copy())
    h_ref = train(ref, X, y, optimizer="lbfgs", epochs=30)
    np.testing.assert_array_equal(net.params, ref.params)  # networks are independent
    np.testing.assert_array_equal(hist.train_loss, h_ref.train_loss)
    assert hist.stop_reason == h_ref.stop_reason


def test_lbfgs_memory_guard_refuses_a_history_that_cannot_fit_before_any_work(rng):
    net = Network((20, 50, 1), n_networks=4, seed=0)
    p0 = net.params.copy()
    X, y = rng.normal(size=(30, 20)), rng.normal(size=30)
    from gabp.solvers.memory import lbfgs_bytes

    history, evaluation = lbfgs_bytes(net.arch, 30, 10)
    with pytest.raises(ValueError, match=r"'memory_budget' parameter of train.*'lbfgs' on 4 "
                       r"networks of n_params=1101.*m=10 history.*Got 10000\.0 instead.*"
                       r"solver_options\['m'\]"):
        train(net, X, y, optimizer="lbfgs", memory_budget=1e4)
    np.testing.assert_array_equal(net.params, p0)
    # exactly the history and one evaluation fit; a smaller history (m) fits a smaller budget
    train(net, X, y, optimizer="lbfgs", epochs=1, memory_budget=4 * history + evaluation)
    small = lbfgs_bytes(net.arch, 30, 3)
    train(net, X, y, optimizer="lbfgs", epochs=1, solver_options={"m": 3},
          memory_budget=4 * small[0] + small[1])
    with pytest.raises(ValueError, match="'memory_budget'"):
        train(net, X, y, optimizer="lbfgs", memory_budget=4 * history + evaluation - 1)
    # "auto" does not pick a method whose memory it cannot fit
    assert resolve_optimizer(net.arch, 30, "cross_entropy", 4, memory_budget=1e4) == "adam"


def test_config_memory_check_refuses_an_lbfgs_population_that_cannot_fit():
    from gabp.config import check_memory, memory_estimate, resolve_config

    cfg = resolve_config({"data": {"dataset": "sunspots"}, "bp": {"optimizer": "lbfgs"},
                          "network": {"hidden_layer_sizes": [3000]}})
    with pytest.raises(ValueError, match=r"optimizer.*'lbfgs' on \d+ networks.*history"):
        check_memory(cfg, n_inputs=300, n_outputs=1, n_train=200, n_fit=50, available=2**60)
    cfg = resolve_config({"data": {"dataset": "sunspots"}, "bp": {"optimizer": "lbfgs"}})
    assert memory_estimate(cfg, n_inputs=12, n_outputs=1, n_train=200, n_fit=50)


def test_solve_damped_uses_the_cholesky_factor_and_refuses_indefinite_systems(rng):
    from gabp.solvers.levenberg import solve_damped

    q = 70  # more than two blocks of the triangular solves
    J = rng.normal(size=(4, 90, q))
    A = np.matmul(J.transpose(0, 2, 1), J) + 1e-3 * np.eye(q)
    b = rng.normal(size=(4, q))
    A[2] -= 50.0 * np.eye(q)  # indefinite
    A[3, 0, 0] = np.nan
    x, ok = solve_damped(A, b)
    np.testing.assert_array_equal(ok, [True, True, False, False])
    np.testing.assert_allclose(x[:2], np.linalg.solve(A[:2], b[:2, :, None])[..., 0],
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(x[2:], 0.0)
    for i in range(2):  # a system's solution does not depend on the stack it is in
        np.testing.assert_array_equal(solve_damped(A[i : i + 1], b[i : i + 1])[0][0], x[i])


def test_blas_threads_are_limited_during_a_call_and_restored():
    from threadpoolctl import threadpool_info

    from gabp import _threads

    def blas_threads(info):
        return [p["num_threads"] for p in info if p["user_api"] == "blas"]

    # the scan is cached from gabp's first call: a library loaded since (SciPy's OpenBLAS,
    # imported by an earlier test of this file) is only limited after a rescan
    _threads.rescan_blas()
    before = blas_threads(threadpool_info())
    with _threads.one_blas_thread():  # the BLAS libraries loaded when gabp first needed them
        inside = blas_threads(_threads._controller.info())
        assert inside and all(t == 1 for t in inside)
    assert blas_threads(threadpool_info()) == before
    seen = []  # train (every solver) runs on one thread, and restores the setting after
    train(Network((2, 3, 1), seed=0), np.zeros((8, 2)), np.zeros(8), optimizer="lm", epochs=2,
          callback=lambda e, h: seen.append(blas_threads(threadpool_info())) and False)
    assert seen and all(all(t == 1 for t in threads) for threads in seen)
    assert blas_threads(threadpool_info()) == before


# -------------------------------------------------------------------------------- epoch -1


@pytest.mark.parametrize("optimizer", ["sgd", "adam", *SOLVERS])
def test_returned_weights_are_never_worse_than_the_start(optimizer, rng):
    X, y = _regression(rng, n=40, noise=0.3)
    Xv, yv = _regression(rng, n=40, noise=0.3)
    net = Network((3, 12, 1), n_networks=3, seed=0)
    # start close to a good fit for the validation data, so training on noisy data may hurt
    train(net, Xv, yv, optimizer="lm", epochs=40)
    p0 = net.params.copy()
    v0 = evaluate_loss(net.arch, p0, Xv, yv)
    hist = train(net, X, y, optimizer=optimizer, epochs=30, learning_rate=0.5,
                 X_val=Xv, Y_val=yv)
    v1 = evaluate_loss(net.arch, net.params, Xv, yv)
    assert np.all(v1 <= v0 + 1e-15), (v0, v1)
    assert np.any(hist.best_epoch == -1)  # for some networks no epoch beat the start
    keep = hist.best_epoch == -1
    np.testing.assert_array_equal(net.params[keep], p0[keep])
    np.testing.assert_allclose(hist.best_loss[keep], v0[keep], rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "lm", "lbfgs"])
def test_a_train_that_cannot_improve_returns_the_start(optimizer, rng):
    X, y = _regression(rng, n=30)
    net = Network((3, 5, 1), n_networks=2, seed=1)
    if optimizer == "sgd":
        kw = {"learning_rate": 3.0, "batch_size": None}  # overshoots, but stays finite
    else:  # start at a minimum: nothing to gain
        train(net, X, y, optimizer="lm", epochs=400, solver_options={"min_grad": 0.0})
        kw = {}
    p0 = net.params.copy()
    start = evaluate_loss(net.arch, p0, X, y)
    hist = train(net, X, y, optimizer=optimizer, epochs=3, **kw)
    end = evaluate_loss(net.arch, net.params, X, y)
    assert np.all(end <= start)
    if optimizer == "sgd":
        assert hist.best_epoch.tolist() == [-1, -1]
        np.testing.assert_array_equal(net.params, p0)
        np.testing.assert_allclose(hist.best_loss, start, rtol=1e-12)
        assert np.all(np.isfinite(hist.best_loss)) and not hist.diverged.any()


def test_without_restoring_the_last_weights_are_kept(rng):
    X, y = _regression(rng, n=30)
    net = Network((3, 5, 1), seed=1)
    p0 = net.params.copy()
    hist = train(net, X, y, optimizer="sgd", learning_rate=3.0, batch_size=None, epochs=3,
                 restore_best=False)
    assert not np.array_equal(net.params, p0)
    assert hist.best_epoch[0] >= 0


# ------------------------------------------------------------ History, budgets, options


def test_sample_passes_accounting(rng):
    X, y = _regression(rng, n=30)
    net = Network((3, 4, 1), n_networks=2, seed=0)
    hist = train(net, X, y, optimizer="adam", epochs=3, batch_size=8)  # batches 8, 8, 8, 6
    assert hist.sample_passes.tolist() == [90.0, 90.0]
    assert hist.stop_reason == ["max_epochs", "max_epochs"]
    # LM: per iteration a Jacobian pass 0.5 n (1 + n_out) plus 0.5 n per trial forward
    net = Network((3, 4, 2), n_networks=2, seed=0)
    hist = train(net, X, np.hstack([y, -y]), optimizer="lm", epochs=5)
    trials = (hist.sample_passes - 5 * 0.5 * 30 * 3) / (0.5 * 30)
    np.testing.assert_allclose(trials, np.round(trials))
    assert np.all(trials >= 5)


@pytest.mark.parametrize("optimizer", ["adam", "lm", "lbfgs"])
def test_max_sample_passes_freezes_each_network(optimizer, rng):
    X, y = _regression(rng, n=30)
    net = Network((3, 4, 1), n_networks=2, seed=0)
    hist = train(net, X, y, optimizer=optimizer, epochs=1000, batch_size=10,
                 max_sample_passes=600)
    assert hist.stop_reason == ["budget", "budget"]
    step = {"adam": 10, "lm": 30 + 15 * 20, "lbfgs": 30 * 20}[optimizer]  # one step at most
    assert np.all(hist.sample_passes >= 600) and np.all(hist.sample_passes < 600 + step)


def test_auto_resolves_and_is_recorded(rng):
    X, y = _regression(rng, n=30)
    net = Network((3, 4, 1), seed=0)
    hist = train(net, X, y, optimizer="auto", epochs=5)
    assert hist.resolved_optimizer == resolve_optimizer(net.arch, 30, "mse") == "lm"
    clf = Network((3, 4, 2), output_activation="softmax", seed=0)
    hist = train(clf, X, np.eye(2)[(y[:, 0] > 0.3).astype(int)], loss="cross_entropy",
                 optimizer="auto", epochs=5)
    assert hist.resolved_optimizer == "lbfgs"
    big = Architecture.build((64, 256, 10), output_activation="softmax")
    assert resolve_optimizer(big, 100_000, "cross_entropy") == "adam"
    # the benchmark's tasks (bench/second_order.py, part "auto")
    digits = Architecture.build((64, 32, 10), output_activation="softmax")
    cancer = Architecture.build((30, 10, 1), output_activation="sigmoid")
    mg = Architecture.build((4, 10, 1))
    assert resolve_optimizer(digits, 1150, "cross_entropy") == "adam"
    assert resolve_optimizer(digits, 1150, "mse") == "adam"  # LM: 2.5 s per iteration
    assert resolve_optimizer(cancer, 370, "binary_cross_entropy") == "lbfgs"
    assert resolve_optimizer(cancer, 370, "mse") == "lm"
    assert resolve_optimizer(mg, 500, "mse", 40) == "lm"
    # the population's normal equations must fit half the budget
    assert resolve_optimizer(mg, 500, "mse", 40, memory_budget=1e6) == "lbfgs"
    with pytest.raises(ValueError, match=r"'n_samples' parameter of resolve_optimizer"):
        resolve_optimizer(mg, 0, "mse")
    # BR where LM would be chosen, without an L2 term and with validation stopping
    assert resolve_optimizer(mg, 500, "mse", 40, has_validation=True) == "br"
    assert resolve_optimizer(mg, 500, "mse", 40, alpha=1e-4, has_validation=True) == "lm"
    assert resolve_optimizer(mg, 500, "mse", 2, alpha=np.array([0.0, 1e-4]),
                             has_validation=True) == "lm"
    assert resolve_optimizer(mg, 500, "mse", 40, has_validation=False) == "lm"
    assert resolve_optimizer(cancer, 370, "binary_cross_entropy", has_validation=True) == "lbfgs"
    with pytest.raises(TypeError, match=r"'has_validation' parameter of resolve_optimizer"):
        resolve_optimizer(mg, 500, "mse", has_validation="yes")
    with pytest.raises(ValueError, match=r"'alpha' parameter of resolve_optimizer"):
        resolve_optimizer(mg, 500, "mse", alpha=-1.0)
    d = hist.to_dict()
    assert d["resolved_optimizer"] == "lbfgs" and d["gamma"] is None
    assert len(d["sample_passes"]) == 1 and d["stop_reason"] == hist.stop_reason


def test_float32_networks_are_solved_in_float64(rng):
    X, y = _regression(rng, n=40)
    net32 = Network((3, 5, 1), n_networks=2, seed=0, dtype=np.float32)
    net64 = Network((3, 5, 1), params=net32.params.astype(np.float64))
    train(net32, X, y, optimizer="lm", epochs=20)
    train(net64, X, y, optimizer="lm", epochs=20)
    assert net32.params.dtype == np.float32
    np.testing.assert_allclose(net32.params, net64.params.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"optimizer": "lm", "solver_options": {"mu_maxx": 1.0}}, ValueError,
         r"'solver_options'.*optimizer='lm'.*'mu', 'mu_dec'.*'mu_maxx'"),
        ({"optimizer": "lbfgs", "solver_options": {"mu": 1.0}}, ValueError,
         r"'solver_options'.*'m', 'gtol'"),
        ({"optimizer": "sgd", "solver_options": {"beta1": 0.5}}, ValueError,
         r"'solver_options'.*optimizer='sgd' \(none\)"),
        ({"optimizer": "lm", "solver_options": {"mu": -1.0}}, ValueError,
         r"solver_options\['mu'\].*> 0"),
        ({"optimizer": "lbfgs", "solver_options": {"m": 2.5}}, TypeError,
         r"solver_options\['m'\].*integer"),
        ({"optimizer": "lm", "solver_options": [("mu", 1.0)]}, TypeError, r"mapping"),
        ({"optimizer": "lm", "memory_budget": 0}, ValueError, r"'memory_budget'.*> 0"),
        ({"optimizer": "lm", "max_sample_passes": -5}, ValueError, r"'max_sample_passes'"),
        ({"optimizer": "newton"}, ValueError, r"'optimizer'.*'lm', 'br', 'lbfgs', 'auto'"),
    ],
)
def test_solver_bad_input(kwargs, exc, match, rng):
    X, y = _regression(rng, n=10)
    net = Network((3, 4, 1), seed=0)
    before = net.params.copy()
    with pytest.raises(exc, match=match):
        train(net, X, y, epochs=2, **kwargs)
    np.testing.assert_array_equal(net.params, before)


def test_adam_solver_options_reach_the_optimizer(rng):
    X, y = _regression(rng, n=20)
    a, b = Network((3, 4, 1), seed=0), Network((3, 4, 1), seed=0)
    train(a, X, y, epochs=3, restore_best=False)
    train(b, X, y, epochs=3, restore_best=False, solver_options={"beta1": 0.0})
    assert not np.allclose(a.params, b.params)
