"""CNNs through the config, the GA, the data loader and the figures."""

from __future__ import annotations

import numpy as np
import pytest

from gabp.config import ConfigError, resolve_config
from gabp.data import load_digits
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.layers import Conv2D, Flatten, MaxPool2D, Reshape

LAYERS = [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
          {"type": "maxpool2d", "size": 2}, {"type": "flatten"}]


def _cfg(**network):
    return {"data": {"dataset": "digits"}, "network": network, "bp": {"optimizer": "adam"}}


def test_config_layers_become_the_hidden_layers_and_resolve_twice_the_same():
    cfg = resolve_config(_cfg(layers=LAYERS, input_shape=[1, 8, 8]))
    hidden = cfg["network"]["hidden_layer_sizes"]
    assert hidden[0] == {"type": "reshape", "shape": [1, 8, 8]} and hidden[1:] == LAYERS
    again = resolve_config({k: v for k, v in cfg.items() if isinstance(v, dict)})
    assert again["network"] == cfg["network"]


@pytest.mark.parametrize(
    "network,bp,match",
    [
        ({"layers": LAYERS}, {}, r"input_shape.*\[channels, height, width\]"),
        ({"layers": LAYERS, "input_shape": [8, 8]}, {}, r"input_shape"),
        ({"input_shape": [1, 8, 8]}, {}, r"input_shape.*only together with 'layers'"),
        ({"layers": [3], "input_shape": [1, 8, 8]}, {}, r"layers.*list of tables"),
        ({"layers": LAYERS, "input_shape": [1, 8, 8]}, {"optimizer": "lm"}, r"optimizer.*adam"),
        ({"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 9}],
          "input_shape": [1, 8, 8]}, {}, r"kernel_size"),
    ],
)
def test_config_layer_errors(network, bp, match):
    raw = _cfg(**network)
    raw["bp"].update(bp)
    with pytest.raises(ConfigError, match=match):
        resolve_config(raw)


def test_digits_as_images():
    flat, img = load_digits(), load_digits(as_images=True)
    assert img.X.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(img.X.reshape(1797, -1), flat.X)
    with pytest.raises(TypeError, match="'as_images'"):
        load_digits(as_images="yes")


def test_evolve_a_cnn_is_deterministic():
    ds = load_digits()
    X, y = ds.X[:300] / 16.0, ds.y[:300]
    Y = np.eye(10)[y]
    kw = dict(hidden_layer_sizes=[Reshape((1, 8, 8)), Conv2D(3, 3, activation="relu"),
                                  MaxPool2D(2), Flatten()],
              output_activation="softmax", loss="cross_entropy", mode="lamarckian",
              ga=GAConfig(population_size=4, n_generations=2),
              bp=BPConfig(optimizer="adam", bp_epochs=1, max_epochs=3), n_baseline=1, seed=3)
    a = evolve(X[:200], Y[:200], X[200:], Y[200:], **kw)
    b = evolve(X[:200], Y[:200], X[200:], Y[200:], **kw)
    assert not a.network.arch.is_dense
    assert a.network.arch.n_params == (9 * 3 + 3) + (27 * 10 + 10)
    np.testing.assert_array_equal(a.network.params, b.network.params)
    assert np.isfinite(a.best_fitness)


def test_filter_and_feature_map_figures():
    pytest.importorskip("matplotlib")
    from gabp import Network
    from gabp.plotting import plot_conv_filters, plot_feature_maps

    net = Network(((2, 6, 6), Conv2D(3, (2, 3)), MaxPool2D(2), Flatten(), 4), seed=0)
    ax = plot_conv_filters(net)
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (2 * 3 - 1, 3 * 4 - 1)  # 2 channels x 3 filters of 2x3
    W = net.layers[1][0][0].reshape(2, 3, 2, 3)  # (i, j, c, f)
    np.testing.assert_allclose(mosaic[3:5, 4:7], W[:, :, 1, 1])  # channel 1, filter 1
    x = np.random.default_rng(0).normal(size=(2, 6, 6))
    ax = plot_feature_maps(net, x)
    maps = net.layer_outputs(x[None])[1][0]
    np.testing.assert_allclose(ax.images[0].get_array()[:5, 7:11], maps[0])
    with pytest.raises(TypeError, match="'net'"):
        plot_conv_filters(Network((3, 2)))
    with pytest.raises(ValueError, match="'layer'"):
        plot_feature_maps(net, x, layer=4)
