import numpy as np
import pytest

from gabp.data import (
    list_datasets,
    load_dataset,
    mackey_glass,
    mackey_glass_benchmark,
)

SHAPES = {
    "sunspots": ((297, 12), (297, 1)),
    "mackey_glass": ((1000, 4), (1000, 1)),
    "function": ((2000, 2), (2000, 1)),
    "xor": ((4, 2), (4, 1)),
    "iris": ((150, 4), (150,)),
    "wine": ((178, 13), (178,)),
    "breast_cancer": ((569, 30), (569,)),
    "digits": ((1797, 64), (1797,)),
}
CLASS_COUNTS = {
    "iris": [50, 50, 50],
    "wine": [59, 71, 48],
    "breast_cancer": [212, 357],
    "digits": [178, 182, 177, 183, 181, 182, 181, 179, 174, 180],
}


def test_registry_lists_every_dataset():
    assert set(list_datasets()) == set(SHAPES)
    assert all(isinstance(v, str) and v for v in list_datasets().values())


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_dataset_shapes(name):
    ds = load_dataset(name)
    assert ds.name == name
    assert (ds.X.shape, ds.y.shape) == SHAPES[name]
    assert len(ds.feature_names) == ds.X.shape[1]
    assert np.all(np.isfinite(ds.X)) and ds.description
    if ds.task == "classification":
        counts = np.bincount(ds.y, minlength=len(ds.target_names)).tolist()
        assert counts == CLASS_COUNTS[name]
    else:
        assert len(ds.target_names) == ds.y.shape[1]


def test_unknown_dataset_lists_known_names():
    with pytest.raises(
        ValueError,
        match="'name' parameter of load_dataset must be one of 'sunspots', 'mackey_glass'",
    ):
        load_dataset("mnist")


def test_sunspots_series():
    ds = load_dataset("sunspots")
    assert ds.series.shape == (309,)
    assert ds.series_index[0] == 1700 and ds.series_index[-1] == 2008
    assert ds.series[0] == 5.0 and ds.series[-1] == 2.9
    assert ds.index[0] == 1712
    np.testing.assert_array_equal(ds.X[0], ds.series[:12])
    assert ds.y[0, 0] == ds.series[12]


def test_classification_values():
    iris = load_dataset("iris")
    np.testing.assert_array_equal(iris.X[0], [5.1, 3.5, 1.4, 0.2])
    assert iris.target_names == ["setosa", "versicolor", "virginica"]
    digits = load_dataset("digits")
    assert digits.X.min() == 0 and digits.X.max() == 16
    assert load_dataset("breast_cancer").target_names == ["malignant", "benign"]


def test_function_and_xor():
    f = load_dataset("function", n_samples=50, seed=1)
    assert f.X.min() >= -5 and f.X.max() <= 5
    np.testing.assert_allclose(f.y[:, 0], f.X[:, 0] ** 2 + f.X[:, 1] ** 2)
    np.testing.assert_array_equal(load_dataset("function").X, load_dataset("function").X)
    xor = load_dataset("xor")
    np.testing.assert_array_equal(xor.y[:, 0], np.logical_xor(xor.X[:, 0], xor.X[:, 1]))


def test_mackey_glass_properties():
    x = mackey_glass(1500)
    assert x.shape == (1500,) and x[0] == 1.2
    assert 0.2 <= x.min() and x.max() <= 1.4
    assert x[500:].std() > 0.15  # keeps oscillating (chaotic regime), no fixed point
    np.testing.assert_array_equal(x, mackey_glass(1500))  # deterministic history
    a, b = mackey_glass(300, seed=5), mackey_glass(300, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, mackey_glass(300, seed=6))
    assert 0.2 <= a.min() and a.max() <= 1.4


def test_mackey_glass_step_is_converged():
    coarse = mackey_glass(200)
    fine = mackey_glass(200, dt=0.05)
    assert np.max(np.abs(coarse - fine)) < 1e-3


def test_mackey_glass_errors():
    with pytest.raises(ValueError, match="'dt' parameter of mackey_glass"):
        mackey_glass(10, dt=0.3)
    with pytest.raises(ValueError, match="'tau' parameter of mackey_glass"):
        mackey_glass(10, tau=0)


def test_mackey_glass_benchmark_layout():
    X_train, y_train, X_test, y_test = bench = mackey_glass_benchmark()
    assert X_train.shape == (500, 4) and y_train.shape == (500, 1)
    assert X_test.shape == (500, 4) and y_test.shape == (500, 1)
    assert bench.t_train[0] == 118 and bench.t_train[-1] == 617
    assert bench.t_test[0] == 618 and bench.t_test[-1] == 1117
    s = bench.series
    np.testing.assert_array_equal(X_train[0], s[[100, 106, 112, 118]])
    assert y_train[0, 0] == s[124] and y_test[-1, 0] == s[1123]
