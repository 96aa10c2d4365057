"""Built-in datasets, bundled as small CSV files next to this module (no download).

Sources and licences are in each loader's docstring and in ``gabp/data/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, check_int, fail
from ._dataset import Dataset
from .csv_io import _label_column, _numeric_column, _read
from .mackey_glass import mackey_glass, mackey_glass_benchmark
from .series import Windows, chronological_split, make_windows

DATA_DIR = Path(__file__).resolve().parent

_UCI_NOTE = (
    " Copied from scikit-learn's bundled data files (BSD-3-Clause, scikit-learn "
    "developers); originally from the UCI Machine Learning Repository."
)


def _load_classification(name: str, filename: str, classes: list[str], description: str) -> Dataset:
    t = _read(DATA_DIR / filename, ",")
    n_feat = len(t.header) - 1
    X = np.column_stack([_numeric_column(t, j) for j in range(n_feat)])
    labels = _label_column(t, n_feat).astype(str)
    lookup = {c: i for i, c in enumerate(classes)}
    y = np.array([lookup[v] for v in labels.tolist()], dtype=np.int64)
    return Dataset(
        name=name,
        X=X,
        y=y,
        task="classification",
        feature_names=t.header[:n_feat],
        target_names=list(classes),
        description=description,
    )


def load_iris() -> Dataset:
    """Fisher's iris data: 150 flowers x 4 measurements (cm), 3 classes of 50.

    ``y`` codes: 0 setosa, 1 versicolor, 2 virginica.
    Source: R. A. Fisher (1936), UCI Machine Learning Repository.
    Licence: file copied from scikit-learn (BSD-3-Clause).
    """
    return _load_classification(
        "iris",
        "iris.csv",
        ["setosa", "versicolor", "virginica"],
        "Iris flowers (Fisher 1936): 150 x 4, 3 classes." + _UCI_NOTE,
    )


def load_wine() -> Dataset:
    """UCI wine recognition data: 178 wines x 13 chemical measurements, 3 cultivars.

    Class sizes 59 / 71 / 48 (``class_0``, ``class_1``, ``class_2``).
    Source: Forina et al., UCI Machine Learning Repository.
    Licence: file copied from scikit-learn (BSD-3-Clause).
    """
    return _load_classification(
        "wine",
        "wine.csv",
        ["class_0", "class_1", "class_2"],
        "Wine recognition: 178 x 13, 3 classes." + _UCI_NOTE,
    )


def load_breast_cancer() -> Dataset:
    """Breast cancer Wisconsin (diagnostic): 569 tumours x 30 features, 2 classes.

    ``y`` codes: 0 malignant (212), 1 benign (357).
    Source: Wolberg, Street and Mangasarian (1995), UCI Machine Learning Repository.
    Licence: file copied from scikit-learn (BSD-3-Clause).
    """
    return _load_classification(
        "breast_cancer",
        "breast_cancer.csv",
        ["malignant", "benign"],
        "Breast cancer Wisconsin (diagnostic): 569 x 30, 2 classes." + _UCI_NOTE,
    )


def load_digits(*, as_images: bool = False) -> Dataset:
    """Optical recognition of handwritten digits: 1,797 images of 8x8 pixels (0..16).

    ``X`` has shape (1797, 64) (row-major pixels), ``y`` the digit 0..9. With
    ``as_images=True``, ``X`` has shape (1797, 1, 8, 8) (one channel, rows, columns), the
    input of a network built with the image shape ``(1, 8, 8)`` (such a network also takes
    the flat rows); ``n_features`` is 64 either way and ``sample_shape`` says ``(1, 8, 8)``.
    Source: Alpaydin and Kaynak (1998), UCI Machine Learning Repository.
    Licence: file copied from scikit-learn (BSD-3-Clause).
    """
    ds = _load_classification(
        "digits",
        "digits.csv.gz",
        [str(d) for d in range(10)],
        "Handwritten digits 8x8: 1797 x 64, 10 classes." + _UCI_NOTE,
    )
    if not isinstance(as_images, bool):
        fail("as_images", "load_digits", "True or False", as_images, exc=TypeError)
    return replace(ds, X=ds.X.reshape(-1, 1, 8, 8)) if as_images else ds


def load_sunspots(*, n_lags: int = 12) -> Dataset:
    """Yearly mean sunspot numbers 1700-2008 (309 values, version 1 of the series).

    ``series`` has shape (309,) and ``series_index`` the years; ``X`` / ``y`` are
    ``n_lags`` past years -> next year, with ``index`` the target year.
    Source: SIDC / NOAA NGDC yearly sunspot numbers, as shipped by statsmodels
    (``statsmodels.datasets.sunspots``). Licence: public domain.
    """
    n_lags = check_int(n_lags, "n_lags", "load_sunspots", low=1, high=300)
    t = _read(DATA_DIR / "sunspots.csv", ",")
    years = _numeric_column(t, 0).astype(np.int64)
    values = _numeric_column(t, 1)
    win = make_windows(values, n_lags=n_lags, index=years)
    return Dataset(
        name="sunspots",
        X=win.X,
        y=win.y,
        task="series",
        feature_names=_lag_names("sunspots", n_lags, 1),
        target_names=["sunspots(t+1)"],
        index=win.index,
        series=values,
        series_index=years,
        windowing={"n_lags": n_lags, "lag_step": 1, "horizon": 1},
        description="Yearly sunspot numbers 1700-2008 (SIDC version 1, via statsmodels; "
        "public domain).",
    )


def _lag_names(col: str, n_lags: int, lag_step: int) -> list[str]:
    return [
        f"{col}(t-{(n_lags - 1 - i) * lag_step})" if i < n_lags - 1 else f"{col}(t)"
        for i in range(n_lags)
    ]


def load_mackey_glass(*, tau: float = 17.0, seed: int | None = None) -> Dataset:
    """The Mackey-Glass benchmark as a dataset (generated, not a file).

    ``series`` = x(0) ... x(1123) from :func:`mackey_glass`; ``X`` (1000, 4) =
    x(t-18), x(t-12), x(t-6), x(t) and ``y`` (1000, 1) = x(t+6) for t = 118 ... 1117;
    ``index`` = t + 6. The classic split is the first 500 rows for training, the last
    500 for testing (``split_task(..., classic=True)``).
    """
    bench = mackey_glass_benchmark(tau=tau, seed=seed)
    win = bench.windows
    return Dataset(
        name="mackey_glass",
        X=win.X,
        y=win.y,
        task="series",
        feature_names=_lag_names("x", 4, 6),
        target_names=["x(t+6)"],
        index=win.index,
        series=bench.series,
        series_index=np.arange(len(bench.series)),
        windowing={"n_lags": 4, "lag_step": 6, "horizon": 6},
        description=f"Mackey-Glass series (tau={tau:g}, RK4 dt=0.1, x0=1.2), classic "
        "benchmark pairs t=118..1117.",
    )


def load_function(n_samples: int = 2000, seed: int | None = 0) -> Dataset:
    """The classic GA-BP demo: ``y = x1**2 + x2**2`` for x uniform on [-5, 5]^2.

    Returns ``X`` of shape (n_samples, 2) and ``y`` of shape (n_samples, 1).
    """
    n_samples = check_int(n_samples, "n_samples", "load_function", low=1)
    X = np.random.default_rng(seed).uniform(-5.0, 5.0, size=(n_samples, 2))
    y = (X**2).sum(axis=1, keepdims=True)
    return Dataset(
        name="function",
        X=X,
        y=y,
        task="regression",
        feature_names=["x1", "x2"],
        target_names=["y"],
        description="y = x1^2 + x2^2 on [-5, 5]^2.",
    )


def load_xor() -> Dataset:
    """XOR truth table: ``X`` (4, 2) of 0/1, ``y`` (4, 1) of 0.0/1.0 (regression target)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return Dataset(
        name="xor",
        X=X,
        y=y,
        task="regression",
        feature_names=["x1", "x2"],
        target_names=["x1 xor x2"],
        description="XOR truth table (4 rows).",
    )


_REGISTRY: dict[str, tuple[Callable[..., Dataset], str]] = {
    "sunspots": (load_sunspots, "Yearly sunspot numbers 1700-2008 (series, 309 values)"),
    "mackey_glass": (load_mackey_glass, "Mackey-Glass tau=17 benchmark (series, 1000 pairs)"),
    "function": (load_function, "y = x1^2 + x2^2 on [-5, 5]^2 (regression, 2000 x 2)"),
    "xor": (load_xor, "XOR truth table (4 x 2)"),
    "iris": (load_iris, "Iris flowers (classification, 150 x 4, 3 classes)"),
    "wine": (load_wine, "Wine recognition (classification, 178 x 13, 3 classes)"),
    "breast_cancer": (
        load_breast_cancer,
        "Breast cancer Wisconsin diagnostic (classification, 569 x 30, 2 classes)",
    ),
    "digits": (load_digits, "Handwritten digits 8x8 (classification, 1797 x 64, 10 classes)"),
}


def list_datasets() -> dict[str, str]:
    """Names accepted by :func:`load_dataset`, each with a one-line description."""
    return {name: desc for name, (_, desc) in _REGISTRY.items()}


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a built-in dataset by name (see :func:`list_datasets`); ``kwargs`` go to its loader."""
    check_choice(name, _REGISTRY, "name", "load_dataset")
    return _REGISTRY[name][0](**kwargs)


@dataclass(frozen=True, eq=False)
class SunspotsSplit:
    """The classic sunspot split; unpacks as ``train, test1, test2`` (each a Windows).

    Target years: train 1700+n_lags ... 1920, test1 1921 ... 1955, test2 1956 ... 1979.
    Each part's ``index`` holds its target years; values are raw (unscaled).
    """

    train: Windows
    test1: Windows
    test2: Windows

    def __iter__(self) -> Iterator[Windows]:
        return iter((self.train, self.test1, self.test2))


def sunspots_classic_split(n_lags: int = 12) -> SunspotsSplit:
    """Split the yearly sunspots as in the neural-network literature (Weigend et al.).

    ``n_lags`` past years predict the next; training targets are 1700 + n_lags ... 1920,
    the two test periods 1921-1955 and 1956-1979. Test inputs reach back into earlier
    years (known at forecast time); no training row contains a value after 1920.
    """
    ds = load_sunspots(n_lags=n_lags)
    win = make_windows(ds.series, n_lags=n_lags, index=ds.series_index)
    train, test1, rest = chronological_split(win, val_start=1921, test_start=1956)
    test2 = rest.take(np.flatnonzero(rest.index <= 1979))
    return SunspotsSplit(train=train, test1=test1, test2=test2)


__all__ = [
    "load_breast_cancer",
    "load_dataset",
    "load_digits",
    "load_function",
    "load_iris",
    "load_mackey_glass",
    "load_sunspots",
    "load_wine",
    "load_xor",
    "list_datasets",
    "mackey_glass",
    "SunspotsSplit",
    "sunspots_classic_split",
]
