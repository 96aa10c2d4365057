"""Handwritten-digit classification (8x8 images) with the GABPClassifier.

1797 images of 64 pixels, 10 classes: a small cousin of the MNIST tutorials. A stratified
split keeps 15 % for testing; the classifier evolves a 64-32-10 tanh network with a
softmax output, each individual briefly BP-trained (lamarckian mode). Plain BP at the same
gradient-step budget comes from ``clf.result_.baseline``. With ``out`` the confusion
matrix and the GA's convergence are saved as PNG files.

    python examples/digits.py                    # default budget
    python examples/digits.py --quick --out /tmp/fig
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from gabp.data import load_digits, stratified_split
from gabp.estimators import GABPClassifier
from gabp.metrics import accuracy, confusion_matrix, macro_f1

BUDGETS = {
    "default": {"population_size": 10, "n_generations": 6, "bp_epochs": 2, "max_epochs": 60,
                "patience": 10, "n_baseline": 3},
    "tiny": {"population_size": 4, "n_generations": 2, "bp_epochs": 1, "max_epochs": 8,
             "patience": 5, "n_baseline": 2},
}


def main(budget: str = "default", out: str | None = None, seed: int = 0) -> dict:
    """Run the example; return test accuracy / macro F1 of GA-BP and plain BP (mean)."""
    ds = load_digits()
    labels = np.asarray(ds.y)  # the digit itself, 0..9
    train, _, test = stratified_split(labels, val_fraction=0.0, test_fraction=0.15, seed=seed)

    clf = GABPClassifier(hidden_layer_sizes=(32,), batch_size=64, validation_fraction=0.15,
                         random_state=seed, **BUDGETS[budget])
    clf.fit(ds.X[train], labels[train])
    y_test = labels[test]
    pred = clf.predict(ds.X[test])
    # Plain BP restarts: same network, same scaled inputs, softmax outputs -> argmax.
    outs = clf.result_.baseline.network.forward(clf.input_scaler_.transform(ds.X[test]))
    base = [clf.classes_[o.argmax(axis=1)] for o in outs]
    res = {"gabp": {"accuracy": accuracy(y_test, pred), "macro_f1": macro_f1(y_test, pred)},
           "plain_bp": {"accuracy": float(np.mean([accuracy(y_test, p) for p in base])),
                        "macro_f1": float(np.mean([macro_f1(y_test, p) for p in base]))},
           "n_test": int(len(test))}
    print(f"{'test (' + str(len(test)) + ' images)':<20}{'GA-BP':>8}{'plain BP (mean)':>18}")
    for name in ("accuracy", "macro_f1"):
        print(f"{name:<20}{res['gabp'][name]:>8.4f}{res['plain_bp'][name]:>18.4f}")

    if out is not None:
        from gabp.plotting import plot_confusion_matrix, plot_convergence, save_figure

        os.makedirs(out, exist_ok=True)
        matrix, names = confusion_matrix(y_test, pred)
        res["figures"] = [
            str(save_figure(plot_confusion_matrix(matrix, names),
                            os.path.join(out, "digits_confusion_matrix.png"))),
            str(save_figure(plot_convergence(clf.logbook_),
                            os.path.join(out, "digits_convergence.png"))),
        ]
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget")
    parser.add_argument("--out", default=None, help="folder for PNG figures (default: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", out=args.out, seed=args.seed)
