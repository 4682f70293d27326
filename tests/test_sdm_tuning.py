"""Spatial-CV tuning on training data (SpatialTuner, presence_background_folds), the
presence-balanced SpatialBlockKFold, staged BoostedTrees predictions and the disdat
task runner (ensembles from member predictions, coordinates for tuned models)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score

from sdmkit import ValidationError, ValidationWarning
from sdmkit.model_selection import SpatialBlockKFold, block_ids
from sdmkit.sdm.benchmark import SpeciesTask, _run_task, evaluate_po_pa, summarize
from sdmkit.sdm.maxent import MaxentModel
from sdmkit.sdm.models import GLM, BoostedTrees, Ensemble, SplineGAM
from sdmkit.sdm.tuning import SpatialTuner, presence_background_folds


def _bell_species(n=2000, seed=0, width=1.0):
    """Presences concentrated at intermediate values of t (which follows x)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(n, 2))
    t = xy[:, 0] / 10 + rng.normal(0, 1, n)
    noise = rng.normal(size=n)
    p = 0.3 * np.exp(-((t - 5) ** 2) / (2 * width**2))
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"t": t, "noise": noise}), y, xy


# --------------------------------------------------------------------------- folds


def test_positive_balanced_blocks_put_presences_in_every_fold():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, size=(3000, 2))
    # presences clustered in a corner: points-balanced folds could leave some without any
    y = ((xy[:, 0] < 40) & (xy[:, 1] < 40) & (rng.random(3000) < 0.2)).astype(int)
    ids = block_ids(xy[:, 0], xy[:, 1], 10.0)
    cv = SpatialBlockKFold(4, 10.0, random_state=0, balance="positives")
    seen = np.zeros(len(xy), int)
    pres = []
    for train, test in cv.split(xy, y, groups=xy):
        seen[test] += 1
        assert not set(ids[train]) & set(ids[test])
        pres.append(int(y[test].sum()))
    assert (seen == 1).all()
    assert min(pres) > 0 and max(pres) - min(pres) <= max(y.sum() // 4, 20)


def test_positive_balance_needs_y_and_enough_presence_blocks():
    xy = np.random.default_rng(0).uniform(0, 10, size=(200, 2))
    with pytest.raises(ValidationError, match="needs y"):
        list(SpatialBlockKFold(3, 2.0, balance="positives").split(xy, groups=xy))
    y = np.zeros(200, int)
    y[:2] = 1
    xy[:2] = [1.0, 1.0]  # both presences in one block
    with pytest.raises(ValidationError, match="no positive"):
        list(SpatialBlockKFold(3, 2.0, balance="positives").split(xy, y, groups=xy))
    with pytest.raises(ValueError, match="balance must be"):
        list(SpatialBlockKFold(3, 2.0, balance="classes").split(xy, y, groups=xy))


def test_presence_background_folds_auto_size_halves_with_a_warning():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 120, size=(1000, 2))
    y = np.zeros(1000, int)
    # 30 presences inside one automatic block (side 120 / 6 = 20)
    y[:30] = 1
    xy[:30] = rng.uniform(1, 19, size=(30, 2))
    with pytest.warns(ValidationWarning, match="halved it"):
        folds, size = presence_background_folds(xy, y, n_splits=3)
    assert size < 20
    assert all(y[test].sum() > 0 for _, test in folds)
    # a block size that the caller chose is never changed: too few blocks is an error
    with pytest.raises(ValidationError, match="no positive"):
        presence_background_folds(xy, y, n_splits=3, block_size=20.0)


def test_presence_background_folds_bad_input():
    xy = np.random.default_rng(0).uniform(0, 10, size=(50, 2))
    y = np.r_[np.ones(2, int), np.zeros(48, int)]
    with pytest.raises(ValidationError, match="2 presences cannot fill 3"):
        presence_background_folds(xy, y, n_splits=3)
    with pytest.raises(ValidationError, match=r"shape \(50, 2\)"):
        presence_background_folds(xy[:10], y, n_splits=2)
    bad = xy.copy()
    bad[5] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        presence_background_folds(bad, y, n_splits=2)
    with pytest.raises(ValidationError, match="needs the coordinates"):
        presence_background_folds(None, y)


# --------------------------------------------------------------------------- tuner


def test_tuner_finds_the_known_best_setting_glm():
    X, y, xy = _bell_species()
    tuner = SpatialTuner(GLM(), {"quadratic": [False, True]}, n_splits=3).fit(X, y, coords=xy)
    assert tuner.best_params_ == {"quadratic": True}
    res = tuner.cv_results_.set_index(tuner.cv_results_["params"].map(str))
    assert (
        res.loc["{'quadratic': True}", "mean_auc"]
        > res.loc["{'quadratic': False}", "mean_auc"] + 0.1
    )
    # the refit is the best setting on all rows
    assert tuner.best_estimator_.quadratic is True
    assert len(tuner.best_estimator_.coef_) == 4  # t, noise and their squares
    np.testing.assert_allclose(tuner.predict_proba(X), tuner.best_estimator_.predict_proba(X))


def test_tuner_finds_the_known_best_setting_maxent():
    # a bell-shaped response: linear features alone cannot rank the middle above both ends
    X, y, xy = _bell_species(n=3000, seed=2)
    grid = {"feature_classes": ["l", "lq"], "beta_multiplier": [1.0]}
    tuner = SpatialTuner(MaxentModel(), grid, n_splits=3, max_background=1500)
    tuner.fit(X, y, coords=xy)
    assert tuner.best_params_["feature_classes"] == "lq"
    assert tuner.best_estimator_.features_.feature_classes_ == "lq"


class _Recorder(ClassifierMixin, BaseEstimator):
    """Remembers how many background rows each fit saw; fails below ``min_presences``."""

    seen: list = []

    def __init__(self, a=0, min_presences=0):
        self.a = a
        self.min_presences = min_presences

    def fit(self, X, y):
        y = np.asarray(y)
        if (y == 1).sum() < self.min_presences:
            raise ValidationError("too few presences for this fold")
        _Recorder.seen.append(int((y == 0).sum()))
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        p = np.asarray(X)[:, 0] * (1 if self.a == 0 else -1)
        p = (p - p.min()) / (np.ptp(p) + 1e-12)
        return np.column_stack([1 - p, p])


def test_tuner_caps_background_in_cv_fits_only():
    X, y, xy = _bell_species(n=1500)
    _Recorder.seen = []
    tuner = SpatialTuner(_Recorder(), {"a": [0, 1]}, n_splits=3, max_background=200)
    tuner.fit(X, y, coords=xy)
    assert tuner.n_splits_ == 3
    cv_fits, refit = _Recorder.seen[:-1], _Recorder.seen[-1]
    assert len(cv_fits) == 6 and max(cv_fits) == 200
    assert refit == int((y == 0).sum())  # the final fit uses every background row


def test_tuner_falls_back_with_a_warning_when_no_setting_fits_every_fold():
    X, y, xy = _bell_species(n=1500)
    n_pres = int(y.sum())
    _Recorder.seen = []
    tuner = SpatialTuner(_Recorder(min_presences=n_pres + 1), {"a": [0, 1]}, n_splits=3)
    with pytest.raises(ValidationError):  # the refit on all rows cannot succeed either
        with pytest.warns(ValidationWarning, match="no setting could be fitted"):
            tuner.fit(X, y, coords=xy)
    tuner = SpatialTuner(_Recorder(min_presences=n_pres - 1), {"a": [0, 1]}, n_splits=3)
    with pytest.warns(ValidationWarning, match="no setting could be fitted"):
        tuner.fit(X, y, coords=xy)
    assert tuner.fallback_ and tuner.best_params_ == {}
    assert tuner.cv_results_["mean_auc"].isna().all()
    assert "too few presences" in tuner.cv_results_["error"].iloc[0]


def test_tuner_uses_fewer_folds_for_few_presences_and_needs_coords():
    X, y, xy = _bell_species(n=1500)
    keep = np.r_[np.flatnonzero(y == 1)[:15], np.flatnonzero(y == 0)]
    tuner = SpatialTuner(GLM(), {"C": [1.0]}, n_splits=4)
    tuner.fit(X.iloc[keep], y[keep], coords=xy[keep])
    assert tuner.n_splits_ == 2  # 15 presences: max(2, 15 // 10)
    with pytest.raises(ValidationError, match="needs the coordinates"):
        SpatialTuner(GLM(), {"C": [1.0]}).fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        SpatialTuner(GLM(), {"C": [1.0]}).fit(X, np.ones(len(y)), coords=xy)


# --------------------------------------------------------------------------- BoostedTrees


def test_staged_predictions_are_the_shorter_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(size=400) > 1).astype(int)
    full = BoostedTrees(n_estimators=60, random_state=0).fit(X, y)
    short = BoostedTrees(n_estimators=20, random_state=0).fit(X, y)
    P = full.staged_predict_proba(X, [20, 60])
    np.testing.assert_allclose(P[0], short.predict_proba(X)[:, 1], rtol=1e-10)
    np.testing.assert_allclose(P[1], full.predict_proba(X)[:, 1], rtol=1e-10)
    with pytest.raises(ValueError, match="outside 1..60"):
        full.staged_predict_proba(X, [0, 61])


# --------------------------------------------------------------------------- protocol


def _task(seed=0, n_bg=800):
    X, y, xy = _bell_species(n=2400, seed=seed)
    frame = X.assign(x=xy[:, 0], y=xy[:, 1])
    pres = frame[y == 1]
    bg = frame[y == 0].iloc[:n_bg]
    test = frame[y == 0].iloc[n_bg:].assign(occ=0)
    test = pd.concat([test, pres.iloc[::2].assign(occ=1)], ignore_index=True)
    return SpeciesTask(
        region="SIM",
        species="sp1",
        group="g",
        track="random",
        features=["t", "noise"],
        train_po=pres.iloc[1::2],
        background=bg,
        test=test,
    )


def test_run_task_ensemble_equals_the_rank_ensemble_estimator():
    task = _task()
    models = {"glm": GLM, "gam": SplineGAM}
    rows = pd.DataFrame(_run_task(task, models, {"ens": ["glm", "gam"]}, ("x", "y")))
    ens = Ensemble([("glm", GLM()), ("gam", SplineGAM())], normalize="rank")
    ref = evaluate_po_pa(ens, task.train_po, task.background, task.test, features=task.features)
    got = rows.set_index("model")
    assert got.loc["ens", "auc"] == pytest.approx(ref["auc"], abs=1e-12)
    assert got.loc["ens", "cor"] == pytest.approx(ref["cor"], abs=1e-12)
    assert got.loc["ens", "fit_cpu_seconds"] == pytest.approx(
        got.loc["glm", "fit_cpu_seconds"] + got.loc["gam", "fit_cpu_seconds"]
    )
    assert (got["task_cpu_seconds"] > 0).all()


def test_run_task_gives_coordinates_to_tuned_models_and_records_failures():
    task = _task()
    tuned = lambda: SpatialTuner(GLM(), {"quadratic": [False, True]}, n_splits=3)  # noqa: E731
    few = _task()
    few.train_po = few.train_po.iloc[:3]  # MaxEnt needs 5 presences
    rows = pd.DataFrame(_run_task(task, {"tuned": tuned}, {}, ("x", "y")))
    assert rows.loc[0, "best_params"] == "{'quadratic': True}"
    assert rows.loc[0, "auc"] > 0.8
    rows = pd.DataFrame(
        _run_task(few, {"maxent": MaxentModel, "glm": GLM}, {"ens": ["maxent", "glm"]}, ("x", "y"))
    ).set_index("model")
    assert np.isnan(rows.loc["maxent", "auc"]) and "at least 5" in rows.loc["maxent", "error"]
    assert np.isnan(rows.loc["ens", "auc"]) and "maxent" in rows.loc["ens", "error"]
    assert np.isfinite(rows.loc["glm", "auc"])
    # summaries average over fitted species, and over the species every model fitted
    table = pd.concat(
        [
            pd.DataFrame(_run_task(task, {"maxent": MaxentModel, "glm": GLM}, {}, ("x", "y"))),
            pd.DataFrame(
                _run_task(few, {"maxent": MaxentModel, "glm": GLM}, {}, ("x", "y"))
            ).assign(species="sp2"),
        ]
    )
    summary = summarize(table)["tracks"]["random"]
    glm = summary["models"]["glm"]
    assert summary["n_species_common"] == 1
    assert glm["n_species"] == 2 and glm["n_failed"] == 0
    assert summary["models"]["maxent"]["failed"] == ["sp2"]
    assert glm["auc_mean_common"] == pytest.approx(
        round(table[(table.model == "glm") & (table.species == "sp1")]["auc"].iloc[0], 4)
    )


def test_evaluate_po_pa_passes_coords_only_to_models_that_take_them():
    task = _task()
    tuner = SpatialTuner(GLM(), {"quadratic": [False, True]}, n_splits=3)
    res = evaluate_po_pa(
        tuner, task.train_po, task.background, task.test, features=task.features, coords=("x", "y")
    )
    assert tuner.best_params_ == {"quadratic": True} and res["fit_cpu_seconds"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain model ignores coords silently
        evaluate_po_pa(
            GLM(),
            task.train_po,
            task.background,
            task.test,
            features=task.features,
            coords=("x", "y"),
        )
    # an Ensemble forwards coords to its tuned members
    ens = Ensemble(
        [
            ("tuned", SpatialTuner(GLM(), {"quadratic": [False, True]}, n_splits=3)),
            ("gam", SplineGAM()),
        ]
    )
    evaluate_po_pa(
        ens, task.train_po, task.background, task.test, features=task.features, coords=("x", "y")
    )
    assert ens.estimators_["tuned"].best_params_ == {"quadratic": True}
    auc = roc_auc_score(task.test["occ"], ens.predict_proba(task.test[task.features])[:, 1])
    assert auc > 0.8
