"""Multi-species members (DeepMaxent) and ensemble rules in the disdat protocol harness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from sdmkit.sdm.benchmark import (
    SpeciesTask,
    _run_task,
    ensemble_score,
    fit_unit,
    make_unit,
)
from sdmkit.sdm.models import GLM


def test_ensemble_score_rules_by_hand():
    a, b = np.array([0.1, 0.9, 0.5, 0.3]), np.array([0.2, 0.2, 0.6, 0.8])
    np.testing.assert_allclose(ensemble_score([a, b], "prob"), (a + b) / 2)
    np.testing.assert_allclose(ensemble_score([a, b], "rank"), (rankdata(a) + rankdata(b)) / 8)
    za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    np.testing.assert_allclose(ensemble_score([a, b], "z"), (za + zb) / 2)
    # a constant member adds nothing to the z rule (instead of dividing by zero)
    np.testing.assert_allclose(ensemble_score([a, np.full(4, 0.5)], "z"), za / 2)
    # the rules differ: the probability mean keeps the members' spread, ranks do not
    assert not np.allclose(ensemble_score([a, b], "prob"), ensemble_score([a, b], "rank"))
    with pytest.raises(ValueError, match="rule must be one of"):
        ensemble_score([a, b], "median")
    with pytest.raises(ValueError, match="non-empty"):
        ensemble_score([], "prob")


def _records():
    po = pd.DataFrame(
        {
            "spid": ["a", "a", "b", "b", "c"],
            "x": [0.0, 0.0, 1.0, 2.0, 3.0],  # two records of a at one place
            "y": [0.0, 0.0, 1.0, 2.0, 3.0],
            "t": [0.5, 0.5, 1.0, 2.0, 3.0],
        }
    )
    bg = pd.DataFrame({"x": [5.0, 6.0, 7.0], "y": [5.0, 6.0, 7.0], "t": [-1.0, 0.0, 1.5]})
    return po, bg


def test_random_track_domain_is_background_plus_own_presences():
    po, bg = _records()
    tests = {s: pd.DataFrame({"t": [0.0, 1.0]}) for s in "abc"}
    u = make_unit("R", "random", None, ["a", "b", "c"], ["t"], po, bg, tests)
    assert u.counts.shape == (3 + 4, 3)  # 3 background points + 4 distinct record sites
    np.testing.assert_array_equal(u.counts[:3], 0)
    np.testing.assert_array_equal(u.counts.sum(0), [2, 2, 1])  # records pooled per site
    assert u.domain[:3].all()  # background: every species' domain
    # record sites: only the species' own (no other species' presences in its domain)
    np.testing.assert_array_equal(u.domain[3:], u.counts[3:] > 0)
    assert u.domain[3:].sum() == 4
    assert list(u.X.columns) == ["t"] and set(u.X_tests) == set("abc")


def test_target_group_unit_uses_every_record_site():
    po, _ = _records()
    u = make_unit("R", "target_group", "g", ["a", "b", "c"], ["t"], po, None, {})
    assert u.domain is None and u.counts.shape == (4, 3)


def test_categorical_covariate_is_one_hot_over_sites_and_tests():
    po, bg = _records()
    po = po.assign(v=pd.Categorical(["k", "k", "m", "m", "k"]))
    bg = bg.assign(v=pd.Categorical(["k", "m", "k"]))
    tests = {"a": pd.DataFrame({"t": [0.0], "v": pd.Categorical(["n"])})}
    u = make_unit("R", "random", None, ["a", "b", "c"], ["t", "v"], po, bg, tests)
    assert list(u.X.columns) == ["t", "v_k", "v_m", "v_n"]
    assert u.X_tests["a"].loc[0, "v_n"] == 1.0 and u.X["v_n"].sum() == 0


def test_fit_unit_deepmaxent_predicts_each_species_at_its_sites():
    pytest.importorskip("torch")
    from sdmkit.sdm.neural import DeepMaxent

    rng = np.random.default_rng(0)
    bg = pd.DataFrame({"x": rng.uniform(size=300), "y": rng.uniform(size=300)})
    bg["t"] = rng.normal(size=300)
    recs = []
    for sp, sign in (("hot", 1.0), ("cold", -1.0)):
        w = np.exp(2 * sign * bg["t"].to_numpy())
        idx = rng.choice(300, 40, p=w / w.sum())
        recs.append(bg.iloc[idx].assign(spid=sp))
    po = pd.concat(recs, ignore_index=True)
    tests = {
        "hot": pd.DataFrame({"t": [2.0, -2.0]}),
        "cold": pd.DataFrame({"t": [2.0, -2.0, 0.0]}),
    }
    u = make_unit("R", "random", None, ["hot", "cold"], ["t"], po, bg, tests)
    factory = lambda: DeepMaxent(  # noqa: E731
        hidden=16, batch_size=None, epochs=60, lr=1e-2, random_state=0, device="cpu", progress=False
    )
    scores, wall, cpu = fit_unit(u, factory)
    assert scores["hot"].shape == (2,) and scores["cold"].shape == (3,)
    assert scores["hot"][0] > scores["hot"][1] and scores["cold"][1] > scores["cold"][0]
    assert wall > 0 and cpu > 0


def _task():
    rng = np.random.default_rng(1)
    t = rng.normal(size=900)
    frame = pd.DataFrame({"t": t, "x": rng.uniform(size=900), "y": rng.uniform(size=900)})
    pres = frame[t > 0.8]
    test = frame.iloc[600:].assign(occ=(frame["t"].iloc[600:] > 0.5).astype(int))
    return SpeciesTask("SIM", "sp1", "g", "random", ["t"], pres.iloc[:60], frame.iloc[:500], test)


def test_precomputed_member_is_scored_and_enters_ensembles():
    task = _task()
    y = task.test["occ"].to_numpy()
    dm = task.test["t"].to_numpy() ** 3  # a multi-species model's test prediction
    ens = {
        "rank_mean": ["glm", "deepmaxent"],
        "prob_mean": {"members": ["glm", "deepmaxent"], "rule": "prob"},
        "per_track": {
            "by_track": {
                "random": {"members": ["glm", "deepmaxent"], "rule": "z"},
                "target_group": {"members": ["glm"], "rule": "rank"},
            }
        },
    }
    rows = _run_task(task, {"glm": GLM}, ens, None, {"deepmaxent": (dm, 2.0, 1.5)})
    got = pd.DataFrame(rows).set_index("model")
    assert got.loc["deepmaxent", "auc"] == pytest.approx(roc_auc_score(y, dm))
    assert got.loc["deepmaxent", "fit_cpu_seconds"] == 1.5
    glm = GLM().fit(
        pd.concat([task.train_po[["t"]], task.background[["t"]]]),
        np.r_[np.ones(len(task.train_po)), np.zeros(len(task.background))],
    )
    g = glm.predict_proba(task.test[["t"]])[:, 1]
    for name, rule in (("rank_mean", "rank"), ("prob_mean", "prob"), ("per_track", "z")):
        q = ensemble_score([g, dm], rule)
        assert got.loc[name, "auc"] == pytest.approx(roc_auc_score(y, q), abs=1e-9), name
    assert got.loc["prob_mean", "fit_cpu_seconds"] == pytest.approx(
        got.loc["glm", "fit_cpu_seconds"] + 1.5
    )
    # the multi-species fit time counts in the species task's CPU time
    assert (got["task_cpu_seconds"] >= 1.5).all()
    # a failed multi-species fit is recorded, and its ensembles are not scored
    rows = _run_task(task, {"glm": GLM}, ens, None, {"deepmaxent": "deepmaxent: no records"})
    got = pd.DataFrame(rows).set_index("model")
    assert np.isnan(got.loc["deepmaxent", "auc"]) and "no records" in got.loc["deepmaxent", "error"]
    assert np.isnan(got.loc["prob_mean", "auc"])
