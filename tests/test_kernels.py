"""The optional compiled elementwise passes (numba, ``gabp[fast]``) against the NumPy passes.

Skipped where numba is absent. The rest of the suite runs the NumPy passes
(``tests/conftest.py`` sets ``GABP_KERNELS=numpy`` unless it is set); these tests set it.
"""

import numpy as np
import pytest

from gabp import Network, train
from gabp.activations import ACTIVATIONS, softmax, softmax_shifted
from gabp.losses import LOSSES
from gabp.network import _Backprop, loss_and_grad

pytest.importorskip("numba")

import gabp._kernels as kernels  # noqa: E402


@pytest.fixture
def numba_kernels(monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "numba")


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}")


def _biases(rng, P, k, dtype):
    # the bias views of a genome are strided (P, 1, k) slices, as Architecture.views makes
    flat = rng.normal(size=(P, 3 * k)).astype(dtype)
    return flat[:, k : 2 * k].reshape(P, 1, k)


SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30, -1e-30]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_relu_and_relu_grad_are_bit_identical(dtype, rng, numba_kernels):
    P, n, k = 3, 5, len(SPECIAL)
    b = _biases(rng, P, k, dtype)
    b[0, 0, :] = -0.0  # -0.0 + -0.0 is -0.0, which np.maximum(x, 0) turns into +0.0
    z = rng.normal(size=(P, n, k)).astype(dtype)
    z[0, 0, :] = SPECIAL
    z[1, 1, :] = SPECIAL
    want = np.maximum(z + b, 0.0)
    got = z.copy()
    kernels.compiled("bias_relu")(got, np.ascontiguousarray(b[:, 0]), dtype(0))
    np.testing.assert_array_equal(_bits(got), _bits(want))

    delta = rng.normal(size=(P, n, k)).astype(dtype)
    delta[2, 0, :] = SPECIAL
    delta[0, 2, :] = np.inf  # inf * (a > 0 is False) is NaN in NumPy: the same here
    with np.errstate(invalid="ignore"):
        ref = ACTIVATIONS["relu"].mul_derivative(delta.copy(), want)
    new = delta.copy()
    kernels.compiled("relu_grad")(new, want, dtype(0), dtype(1))
    np.testing.assert_array_equal(_bits(new), _bits(ref))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_softmax_is_bit_identical_and_the_loss_close(dtype, rng, numba_kernels):
    P, n, k = 4, 9, 10
    b = _biases(rng, P, k, dtype)
    z0 = (3 * rng.normal(size=(P, n, k))).astype(dtype)
    z0[1, 2, 3] = 900.0  # one large logit: the shift keeps exp finite
    z0[2, 4, :] = np.nan  # a diverged row stays NaN
    shape = (P, n)
    z_ref = z0 + b
    rmax, rsum = np.empty(shape, dtype), np.empty(shape, dtype)
    a_ref = softmax(z_ref, rowmax=rmax, rowsum=rsum)
    z_new, a_new = z0.copy(), np.empty_like(z0)
    rmax2, rsum2 = np.empty(shape, dtype), np.empty(shape, dtype)
    kernels.compiled("bias_shift")(z_new, np.ascontiguousarray(b[:, 0]), a_new, rmax2)
    softmax_shifted(a_new, rsum2)
    for got, want in ((z_new, z_ref), (a_new, a_ref), (rmax2, rmax), (rsum2, rsum)):
        np.testing.assert_array_equal(_bits(got), _bits(want))

    ok = np.array([0, 1, 3])  # the networks without a NaN row
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    lse = np.log(rsum) + rmax
    loss_ref, delta_ref = LOSSES["cross_entropy"](z_ref, a_ref, Y, "softmax", lse=lse)
    loss_new, delta_new = np.empty(P, dtype), np.empty_like(z0)
    kernels.compiled("softmax_ce")(z_new, a_new, Y, lse, dtype(n), dtype(1.0 / n), delta_new,
                                   loss_new)
    np.testing.assert_array_equal(_bits(delta_new), _bits(delta_ref))
    rtol = 1e-5 if dtype == np.float32 else 1e-6  # sums added in another order than einsum
    np.testing.assert_allclose(loss_new[ok], loss_ref[ok], rtol=rtol)
    assert np.isnan(loss_new[2]) and np.isnan(loss_ref[2])


def _digits_like(rng, n=64, n_in=12, k=5, dtype=np.float64):
    X = rng.normal(size=(n, n_in)).astype(dtype)
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    return X, Y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_and_grad_same_gradient_close_loss(dtype, rng, monkeypatch):
    X, Y = _digits_like(rng, dtype=dtype)
    net = Network((12, 16, 8, 5), hidden_activation="relu", output_activation="softmax",
                  n_networks=6, seed=1, dtype=dtype)
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    v_ref, g_ref = loss_and_grad(net.arch, net.params, X, Y, loss="cross_entropy", alpha=1e-3)
    monkeypatch.setenv("GABP_KERNELS", "numba")
    engine = _Backprop(net.arch, net.params, np.zeros_like(net.params))
    assert engine.fused == ["relu", "relu", "softmax"]
    v_new, g_new = loss_and_grad(net.arch, net.params, X, Y, loss="cross_entropy", alpha=1e-3)
    # the gradient is bit-identical (every pass that feeds it is); the loss value's sums
    # are added in another order
    np.testing.assert_array_equal(g_new, g_ref)
    np.testing.assert_allclose(v_new, v_ref, rtol=1e-5 if dtype == np.float32 else 1e-6)
    v_mse, g_mse = loss_and_grad(net.arch, net.params, X, Y, loss="mse")  # fused ReLU layers,
    monkeypatch.setenv("GABP_KERNELS", "numpy")  # NumPy softmax Jacobian for the MSE
    v_mse_ref, g_mse_ref = loss_and_grad(net.arch, net.params, X, Y, loss="mse")
    np.testing.assert_array_equal(g_mse, g_mse_ref)
    np.testing.assert_array_equal(v_mse, v_mse_ref)


def _fit(net, X, Y, dtype):
    train(net, X, Y, loss="cross_entropy", optimizer="adam", learning_rate=1e-2, epochs=4,
          batch_size=16, seed=3)
    return net.params.copy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_is_bit_identical_deterministic_and_batched_equals_alone(dtype, rng,
                                                                           monkeypatch):
    X, Y = _digits_like(rng, dtype=dtype)

    def make():
        return Network((12, 16, 5), hidden_activation="relu", output_activation="softmax",
                       n_networks=4, seed=2, dtype=dtype)

    monkeypatch.setenv("GABP_KERNELS", "numpy")
    ref = _fit(make(), X, Y, dtype)
    monkeypatch.setenv("GABP_KERNELS", "numba")
    first, second = _fit(make(), X, Y, dtype), _fit(make(), X, Y, dtype)
    np.testing.assert_array_equal(first, second)  # deterministic
    np.testing.assert_array_equal(first, ref)  # Adam and the gradients are bit-identical
    together = make()
    for p in range(4):
        alone = Network.from_architecture(together.arch, together.params[p : p + 1].copy())
        np.testing.assert_array_equal(_fit(alone, X, Y, dtype)[0], first[p])


def test_auto_compiles_numpy_does_not_and_a_bad_value_is_refused(rng, monkeypatch):
    net = Network((3, 4, 2), hidden_activation="relu", output_activation="softmax", seed=0)
    monkeypatch.delenv("GABP_KERNELS", raising=False)  # auto, and numba is importable here
    assert _Backprop(net.arch, net.params).fused == ["relu", "softmax"]
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    assert _Backprop(net.arch, net.params).kernels is None
    monkeypatch.setenv("GABP_KERNELS", "cuda")
    with pytest.raises(ValueError, match="GABP_KERNELS environment variable must be one of "
                       "auto, numpy, numba. Got 'cuda' instead"):
        loss_and_grad(net.arch, net.params, np.ones((2, 3)), np.eye(2), loss="cross_entropy")


def test_layers_without_a_kernel_keep_the_numpy_passes(monkeypatch):
    monkeypatch.setenv("GABP_KERNELS", "numba")
    net = Network((3, 4, 4, 2), hidden_activation=["tanh", "relu"], output_activation="sigmoid",
                  seed=0)
    assert _Backprop(net.arch, net.params).fused == [None, "relu", None]
