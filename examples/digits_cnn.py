"""Handwritten digits (8x8 images) with a small convolutional network: plain BP and GA-BP.

The network is the setup that won ``bench/cnn.py``'s comparison with the MLP (chosen there
on validation data): two convolutions of 16 filters of 3x3 with padding 1 (so the 8x8
borders are kept), ReLU, 2x2 max-pooling and a softmax layer on top (5,050 parameters),
Adam with learning rate 0.01 and L2 alpha 1e-3, in float32. Plain BP trains it from He
initialization; GA-BP evolves its weights (each genome BP-trained briefly, lamarckian) and
fine-tunes the best, with the same early-stopping rule. With ``out`` the learned filters of
the first convolution and the feature maps of one test digit are saved as PNG files.

    python examples/digits_cnn.py                    # default budget
    python examples/digits_cnn.py --quick --out /tmp/fig
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from gabp import Network, train
from gabp.data import load_digits, stratified_split
from gabp.evolution import BPConfig, GAConfig, evolve
from gabp.layers import Conv2D, Flatten, MaxPool2D, Reshape
from gabp.metrics import accuracy

BUDGETS = {
    "default": {"population_size": 6, "n_generations": 3, "bp_epochs": 2, "max_epochs": 30,
                "n_baseline": 3},
    "tiny": {"population_size": 4, "n_generations": 2, "bp_epochs": 1, "max_epochs": 6,
             "n_baseline": 2},
}
#: the hidden layers; the 10-unit softmax output layer is added from the targets
HIDDEN = [Reshape((1, 8, 8)), Conv2D(16, 3, padding=1, activation="relu"),
          Conv2D(16, 3, padding=1, activation="relu"), MaxPool2D(2), Flatten()]
LR, ALPHA = 0.01, 1e-3


def main(budget: str = "default", out: str | None = None, seed: int = 0) -> dict:
    """Run the example; return the test accuracy of GA-BP and of plain BP (mean)."""
    b = BUDGETS[budget]
    ds = load_digits(as_images=True)
    X, y = ds.X.reshape(len(ds.y), -1) / 16.0, np.asarray(ds.y)  # flat rows in [0, 1]
    Y = np.eye(10)[y]
    tr, va, te = stratified_split(y, val_fraction=0.15, test_fraction=0.15, seed=seed)
    bp = BPConfig(optimizer="adam", learning_rate=LR, alpha=ALPHA, batch_size=32,
                  bp_epochs=b["bp_epochs"], max_epochs=b["max_epochs"], patience=8,
                  dtype="float32")
    ga = GAConfig(population_size=b["population_size"], n_generations=b["n_generations"])
    result = evolve(X[tr], Y[tr], X[va], Y[va], hidden_layer_sizes=HIDDEN,
                    output_activation="softmax", loss="cross_entropy", mode="lamarckian",
                    ga=ga, bp=bp, n_baseline=0, seed=seed)
    gabp_acc = accuracy(y[te], result.network.predict(X[te]).argmax(axis=1))

    # Plain BP: n_baseline restarts of the same CNN trained together, same early stopping.
    plain = Network(((1, 8, 8), *HIDDEN[1:], 10), output_activation="softmax",
                    n_networks=b["n_baseline"], seed=seed + 1, init="he_normal",
                    dtype=np.float32)
    train(plain, X[tr], Y[tr], X_val=X[va], Y_val=Y[va], loss="cross_entropy",
          learning_rate=LR, alpha=ALPHA, batch_size=32, epochs=b["max_epochs"],
          early_stopping=True, patience=8, seed=seed)
    outs = plain.forward(X[te])
    plain_acc = float(np.mean([accuracy(y[te], o.argmax(axis=1)) for o in outs]))
    res = {"gabp": {"accuracy": gabp_acc}, "plain_bp": {"accuracy": plain_acc},
           "n_test": int(len(te)), "n_params": int(plain.arch.n_params)}
    print(f"{'test (' + str(len(te)) + ' images)':<20}{'GA-BP':>8}{'plain BP (mean)':>18}")
    print(f"{'accuracy':<20}{gabp_acc:>8.4f}{plain_acc:>18.4f}")

    if out is not None:
        from gabp.plotting import new_axes, plot_conv_filters, plot_feature_maps, save_figure

        os.makedirs(out, exist_ok=True)
        net = result.network
        digit = X[te][0]
        ax = plot_feature_maps(net, digit, n_cols=9, ax=new_axes((9.0, 2.6)))
        ax.set_title(f"test digit {y[te][0]} and the 16 feature maps of the GA-BP CNN's "
                     "first convolution")
        res["figures"] = [
            str(save_figure(plot_conv_filters(net, ax=new_axes((9.0, 2.2))),
                            os.path.join(out, "digits_cnn_filters.png"))),
            str(save_figure(ax, os.path.join(out, "digits_cnn_feature_maps.png"))),
        ]
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget")
    parser.add_argument("--out", default=None, help="folder for PNG figures (default: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", out=args.out, seed=args.seed)
