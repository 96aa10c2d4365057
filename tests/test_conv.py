"""Convolution and pooling layers: gradients, oracles, batching, layout, save/load, learning."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gabp
from gabp import Architecture, Network, check_gradients, load_network, save_network, train
from gabp.data import load_digits
from gabp.layers import Conv2D, Dense, Flatten, MaxPool2D, Reshape, layer_from_dict
from gabp.network import forward, init_params, loss_and_grad


def _cnn(C=2, H=6, W=7, *, stride=1, padding=0, hidden="tanh", P=3, seed=0, pool=None,
         init="glorot_uniform"):
    layers = [(C, H, W), Conv2D(3, 3, stride=stride, padding=padding),
              Conv2D(2, (2, 3), padding=padding)]
    if pool is not None:
        layers.append(pool)
    layers += [Flatten(), 4, 3]
    return Network(tuple(layers), hidden_activation=hidden, output_activation="softmax",
                   n_networks=P, seed=seed, init=init)


def _data(rng, net, n=4):
    X = rng.normal(size=(n, net.arch.n_inputs))
    Y = np.eye(net.arch.n_outputs)[rng.integers(0, net.arch.n_outputs, n)]
    return X, Y


def _conv_oracle(x, Wk, b, stride, padding):
    """Direct loops: x (n, C, H, W), Wk (F, C, kh, kw) -> (n, F, Ho, Wo)."""
    n, C, H, W = x.shape
    F, _, kh, kw = Wk.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho = (H + 2 * padding - kh) // stride + 1
    Wo = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((n, F, Ho, Wo))
    for s in range(n):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[s, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[s, f, i, j] = np.sum(patch * Wk[f]) + b[f]
    return out


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_gradient_matches_finite_differences(stride, padding, channels, rng):
    net = _cnn(C=channels, stride=stride, padding=padding)
    assert not np.allclose(net.params[0], net.params[1])  # P > 1 with different weights
    X, Y = _data(rng, net)
    err = check_gradients(net, X, Y, loss="cross_entropy", alpha=0.05)
    assert err.shape == (3,)
    assert np.all(err < 1e-6), err


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_gradient_with_padding_wider_than_the_kernel(stride, rng):
    # The second conv's kernel is (2, 3) with padding 3: some outputs see padding only and
    # their delta must not reach the input (dropped from the spread-out delta).
    net = _cnn(C=2, H=5, W=6, stride=stride, padding=3)
    X, Y = _data(rng, net)
    assert np.all(check_gradients(net, X, Y, loss="cross_entropy") < 1e-6)


@pytest.mark.parametrize("pool", [MaxPool2D(2), MaxPool2D(2, stride=1), MaxPool2D(3, stride=2)])
def test_maxpool_gradient_matches_finite_differences(pool, rng):
    net = _cnn(C=2, H=7, W=6, padding=1, pool=pool)
    X, Y = _data(rng, net)
    assert np.all(check_gradients(net, X, Y, loss="cross_entropy") < 1e-6)


def test_maxpool_gradient_with_relu_ties(rng):
    # ReLU zeros make whole pooling windows tie at 0; their gradient must be 0 (one-sided
    # differences agree: a pre-activation below 0 stays below 0). Nonzero biases, so that no
    # pre-activation is exactly 0 (the ReLU kink, where differences give 1/2).
    net = _cnn(C=2, H=6, W=6, padding=1, pool=MaxPool2D(2), hidden="relu", seed=3,
               init="uniform")
    X, Y = _data(rng, net, n=5)
    maps = net.layer_outputs(X)[1]
    assert (maps == 0).mean() > 0.2  # there are ties
    assert np.all(check_gradients(net, X, Y, loss="cross_entropy") < 1e-6)


def _pool_pass(pool, x):
    """Forward and backward (upstream gradient of ones) of one pooling layer: x (P, n, H, W, C)."""
    in_shape = x.shape[2:]
    out_shape = pool.output_shape(in_shape)
    ws = pool.workspace(x.shape, out_shape, x.shape[0], x.dtype)
    ws["in_shape"], ws["out_shape"] = in_shape, out_shape
    empty = np.zeros((x.shape[0], 0, 0))
    z = pool.linear(x, empty, empty, ws).copy()
    dx = pool.backward(np.ones_like(z), x, empty, empty, empty, ws, True)
    return z, dx


def test_maxpool_ties_route_the_gradient_to_the_first_maximum():
    x = np.array([[3.0, 3.0, 1.0, 2.0],
                  [3.0, 0.0, 2.0, 2.0],
                  [5.0, 1.0, 7.0, 7.0],
                  [1.0, 5.0, 7.0, 7.0]]).reshape(1, 1, 4, 4, 1)
    z, dx = _pool_pass(MaxPool2D(2), x)
    np.testing.assert_array_equal(z[0, 0, :, :, 0], [[3.0, 2.0], [5.0, 7.0]])
    expect = np.zeros((4, 4))
    expect[0, 0] = expect[0, 3] = expect[2, 0] = expect[2, 2] = 1.0
    np.testing.assert_array_equal(dx[0, 0, :, :, 0], expect)
    # Directional derivative along "raise every tied maximum together" equals the routed one.
    eps = 1e-6
    d = (x == np.repeat(np.repeat(z, 2, axis=2), 2, axis=3)).astype(float)
    up = _pool_pass(MaxPool2D(2), x + eps * d)[0].sum()
    down = _pool_pass(MaxPool2D(2), x - eps * d)[0].sum()
    assert (up - down) / (2 * eps) == pytest.approx(np.sum(dx * d))


def test_conv_matches_direct_loops(rng):
    C, H, W, F = 3, 7, 6, 4
    for stride, padding in [(1, 0), (2, 1), (1, 2)]:
        net = Network(((C, H, W), Conv2D(F, (3, 2), stride=stride, padding=padding),
                       Flatten(), 2), n_networks=2, seed=1)
        x = rng.normal(size=(3, C, H, W))
        maps = net.layer_outputs(x, member=1)[1]  # Reshape is layer 0
        Wv, bv = net.layers[1]
        Wk = Wv[1].reshape(3, 2, C, F).transpose(3, 2, 0, 1)  # documented genome order
        expect = np.tanh(_conv_oracle(x, Wk, bv[1, 0], stride, padding))
        np.testing.assert_allclose(maps, expect, atol=1e-12)


def test_1x1_conv_equals_a_dense_layer_on_each_pixel(rng):
    C, H, W, F = 3, 4, 5, 6
    net = Network(((C, H, W), Conv2D(F, 1, activation="identity"), Flatten(), 2),
                  n_networks=2, seed=0)
    x = rng.normal(size=(2, C, H, W))
    (Wv, bv) = net.layers[1]
    assert Wv.shape == (2, C, F)
    maps = net.layer_outputs(x, member=1)[1]  # (n, F, H, W)
    pixels = x.transpose(0, 2, 3, 1).reshape(-1, C)  # one row per pixel
    dense = (pixels @ Wv[1] + bv[1]).reshape(2, H, W, F).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(maps, dense, atol=1e-12)


def test_batched_equals_alone(rng):
    net = _cnn(C=2, H=8, W=8, padding=1, pool=MaxPool2D(2), hidden="relu", P=4)
    X, Y = _data(rng, net, n=40)
    value, grad = loss_and_grad(net.arch, net.params, X, Y, loss="cross_entropy", alpha=0.01)
    for p in range(4):
        v1, g1 = loss_and_grad(net.arch, net.params[p : p + 1], X, Y, loss="cross_entropy",
                               alpha=0.01)
        np.testing.assert_allclose(value[p], v1[0], rtol=1e-12)
        np.testing.assert_allclose(grad[p], g1[0], rtol=1e-10, atol=1e-14)
    together = Network.from_architecture(net.arch, net.params.copy())
    train(together, X, Y, loss="cross_entropy", epochs=3, batch_size=8, seed=5,
          learning_rate=0.01)
    for p in range(4):
        alone = Network.from_architecture(net.arch, net.params[p : p + 1].copy())
        train(alone, X, Y, loss="cross_entropy", epochs=3, batch_size=8, seed=5,
              learning_rate=0.01)
        np.testing.assert_allclose(alone.params[0], together.params[p], rtol=1e-9, atol=1e-12)


def test_images_and_flat_rows_are_the_same_input(rng):
    net = _cnn(C=2, H=5, W=6, P=2)
    x = rng.normal(size=(3, 2, 5, 6))
    np.testing.assert_array_equal(net.forward(x), net.forward(x.reshape(3, -1)))
    assert net.arch.input_shape == (2, 5, 6)


def test_dense_network_is_the_same_built_either_way():
    a = Architecture.build((4, 5, 3), hidden_activation="relu", output_activation="softmax")
    b = Architecture.build((4, Dense(5), {"type": "dense", "units": 3}),
                           hidden_activation="relu", output_activation="softmax")
    assert a == b and a.is_dense and a.to_dict() == {"layer_sizes": [4, 5, 3],
                                                     "activations": ["relu", "softmax"]}
    np.testing.assert_array_equal(init_params(a, 2, rng=0), init_params(b, 2, rng=0))
    # the genome layout: W row-major then b, layer by layer
    flat = np.arange(a.n_params, dtype=float)[None]
    (W1, b1), (W2, b2) = a.views(flat)
    assert W1[0, 1, 2] == 1 * 5 + 2 and b1[0, 0, 0] == 20 and W2[0, 0, 0] == 25


def test_architecture_describes_conv_layers():
    net = _cnn(C=2, H=6, W=7, padding=1, pool=MaxPool2D(2))
    arch = net.arch
    assert not arch.is_dense
    assert isinstance(arch.layers[0], Reshape)
    assert [o for _, o in arch.shapes] == [(6, 7, 2), (6, 7, 3), (7, 7, 2), (3, 3, 2), (18,),
                                            (4,), (3,)]
    assert arch.layer_sizes == (84, 84, 126, 98, 18, 18, 4, 3)
    conv = 3 * 3 * 2 * 3 + 3
    assert arch.offsets[1] == (0, 54, conv)
    assert arch.n_params == conv + (2 * 3 * 3 * 2 + 2) + (18 * 4 + 4) + (4 * 3 + 3)
    assert Architecture.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
    assert "Conv2D" in repr(net)


def test_save_load_round_trip(tmp_path, rng):
    net = _cnn(C=2, H=6, W=6, padding=1, pool=MaxPool2D(2), P=2)
    path = tmp_path / "cnn.npz"
    save_network(path, net, extra={"note": "cnn"})
    loaded, extra = load_network(path)
    assert extra == {"note": "cnn"} and loaded.arch == net.arch
    np.testing.assert_array_equal(loaded.params, net.params)
    x = rng.normal(size=(3, 2, 6, 6))
    np.testing.assert_array_equal(loaded.forward(x), net.forward(x))
    with np.load(path, allow_pickle=False) as npz:  # no pickle anywhere
        assert json.loads(str(npz["meta"]))["architecture"]["layers"][1]["type"] == "conv2d"


def test_lbfgs_trains_a_cnn_and_lm_refuses(rng):
    net = _cnn(C=1, H=5, W=5, P=2)
    X, Y = _data(rng, net, n=20)
    hist = train(net, X, Y, loss="cross_entropy", optimizer="lbfgs", epochs=5)
    assert hist.resolved_optimizer == "lbfgs" and np.all(np.isfinite(hist.best_loss))
    for name in ("lm", "br"):
        with pytest.raises(ValueError, match=r"'optimizer'.*convolution.*adam"):
            train(net, X, Y, loss="mse", optimizer=name)
    hist = train(net, X, Y, loss="mse", optimizer="auto", epochs=2)
    assert hist.resolved_optimizer in ("lbfgs", "adam")


@pytest.mark.parametrize(
    "layers,match",
    [
        ((64, Conv2D(4, 3), 10), r"'layers'.*image input"),
        (((1, 8, 8), Conv2D(4, 3), 10), r"'layers'.*Flatten"),
        (((1, 8, 8), Conv2D(4, 9), Flatten(), 10), r"'kernel_size'.*padded image"),
        (((1, 8, 8), MaxPool2D(9), Flatten(), 10), r"'size'.*image size"),
        (((1, 8, 8), Conv2D(4, 3), Flatten()), r"last layer is dense"),
        (((1, 8, 7), {"type": "conv2d", "filter": 3}, Flatten(), 10), r"unknown key"),
        (((1, 8, 8), {"type": "conv3d"}, 10), r"'type'.*conv2d"),
    ],
)
def test_bad_layers_are_rejected(layers, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Network(layers)


def test_layer_errors_and_dicts():
    with pytest.raises(ValueError, match=r"'filters' parameter of Conv2D.*>= 1"):
        Conv2D(0)
    with pytest.raises(ValueError, match=r"'activation' parameter of Conv2D"):
        Conv2D(3, activation="swish")
    for layer in (Conv2D(3, (2, 3), stride=2, padding=1, activation="relu"), MaxPool2D(3, 2),
                  Flatten(), Dense(4, "tanh"), Reshape((1, 2, 3))):
        assert layer_from_dict(json.loads(json.dumps(layer.to_dict()))) == layer
    net = _cnn(C=1, H=5, W=5, P=1)
    with pytest.raises(ValueError, match=r"'X'.*\(n, 1, 5, 5\)"):
        net.forward(np.zeros((2, 1, 5, 4)))


def test_cnn_learns_digits():
    ds = load_digits(as_images=True)
    X, y = ds.X / 16.0, ds.y
    Y = np.eye(10)[y]
    order = np.random.default_rng(0).permutation(len(y))
    tr, te = order[:1200], order[1200:]
    net = Network(((1, 8, 8), Conv2D(8, 3, activation="relu"), MaxPool2D(2), Flatten(), 10),
                  output_activation="softmax", seed=0)
    train(net, X[tr], Y[tr], loss="cross_entropy", learning_rate=0.01, epochs=10,
          batch_size=32, seed=0)
    acc = np.mean(net.predict(X[te]).argmax(axis=1) == y[te])
    assert acc > 0.95, acc  # measured 0.97 (seed 0)


def test_forward_keeps_the_shared_input_before_the_first_weights(rng):
    arch = _cnn(C=1, H=5, W=5, P=2).arch
    acts, z = forward(arch, init_params(arch, 2, rng=0), rng.normal(size=(3, 25)))
    assert acts[1].shape == (3, 5, 5, 1)  # the Reshape of the shared rows: no P axis
    assert acts[2].shape == (2, 3, 3, 3, 3) and z.shape == (2, 3, 3)
    assert gabp.layers.Conv2D is Conv2D


def test_auto_never_resolves_to_lm_or_br_for_a_conv_network():
    from gabp import resolve_optimizer
    from gabp.layers import Conv2D, Flatten
    from gabp.network import Architecture

    arch = Architecture.build([(1, 8, 8), Conv2D(4, 3), Flatten(), 1])
    assert resolve_optimizer(arch, 200, "mse") in ("lbfgs", "adam")
    assert resolve_optimizer(arch, 200, "mse", alpha=0.0, has_validation=True) != "br"


def test_estimators_take_layer_units_and_images():
    import pickle

    from gabp import GABPClassifier
    from gabp.data import load_digits
    from gabp.layers import Conv2D, Flatten, MaxPool2D

    ds = load_digits(as_images=True)
    X, y = np.asarray(ds.X)[:600], np.asarray(ds.y)[:600]
    clf = GABPClassifier(hidden_layer_sizes=[Conv2D(4, 3, activation="relu"), MaxPool2D(2),
                                             Flatten()],
                         mode="bp", optimizer="adam", learning_rate=0.01, max_epochs=40,
                         population_size=4, n_generations=1, random_state=0)
    clf.fit(X[:450], y[:450])
    assert clf.input_shape_ == (1, 8, 8)
    assert [type(u).__name__ for u in clf.network_.arch.layers][:2] == ["Reshape", "Conv2D"]
    flat = X[450:].reshape(150, -1)
    np.testing.assert_array_equal(clf.predict(X[450:]), clf.predict(flat))
    assert clf.score(X[450:], y[450:]) > 0.8  # chance is 0.1
    assert pickle.loads(pickle.dumps(clf)).score(flat, y[450:]) == clf.score(flat, y[450:])
    with pytest.raises(ValueError, match="'input_shape' parameter"):
        GABPClassifier(hidden_layer_sizes=[Conv2D(4, 3), Flatten()]).fit(flat, y[:150])
    with pytest.raises(ValueError, match="'X' parameter"):
        GABPClassifier(hidden_layer_sizes=[Conv2D(4, 3), Flatten()], input_shape=(1, 4, 4)
                       ).fit(X[:100], y[:100])


def _pool_oracle(x, k, s):
    """Direct loops: the maximum of each window and a 1 at its first maximum (row-major)."""
    P, n, H, W, C = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    z, dx = np.zeros((P, n, Ho, Wo, C)), np.zeros_like(x)
    for idx in np.ndindex(P, n, Ho, Wo, C):
        p, m, i, j, c = idx
        win = x[p, m, i * s : i * s + k, j * s : j * s + k, c]
        a, b = divmod(int(np.argmax(win)), k)  # argmax returns the first maximum
        z[idx] = win[a, b]
        dx[p, m, i * s + a, j * s + b, c] += 1.0
    return z, dx


@pytest.mark.parametrize(("k", "s", "H"), [(2, 2, 6), (3, 3, 6), (2, 2, 7), (3, 2, 7), (1, 1, 4)])
def test_maxpool_matches_direct_loops_with_many_ties(k, s, H, rng):
    # Tiled windows (two reductions, no index arrays) and ragged/overlapping ones (tap
    # indices) route every window's gradient to its first maximum, as the loops do.
    x = rng.integers(0, 3, size=(2, 3, H, H, 2)).astype(float)
    z, dx = _pool_pass(MaxPool2D(k, stride=s), x)
    z_ref, dx_ref = _pool_oracle(x, k, s)
    np.testing.assert_array_equal(z, z_ref)
    np.testing.assert_array_equal(dx, dx_ref)


def test_conv_bias_folded_into_the_product_equals_a_separate_bias(rng):
    # In a genome W and b are adjacent and go through one product with a ones column;
    # separate arrays take the explicit bias pass. Both give the same z and gradients.
    layer = Conv2D(4, 3, padding=1)
    in_shape, P = (5, 5, 2), 3
    out_shape = layer.output_shape(in_shape)
    x = rng.normal(size=(P, 2) + in_shape)
    K, F = layer.weight_shape(in_shape)
    flat = rng.normal(size=(P, K * F + F))
    W, b = flat[:, : K * F].reshape(P, K, F), flat[:, K * F :].reshape(P, 1, F)
    assert Conv2D._with_bias(W, b) is not None
    W2, b2 = W.copy(), b.copy()
    assert Conv2D._with_bias(W2, b2) is None
    delta = rng.normal(size=(P, 2) + out_shape)
    results = []
    for w, bb in ((W, b), (W2, b2)):
        ws = layer.workspace(x.shape, out_shape, P, x.dtype)
        gflat = np.zeros_like(flat)
        gW, gb = gflat[:, : K * F].reshape(P, K, F), gflat[:, K * F :].reshape(P, 1, F)
        if w is W2:
            gW, gb = gW.copy(), gb.copy()
        z = layer.linear(x, w, bb, ws).copy()
        dx = layer.backward(delta, x, w, gW, gb, ws, True)
        results.append((z, gW, gb, dx))
    for a, c in zip(*results, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
    assert np.abs(results[0][2]).sum() > 0
