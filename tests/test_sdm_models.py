"""Tests for sdmkit.sdm.models: forest, boosting, GLM, GAM and ensemble classifiers."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sdmkit import ValidationError, ValidationWarning, extract
from sdmkit.datasets.simulate import environment_grid, virtual_species
from sdmkit.sdm.models import GLM, BoostedTrees, DownsampledRandomForest, Ensemble, SplineGAM

BANDS = ["temperature", "precipitation", "elevation"]


def _small_ensemble():
    return Ensemble(
        [("glm", GLM()), ("rf", DownsampledRandomForest(n_estimators=10))], random_state=0
    )


CHECKED = [
    DownsampledRandomForest(n_estimators=10, random_state=0),
    BoostedTrees(n_estimators=20, random_state=0),
    GLM(),
    SplineGAM(),
    _small_ensemble(),
]


@parametrize_with_checks(
    CHECKED, expected_failed_checks=lambda est: est._waived_checks, xfail_strict=True
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)  # constant toy columns
        check(estimator)


# --------------------------------------------------------------------------- synthetic species


@pytest.fixture(scope="module")
def species():
    env = environment_grid((60, 50), random_state=1)
    vs = virtual_species(env, n_presence_only=150, n_presence_absence=500, random_state=2)
    valid = np.isfinite(env.to_numpy()).all(axis=0)
    rows, cols = np.nonzero(valid)
    pick = np.random.default_rng(0).choice(rows.size, 1500)
    bg = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            env["x"].to_numpy()[cols[pick]], env["y"].to_numpy()[rows[pick]]
        ),
        crs=env.rio.crs,
    )
    po = extract(vs.presence_only, env)
    bgx = extract(bg, env)
    X = pd.concat([po[BANDS], bgx[BANDS]], ignore_index=True)
    y = np.r_[np.ones(len(po), int), np.zeros(len(bgx), int)]
    test = extract(vs.presence_absence, env)
    return X, y, test[BANDS], test["occ"].to_numpy()


MODELS = {
    "rf": lambda: DownsampledRandomForest(n_estimators=100, random_state=0),
    "brt": lambda: BoostedTrees(random_state=0),
    "glm": lambda: GLM(),
    "gam": lambda: SplineGAM(),
    "ensemble": lambda: Ensemble(
        [("glm", GLM()), ("gam", SplineGAM()), ("rf", DownsampledRandomForest(n_estimators=50))],
        random_state=0,
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_learns_virtual_species(species, name):
    X, y, X_test, occ = species
    model = MODELS[name]().fit(X, y)
    auc = roc_auc_score(occ, model.predict_proba(X_test)[:, 1])
    assert auc > 0.8, (name, auc)
    assert model.predict_proba(X_test).shape == (len(X_test), 2)
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)
    assert set(model.predict(X_test)) <= {0, 1}
    assert list(model.feature_names_in_) == BANDS


@pytest.mark.parametrize("name", ["rf", "brt", "ensemble"])
def test_random_state_reproducible(species, name):
    X, y, X_test, _ = species
    a = MODELS[name]().fit(X, y).predict_proba(X_test)
    b = MODELS[name]().fit(X, y).predict_proba(X_test)
    np.testing.assert_array_equal(a, b)


def test_random_state_changes_forest(species):
    X, y, X_test, _ = species
    a = DownsampledRandomForest(n_estimators=20, random_state=0).fit(X, y).predict_proba(X_test)
    b = DownsampledRandomForest(n_estimators=20, random_state=1).fit(X, y).predict_proba(X_test)
    assert not np.array_equal(a, b)


# --------------------------------------------------------------------------- balanced bootstrap


def test_balanced_bootstrap_draws_n_background_per_tree(species):
    X, y, _, _ = species
    n = int(y.sum())
    rf = DownsampledRandomForest(n_estimators=30, random_state=0).fit(X, y)
    samples = rf.estimators_samples_
    assert len(samples) == len(rf.estimators_) == 30
    presences = np.flatnonzero(y == 1)
    for idx, tree in zip(samples, rf.estimators_):
        assert len(idx) == 2 * n
        assert (y[idx] == 1).sum() == n and (y[idx] == 0).sum() == n
        np.testing.assert_array_equal(np.sort(idx[y[idx] == 1]), presences)  # every presence
        assert tree.tree_.n_node_samples[0] == 2 * n  # the tree really grew on that sample
    bg = [idx[y[idx] == 0] for idx in samples]
    assert any(len(np.unique(b)) < n for b in bg)  # drawn with replacement
    assert not all(np.array_equal(bg[0], b) for b in bg[1:])  # a fresh draw per tree
    # the samples are recomputed from the seed: same again
    for a, b in zip(samples, rf.estimators_samples_):
        np.testing.assert_array_equal(a, b)


def test_balanced_bootstrap_options(species):
    X, y, _, _ = species
    n = int(y.sum())
    rf = DownsampledRandomForest(
        n_estimators=5, background_ratio=2.0, bootstrap_presences=True, random_state=0
    ).fit(X, y)
    for idx in rf.estimators_samples_:
        assert (y[idx] == 1).sum() == n and (y[idx] == 0).sum() == 2 * n
    assert any(len(np.unique(idx[y[idx] == 1])) < n for idx in rf.estimators_samples_)


# --------------------------------------------------------------------------- ensemble


def test_ensemble_rank_normalisation(species):
    X, y, X_test, _ = species
    ens = Ensemble([("glm", GLM()), ("gam", SplineGAM())], weights=[3, 1]).fit(X, y)
    members = ens.member_predictions(X_test)
    expected = (0.75 * rankdata(members["glm"]) + 0.25 * rankdata(members["gam"])) / len(X_test)
    np.testing.assert_allclose(ens.predict_proba(X_test)[:, 1], expected)
    # ranks are relative to the prediction set: a subset is not the subset of the prediction
    sub = ens.predict_proba(X_test.iloc[:20])[:, 1]
    assert not np.allclose(sub, ens.predict_proba(X_test)[:20, 1])
    raw = ens.set_params(normalize="none").fit(X, y)
    np.testing.assert_allclose(
        raw.predict_proba(X_test)[:, 1], 0.75 * members["glm"] + 0.25 * members["gam"]
    )


def test_ensemble_reference_normalisation_is_subset_invariant(species):
    X, y, X_test, _ = species
    ens = Ensemble([("glm", GLM()), ("gam", SplineGAM())], normalize="reference").fit(X, y)
    full = ens.predict_proba(X_test)[:, 1]
    np.testing.assert_allclose(ens.predict_proba(X_test.iloc[:20])[:, 1], full[:20])
    assert 0 <= full.min() and full.max() <= 1
    ref = np.sort(ens.estimators_["glm"].predict_proba(X)[:, 1])
    np.testing.assert_array_equal(ens.reference_["glm"], ref)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"members": []}, "non-empty list"),
        ({"members": [("a", GLM()), ("a", GLM())]}, "unique"),
        ({"members": [GLM()]}, "pair"),
        ({"members": [("a", GLM())], "weights": [1, 2]}, "weights"),
        ({"members": [("a", GLM())], "normalize": "zscore"}, "normalize"),
    ],
)
def test_ensemble_bad_members(species, kwargs, match):
    X, y, _, _ = species
    with pytest.raises(ValueError, match=match):
        Ensemble(**kwargs).fit(X, y)


# --------------------------------------------------------------------------- categorical


def _categorical_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    soil = rng.choice(["clay", "loam", "sand"], n)
    t = rng.normal(size=n)
    logit = -1.0 + 2.0 * (soil == "loam") - 1.5 * (soil == "sand") + t
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"t": t, "soil": pd.Categorical(soil)})
    return X, y


@pytest.mark.parametrize("name", ["rf", "brt", "glm", "gam"])
def test_categorical_effect_learned(name):
    X, y = _categorical_data()
    model = MODELS[name]().fit(X, y)
    assert list(model.categorical_features_) == [1]
    assert list(model.categories_["soil"]) == ["clay", "loam", "sand"]
    grid = pd.DataFrame({"t": [0.0] * 3, "soil": pd.Categorical(["clay", "loam", "sand"])})
    p = model.predict_proba(grid)[:, 1]
    assert p[1] > p[0] > p[2], (name, p)


def test_categorical_numpy_indices_match_dataframe():
    X, y = _categorical_data()
    codes = X["soil"].cat.codes.to_numpy().astype(float) + 1.0  # labels 1.0, 2.0, 3.0
    arr = np.column_stack([X["t"].to_numpy(), codes])
    a = GLM(categorical=[1]).fit(arr, y)
    assert list(a.categories_[1]) == [1.0, 2.0, 3.0]
    b = GLM().fit(X, y)
    np.testing.assert_allclose(a.predict_proba(arr), b.predict_proba(X), atol=1e-10)


def test_declared_but_absent_level_is_unseen():
    X, y = _categorical_data()
    X["soil"] = X["soil"].cat.add_categories(["peat"])
    model = GLM().fit(X, y)
    assert "peat" not in list(model.categories_["soil"])


@pytest.mark.parametrize("name", ["rf", "brt", "glm", "gam"])
def test_unseen_level_warns_and_predicts(name):
    X, y = _categorical_data()
    model = MODELS[name]().fit(X, y)
    new = pd.DataFrame({"t": [0.0, 0.0], "soil": pd.Categorical(["loam", "peat"])})
    with pytest.warns(ValidationWarning, match=r"'soil'.*peat.*not seen in training \(1 rows\)"):
        p = model.predict_proba(new)[:, 1]
    assert np.isfinite(p).all()


def test_unseen_level_glm_gets_no_level_effect():
    X, y = _categorical_data()
    glm = GLM().fit(X, y)
    new = pd.DataFrame({"t": [0.0], "soil": pd.Categorical(["peat"])})
    with pytest.warns(ValidationWarning):
        p = glm.predict_proba(new)[0, 1]
    s = (0.0 - glm._mean_[0]) / glm._sd_[0]
    linear = (
        glm.intercept_ + glm.coef_[0] * s + glm.coef_[1] * (s**2 - glm._mean2_[0]) / glm._sd2_[0]
    )
    assert p == pytest.approx(1 / (1 + np.exp(-linear)))


def test_missing_categorical_is_an_error():
    X, y = _categorical_data()
    model = GLM().fit(X, y)
    new = pd.DataFrame({"t": [0.0, 1.0], "soil": pd.Categorical(["loam", None])})
    with pytest.raises(ValidationError, match=r"'soil' is missing in rows \[1\]"):
        model.predict_proba(new)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", ["rf", "brt", "glm", "gam"])
def test_nan_covariate_is_an_error(species, name):
    X, y, _, _ = species
    X = X.copy()
    X.loc[[3, 7], "precipitation"] = np.nan
    with pytest.raises(ValidationError, match=r"'precipitation'.*rows \[3, 7\]"):
        MODELS[name]().fit(X, y)


def test_all_nan_covariate_names_the_column(species):
    X, y, _, _ = species
    X = X.assign(soilph=np.nan)
    with pytest.raises(ValidationError, match=r"\['soilph'\] are NaN in every row: drop them"):
        GLM().fit(X, y)


@pytest.mark.parametrize("name", ["rf", "brt", "glm", "gam"])
def test_constant_covariate_warns_and_is_ignored(species, name):
    X, y, X_test, occ = species
    with pytest.warns(ValidationWarning, match=r"\['const'\] are constant"):
        model = MODELS[name]().fit(X.assign(const=5.0), y)
    p = model.predict_proba(X_test.assign(const=5.0))[:, 1]
    assert roc_auc_score(occ, p) > 0.8
    if name in ("glm", "gam"):  # exactly ignored: same fit as without the column
        ref = MODELS[name]().fit(X, y).predict_proba(X_test)[:, 1]
        np.testing.assert_allclose(p, ref, atol=1e-8)


def test_one_class_and_multiclass_are_errors(species):
    X, y, _, _ = species
    with pytest.raises(ValueError, match="1 class"):
        GLM().fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="Only binary"):
        GLM().fit(X, np.arange(len(y)) % 3)


def test_presence_weight_balanced_equals_ratio(species):
    X, y, X_test, _ = species
    ratio = (y == 0).sum() / (y == 1).sum()
    a = GLM(presence_weight="balanced").fit(X, y).predict_proba(X_test)
    b = GLM(presence_weight=float(ratio)).fit(X, y).predict_proba(X_test)
    np.testing.assert_allclose(a, b, atol=1e-8)
    w = GLM()._class_weights.__func__(GLM(), y, np.ones(len(y)))
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    with pytest.raises(ValueError, match="presence_weight"):
        GLM(presence_weight=-1).fit(X, y)


def test_spline_gam_recovers_bell_shape_and_c_controls_wiggliness():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 3000)
    y = (rng.random(3000) < 0.8 * np.exp(-0.5 * (x / 0.8) ** 2)).astype(int)
    grid = np.linspace(-3, 3, 61)[:, None]
    smooth = SplineGAM(n_knots=10, C=0.01).fit(x[:, None], y).predict_proba(grid)[:, 1]
    wiggly = SplineGAM(n_knots=10, C=100.0).fit(x[:, None], y).predict_proba(grid)[:, 1]
    peak = grid[np.argmax(wiggly), 0]
    assert abs(peak) < 0.6
    assert wiggly[30] > 3 * wiggly[0] and wiggly[30] > 3 * wiggly[-1]
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert np.abs(np.diff(logit(smooth), 2)).sum() < np.abs(np.diff(logit(wiggly), 2)).sum()
