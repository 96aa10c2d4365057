"""Optimizer updates against their closed-form equations, written independently here."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gabp.optimizers import FIRST_ORDER, OPTIMIZERS, SECOND_ORDER, make_optimizer

P, N = 3, 7
N_STEPS = 5


def _grads(rng, dtype=np.float64):
    return [rng.normal(size=(P, N)).astype(dtype) for _ in range(N_STEPS)]


def _run(name, params, grads, active=None, **kw):
    opt = make_optimizer(name, params.shape, **kw)
    for g in grads:
        opt.step(params, g, active)
    return params


def test_registry_lists_every_optimizer():
    assert set(FIRST_ORDER) == {"sgd", "momentum", "nesterov", "adam"}
    assert SECOND_ORDER == ("lm", "br", "lbfgs")
    assert OPTIMIZERS == FIRST_ORDER + SECOND_ORDER + ("auto",)
    for name in FIRST_ORDER:
        assert make_optimizer(name, (2, 3), learning_rate=0.1) is not None


def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="rmsprop.*known: sgd"):
        make_optimizer("rmsprop", (2, 3), learning_rate=0.1)


def test_sgd_closed_form(rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    lr = np.array([0.1, 0.01, 0.5])  # one per network
    got = _run("sgd", p0.copy(), grads, learning_rate=lr)
    # p_T = p_0 - lr * sum_t g_t  (each row with its own lr)
    want = p0 - lr[:, None] * np.sum(grads, axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_sgd_moves_against_the_gradient_not_the_weights():
    # The "W -= lr * W" mistake: with zero gradient nothing may move.
    p = np.full((1, 4), 3.0)
    _run("sgd", p, [np.zeros((1, 4))], learning_rate=0.5)
    np.testing.assert_array_equal(p, 3.0)


def test_momentum_closed_form(rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    lr, mu = np.array([0.1, 0.2, 0.05]), np.array([0.9, 0.5, 0.0])
    got = _run("momentum", p0.copy(), grads, learning_rate=lr, momentum=mu)
    # v_t = mu v_{t-1} - lr g_t,  p_t = p_{t-1} + v_t, v_0 = 0, i.e.
    # p_T = p_0 - lr * sum_t g_t * sum_{k=0}^{T-t} mu^k
    T = len(grads)
    want = p0.copy()
    for t, g in enumerate(grads, start=1):
        geo = sum(mu**k for k in range(T - t + 1))
        want -= (lr * geo)[:, None] * g
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_momentum_zero_mu_is_sgd(rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    a = _run("momentum", p0.copy(), grads, learning_rate=0.1, momentum=0.0)
    b = _run("sgd", p0.copy(), grads, learning_rate=0.1)
    np.testing.assert_allclose(a, b, rtol=1e-13)


def test_nesterov_closed_form(rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    lr, mu = 0.1, np.array([0.9, 0.7, 0.3])
    got = _run("nesterov", p0.copy(), grads, learning_rate=lr, momentum=mu)
    # Hand-rolled: v_t = mu v_{t-1} - lr g_t;  p_t = p_{t-1} + mu v_t - lr g_t
    m = mu[:, None]
    v = np.zeros((P, N))
    want = p0.copy()
    for g in grads:
        v = m * v - lr * g
        want = want + m * v - lr * g
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # and it differs from classic momentum
    classic = _run("momentum", p0.copy(), grads, learning_rate=lr, momentum=mu)
    assert not np.allclose(got, classic)


def test_nesterov_first_step_numbers():
    # One step from v=0 with g=1, lr=0.1, mu=0.9: v = -0.1, update = 0.9*(-0.1) - 0.1 = -0.19
    p = np.zeros((1, 1))
    _run("nesterov", p, [np.ones((1, 1))], learning_rate=0.1, momentum=0.9)
    np.testing.assert_allclose(p, [[-0.19]], rtol=1e-14)


def test_adam_closed_form(rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    lr, b1, b2, eps = np.array([1e-3, 1e-2, 0.1]), 0.8, 0.99, 1e-6
    got = _run("adam", p0.copy(), grads, learning_rate=lr, beta1=b1, beta2=b2, epsilon=eps)
    # Kingma & Ba, Algorithm 1, written out directly.
    m = np.zeros((P, N))
    v = np.zeros((P, N))
    want = p0.copy()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        want = want - lr[:, None] * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_adam_first_step_is_bias_corrected():
    # With bias correction m_hat/sqrt(v_hat) = g/|g| at t=1: every weight moves by ~lr.
    # Without it the step would be (1-b1)/sqrt(1-b2) * lr = 3.16 lr.
    g = np.array([[1e-3, -2.0, 50.0, -1e-2]])
    p = np.zeros_like(g)
    _run("adam", p, [g], learning_rate=0.01, epsilon=1e-12)
    np.testing.assert_allclose(p, -0.01 * np.sign(g), rtol=1e-8)


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_inactive_rows_are_frozen(name, rng):
    p0 = rng.normal(size=(P, N))
    grads = _grads(rng)
    active = np.array([True, False, True])
    got = _run(name, p0.copy(), grads, active=active, learning_rate=0.1)
    np.testing.assert_array_equal(got[1], p0[1])
    # the active rows move exactly as if trained alone
    for row in (0, 2):
        alone = _run(name, p0[row : row + 1].copy(), [g[row : row + 1] for g in grads],
                     learning_rate=0.1)
        np.testing.assert_allclose(got[row], alone[0], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", FIRST_ORDER)
def test_float32_matches_float64(name, rng):
    p64 = rng.normal(size=(P, N))
    grads = _grads(rng)
    p32 = p64.astype(np.float32)
    opt = make_optimizer(name, p32.shape, learning_rate=0.01, dtype=np.float32)
    for g in grads:
        opt.step(p32, g.astype(np.float32))
    assert p32.dtype == np.float32
    want = _run(name, p64.copy(), grads, learning_rate=0.01)
    np.testing.assert_allclose(p32, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_adam_is_bit_identical_to_the_numpy_passes(dtype, rng, monkeypatch):
    # the optional compiled step (GABP_KERNELS=numba, gabp[fast]) must not change a single
    # bit: shared and per-network rates, frozen rows, gradients over nine orders of magnitude
    pytest.importorskip("numba")

    def adam(kernels, rate):
        monkeypatch.setenv("GABP_KERNELS", kernels)  # read when the optimizer is built
        return make_optimizer("adam", (4, 257), learning_rate=rate, dtype=dtype)

    lr = np.array([1e-3, 3e-2, 5e-4, 1e-3])
    for rate in (1e-3, lr):
        ref, new = adam("numpy", rate), adam("numba", rate)
        assert ref._kernel is None and new._kernel is not None
        p_ref = rng.normal(size=(4, 257)).astype(dtype)
        p_new = p_ref.copy()
        active = np.array([True, False, True, True])
        for k in range(12):
            g = (rng.normal(size=(4, 257)) * 10.0 ** rng.integers(-6, 3)).astype(dtype)
            mask = active if k % 3 == 2 else None
            ref.step(p_ref, g, mask)
            new.step(p_new, g, mask)
            np.testing.assert_array_equal(p_new, p_ref)
        np.testing.assert_array_equal(new.m, ref.m)
        np.testing.assert_array_equal(new.v, ref.v)


HAS_NUMBA = importlib.util.find_spec("numba") is not None


@pytest.mark.parametrize(("value", "fused"), [("", HAS_NUMBA), ("auto", HAS_NUMBA),
                                              ("numpy", False), ("NumPy ", False)])
def test_the_kernel_setting_chooses_adams_step(value, fused, monkeypatch):
    # unset / auto: compiled exactly when numba is installed; numpy: never
    monkeypatch.setenv("GABP_KERNELS", value)
    opt = make_optimizer("adam", (2, 3), learning_rate=1e-3)
    assert (opt._kernel is not None) == fused


def test_unknown_kernels_value_is_refused(monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "cuda")
    with pytest.raises(ValueError, match="GABP_KERNELS environment variable must be one of "
                       "auto, numpy, numba. Got 'cuda'"):
        make_optimizer("adam", (2, 3), learning_rate=1e-3)


@pytest.mark.parametrize("name", ["adam", "momentum"])
def test_decaying_state_is_flushed_of_subnormal_numbers(name, monkeypatch):
    # a unit whose gradient becomes exactly zero: its moment / velocity decays by ~0.9 a step
    # and would sink into float32 subnormals (slow arithmetic) after some 800 steps
    import gabp.optimizers as opts

    def run(flush_every: int) -> np.ndarray:
        monkeypatch.setattr(opts, "FLUSH_EVERY", flush_every)
        opt = make_optimizer(name, (2, 8), learning_rate=1e-3, dtype=np.float32)
        p = np.zeros((2, 8), np.float32)
        opt.step(p, np.ones((2, 8), np.float32))
        for _ in range(1500):
            opt.step(p, np.zeros((2, 8), np.float32))
        return np.concatenate([getattr(opt, n).ravel() for n in opt._decaying])

    tiny = np.finfo(np.float32).tiny
    unflushed = run(10**9)
    assert np.any((unflushed != 0) & (np.abs(unflushed) < tiny))  # the problem is real
    state = run(32)
    assert not np.any((state != 0) & (np.abs(state) < tiny))
