"""The optional compiled elementwise passes (numba, ``gabp[fast]``) against the NumPy passes.

Skipped where numba is absent. The rest of the suite runs the NumPy passes
(``tests/conftest.py`` sets ``GABP_KERNELS=numpy`` unless it is set); these tests set it.
"""

import logging

import numpy as np
import pytest

from gabp import Network, train
from gabp.activations import ACTIVATIONS, softmax, softmax_shifted
from gabp.layers import Conv2D, Flatten, Reshape
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
    P, n, k = 5, 9, 10
    b = _biases(rng, P, k, dtype)
    z0 = (3 * rng.normal(size=(P, n, k))).astype(dtype)
    z0[1, 2, 3] = 900.0  # one large logit: the shift keeps exp finite
    z0[2, 4, :] = np.nan  # a diverged row stays NaN
    z0[4, 1, 6] = np.nan  # one NaN inside a row (the branch-free maximum's row check)
    z0[4, 3, 2] = np.inf  # +inf: its row's maximum, z - max NaN there and -inf elsewhere
    z0[4, 5, :] = -np.inf
    b[4, 0, :] = -0.0  # a row of -0 and +0 after the bias add: ties of the maximum
    z0[4, 6, ::2], z0[4, 6, 1::2] = -0.0, 0.0
    shape = (P, n)
    z_ref = z0 + b
    rmax, rsum = np.empty(shape, dtype), np.empty(shape, dtype)
    with np.errstate(invalid="ignore"):
        a_ref = softmax(z_ref, rowmax=rmax, rowsum=rsum)
    z_new, a_new = z0.copy(), np.empty_like(z0)
    rmax2, rsum2 = np.empty(shape, dtype), np.empty(shape, dtype)
    kernels.compiled("bias_shift")(z_new, np.ascontiguousarray(b[:, 0]), a_new, rmax2)
    shifted = a_new.copy()
    with np.errstate(invalid="ignore"):
        softmax_shifted(a_new, rsum2)
    for got, want in ((z_new, z_ref), (a_new, a_ref), (rmax2, rmax), (rsum2, rsum)):
        np.testing.assert_array_equal(_bits(got), _bits(want))

    # training's pass: the division (the forward pass stopped at exp and the row sums), the
    # loss and dL/dz
    ok = np.array([0, 1, 3])  # the networks without a NaN or infinite row
    Y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    lse = np.log(rsum) + rmax
    with np.errstate(invalid="ignore"):
        loss_ref, delta_ref = LOSSES["cross_entropy"](z_ref, a_ref, Y, "softmax", lse=lse)
    e = np.exp(shifted)
    loss_new, delta_new = np.empty(P, dtype), np.empty_like(z0)
    kernels.compiled("softmax_ce")(z_new, e, rsum2, rmax2, Y, dtype(n), dtype(1.0 / n),
                                   delta_new, loss_new)
    np.testing.assert_array_equal(_bits(e), _bits(a_ref))  # e became the softmax
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
    net = Network((3, 4, 4, 4, 2), hidden_activation=["leaky_relu", "identity", "relu"],
                  output_activation="identity", seed=0)
    assert _Backprop(net.arch, net.params).fused == [None, None, "relu", None]
    net = Network((3, 4, 4, 2), hidden_activation=["tanh", "sigmoid"],
                  output_activation="sigmoid", seed=0)
    assert _Backprop(net.arch, net.params).fused == ["tanh", "sigmoid", "sigmoid"]
    cnn = Network(((1, 4, 4), Conv2D(2, 3, activation="tanh"), Flatten(), 3),
                  output_activation="tanh", seed=0)
    assert _Backprop(cnn.arch, cnn.params).fused == [None, None, None, "tanh"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_and_tanh_passes_are_bit_identical(dtype, rng, numba_kernels):
    P, n, k = 3, 6, 2 * len(SPECIAL)
    b = _biases(rng, P, k, dtype)
    b[0, 0, :] = -0.0
    z0 = (4 * rng.normal(size=(P, n, k))).astype(dtype)
    z0[0, 0, : len(SPECIAL)] = SPECIAL
    z0[1, 2, len(SPECIAL) :] = [-1000.0, 1000.0, -90.0, 90.0, -17.0, 17.0, -0.0]  # saturating
    bias = np.ascontiguousarray(b[:, 0])
    one = dtype(1)
    with np.errstate(all="ignore"):
        # sigmoid, written over z (a hidden layer) and into another array (the output)
        z_ref = z0 + b
        want = ACTIVATIONS["sigmoid"].apply(z_ref.copy(), np.empty_like(z0))
        for into_z in (True, False):
            z, e = z0.copy(), np.empty_like(z0)
            out = z if into_z else np.empty_like(z0)
            kernels.compiled("sigmoid_pre")(z, bias, e)
            np.exp(e, out=e)
            if into_z:
                kernels.compiled("sigmoid_post")(z, e, one)
            else:
                kernels.compiled("sigmoid_post_to")(z, e, out, one)
            np.testing.assert_array_equal(_bits(out), _bits(want))
            if not into_z:
                np.testing.assert_array_equal(_bits(z), _bits(z_ref))  # z + b kept for the loss
        z = z0.copy()
        kernels.compiled("bias_add")(z, bias)
        np.testing.assert_array_equal(_bits(z), _bits(z_ref))

        delta = rng.normal(size=(P, n, k)).astype(dtype)
        delta[2, 0, : len(SPECIAL)] = SPECIAL
        for name, a in (("tanh", np.tanh(z_ref)), ("sigmoid", want)):
            a = a.copy()
            a[1, 1, : len(SPECIAL)] = SPECIAL  # NaN, inf, -0.0 outputs too
            a[2, 3, :] = rng.uniform(-1, 1, k)  # generic values: any double rounding shows
            ref = ACTIVATIONS[name].mul_derivative(delta.copy(), a)
            new = delta.copy()
            kernels.compiled(f"{name}_grad")(new, a, one)
            np.testing.assert_array_equal(_bits(new), _bits(ref))


def _regression(rng, n=70, n_in=10, k=1, dtype=np.float64):
    X = rng.normal(size=(n, n_in)).astype(dtype)
    Y = np.tanh(X[:, :k] - 0.5 * X[:, 1 : k + 1]).astype(dtype)
    return X, Y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden, output, loss", [
    ("tanh", "identity", "mse"),  # the classic GA-BP recipe's tansig / purelin
    ("sigmoid", "identity", "mse"),  # logsig / purelin
    (["sigmoid", "tanh"], "sigmoid", "binary_cross_entropy"),
    (["tanh", "sigmoid"], "tanh", "mse"),
])
def test_sigmoid_and_tanh_training_is_bit_identical_and_batched_equals_alone(
        dtype, hidden, output, loss, rng, monkeypatch):
    X, Y = _regression(rng, dtype=dtype)
    if output == "sigmoid":
        Y = (Y > 0).astype(dtype)
    X[3, 2], X[5, 0] = -0.0, 80.0  # a signed zero and a saturating input
    sizes = (10, 16, 1) if isinstance(hidden, str) else (10, 12, 8, 1)

    def make():
        return Network(sizes, hidden_activation=hidden, output_activation=output,
                       n_networks=4, seed=2, dtype=dtype)

    def fit(net):
        train(net, X, Y, loss=loss, optimizer="adam", learning_rate=1e-2, epochs=3,
              batch_size=32, seed=3)
        return net.params.copy()

    monkeypatch.setenv("GABP_KERNELS", "numpy")
    ref = fit(make())
    v_ref, g_ref = loss_and_grad(make().arch, ref, X, Y, loss=loss, alpha=1e-3)
    monkeypatch.setenv("GABP_KERNELS", "numba")
    net = make()
    fused = _Backprop(net.arch, net.params).fused
    assert fused == [*net.arch.activations[:-1], None if output == "identity" else output]
    got = fit(net)
    np.testing.assert_array_equal(_bits(got), _bits(ref))
    v_new, g_new = loss_and_grad(net.arch, got, X, Y, loss=loss, alpha=1e-3)
    np.testing.assert_array_equal(_bits(g_new), _bits(g_ref))
    if loss == "mse":  # mse_delta sums the squares in another order than einsum
        np.testing.assert_allclose(v_new, v_ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
    else:  # no compiled sum: exact too
        np.testing.assert_array_equal(_bits(v_new), _bits(v_ref))
    together = make()
    for p in (0, 3):
        alone = Network.from_architecture(together.arch, together.params[p : p + 1].copy())
        np.testing.assert_array_equal(fit(alone)[0], got[p])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_diverging_sigmoid_network_diverges_the_same_way(dtype, rng, monkeypatch):
    X, Y = _regression(rng, n=40, dtype=dtype)
    X[7, :] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e30, -1e30, 1e-30, 3.0, -3.0]
    net = Network((10, 8, 1), hidden_activation="sigmoid", n_networks=3, seed=4, dtype=dtype)
    results = {}
    for k in ("numpy", "numba"):
        monkeypatch.setenv("GABP_KERNELS", k)
        kernels.prepare(dtype)  # forward-only engines use the kernels once prepared
        with np.errstate(all="ignore"):
            acts, z = _Backprop(net.arch, net.params).forward(X)
            v, g = loss_and_grad(net.arch, net.params, X, Y, loss="mse")
        results[k] = [acts[1].copy(), z.copy(), v, g]
    for got, want in zip(results["numba"], results["numpy"], strict=True):
        np.testing.assert_array_equal(_bits(got), _bits(want))
    assert np.isnan(results["numba"][2]).all()  # the NaN row makes every loss NaN


def test_a_dense_sigmoid_layer_before_a_convolution_trains_bit_identically(rng, monkeypatch):
    # the delta reaching the dense layer comes back through Reshape from a convolution
    X, Y = _regression(rng, n=40, n_in=16, k=3)
    layers = (16, 16, Reshape((1, 4, 4)), Conv2D(2, 3, activation="tanh"), Flatten(), 3)
    params = {}
    for k in ("numpy", "numba"):
        monkeypatch.setenv("GABP_KERNELS", k)
        net = Network(layers, hidden_activation="sigmoid", n_networks=3, seed=0)
        train(net, X, Y, loss="mse", optimizer="adam", epochs=2, batch_size=16, seed=0)
        params[k] = net.params
    assert _Backprop(net.arch, net.params).fused == ["sigmoid", None, None, None, None]
    np.testing.assert_array_equal(_bits(params["numba"]), _bits(params["numpy"]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outer_rows_has_the_bits_of_numpys_matmul(dtype, rng, numba_kernels):
    # a one-unit layer's input gradient (the classic 10-16-1 step's costliest product)
    P, n, k = 6, 9, 5
    delta = rng.normal(size=(P, n, 1)).astype(dtype)
    delta[0, :4, 0] = [-0.0, 0.0, np.nan, np.inf]
    params = rng.normal(size=(P, 3 * k)).astype(dtype)
    W = params[:, k : 2 * k].reshape(P, k, 1)  # a strided view, as the engine passes it
    W[1, :3, 0] = [-0.0, np.inf, -1e-30]
    out = np.empty((P, n, k), dtype)
    kernels.compiled("outer_rows")(delta, W, out, dtype(0))
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        ref = np.matmul(delta, W.transpose(0, 2, 1))
    np.testing.assert_array_equal(_bits(out), _bits(ref))


def test_a_one_unit_output_trains_bit_identically_with_the_compiled_outer_product(
        rng, monkeypatch):
    X = rng.normal(size=(64, 3))
    y = np.sin(X[:, :1])
    runs = {}
    for choice in ("numpy", "numba"):
        monkeypatch.setenv("GABP_KERNELS", choice)
        net = Network((3, 6, 1), hidden_activation="tanh", n_networks=4, seed=2,
                      dtype="float32")
        if choice == "numba":  # the engine hands the layer the compiled kernel
            bp = _Backprop(net.arch, net.params, np.empty_like(net.params))
            bp(X[:8].astype(np.float32), y[:8].astype(np.float32), "mse")
            assert "outer" in bp._bufs.layers[-1]
        train(net, X, y, optimizer="adam", epochs=3, batch_size=8, seed=0)
        runs[choice] = net.params.copy()
    np.testing.assert_array_equal(_bits(runs["numpy"]), _bits(runs["numba"]))


def test_forward_only_engines_use_the_kernels_only_once_a_training_prepared_them(
        monkeypatch, numba_kernels):
    # a process that only predicts must not pay numba's import and cache load (0.5 s)
    net = Network((3, 5, 2), output_activation="softmax", n_networks=2, seed=0)
    prepared = []
    monkeypatch.setattr(kernels, "_READY", set())
    original = kernels.prepare
    monkeypatch.setattr("gabp.network.prepare",
                        lambda dtype: prepared.append(dtype) or original(dtype))
    assert _Backprop(net.arch, net.params).kernels is None  # nothing prepared yet
    assert prepared == []
    trainer = _Backprop(net.arch, net.params, np.empty_like(net.params))
    assert trainer.kernels is not None and prepared == [net.params.dtype]
    assert _Backprop(net.arch, net.params).kernels is not None  # now ready: used
    monkeypatch.setenv("GABP_KERNELS", "numpy")
    assert _Backprop(net.arch, net.params).kernels is None
    monkeypatch.setenv("GABP_KERNELS", "cuda")
    with pytest.raises(ValueError, match="GABP_KERNELS"):  # still validated
        _Backprop(net.arch, net.params)


@pytest.mark.parametrize("out_act", ["identity", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_delta_is_bit_identical_and_the_loss_close(dtype, out_act, rng, numba_kernels):
    P, n, k = 4, 9, 3
    a = rng.normal(size=(P, n, k)).astype(dtype)
    if out_act != "identity":
        a = (np.tanh(a) if out_act == "tanh" else 1 / (1 + np.exp(-a))).astype(dtype)
    a[1, 2, 0] = -0.0
    a[2, 4, :] = np.nan  # a diverged network stays NaN
    a[3, 0, 1] = np.inf if out_act == "identity" else a[3, 0, 1]
    Y = rng.normal(size=(n, k)).astype(dtype)
    loss_ref, delta_ref = LOSSES["mse"](a, a, Y, out_act)
    loss_new, delta_new = np.empty(P, dtype), np.empty_like(a)
    n_el = n * k
    kernels.compiled("mse_delta")(a, Y, dtype(2.0 / n_el), dtype(n_el), delta_new, loss_new)
    if out_act != "identity":
        kernels.compiled(f"{out_act}_grad")(delta_new, a, dtype(1))
    np.testing.assert_array_equal(_bits(delta_new), _bits(delta_ref))
    rtol = 1e-5 if dtype == np.float32 else 1e-6  # squares added in another order than einsum
    np.testing.assert_allclose(loss_new[:2], loss_ref[:2], rtol=rtol)
    assert np.isnan(loss_new[2]) and np.isnan(loss_ref[2])
    assert np.isinf(loss_new[3]) == np.isinf(loss_ref[3])


@pytest.mark.parametrize("out_act", ["identity", "tanh"])
def test_mse_training_gives_the_numpy_weights(out_act, rng, monkeypatch):
    X = rng.normal(size=(70, 4)).astype(np.float32)
    Y = np.sin(X[:, :2]).astype(np.float32)
    results = {}
    for choice in ("numpy", "numba"):
        monkeypatch.setenv("GABP_KERNELS", choice)
        net = Network((4, 6, 2), hidden_activation="tanh", output_activation=out_act,
                      n_networks=5, seed=2, dtype=np.float32)
        hist = train(net, X, Y, epochs=3, batch_size=16, learning_rate=0.01, seed=0)
        results[choice] = (net.params.copy(), hist.train_loss)
    np.testing.assert_array_equal(_bits(results["numba"][0]), _bits(results["numpy"][0]))
    np.testing.assert_allclose(results["numba"][1], results["numpy"][1], rtol=1e-5)


def test_one_engine_keeps_its_steps_apart_per_batch_size_dtype_and_deferral(rng, monkeypatch):
    # the engine chooses its steps once per workspace (batch size, dtype): a training call
    # (the compiled softmax deferred to the loss), a forward-only pass on the same batch
    # size, another batch size and float64 inputs to float32 weights (no compiled passes)
    # must each give what a fresh engine gives
    monkeypatch.setenv("GABP_KERNELS", "numba")
    net = Network((6, 8, 4), hidden_activation="relu", output_activation="softmax",
                  n_networks=3, seed=4, dtype=np.float32)
    X = rng.normal(size=(16, 6)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)]

    def fresh_grad(Xb, Yb):
        grad = np.zeros_like(net.params)
        value = _Backprop(net.arch, net.params, grad)(Xb, Yb, "cross_entropy")
        return value, grad

    engine = _Backprop(net.arch, net.params, np.zeros_like(net.params))
    for Xb, Yb in ((X, Y), (X[:7], Y[:7]), (X.astype(np.float64), Y.astype(np.float64)),
                   (X, Y)):
        value = engine(Xb, Yb, "cross_entropy")
        want_value, want_grad = fresh_grad(Xb, Yb)
        np.testing.assert_array_equal(engine.grad, want_grad)
        np.testing.assert_array_equal(value, want_value)
        acts, _ = engine.forward(Xb)  # forward only: the softmax is finished, not deferred
        want = _Backprop(net.arch, net.params).forward(Xb)[0][-1]
        np.testing.assert_array_equal(acts[-1], want)
        np.testing.assert_allclose(acts[-1].sum(axis=-1), 1.0, rtol=1e-5)
    assert len(engine._buffers) == 3  # n = 16 and 7 in float32, n = 16 in float64


def test_a_slow_prepare_is_logged_once_a_cache_load_is_not(monkeypatch, numba_kernels, caplog):
    # an empty numba cache makes the first training pause for seconds: say why (at INFO)
    kernels.prepare(np.float64)  # compiled or loaded already: nothing to time below
    monkeypatch.setattr(kernels, "_READY", set())
    monkeypatch.setattr(kernels, "SLOW_PREPARE", -1.0)  # any preparation counts as slow
    with caplog.at_level(logging.INFO, logger="gabp._kernels"):
        kernels.prepare(np.float64)
        kernels.prepare(np.float64)  # ready now: not prepared (or logged) again
    slow = [r for r in caplog.records if "compiled gabp's numba kernels" in r.getMessage()]
    assert len(slow) == 1 and "float64" in slow[0].getMessage()
    caplog.clear()
    monkeypatch.setattr(kernels, "_READY", set())
    monkeypatch.setattr(kernels, "SLOW_PREPARE", 60.0)
    with caplog.at_level(logging.INFO, logger="gabp._kernels"):
        kernels.prepare(np.float64)
    assert not [r for r in caplog.records if "compiled gabp" in r.getMessage()]
