"""The training loop: a hand-worked step, batched == alone, XOR, regression, divergence,
early stopping, determinism and input validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gabp import History, Network, train
from gabp.network import evaluate_loss, loss_and_grad


def _regression(rng, n=40, d=3):
    X = rng.uniform(-1, 1, (n, d))
    y = np.sin(2 * X[:, :1]) - 0.5 * X[:, 1:2] * X[:, 2:3] - 1.0  # mostly negative targets
    return X, y


def _alone(params, row, **net_kw):
    return Network(params=params[row : row + 1].copy(), **net_kw)


def test_hand_worked_sgd_step():
    # Network 2-2-1, sigmoid hidden, identity output, mse, one sample x = (1, 2), y = 0.5,
    # W1 = [[.1, .2], [.3, .4]], b1 = [0, .1], W2 = [.5, -.6], b2 = .05, lr = 0.5.
    #   z1 = x W1 + b1 = (0.7, 1.1);   a1 = sigmoid(z1) = (0.668187772168, 0.750260105595)
    #   z2 = 0.5 a1_0 - 0.6 a1_1 + 0.05 = -0.066062177273;  L = (z2 - y)^2 = 0.320426388539
    #   d2 = dL/dz2 = 2 (z2 - y) = -1.132124354546
    #   gW2 = a1 d2 = (-0.756471650281, -0.849388222280);  gb2 = d2
    #   d1 = d2 W2 a1 (1 - a1) = (-0.125503271786, 0.127275602366)
    #   gW1 = x^T d1 = [[-0.125503271786, 0.127275602366], [-0.251006543572, 0.254551204733]]
    # New parameters p - lr g:
    #   W1 = [[0.162751635893, 0.136362198817], [0.425503271786, 0.272724397634]]
    #   b1 = [0.062751635893, 0.036362198817]; W2 = [0.878235825141, -0.175306131106]
    #   b2 = 0.616062177273
    params = np.array([[0.1, 0.2, 0.3, 0.4, 0.0, 0.1, 0.5, -0.6, 0.05]])
    net = Network((2, 2, 1), hidden_activation="sigmoid", output_activation="identity",
                  params=params)
    # restore_best=False: this step overshoots (the start is better), and restoring would
    # rightly put the start back
    hist = train(net, [[1.0, 2.0]], [0.5], loss="mse", optimizer="sgd", learning_rate=0.5,
                 epochs=1, batch_size=None, shuffle=False, restore_best=False)
    expected = [0.162751635893, 0.136362198817, 0.425503271786, 0.272724397634,
                0.062751635893, 0.036362198817, 0.878235825141, -0.175306131106,
                0.616062177273]
    np.testing.assert_allclose(net.params[0], expected, rtol=0, atol=1e-11)
    np.testing.assert_allclose(hist.train_loss, [[0.320426388539]], rtol=0, atol=1e-11)
    assert hist.n_steps.tolist() == [1]


def test_epoch_loss_is_mean_over_all_samples_not_last_batch(rng):
    X, y = _regression(rng, n=10)
    net = Network((3, 4, 1), seed=0)
    before = evaluate_loss(net.arch, net.params.copy(), X, y)
    # a vanishing step size: the weights do not move, so the epoch loss is the full-data loss
    hist = train(net, X, y, optimizer="sgd", learning_rate=1e-300, epochs=1, batch_size=3,
                 seed=0)
    np.testing.assert_allclose(hist.train_loss[0], before, rtol=1e-12)
    assert hist.n_steps.tolist() == [4]  # batches of 3, 3, 3, 1


def test_full_batch_equals_manual_gradient_step(rng):
    X, y = _regression(rng, n=12)
    net = Network((3, 5, 1), n_networks=2, seed=1)
    p0 = net.params.copy()
    _, g = loss_and_grad(net.arch, p0, X, y, loss="mse", alpha=np.array([0.0, 0.1]))
    train(net, X, y, optimizer="sgd", learning_rate=np.array([0.1, 0.2]),
          alpha=np.array([0.0, 0.1]), epochs=1, batch_size=None, restore_best=False)
    np.testing.assert_allclose(net.params, p0 - np.array([[0.1], [0.2]]) * g, rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_batched_equals_alone(optimizer, rng):
    X, y = _regression(rng, n=30)
    Xv, yv = _regression(rng, n=10)
    kw = {"layer_sizes": (3, 6, 1), "hidden_activation": "tanh"}
    P = 4
    net = Network(n_networks=P, seed=2, **kw)
    p0 = net.params.copy()
    lr = np.array([0.01, 0.05, 0.02, 0.1])
    mu = np.array([0.9, 0.5, 0.0, 0.8])
    alpha = np.array([0.0, 1e-3, 1e-2, 0.0])
    common = {"loss": "mse", "optimizer": optimizer, "epochs": 15, "batch_size": 7,
              "X_val": Xv, "Y_val": yv, "early_stopping": True, "patience": 3, "seed": 11}
    hist = train(net, X, y, learning_rate=lr, momentum=mu, alpha=alpha, **common)
    for p in range(P):
        alone = _alone(p0, p, **kw)
        h1 = train(alone, X, y, learning_rate=lr[p], momentum=mu[p], alpha=alpha[p], **common)
        np.testing.assert_allclose(net.params[p], alone.params[0], rtol=1e-10, atol=1e-12)
        n = h1.n_epochs
        np.testing.assert_allclose(hist.train_loss[:n, p], h1.train_loss[:, 0], rtol=1e-10)
        np.testing.assert_allclose(hist.val_loss[:n, p], h1.val_loss[:, 0], rtol=1e-10)
        assert hist.best_epoch[p] == h1.best_epoch[0]
        assert hist.stopped_epoch[p] == h1.stopped_epoch[0]
        assert hist.n_steps[p] == h1.n_steps[0]


def test_same_seed_same_history_and_shuffling_matters(rng):
    X, y = _regression(rng)
    runs = []
    for seed in (5, 5, 6):
        net = Network((3, 5, 1), n_networks=2, seed=0)
        runs.append((train(net, X, y, epochs=5, batch_size=8, seed=seed,
                           learning_rate=0.01), net.params))
    np.testing.assert_array_equal(runs[0][0].train_loss, runs[1][0].train_loss)
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])  # other seed, other mini-batches


def test_xor_is_learned():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    net = Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid",
                  n_networks=5, seed=0)
    hist = train(net, X, y, loss="binary_cross_entropy", optimizer="adam",
                 learning_rate=0.05, epochs=600, batch_size=None)
    pred = net.forward(X)[..., 0] > 0.5  # (P, 4)
    solved = np.all(pred == y.astype(bool), axis=1)
    assert solved.sum() >= 4, pred
    assert np.min(hist.final_loss) < 0.05


def test_regression_with_negative_targets():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (80, 1))
    y = 2.0 * X[:, 0] ** 2 - 3.0 + 1.5 * X[:, 0]  # in [-3.1, 0.5], mostly negative
    net = Network((1, 8, 1), hidden_activation="tanh", output_activation="identity", seed=0)
    train(net, X, y, optimizer="adam", learning_rate=0.02, epochs=300, batch_size=16, seed=0)
    pred = net.predict(X)[:, 0]
    assert np.mean((pred - y) ** 2) < 0.01
    assert pred.min() < -2.5  # negative predictions are possible


def _three_networks_one_diverging(rng):
    """Data, architecture, three networks and their start, and per-network SGD rates of
    which the middle one (1e6) diverges."""
    X, y = _regression(rng)
    kw = {"layer_sizes": (3, 5, 1), "hidden_activation": "tanh"}
    net = Network(n_networks=3, seed=4, **kw)
    return X, y, kw, net, net.params.copy(), np.array([0.05, 1e6, 0.02])


def test_divergence_freezes_one_network_only(rng):
    X, y, kw, net, p0, lr = _three_networks_one_diverging(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (overflow, invalid) escapes
        hist = train(net, X, y, optimizer="sgd", learning_rate=lr, epochs=10, batch_size=8,
                     seed=1)
    assert hist.diverged.tolist() == [False, True, False]
    assert hist.final_loss[1] == np.inf
    assert np.all(np.isinf(hist.train_loss[-1, 1]))
    assert np.all(np.isfinite(hist.final_loss[[0, 2]]))
    assert hist.n_steps[1] < hist.n_steps[0]
    # frozen at the first non-finite mini-batch loss, not at the end of that epoch
    # (40 samples in batches of 8: 5 steps per epoch)
    finite_epochs = np.isfinite(hist.train_loss[:, 1]).sum()
    assert hist.n_steps[1] < 5 * (finite_epochs + 1)
    for p in (0, 2):
        alone = _alone(p0, p, **kw)
        h1 = train(alone, X, y, optimizer="sgd", learning_rate=lr[p], epochs=10, batch_size=8,
                   seed=1)
        np.testing.assert_allclose(net.params[p], alone.params[0], rtol=1e-12)
        np.testing.assert_allclose(hist.train_loss[:, p], h1.train_loss[:, 0], rtol=1e-12)


def test_step_and_pass_counts_exact_when_one_network_diverges_mid_epoch(rng):
    # the trainer counts the steps taken while every network trains once per epoch; a
    # divergence in the middle of an epoch must leave each network's own count exact
    X, y, kw, net, p0, lr = _three_networks_one_diverging(rng)
    hist = train(net, X, y, optimizer="sgd", learning_rate=lr, epochs=10, batch_size=8, seed=1)
    assert hist.diverged.tolist() == [False, True, False]
    assert hist.n_steps[0] == hist.n_steps[2] == 50  # 40 samples: 5 steps per epoch
    alone = train(_alone(p0, 1, **kw), X, y, optimizer="sgd", learning_rate=lr[1], epochs=10,
                  batch_size=8, seed=1)
    assert 0 < hist.n_steps[1] == alone.n_steps[0] < 50
    np.testing.assert_array_equal(hist.sample_passes, 8.0 * hist.n_steps)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_divergence_with_adam_and_validation(optimizer, rng):
    X, y = _regression(rng)
    net = Network((3, 5, 1), n_networks=2, seed=4, hidden_activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = train(net, X, y, optimizer=optimizer, learning_rate=np.array([1e-2, 1e200]),
                     epochs=5, batch_size=8, X_val=X, Y_val=y, seed=1)
    assert hist.diverged.tolist() == [False, True]
    assert hist.final_loss[1] == np.inf and np.isfinite(hist.final_loss[0])
    assert np.isinf(hist.val_loss[-1, 1])


def test_early_stopping_restores_best_weights():
    rng = np.random.default_rng(3)
    # few noisy training samples and a big network: validation loss rises after a while
    X = rng.uniform(-1, 1, (15, 2))
    y = X[:, 0] - X[:, 1] + rng.normal(0, 0.5, 15)
    Xv = rng.uniform(-1, 1, (200, 2))
    yv = Xv[:, 0] - Xv[:, 1]
    net = Network((2, 40, 1), hidden_activation="tanh", n_networks=3, seed=0)
    hist = train(net, X, y, optimizer="adam", learning_rate=0.03, epochs=400, batch_size=None,
                 X_val=Xv, Y_val=yv, early_stopping=True, patience=20)
    assert np.all(hist.stopped_epoch >= 0)  # every network was stopped
    assert hist.n_epochs < 400
    np.testing.assert_array_equal(hist.stopped_epoch, hist.best_epoch + 20)
    val_now = evaluate_loss(net.arch, net.params, Xv, yv.reshape(-1, 1))
    np.testing.assert_allclose(val_now, hist.best_loss, rtol=1e-12)
    p = np.arange(3)
    np.testing.assert_allclose(hist.val_loss[hist.best_epoch, p], hist.best_loss, rtol=1e-12)
    assert np.all(hist.best_loss <= hist.val_loss.min(axis=0))
    assert np.all(hist.val_loss[-1] > hist.best_loss)  # later weights were worse


def test_history_fields_and_callback(rng):
    X, y = _regression(rng)
    seen = []

    def cb(epoch, h):
        seen.append((epoch, h.n_epochs))
        return epoch == 2  # stop after the third epoch

    net = Network((3, 4, 1), n_networks=2, seed=0)
    hist = train(net, X, y, epochs=10, callback=cb)
    assert isinstance(hist, History)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert hist.train_loss.shape == (3, 2) and hist.val_loss is None
    d = hist.to_dict()
    assert d["val_loss"] is None and len(d["train_loss"]) == 3


def test_float32_training(rng):
    X, y = _regression(rng)
    net = Network((3, 6, 1), n_networks=2, seed=0, dtype=np.float32)
    hist = train(net, X, y, epochs=30, learning_rate=0.01, batch_size=8, seed=0)
    assert net.params.dtype == np.float32
    assert hist.train_loss[-1].max() < hist.train_loss[0].min()
    ref = Network((3, 6, 1), n_networks=2, seed=0)
    train(ref, X, y, epochs=30, learning_rate=0.01, batch_size=8, seed=0)
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-3, atol=1e-4)


def test_multiclass_softmax_cross_entropy():
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, 150)
    X = centers[labels] + rng.normal(0, 0.5, (150, 2))
    Y = np.eye(3)[labels]
    net = Network((2, 8, 3), hidden_activation="relu", output_activation="softmax", seed=0)
    train(net, X, Y, loss="cross_entropy", learning_rate=0.02, epochs=40, batch_size=16, seed=0)
    assert np.mean(net.predict(X).argmax(axis=1) == labels) > 0.95


# ---------------------------------------------------------------- errors for bad input


def _net():
    return Network((3, 4, 2), output_activation="sigmoid", n_networks=3, seed=0)


X_OK = np.zeros((5, 3))
Y_OK = np.zeros((5, 2))
X_NAN = X_OK.copy()
X_NAN[3, 0] = np.nan
Y_INF = Y_OK.copy()
Y_INF[0, 1] = np.inf


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"X": np.zeros((5, 4))}, ValueError, r"'X'.*3 columns.*\(5, 4\)"),
        ({"X": np.zeros(5)}, ValueError, r"'X'.*2-D"),
        ({"X": X_NAN}, ValueError, r"'X'.*finite.*NaN at index \(3, 0\)"),
        ({"Y": Y_INF}, ValueError, r"'Y'.*finite.*infinity"),
        ({"Y": np.zeros((5, 3))}, ValueError, r"'Y'.*2 column"),
        ({"Y": np.zeros((4, 2))}, ValueError, r"'X' and 'Y'.*same number of rows.*5 and 4"),
        ({"loss": "hinge"}, ValueError, r"'loss'.*'mse'.*'hinge'"),
        ({"loss": "cross_entropy"}, ValueError, r"'loss'.*'softmax' output.*sigmoid"),
        ({"optimizer": "rmsprop"}, ValueError, r"'optimizer'.*'adam'.*'rmsprop'"),
        ({"learning_rate": 0.0}, ValueError, r"'learning_rate'.*> 0.*Got 0.0"),
        ({"learning_rate": -1}, ValueError, r"'learning_rate'.*> 0.*Got -1"),
        ({"learning_rate": "fast"}, TypeError, r"'learning_rate'.*real number"),
        ({"learning_rate": np.ones(2)}, ValueError, r"'learning_rate'.*shape \(3,\).*\(2,\)"),
        ({"learning_rate": np.array([0.1, -1, 0.1])}, ValueError, r"'learning_rate'.*every"),
        ({"alpha": np.ones(4)}, ValueError, r"'alpha'.*shape \(3,\).*\(4,\)"),
        ({"alpha": -0.1}, ValueError, r"'alpha'.*>= 0.*-0.1"),
        ({"momentum": np.ones(5)}, ValueError, r"'momentum'.*shape \(3,\)"),
        ({"epochs": 0}, ValueError, r"'epochs'.*>= 1.*Got 0"),
        ({"batch_size": 0}, ValueError, r"'batch_size'.*>= 1.*Got 0"),
        ({"patience": 0}, ValueError, r"'patience'.*>= 1"),
        ({"X_val": np.zeros((2, 3))}, ValueError, r"'X_val'.*together with Y_val"),
        ({"X_val": np.zeros((2, 2)), "Y_val": np.zeros((2, 2))}, ValueError, r"'X_val'.*3 col"),
        ({"X_val": np.zeros((2, 3)), "Y_val": np.zeros((3, 2))}, ValueError,
         r"'X_val' and 'Y_val'.*2 and 3"),
        ({"net": "not a net"}, TypeError, r"'net'.*gabp.Network"),
    ],
)
def test_train_bad_input(kwargs, exc, match):
    args = {"net": _net(), "X": X_OK, "Y": Y_OK, **kwargs}
    net = args.pop("net")
    before = net.params.copy() if isinstance(net, Network) else None
    with pytest.raises(exc, match=match):
        train(net, args.pop("X"), args.pop("Y"), epochs=args.pop("epochs", 2), **args)
    if before is not None:
        np.testing.assert_array_equal(net.params, before)  # raised before any training


def test_restoring_without_validation_reports_the_returned_weights_exact_objective(rng):
    from gabp.solvers.base import training_objective

    X, y = _regression(rng, n=40)
    net = Network((3, 5, 1), n_networks=3, seed=0)
    start = training_objective(net.arch, net.params.copy(), X, y, alpha=0.01)
    lr = np.array([0.01, 0.05, 5.0])  # the last one overshoots: its start is kept
    hist = train(net, X, y, optimizer="sgd", learning_rate=lr, alpha=0.01, epochs=5,
                 batch_size=8, seed=0)
    now = training_objective(net.arch, net.params, X, y, alpha=0.01)
    np.testing.assert_allclose(hist.best_loss, now, rtol=1e-12)
    assert np.all(now <= start)
    assert hist.best_epoch[2] == -1 and hist.best_epoch[0] >= 0
    assert hist.stop_reason == ["max_epochs"] * 3
