"""Breast-cancer classification with the scikit-learn-style GABPClassifier.

Breast cancer Wisconsin (diagnostic): 30 features, malignant vs benign. A stratified
85 / 15 split keeps a test part that the estimator never sees; inside ``fit`` the
classifier standardizes the inputs, holds out ``validation_fraction`` for the GA's fitness
and early stopping, and evolves a 30-8-1 network (one sigmoid output for two classes).
``clf.result_.baseline`` holds plain BP trained at the same gradient-step budget.

    python examples/breast_cancer.py            # default budget
    python examples/breast_cancer.py --quick    # tiny budget
"""

from __future__ import annotations

import argparse

import numpy as np

from gabp.data import load_breast_cancer, stratified_split
from gabp.estimators import GABPClassifier
from gabp.metrics import accuracy, confusion_matrix, macro_f1

BUDGETS = {
    "default": {"population_size": 16, "n_generations": 10, "bp_epochs": 2,
                "max_epochs": 100, "n_baseline": 5},
    "tiny": {"population_size": 6, "n_generations": 2, "bp_epochs": 1, "max_epochs": 10,
             "n_baseline": 2},
}


def baseline_predictions(clf: GABPClassifier, X: np.ndarray) -> list[np.ndarray]:
    """Labels predicted by each plain-BP restart of a fitted classifier."""
    outs = clf.result_.baseline.network.forward(clf.input_scaler_.transform(X))
    if outs.shape[-1] == 1:  # two classes: one sigmoid output, P(classes_[1])
        return [clf.classes_[(o[:, 0] > 0.5).astype(int)] for o in outs]
    return [clf.classes_[o.argmax(axis=1)] for o in outs]


def main(budget: str = "default", seed: int = 0) -> dict:
    """Run the example; return test accuracy / macro F1 of GA-BP and plain BP (mean)."""
    ds = load_breast_cancer()
    labels = np.asarray(ds.target_names)[ds.y]
    train, _, test = stratified_split(labels, val_fraction=0.0, test_fraction=0.15, seed=seed)

    clf = GABPClassifier(hidden_layer_sizes=(8,), validation_fraction=0.15,
                         random_state=seed, **BUDGETS[budget])
    clf.fit(ds.X[train], labels[train])
    y_test = labels[test]
    pred = clf.predict(ds.X[test])
    base = baseline_predictions(clf, ds.X[test])
    res = {"gabp": {"accuracy": accuracy(y_test, pred), "macro_f1": macro_f1(y_test, pred)},
           "plain_bp": {"accuracy": float(np.mean([accuracy(y_test, p) for p in base])),
                        "macro_f1": float(np.mean([macro_f1(y_test, p) for p in base]))},
           "n_test": int(len(test))}
    print(clf)
    print(f"{'test (' + str(len(test)) + ' rows)':<18}{'GA-BP':>8}{'plain BP (mean)':>18}")
    for name in ("accuracy", "macro_f1"):
        print(f"{name:<18}{res['gabp'][name]:>8.4f}{res['plain_bp'][name]:>18.4f}")
    matrix, names = confusion_matrix(y_test, pred)
    print("confusion matrix (rows: true, columns: predicted)", names)
    print(matrix)
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budget")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main("tiny" if args.quick else "default", seed=args.seed)
