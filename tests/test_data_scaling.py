import json

import numpy as np
import pytest

from gabp.data import MinMaxScaler, OneHotEncoder, StandardScaler, scaler_from_dict

X = np.array([[1.0, 10.0, 5.0], [3.0, 20.0, 5.0], [2.0, 40.0, 5.0]])


def test_minmax_exact_values_and_constant_column():
    s = MinMaxScaler().fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1, -1, -1], [1, -1 / 3, -1], [0, 1, -1]])
    s01 = MinMaxScaler(feature_range=(0, 1)).fit(X)
    np.testing.assert_allclose(s01.transform([[2.0, 30.0, 7.0]]), [[0.5, 2 / 3, 2.0]])


@pytest.mark.parametrize("scaler", [MinMaxScaler(), MinMaxScaler((0, 1)), StandardScaler()])
def test_round_trip_and_json(scaler):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 3)) * [1, 100, 0]  # last column constant (zero)
    Z = scaler.fit_transform(A)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(scaler.inverse_transform(Z), A, atol=1e-12)
    restored = scaler_from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert type(restored) is type(scaler)
    np.testing.assert_allclose(restored.transform(A), Z)


def test_standard_scaler_values_and_1d():
    s = StandardScaler().fit([1.0, 2.0, 3.0])
    np.testing.assert_allclose(s.transform([1.0, 2.0, 3.0]), [-1.224744871, 0, 1.224744871])
    assert s.transform([2.0]).shape == (1,)
    np.testing.assert_allclose(s.scale_, [np.sqrt(2 / 3)])


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        MinMaxScaler().transform(X)
    s = StandardScaler().fit(X)
    with pytest.raises(
        ValueError,
        match=r"'X' parameter of StandardScaler.transform must be "
        r"an array with 3 column\(s\)",
    ):
        s.transform(X[:, :2])
    with pytest.raises(ValueError, match="'feature_range' parameter of MinMaxScaler"):
        MinMaxScaler(feature_range=(1, -1))
    with pytest.raises(ValueError, match="finite"):
        s.transform([[np.nan, 1, 2]])


def test_tile_repeats_parameters():
    s = MinMaxScaler().fit([0.0, 10.0])
    t = s.tile(3)
    np.testing.assert_allclose(t.transform([[0.0, 5.0, 10.0]]), [[-1, 0, 1]])


def test_one_hot_strings_round_trip():
    enc = OneHotEncoder().fit(["cat", "dog", "cat", "bird"])
    assert enc.classes_.tolist() == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(enc.transform(["dog", "bird"]), [[0, 0, 1], [1, 0, 0]])
    assert enc.inverse_transform([[0.1, 0.7, 0.2], [0, 0, 1]]).tolist() == ["cat", "dog"]
    with pytest.raises(ValueError, match="labels seen in fit"):
        enc.transform(["fish"])
    with pytest.raises(ValueError, match="3 columns"):
        enc.inverse_transform([[1.0, 0.0]])


@pytest.mark.parametrize(
    "labels, kind",
    [([3, 1, 2, 1], int), ([0.5, 1.5], float), (["b", "a"], str), ([True, False], bool)],
)
def test_one_hot_json_keeps_label_types(labels, kind):
    enc = OneHotEncoder().fit(labels)
    data = json.loads(json.dumps(enc.to_dict()))
    back = OneHotEncoder.from_dict(data)
    decoded = back.inverse_transform(enc.transform(labels)).tolist()
    assert decoded == list(labels)
    assert all(type(v) is kind for v in decoded)


def test_one_hot_object_labels_and_not_fitted():
    enc = OneHotEncoder().fit(np.array([(1, 2), (0, 1)] + [None], dtype=object)[:2])
    assert enc.n_classes == 2
    with pytest.raises(RuntimeError, match="not fitted"):
        OneHotEncoder().transform([1])
