"""Network math: layout, gradients (finite differences), stability, init, save/load, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gabp import Architecture, Network, init_params, load_network, save_network
from gabp.activations import (
    ACTIVATIONS,
    HIDDEN_ACTIVATIONS,
    LEAKY_SLOPE,
    log_softmax,
    sigmoid,
    softmax,
)
from gabp.losses import LOSSES
from gabp.network import check_loss, evaluate_loss, forward, loss_and_grad

# (output activation, loss) pairs that make sense together.
OUTPUT_LOSS = [
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("tanh", "mse"),
    ("softmax", "mse"),
    ("softmax", "cross_entropy"),
    ("sigmoid", "binary_cross_entropy"),
]


def _targets(rng, n, n_out, loss, out_act):
    if loss == "cross_entropy":
        return np.eye(n_out)[rng.integers(0, n_out, n)]
    if loss == "binary_cross_entropy" or out_act in ("sigmoid", "softmax"):
        return rng.uniform(0.0, 1.0, (n, n_out))
    return rng.normal(size=(n, n_out))


def _numerical_grad(arch, params, X, Y, loss, alpha, eps=1e-6):
    """Central differences. Networks are independent, so column j of every row is perturbed
    at once and each row's objective gives its own derivative."""
    num = np.empty_like(params)
    for j in range(params.shape[1]):
        p = params.copy()
        p[:, j] += eps
        fp = loss_and_grad(arch, p, X, Y, loss=loss, alpha=alpha)[0]
        p[:, j] -= 2 * eps
        fm = loss_and_grad(arch, p, X, Y, loss=loss, alpha=alpha)[0]
        num[:, j] = (fp - fm) / (2 * eps)
    return num


def _rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("out_act,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_gradient_matches_finite_differences(hidden, out_act, loss, rng):
    arch = Architecture.build((3, 4, 3), hidden_activation=hidden, output_activation=out_act)
    P = 3
    params = init_params(arch, P, method="uniform", init_range=0.8, rng=rng)
    assert not np.allclose(params[0], params[1])  # different weights per network
    X = rng.normal(size=(6, 3))
    Y = _targets(rng, 6, 3, loss, out_act)
    alpha = np.array([0.0, 0.3, 1.5])  # per-network L2, including none
    value, grad = loss_and_grad(arch, params, X, Y, loss=loss, alpha=alpha)
    assert value.shape == (P,) and grad.shape == params.shape
    num = _numerical_grad(arch, params, X, Y, loss, alpha)
    for p in range(P):
        assert _rel_err(grad[p], num[p]) < 1e-7, (p, grad[p], num[p])


@pytest.mark.parametrize("out_act,loss", OUTPUT_LOSS)
def test_gradient_deep_network(out_act, loss, rng):
    arch = Architecture.build(
        (4, 5, 3, 2), hidden_activation=("tanh", "sigmoid"), output_activation=out_act
    )
    params = init_params(arch, 4, method="uniform", init_range=1.0, rng=rng)
    X = rng.normal(size=(5, 4))
    Y = _targets(rng, 5, 2, loss, out_act)
    alpha = 0.2  # shared L2
    value, grad = loss_and_grad(arch, params, X, Y, loss=loss, alpha=alpha)
    num = _numerical_grad(arch, params, X, Y, loss, alpha)
    assert _rel_err(grad, num) < 1e-7


def test_gradient_deep_relu_leaky(rng):
    arch = Architecture.build(
        (3, 6, 5, 2), hidden_activation=("relu", "leaky_relu"), output_activation="identity"
    )
    params = init_params(arch, 2, method="uniform", init_range=1.0, rng=rng)
    X = rng.normal(size=(7, 3))
    Y = rng.normal(size=(7, 2))
    alpha = np.array([0.05, 0.0])
    _, grad = loss_and_grad(arch, params, X, Y, loss="mse", alpha=alpha)
    num = _numerical_grad(arch, params, X, Y, "mse", alpha)
    assert _rel_err(grad, num) < 1e-7


def test_l2_penalizes_weights_not_biases(rng):
    arch = Architecture.build((2, 3, 1), output_activation="identity")
    params = init_params(arch, 2, method="uniform", rng=rng)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    alpha = np.array([0.0, 0.7])
    v0, g0 = loss_and_grad(arch, params, X, Y, alpha=0.0)
    v1, g1 = loss_and_grad(arch, params, X, Y, alpha=alpha)
    mask = arch.weight_mask()
    assert mask.sum() == 2 * 3 + 3 * 1
    np.testing.assert_allclose(g1[:, ~mask], g0[:, ~mask], rtol=1e-14)  # biases untouched
    np.testing.assert_allclose(g1[:, mask], g0[:, mask] + alpha[:, None] * params[:, mask])
    w = params[:, mask]
    np.testing.assert_allclose(v1, v0 + 0.5 * alpha * np.sum(w * w, axis=1))
    # evaluate_loss is the data loss only
    np.testing.assert_allclose(evaluate_loss(arch, params, X, Y), v0)


def test_flat_layout_and_views():
    arch = Architecture.build((2, 3, 1), output_activation="identity")
    assert arch.n_params == 2 * 3 + 3 + 3 * 1 + 1 == 13
    assert arch.offsets == ((0, 6, 9), (9, 12, 13))
    flat = np.arange(2 * 13, dtype=float).reshape(2, 13)
    (W1, b1), (W2, b2) = arch.views(flat)
    assert W1.shape == (2, 2, 3) and b1.shape == (2, 1, 3)
    assert W2.shape == (2, 3, 1) and b2.shape == (2, 1, 1)
    # row-major: W1[i, j] at i * n_1 + j; then the biases
    assert W1[1, 1, 2] == flat[1, 1 * 3 + 2]
    np.testing.assert_array_equal(b1[0, 0], [6, 7, 8])
    np.testing.assert_array_equal(W2[0, :, 0], [9, 10, 11])
    assert b2[1, 0, 0] == flat[1, 12]
    for view in (W1, b1, W2, b2):
        assert np.shares_memory(view, flat)
    W1[0, 0, 0] = -5.0  # writing a view writes the genome
    assert flat[0, 0] == -5.0
    np.testing.assert_array_equal(arch.weight_mask(), [1] * 6 + [0] * 3 + [1] * 3 + [0])


def test_network_layers_are_views_of_params():
    net = Network((3, 4, 2), seed=0, n_networks=2)
    W, b = net.layers[0]
    W[1] = 0.0
    assert np.all(net.params[1, :12] == 0.0)
    assert net.predict(np.ones((5, 3)), member=1).shape == (5, 2)
    assert net.forward(np.ones((5, 3))).shape == (2, 5, 2)
    assert "3-4-2" in repr(net)


def test_forward_matches_plain_numpy(rng):
    net = Network((3, 5, 2), hidden_activation="tanh", output_activation="softmax",
                  n_networks=2, seed=1)
    X = rng.normal(size=(4, 3))
    out = net.forward(X)
    for p in range(2):
        (W1, b1), (W2, b2) = [(W[p], b[p, 0]) for W, b in net.layers]
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        np.testing.assert_allclose(out[p], e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    acts, z = forward(net.arch, net.params, X)
    assert len(acts) == 3 and acts[0] is X and z.shape == (2, 4, 2)


def test_identity_output_can_predict_negative_values():
    # The "predictions always positive" mistake: a regression output must be linear.
    net = Network((1, 2, 1), output_activation="identity", seed=0)
    net.layers[1][1][...] = -7.0  # output bias
    assert np.all(net.predict(np.zeros((3, 1))) < 0)
    net_default = Network((1, 2, 1), seed=0)
    assert net_default.arch.activations[-1] == "identity"


BIG = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_bit_identical_to_the_masked_copy_formula(dtype, rng):
    # the numerator is max(e, z >= 0) instead of a masked copy of e where z < 0: same bits,
    # NaN, inf, signed zeros and underflow included, written over z or into another array
    z = (30 * rng.normal(size=(3, 7, 16))).astype(dtype)
    z[0, 0] = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30, -1e-30, 1e4, -1e4, 88.0,
               -88.0, 745.0, -745.0, 20.0, -20.0]
    e = np.exp(-np.abs(z))
    want = np.where(z < 0, e, dtype(1)) / (e + dtype(1))
    sig = ACTIVATIONS["sigmoid"]
    for out in (np.empty_like(z), None):
        x = z.copy()
        got = sig.apply(x, x if out is None else out, np.empty_like(z))
        np.testing.assert_array_equal(got.view(f"u{z.itemsize}"), want.view(f"u{z.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_leaky_relu_derivative_is_bit_identical_to_the_masked_multiply(dtype, rng):
    special = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30, -1e-30, 1e-45, -1e-45, 3.0,
               -3.0, 1e30, -1e30, 5e-324, -5e-324]
    a = rng.normal(size=(3, 5, 16)).astype(dtype)
    a[0, 0], a[0, 1] = special, special[::-1]
    delta = rng.normal(size=a.shape).astype(dtype)
    delta[0, 0], delta[0, 1], delta[1, 0] = np.inf, special, special
    a[1, 1, :4] = [np.nan, -np.nan, np.nan, -0.0]  # NaN outputs over ordinary deltas: kept
    with np.errstate(all="ignore"):
        want = delta.copy()
        np.multiply(want, LEAKY_SLOPE, out=want, where=a <= 0)
        for tmp in (np.empty_like(a), None):
            got = ACTIVATIONS["leaky_relu"].mul_derivative(delta.copy(), a, tmp)
            np.testing.assert_array_equal(got.view(f"u{a.itemsize}"), want.view(f"u{a.itemsize}"))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_stable_for_huge_inputs(name):
    fn = ACTIVATIONS[name][0]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = fn(BIG.copy())
        assert np.all(np.isfinite(a))
        deriv = ACTIVATIONS[name][1]
        if deriv is not None:
            assert np.all(np.isfinite(deriv(a)))
        ls = log_softmax(BIG.copy())
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(sigmoid(BIG)[0, [0, -1]], [0.0, 1.0])
    np.testing.assert_allclose(softmax(BIG)[0], [0, 0, 0, 0, 1.0])
    np.testing.assert_allclose(ls[0, -1], 0.0, atol=1e-300)
    np.testing.assert_allclose(ls[0, 0], -2000.0)


@pytest.mark.parametrize("out_act,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_losses_stable_for_huge_pre_activations(hidden, out_act, loss, rng):
    # Weights that push every pre-activation to about +-1000.
    arch = Architecture.build((2, 3, 2), hidden_activation=hidden, output_activation=out_act)
    params = np.zeros((2, arch.n_params))
    (W1, b1), (W2, b2) = arch.views(params)
    W1[...] = 500.0 * np.sign(rng.normal(size=W1.shape))
    W2[...] = 1000.0 * np.sign(rng.normal(size=W2.shape))
    X = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    Y = _targets(rng, 3, 2, loss, out_act)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, grad = loss_and_grad(arch, params, X, Y, loss=loss, alpha=0.1)
        ev = evaluate_loss(arch, params, X, Y, loss=loss)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)) and np.all(np.isfinite(ev))


def test_cross_entropy_values_by_hand():
    # Two samples, logits (0, ln 3) -> softmax (1/4, 3/4); targets class 1 then class 0:
    # loss = -(ln(3/4) + ln(1/4)) / 2
    z = np.array([[[0.0, np.log(3.0)], [0.0, np.log(3.0)]]])
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
    value, delta = LOSSES["cross_entropy"](z, softmax(z), Y, "softmax")
    np.testing.assert_allclose(value, [-(np.log(0.75) + np.log(0.25)) / 2], rtol=1e-14)
    np.testing.assert_allclose(delta[0], [[0.125, -0.125], [-0.375, 0.375]], rtol=1e-14)
    # binary cross-entropy on a logit of 0 is ln 2 whatever the target
    z1 = np.zeros((1, 2, 1))
    v, _ = LOSSES["binary_cross_entropy"](z1, sigmoid(z1), np.array([[1.0], [0.0]]), "sigmoid")
    np.testing.assert_allclose(v, [np.log(2.0)], rtol=1e-14)
    # mse is the mean over samples and outputs
    a = np.array([[[1.0, 2.0], [3.0, 5.0]]])
    v, _ = LOSSES["mse"](a, a, np.zeros((2, 2)), "identity")
    np.testing.assert_allclose(v, [(1 + 4 + 9 + 25) / 4])


@pytest.mark.parametrize("method", ["glorot_uniform", "glorot_normal", "he_normal",
                                    "he_uniform", "uniform"])
def test_initializers(method):
    arch = Architecture.build((50, 40, 30), hidden_activation="tanh")
    p = init_params(arch, 20, method=method, init_range=0.3, rng=0)
    assert p.shape == (20, arch.n_params)
    np.testing.assert_array_equal(p, init_params(arch, 20, method=method, init_range=0.3, rng=0))
    W, b = arch.views(p)[0]
    fi, fo = 50, 40
    if method == "uniform":
        assert np.abs(p).max() <= 0.3 and np.abs(b).max() > 0.2  # biases drawn too
        return
    assert np.all(b == 0)
    if method == "glorot_uniform":
        bound = np.sqrt(6 / (fi + fo))
        assert bound * 0.95 < np.abs(W).max() <= bound
    elif method == "he_uniform":
        bound = np.sqrt(6 / fi)
        assert bound * 0.95 < np.abs(W).max() <= bound
    else:
        sd = np.sqrt(2 / (fi + fo)) if method == "glorot_normal" else np.sqrt(2 / fi)
        assert abs(W.std() / sd - 1) < 0.05


def test_init_dtype_float32():
    net = Network((3, 4, 1), dtype=np.float32, seed=0)
    assert net.params.dtype == np.float32
    assert net.predict(np.ones((2, 3))).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip(tmp_path, dtype):
    net = Network((4, 6, 3, 2), hidden_activation=("relu", "sigmoid"),
                  output_activation="softmax", n_networks=3, seed=3, dtype=dtype)
    path = tmp_path / "net.npz"
    save_network(path, net, extra={"note": "hello", "epochs": 5})
    with np.load(path, allow_pickle=False) as data:  # no pickle anywhere in the file
        assert set(data.files) == {"params", "meta"}
        assert data["params"].dtype == dtype
    loaded, extra = load_network(path)
    assert extra == {"note": "hello", "epochs": 5}
    assert loaded.arch == net.arch
    assert loaded.params.dtype == dtype
    np.testing.assert_array_equal(loaded.params, net.params)
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    assert not list(tmp_path.glob("*.tmp"))


def test_architecture_dict_round_trip():
    arch = Architecture.build((3, 4, 5, 2), hidden_activation=("tanh", "relu"),
                              output_activation="sigmoid")
    assert Architecture.from_dict(arch.to_dict()) == arch


# ---------------------------------------------------------------- errors for bad input


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"layer_sizes": (3, 0, 1)}, ValueError, r"'layer_sizes'.*>= 1.*Got 0"),
        ({"layer_sizes": (3, -2, 1)}, ValueError, r"'layer_sizes'.*>= 1.*Got -2"),
        ({"layer_sizes": (3,)}, ValueError, r"'layer_sizes'.*at least 2"),
        ({"layer_sizes": (3, 2.5, 1)}, TypeError, r"'layer_sizes'.*integer.*2.5"),
        ({"layer_sizes": "3-4-1"}, TypeError, r"'layer_sizes'.*sequence"),
        ({"hidden_activation": "swish"}, ValueError, r"'hidden_activation'.*'sigmoid'.*swish"),
        ({"hidden_activation": ("tanh", "relu")}, ValueError, r"'hidden_activation'.*1 names"),
        ({"output_activation": "relu"}, ValueError, r"'output_activation'.*'softmax'.*relu"),
        ({"init": "zeros"}, ValueError, r"'method'.*'glorot_uniform'.*zeros"),
        ({"n_networks": 0}, ValueError, r"'n_networks'.*>= 1.*Got 0"),
        ({"init_range": -1.0}, ValueError, r"'init_range'.*> 0.*-1"),
        ({"dtype": np.int32}, ValueError, r"'dtype'.*float64.*float32"),
        ({"params": np.zeros((2, 7))}, ValueError, r"'params'.*\(P, 21\).*\(2, 7\)"),
    ],
)
def test_network_bad_input(kwargs, exc, match):
    args = {"layer_sizes": (3, 4, 1), **kwargs}
    with pytest.raises(exc, match=match):
        Network(args.pop("layer_sizes"), **args)


def test_forward_bad_input():
    net = Network((3, 4, 1), seed=0)
    with pytest.raises(ValueError, match=r"'X'.*3 columns.*\(5, 2\)"):
        net.predict(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"'X'.*2-D.*\(3,\)"):
        net.predict(np.zeros(3))
    X = np.zeros((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"'X'.*finite.*NaN at index \(2, 1\)"):
        net.predict(X)


def test_loss_output_mismatch():
    arch = Architecture.build((3, 4, 2), output_activation="sigmoid")
    with pytest.raises(ValueError, match=r"'loss'.*'softmax' output.*'cross_entropy'"):
        check_loss("cross_entropy", arch, "train")
    with pytest.raises(ValueError, match=r"'loss'.*'mse'.*'hinge'"):
        check_loss("hinge", arch, "train")
    assert check_loss("binary_cross_entropy", arch, "train") == "binary_cross_entropy"


@pytest.mark.parametrize("out_act,loss", OUTPUT_LOSS)
def test_training_path_matches_plain_loss_functions(out_act, loss, rng):
    # loss_and_grad fuses the cross-entropy with the forward pass's softmax; it must give the
    # same objective as the plain LOSSES table applied to forward()'s outputs.
    arch = Architecture.build((3, 5, 4), hidden_activation="relu", output_activation=out_act)
    params = init_params(arch, 3, method="uniform", init_range=2.0, rng=rng)
    X = rng.normal(size=(9, 3))
    Y = _targets(rng, 9, 4, loss, out_act)
    acts, z = forward(arch, params, X)
    plain = LOSSES[loss](z, acts[-1], Y, out_act)[0]
    value, _ = loss_and_grad(arch, params, X, Y, loss=loss)
    np.testing.assert_allclose(value, plain, rtol=1e-12)
    if loss == "cross_entropy":
        want = -np.einsum("pij,ij->p", np.log(acts[-1]), Y) / 9
        np.testing.assert_allclose(value, want, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_unit_input_gradient_has_the_bits_of_the_matmul(dtype):
    # a one-unit layer's dL/dx is an outer product, computed without NumPy's slow matmul
    # loop for an inner dimension of 1: it must give that loop's exact bits
    from gabp.layers import Dense

    rng = np.random.default_rng(0)
    P, n, k = 5, 7, 4
    delta = rng.normal(size=(P, n, 1)).astype(dtype)
    delta[0, :4, 0] = [-0.0, 0.0, np.nan, np.inf]
    params = rng.normal(size=(P, k + 2)).astype(dtype)
    W = params[:, :k].reshape(P, k, 1)  # a view, as the trainer passes it
    W[1, :3, 0] = [-0.0, np.inf, -1e-30]
    x = rng.normal(size=(n, k)).astype(dtype)
    gW, gb = np.empty((P, k, 1), dtype), np.empty((P, 1, 1), dtype)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        dx = Dense(1).backward(delta, x, W, gW, gb, {}, True)
        ref = np.matmul(delta, W.transpose(0, 2, 1))
    bits = np.int32 if dtype == np.float32 else np.int64
    np.testing.assert_array_equal(dx.view(bits), ref.view(bits))
    assert not np.signbit(dx[0, 0]).any()  # 0 + (-0.0) w is +0.0, as the loop's sum


def test_a_forward_only_pass_allocates_no_backward_buffers():
    # a GA's fitness and predictions run forward only: the softmax output's delta and
    # log-sum-exp are made only when a loss needs them
    from gabp.network import _Backprop

    net = Network((3, 4, 2), output_activation="softmax", n_networks=3, seed=0)
    X = np.random.default_rng(0).normal(size=(6, 3))
    engine = _Backprop(net.arch, net.params)
    engine.forward(X)
    assert engine._bufs.delta_out is None and engine._bufs.lse is None
    value, delta = engine.loss(np.eye(2)[[0, 1, 0, 1, 1, 0]], "cross_entropy")
    assert delta is engine._bufs.delta_out and delta.shape == (3, 6, 2)


@pytest.mark.parametrize("hidden,out_act,loss", [("tanh", "identity", "mse"),
                                                 ("relu", "softmax", "cross_entropy"),
                                                 ("sigmoid", "sigmoid", "binary_cross_entropy")])
def test_an_engine_reused_across_batch_sizes_gives_a_fresh_engines_bits(hidden, out_act, loss,
                                                                         rng):
    # each workspace holds its own forward, backward and loss steps; reusing one engine
    # over batch sizes (the last partial mini-batch) and back must not mix them up
    from gabp.network import _Backprop

    k = 1 if out_act == "identity" else 3
    arch = Architecture.build((4, 5, 6, k), hidden_activation=hidden, output_activation=out_act)
    params = init_params(arch, 4, rng=rng)
    X = rng.normal(size=(12, 4))
    Y = _targets(rng, 12, k, loss, out_act)
    engine = _Backprop(arch, params, np.zeros_like(params), alpha=1e-3)
    for rows in (slice(0, 8), slice(8, 12), slice(0, 8), slice(3, 12)):
        value = engine(X[rows], Y[rows], loss)
        want, grad = loss_and_grad(arch, params, X[rows], Y[rows], loss=loss, alpha=1e-3)
        np.testing.assert_array_equal(value, want)
        np.testing.assert_array_equal(engine.grad, grad)
