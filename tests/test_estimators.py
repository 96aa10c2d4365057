"""Tests for the scikit-learn-style estimators GABPRegressor and GABPClassifier.

scikit-learn is optional: the protocol tests that use it skip without it, every other test
runs on gabp alone. Budgets are tiny (a few individuals and generations) so the module
finishes in seconds.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import gabp.estimators as est_mod
from gabp.data import load_iris
from gabp.estimators import (
    DataConversionWarning,
    GABPClassifier,
    GABPRegressor,
    NotFittedError,
)

# A small budget: enough to fit the easy problems below, fast enough for CI.
FAST = dict(population_size=4, n_generations=2, bp_epochs=1, max_epochs=60)
ESTIMATORS = (GABPRegressor, GABPClassifier)


def regression_data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2]
    return X, y


def blobs(n=120, seed=0, labels=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    k = len(labels)
    centers = 3.0 * np.stack(
        [np.cos(2 * np.pi * np.arange(k) / k), np.sin(2 * np.pi * np.arange(k) / k)], axis=1
    )
    codes = np.arange(n) % k
    X = centers[codes] + rng.normal(scale=0.6, size=(n, 2))
    return X, np.asarray(labels, dtype=object if not isinstance(labels[0], str) else None)[codes]


@pytest.fixture(scope="module")
def fitted_regressor():
    X, y = regression_data()
    return GABPRegressor(**FAST, random_state=0).fit(X, y), X, y


@pytest.fixture(scope="module")
def fitted_classifier():
    X, y = blobs()
    return GABPClassifier(**FAST, random_state=0).fit(X, y), X, y


# ----------------------------------------------------------------------------- fit / predict


def test_regressor_reaches_good_r2_on_held_out_data():
    X, y = regression_data(n=300)
    reg = GABPRegressor(**FAST, random_state=1).fit(X[:240], y[:240])
    assert reg.predict(X[240:]).shape == (60,)
    assert reg.score(X[240:], y[240:]) > 0.9


def test_classifier_reaches_good_accuracy_on_iris():
    ds = load_iris()
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ds.y))
    tr, te = idx[:110], idx[110:]
    names = np.asarray(ds.target_names)[ds.y]  # string labels
    clf = GABPClassifier(**FAST, random_state=0).fit(ds.X[tr], names[tr])
    assert clf.classes_.tolist() == sorted(ds.target_names)
    assert clf.score(ds.X[te], names[te]) > 0.9
    proba = clf.predict_proba(ds.X[te])
    assert proba.shape == (len(te), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(ds.X[te]), clf.classes_[proba.argmax(axis=1)])


def test_binary_classifier_uses_one_sigmoid_output_and_two_probability_columns():
    X, y = blobs(labels=(-1, 7))
    clf = GABPClassifier(**FAST, random_state=0).fit(X, y)
    assert clf.network_.arch.activations[-1] == "sigmoid"
    assert clf.coefs_[-1].shape[1] == 1
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X).tolist()) <= {-1, 7}
    assert clf.score(X, y) > 0.95
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba)


@pytest.mark.parametrize("mode", ["classic", "baldwinian", "lamarckian", "bp"])
def test_every_mode_fits_and_records_its_history(mode):
    X, y = regression_data(n=80)
    reg = GABPRegressor(**FAST, mode=mode, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.5
    assert len(reg.loss_curve_) == reg.n_iter_ >= 1
    assert len(reg.validation_loss_curve_) == reg.n_iter_
    if mode == "bp":
        assert reg.logbook_ is None
        assert np.isnan(reg.best_fitness_)
    else:
        assert len(reg.logbook_) == FAST["n_generations"] + 1
        assert reg.best_fitness_ == pytest.approx(min(r["error_min"] for r in reg.logbook_))


@pytest.mark.parametrize(
    ("optimizer", "learning_rate"), [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.01)]
)
def test_optimizers_and_error_rate_fitness(optimizer, learning_rate):
    X, y = blobs(n=90)
    clf = GABPClassifier(
        **FAST,
        optimizer=optimizer,
        learning_rate=learning_rate,
        fitness="error_rate",
        random_state=0,
    ).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert 0.0 <= clf.best_fitness_ <= 1.0  # an error rate


def test_coefs_and_intercepts_reproduce_predictions(fitted_regressor):
    reg, X, y = fitted_regressor
    assert [W.shape for W in reg.coefs_] == [(3, 10), (10, 1)]
    assert [b.shape for b in reg.intercepts_] == [(10,), (1,)]
    # Oracle: the forward pass written out from the public attributes.
    h = np.tanh(reg.input_scaler_.transform(X) @ reg.coefs_[0] + reg.intercepts_[0])
    out = h @ reg.coefs_[1] + reg.intercepts_[1]
    expected = reg.target_scaler_.inverse_transform(out).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-10, atol=1e-10)
    assert reg.n_features_in_ == 3 and reg.n_outputs_ == 1


def test_targets_in_large_units_are_scaled_and_returned_in_original_units():
    X, y = regression_data(n=200)
    big = 1000.0 * y + 5000.0
    reg = GABPRegressor(**FAST, random_state=0).fit(X, big)
    pred = reg.predict(X)
    assert abs(np.mean(pred) - np.mean(big)) < 100.0
    assert reg.score(X, big) > 0.9
    unscaled = GABPRegressor(**FAST, scale_targets=False, random_state=0).fit(X, y)
    assert unscaled.target_scaler_ is None and unscaled.score(X, y) > 0.8


@pytest.mark.parametrize("shape", [(1,), (2,)])
def test_regressor_predicts_the_shape_of_2d_targets(shape):
    X, y = regression_data(n=100)
    Y = np.column_stack([y, -2.0 * y])[:, : shape[0]]
    reg = GABPRegressor(**FAST, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (100, shape[0])
    assert reg.n_outputs_ == shape[0]
    assert reg.score(X, Y) > 0.8


def test_validation_fraction_zero_scores_on_training_data():
    X, y = regression_data(n=60)
    reg = GABPRegressor(**FAST, validation_fraction=0.0, random_state=0).fit(X, y)
    assert reg.validation_loss_curve_ is None
    assert reg.result_.config["fitness_on"] == "train"
    assert reg.score(X, y) > 0.8


def _record_evolve_data(monkeypatch):
    seen = {}
    real = est_mod.evolve

    def recording(X, Y, X_val=None, Y_val=None, **kwargs):
        seen.update(X=X, Y=Y, X_val=X_val, Y_val=Y_val, kwargs=kwargs)
        return real(X, Y, X_val, Y_val, **kwargs)

    monkeypatch.setattr(est_mod, "evolve", recording)
    return seen


def test_validation_split_is_stratified_for_the_classifier(monkeypatch):
    seen = _record_evolve_data(monkeypatch)
    X, y = blobs(n=60)  # 20 samples per class
    GABPClassifier(**FAST, validation_fraction=0.25, random_state=3).fit(X, y)
    assert seen["kwargs"]["fitness_on"] == "validation"
    assert seen["kwargs"]["n_baseline"] == 0
    np.testing.assert_array_equal(seen["Y_val"].sum(axis=0), [5, 5, 5])
    np.testing.assert_array_equal(seen["Y"].sum(axis=0), [15, 15, 15])


def test_validation_split_is_a_random_partition_for_the_regressor(monkeypatch):
    seen = _record_evolve_data(monkeypatch)
    X, y = regression_data(n=50)
    reg = GABPRegressor(**FAST, validation_fraction=0.2, random_state=3).fit(X, y)
    assert seen["X_val"].shape == (10, 3) and seen["X"].shape == (40, 3)
    rows = np.vstack([seen["X"], seen["X_val"]])
    scaled = reg.input_scaler_.transform(X)
    np.testing.assert_allclose(np.sort(rows, axis=0), np.sort(scaled, axis=0))
    # A different seed holds out different samples.
    old_val = seen["X_val"]
    GABPRegressor(**FAST, validation_fraction=0.2, random_state=4).fit(X, y)
    assert not np.array_equal(seen["X_val"], old_val)


def test_column_vector_labels_warn_and_match_1d_fit():
    X, y = blobs(n=60)
    a = GABPClassifier(**FAST, random_state=0).fit(X, y)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        b = GABPClassifier(**FAST, random_state=0).fit(X, y[:, None])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_score_sample_weight_matches_hand_computation(fitted_regressor, fitted_classifier):
    reg, X, y = fitted_regressor
    w = np.linspace(0.5, 2.0, len(y))
    p = reg.predict(X)
    mean = np.average(y, weights=w)
    r2 = 1 - np.sum(w * (y - p) ** 2) / np.sum(w * (y - mean) ** 2)
    assert reg.score(X, y, sample_weight=w) == pytest.approx(r2)
    clf, Xc, yc = fitted_classifier
    wc = np.linspace(0.5, 2.0, len(yc))
    hit = clf.predict(Xc) == yc
    assert clf.score(Xc, yc, sample_weight=wc) == pytest.approx(np.average(hit, weights=wc))


# ----------------------------------------------------------------------------- determinism


def test_same_random_state_gives_identical_predictions_whatever_n_jobs():
    X, y = regression_data(n=80)
    kw = dict(FAST, mode="lamarckian", population_size=6)
    a = GABPRegressor(**kw, random_state=7, n_jobs=1).fit(X, y).predict(X)
    b = GABPRegressor(**kw, random_state=7, n_jobs=2).fit(X, y).predict(X)
    c = GABPRegressor(**kw, random_state=7).fit(X, y).predict(X)
    d = GABPRegressor(**kw, random_state=8).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, d)


def test_random_state_may_be_a_generator_or_random_state():
    X, y = regression_data(n=60)
    for make in (np.random.default_rng, np.random.RandomState):
        a = GABPRegressor(**FAST, random_state=make(3)).fit(X, y)
        b = GABPRegressor(**FAST, random_state=make(3)).fit(X, y)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        assert a.seed_ == b.seed_


def test_refit_is_idempotent(fitted_classifier):
    clf, X, y = fitted_classifier
    before = clf.predict_proba(X)
    clf2 = pickle.loads(pickle.dumps(clf)).fit(X, y)
    np.testing.assert_array_equal(clf2.predict_proba(X), before)


# ----------------------------------------------------------------------------- protocol


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_get_params_set_params_and_repr(Est):
    est = Est(population_size=4, hidden_layer_sizes=(5, 3))
    params = est.get_params()
    assert params["population_size"] == 4 and params["hidden_layer_sizes"] == (5, 3)
    assert params["mode"] == "lamarckian" and params["random_state"] is None
    assert ("scale_targets" in params) is (Est is GABPRegressor)
    assert est.set_params(mode="bp", learning_rate=0.1) is est
    assert est.mode == "bp" and est.get_params()["learning_rate"] == 0.1
    rebuilt = Est(**est.get_params())
    assert rebuilt.get_params() == est.get_params()
    text = repr(est)
    assert text.startswith(f"{Est.__name__}(")
    assert "population_size=4" in text and "mode='bp'" in text
    assert "n_generations" not in text  # defaults are left out
    with pytest.raises(ValueError, match="Invalid parameter 'popsize'"):
        est.set_params(popsize=3)
    # set_params stores without validating; fit validates.
    est.set_params(mode="nope")
    with pytest.raises(ValueError, match="'mode' parameter of .* must be one of"):
        est.fit(*regression_data(n=30))


def test_pickle_round_trip_keeps_predictions_and_attributes(fitted_regressor, fitted_classifier):
    reg, X, _ = fitted_regressor
    reg2 = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(reg2.predict(X), reg.predict(X))
    assert reg2.get_params() == reg.get_params()
    assert list(reg2.logbook_) == list(reg.logbook_)
    clf, Xc, _ = fitted_classifier
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict_proba(Xc), clf.predict_proba(Xc))
    np.testing.assert_array_equal(clf2.classes_, clf.classes_)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_methods_before_fit_raise_not_fitted_error(Est):
    est = Est()
    methods = ["predict", "score"] + (["predict_proba"] if Est is GABPClassifier else [])
    for method in methods:
        args = (np.zeros((3, 2)), np.zeros(3)) if method == "score" else (np.zeros((3, 2)),)
        with pytest.raises(NotFittedError, match="not fitted yet") as info:
            getattr(est, method)(*args)
        assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    err = NotFittedError("x")
    assert isinstance(pickle.loads(pickle.dumps(err)), NotFittedError)


def test_no_scikit_learn_needed():
    code = (
        "import sys, numpy as np\n"
        "from gabp.estimators import GABPClassifier, GABPRegressor, NotFittedError\n"
        "X = np.random.default_rng(0).normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int)\n"
        "clf = GABPClassifier(population_size=4, n_generations=1, bp_epochs=1, max_epochs=5,"
        " random_state=0).fit(X, y)\n"
        "assert clf.predict(X).shape == (40,)\n"
        "try:\n    GABPRegressor().predict(X)\nexcept NotFittedError as e:\n"
        "    assert type(e) is NotFittedError\n"
        "assert not any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules)\n"
    )
    # Make scikit-learn unimportable in the child: a meta-path finder that refuses it.
    guard = (
        "import sys\n"
        "class _NoSklearn:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'sklearn' or name.startswith('sklearn.'):\n"
        "            raise ImportError('scikit-learn blocked for this test')\n"
        "sys.meta_path.insert(0, _NoSklearn())\n"
    )
    subprocess.run([sys.executable, "-c", guard + code], check=True, timeout=120)


# ----------------------------------------------------------------------------- input errors


def _bad_inputs():
    X, y = regression_data(n=40)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    yi = y.copy()
    yi[5] = np.inf
    return [
        ("nan in X", GABPRegressor, {}, Xn, y, ValueError, r"'X' .* finite .*NaN"),
        ("inf in y", GABPRegressor, {}, X, yi, ValueError, r"'y' .* finite .*infinity"),
        ("1-D X", GABPRegressor, {}, X[:, 0], y, ValueError, r"2-D array.*Reshape your data"),
        ("lengths", GABPRegressor, {}, X, y[:-1], ValueError, "same number of rows"),
        ("y None", GABPRegressor, {}, X, None, ValueError, "target y is None"),
        ("empty X", GABPRegressor, {}, X[:, :0], y, ValueError, r"0 feature\(s\)"),
        (
            "few samples",
            GABPRegressor,
            {},
            X[:4],
            y[:4],
            ValueError,
            r"at least 6 samples when validation_fraction=0.1.*n_samples=4",
        ),
        ("one class", GABPClassifier, {}, X, np.ones(40), ValueError, "only one class"),
        ("continuous", GABPClassifier, {}, X, y, ValueError, "Unknown label type: continuous"),
        ("2-D labels", GABPClassifier, {}, X, np.ones((40, 2)), ValueError, "1-D array"),
        (
            "negative size",
            GABPRegressor,
            {"hidden_layer_sizes": (5, -2)},
            X,
            y,
            ValueError,
            r"'hidden_layer_sizes' .* integers >= 1",
        ),
        (
            "mode",
            GABPRegressor,
            {"mode": "darwin"},
            X,
            y,
            ValueError,
            r"'mode' .* one of 'classic', 'baldwinian', 'lamarckian', 'bp'. Got 'darwin'",
        ),
        (
            "optimizer",
            GABPClassifier,
            {"optimizer": "rmsprop"},
            X,
            y > 0,
            ValueError,
            r"'optimizer' parameter of GABPClassifier must be one of",
        ),
        (
            "activation",
            GABPRegressor,
            {"activation": "swish"},
            X,
            y,
            ValueError,
            r"'activation' .* 'tanh'",
        ),
        (
            "fitness",
            GABPRegressor,
            {"fitness": "error_rate"},
            X,
            y,
            ValueError,
            r"'fitness' .* one of 'loss', 'mse'",
        ),
        (
            "population",
            GABPRegressor,
            {"population_size": 1},
            X,
            y,
            ValueError,
            r"'population_size' .* >= 2",
        ),
        (
            "elite",
            GABPRegressor,
            {"population_size": 4, "n_elite": 4},
            X,
            y,
            ValueError,
            r"'n_elite' .* \[0, 3\]",
        ),
        (
            "validation_fraction",
            GABPRegressor,
            {"validation_fraction": 1.0},
            X,
            y,
            ValueError,
            r"'validation_fraction' .* \[0, 1\)",
        ),
        (
            "learning_rate",
            GABPRegressor,
            {"learning_rate": -1.0},
            X,
            y,
            ValueError,
            r"'learning_rate' .* > 0",
        ),
        ("alpha", GABPRegressor, {"alpha": -0.1}, X, y, ValueError, r"'alpha' .* >= 0"),
        ("batch_size", GABPRegressor, {"batch_size": 0}, X, y, ValueError, r"'batch_size'"),
        ("n_jobs", GABPRegressor, {"n_jobs": 0}, X, y, ValueError, r"'n_jobs'"),
        (
            "random_state",
            GABPRegressor,
            {"random_state": -1},
            X,
            y,
            ValueError,
            r"'random_state' .* >= 0",
        ),
        (
            "random_state type",
            GABPRegressor,
            {"random_state": "x"},
            X,
            y,
            TypeError,
            r"'random_state'",
        ),
        (
            "early_stopping",
            GABPRegressor,
            {"early_stopping": "yes"},
            X,
            y,
            TypeError,
            r"'early_stopping' .* bool",
        ),
        ("bounds", GABPRegressor, {"bounds": (1.0,)}, X, y, ValueError, r"'bounds'"),
        ("dtype", GABPRegressor, {"dtype": "int8"}, X, y, ValueError, r"'dtype'"),
        ("complex", GABPRegressor, {}, X + 1j, y, ValueError, "Complex data not supported"),
    ]


@pytest.mark.parametrize(
    ("Est", "params", "X", "y", "exc", "match"),
    [case[1:] for case in _bad_inputs()],
    ids=[case[0] for case in _bad_inputs()],
)
def test_bad_input_raises_before_any_work(monkeypatch, Est, params, X, y, exc, match):
    def no_work(*args, **kwargs):  # pragma: no cover - reached only on failure
        raise AssertionError("evolve was called before the input was validated")

    monkeypatch.setattr(est_mod, "evolve", no_work)
    est = Est(**params)
    with pytest.raises(exc, match=match):
        est.fit(X, y)
    assert not hasattr(est, "network_") and not hasattr(est, "classes_")


def test_predict_checks_the_number_of_features_and_values(fitted_regressor, fitted_classifier):
    reg, X, _ = fitted_regressor
    with pytest.raises(ValueError, match="X has 2 features, but GABPRegressor is expecting 3"):
        reg.predict(X[:, :2])
    bad = X[:5].copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        reg.predict(bad)
    with pytest.raises(ValueError, match="Reshape your data"):
        reg.predict(X[0])
    clf, Xc, _ = fitted_classifier
    with pytest.raises(ValueError, match="GABPClassifier.predict_proba"):
        clf.predict_proba(Xc[:, :1])


def test_too_few_samples_is_fine_without_validation_split():
    X, y = regression_data(n=4)
    reg = GABPRegressor(**FAST, validation_fraction=0.0, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (4,)


# ----------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_sklearn_check_estimator(Est):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    with warnings.catch_warnings():
        # gabp must not depend on scikit-learn, so the estimators cannot inherit from
        # sklearn.base.BaseEstimator; they implement the protocol themselves instead.
        warnings.filterwarnings("ignore", message=".*does not inherit from", category=UserWarning)
        # Skipped checks need pandas or SCIPY_ARRAY_API (not part of gabp's test extra).
        estimator_checks.check_estimator(Est(**FAST), on_skip=None)


def test_sklearn_pipeline_and_model_selection():
    pytest.importorskip("sklearn")
    from sklearn.base import clone, is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError as SkNotFittedError
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    assert is_regressor(GABPRegressor()) and is_classifier(GABPClassifier())
    with pytest.raises(SkNotFittedError):
        GABPClassifier().predict(np.zeros((2, 2)))
    reg = GABPRegressor(**FAST, random_state=0)
    cloned = clone(reg)
    assert cloned is not reg and cloned.get_params() == reg.get_params()

    X, y = regression_data(n=120)
    pipe = make_pipeline(MinMaxScaler(), GABPRegressor(**FAST, scale_inputs=False, random_state=0))
    assert pipe.fit(X[:90], y[:90]).score(X[90:], y[90:]) > 0.7

    Xc, yc = blobs(n=90)
    scores = cross_val_score(GABPClassifier(**FAST, random_state=0), Xc, yc, cv=3, n_jobs=2)
    assert scores.shape == (3,) and scores.min() > 0.9

    search = GridSearchCV(
        GABPRegressor(**FAST, random_state=0), {"mode": ["bp", "lamarckian"]}, cv=2
    ).fit(X, y)
    assert search.best_params_["mode"] in ("bp", "lamarckian")


def test_signatures_match_the_one_parameter_table():
    import inspect

    from gabp import GABPForecaster
    from gabp.estimators import COMMON_PARAMS

    series = {"n_lags": 12, "horizon": 1, "strategy": "recursive", "difference": "auto",
              "seasonal_period": None, "seasonal_difference": "auto", "coverage": 0.9,
              "refit_full": False, "linear": True,
              # the forecaster's own defaults: a longer chronological validation part and an
              # L2 strength screened on it, an ensemble of 5 (see GABPForecaster)
              "alpha": "auto", "validation_fraction": 0.2, "ensemble": 5}
    classifier = {"hidden_layer_sizes": (64,), "activation": "relu", "alpha": 1e-3}
    image = {"input_shape": None}  # not the forecaster's
    extras = {GABPRegressor: {"scale_targets": True, "linear": False, **image},
              GABPClassifier: {**classifier, **image},
              GABPForecaster: {"scale_targets": True, **series}}
    for cls, own in extras.items():
        sig = inspect.signature(cls.__init__).parameters
        got = {n: p.default for n, p in sig.items() if n != "self"}
        assert got == {**COMMON_PARAMS, **own}, cls.__name__
        assert all(p.kind is p.KEYWORD_ONLY for n, p in sig.items() if n != "self")
    est = GABPRegressor(hidden_layer_sizes=(3,), scale_targets=False, ensemble=2)
    assert est.get_params()["hidden_layer_sizes"] == (3,)
    assert est.get_params()["scale_targets"] is False and est.ensemble == 2


def test_search_shares_parameters_with_the_one_table():
    """EvolutionarySearch's parameters that the GA-BP estimators also have mean the same
    and default the same, except where SEARCH_DEFAULTS says (and why) they differ."""
    import inspect

    from gabp.estimators import COMMON_PARAMS
    from gabp.search import EvolutionarySearch
    from gabp.search.estimator import SEARCH_DEFAULTS

    sig = inspect.signature(EvolutionarySearch.__init__).parameters
    shared = {n: p.default for n, p in sig.items() if n in COMMON_PARAMS}
    assert set(shared) == {"population_size", "n_generations", "fitness",
                           "validation_fraction", "n_jobs", "random_state", "verbose"}
    assert shared == {n: {**COMMON_PARAMS, **SEARCH_DEFAULTS}[n] for n in shared}
    assert set(SEARCH_DEFAULTS) <= set(shared)
