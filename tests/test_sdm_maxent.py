"""MaxEnt features and model: hand examples, synthetic recovery, bad input, parity with elapid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sdmkit import ValidationError, ValidationWarning
from sdmkit.sdm.features import MaxentFeatures, auto_feature_classes
from sdmkit.sdm.maxent import MaxentModel, _objective, maxnet_regularization


def _simulate(n_bg=3000, n_pres=300, seed=0):
    """Background uniform on [-1, 1]^2; presences drawn with intensity exp(2 x0 - 3 x1^2)."""
    rng = np.random.default_rng(seed)
    bg = rng.uniform(-1, 1, size=(n_bg, 2))
    pool = rng.uniform(-1, 1, size=(40 * n_pres, 2))
    log_int = 2 * pool[:, 0] - 3 * pool[:, 1] ** 2
    keep = rng.uniform(size=len(pool)) < np.exp(log_int - log_int.max())
    pres = pool[keep][:n_pres]
    assert len(pres) == n_pres
    X = np.vstack([pres, bg])
    y = np.r_[np.ones(n_pres), np.zeros(n_bg)].astype(int)
    return X, y


@pytest.fixture(scope="module")
def simulated():
    return _simulate()


@pytest.fixture(scope="module")
def fitted(simulated):
    X, y = simulated
    return MaxentModel(feature_classes="lqh", add_presences_to_background=False).fit(X, y)


# ------------------------------------------------------------------ features


def test_auto_rule_is_maxnets():
    assert [auto_feature_classes(n) for n in (1, 9, 10, 14, 15, 79, 80, 500)] == (
        ["l", "l", "lq", "lq", "lqh", "lqh", "lqpht", "lqpht"]
    )
    X = np.random.default_rng(0).normal(size=(200, 2))
    y = np.r_[np.ones(12), np.zeros(188)]
    assert MaxentFeatures().fit(X, y).feature_classes_ == "lq"


def test_hinge_values_by_hand():
    X = np.linspace(0, 10, 21).reshape(-1, 1)  # knots at 0, 5, 10
    f = MaxentFeatures(feature_classes="lh", n_hinge=3).fit(X)
    assert f.feature_names_.tolist() == [
        "x0",
        "hinge(x0)>0",
        "hinge(x0)>5",
        "hinge(x0)<5",
        "hinge(x0)<10",
    ]
    got = f.transform([[0.0], [2.5], [7.5], [10.0]])
    want = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.25, 0.25, 0.0, 0.5, 0.25],
        [0.75, 0.75, 0.5, 1.0, 0.75],
        [1.0, 1.0, 1.0, 1.0, 1.0],
    ]
    np.testing.assert_allclose(got, want)


def test_threshold_values_and_clamping():
    X = np.linspace(0, 8, 9).reshape(-1, 1)  # 3 interior knots: 2, 4, 6
    f = MaxentFeatures(feature_classes="lqt", n_threshold=3).fit(X)
    assert f.feature_names_.tolist() == [
        "x0",
        "x0^2",
        "threshold(x0)>=2",
        "threshold(x0)>=4",
        "threshold(x0)>=6",
    ]
    np.testing.assert_allclose(f.transform([[4.0]]), [[0.5, 0.25, 1, 1, 0]])
    # outside the training range: clamped to it, or extrapolated without clamp
    np.testing.assert_allclose(f.transform([[-8.0], [16.0]]), [[0, 0, 0, 0, 0], [1, 1, 1, 1, 1]])
    f.set_params(clamp=False)
    np.testing.assert_allclose(f.transform([[16.0]]), [[2.0, 4.0, 1, 1, 1]])


def test_product_and_counts():
    X = np.random.default_rng(1).uniform(size=(50, 4))
    f = MaxentFeatures(feature_classes="lqpht", n_hinge=5, n_threshold=7).fit(X)
    kinds = pd.Series(f.feature_kinds_).value_counts().to_dict()
    assert kinds == {"linear": 4, "quadratic": 4, "product": 6, "hinge": 32, "threshold": 28}
    F = f.transform(X)
    u = (X - X.min(0)) / (X.max(0) - X.min(0))
    np.testing.assert_allclose(F[:, f.feature_names_.tolist().index("x1:x3")], u[:, 1] * u[:, 3])
    assert F.min() >= 0 and F.max() <= 1


def test_categorical_one_hot_and_unseen_levels():
    df = pd.DataFrame(
        {
            "t": np.linspace(0, 1, 6),
            "soil": pd.Categorical(["a", "b", "a", "c", "b", "a"], categories=["a", "b", "c", "d"]),
        }
    )
    f = MaxentFeatures(feature_classes="l").fit(df)
    assert f.feature_names_.tolist() == ["t", "soil=a", "soil=b", "soil=c", "soil=d"]
    new = pd.DataFrame({"t": [0.5, 0.5, 0.5], "soil": pd.Categorical(["b", "z", "z"])})
    with pytest.warns(ValidationWarning, match="2 of 3 rows have categorical levels not seen"):
        F = f.transform(new)
    np.testing.assert_allclose(F[:, 1:], [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    # arrays: categorical columns by index
    arr = np.c_[np.linspace(0, 1, 6), [3, 1, 3, 2, 1, 3]]
    fa = MaxentFeatures(feature_classes="l", categorical=[1]).fit(arr)
    assert fa.feature_names_.tolist() == ["x0", "x1=1.0", "x1=2.0", "x1=3.0"]


@pytest.mark.parametrize("clamp", [True, False])
def test_selected_columns_equal_full_transform(clamp):
    """Prediction computes only the features it needs; they must equal transform()'s."""
    rng = np.random.default_rng(4)
    df = pd.DataFrame(
        {
            "a": rng.uniform(size=80),
            "b": rng.normal(size=80),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], size=80)),
        }
    )
    f = MaxentFeatures(feature_classes="lqpht", n_hinge=6, n_threshold=4, clamp=clamp).fit(df)
    new = df.assign(a=rng.uniform(-0.5, 1.5, size=80))  # partly outside the training range
    full = f.transform(new)
    cont, cats = f._split(new, reset=False)
    u, codes = f._prepare(cont, cats, clamp)
    idx = rng.permutation(full.shape[1])[:40]
    np.testing.assert_allclose(f._columns(u, codes, idx, clamp), full[:, idx])
    coef = np.where(rng.uniform(size=full.shape[1]) < 0.2, rng.normal(size=full.shape[1]), 0)
    np.testing.assert_allclose(f._dot(new, coef), full @ coef)


def test_feature_errors():
    X = np.c_[np.linspace(0, 1, 10), np.full(10, 3.0)]
    with pytest.raises(ValidationError, match=r"constant on the training data.*Drop them"):
        MaxentFeatures().fit(X)
    df = pd.DataFrame({"a": np.linspace(0, 1, 10), "b": np.nan})
    with pytest.raises(ValidationError, match=r"\['b'\] are missing on every row"):
        MaxentFeatures().fit(df)
    f = MaxentFeatures(feature_classes="l").fit(pd.DataFrame({"a": [0.0, 1.0, 2.0]}))
    with pytest.raises(ValidationError, match=r"missing or infinite values .* on 1 of 2 rows"):
        f.transform(pd.DataFrame({"a": [0.5, np.nan]}))
    with pytest.raises(ValueError, match="feature_classes"):
        MaxentFeatures(feature_classes="lx").fit(X[:, :1])


# ------------------------------------------------------------ regularization


def test_maxnet_regularization_by_hand():
    # 6 presences, 4 background rows; one linear, one hinge, one flat threshold feature
    rng = np.random.default_rng(0)
    F = np.c_[rng.uniform(size=10), rng.uniform(size=10), np.r_[np.ones(6), 0, 0, 1, 0]]
    pres = np.r_[np.ones(6), np.zeros(4)].astype(bool)
    reg = maxnet_regularization(F, ["linear", "hinge", "threshold"], pres)
    sd = F[pres].std(axis=0, ddof=1)
    lin = max(0.001 * np.ptp(F[:, 0]), sd[0] * 1.0 / np.sqrt(6))  # linear table: 1 below 10
    hinge = max(0.5 * max(sd[1], 1 / np.sqrt(6)) / np.sqrt(6), sd[1] * 0.5 / np.sqrt(6))
    np.testing.assert_allclose(reg, [lin, hinge, 1.0])  # threshold all 1 on presences -> 1
    # product features switch linear features to the product table (2.6 at 0 presences)
    reg_p = maxnet_regularization(F[:, :2], ["linear", "product"], pres)
    table = np.interp(6, [0, 10], [2.6, 1.6])
    np.testing.assert_allclose(reg_p, sd[:2] * table / np.sqrt(6))
    assert (maxnet_regularization(F, ["linear"] * 3, pres, beta_multiplier=2.0) > reg[0]).any()


def test_more_beta_more_regularization(simulated):
    X, y = simulated
    l1, nnz = [], []
    for beta in (0.25, 1.0, 4.0):
        m = MaxentModel(feature_classes="lqh", beta_multiplier=beta).fit(X, y)
        l1.append(np.abs(m.coef_).sum())
        nnz.append(int((m.coef_ != 0).sum()))
    assert l1[0] > l1[1] > l1[2]
    assert nnz[0] >= nnz[1] >= nnz[2]


def test_optimality_conditions(fitted, simulated):
    """The solution satisfies the KKT conditions of maxnet's penalised logistic loss."""
    X, y = simulated
    m = fitted
    F = m.features_.transform(X)
    w = np.where(y == 1, 1.0, 100.0)
    lam = m.n_presence_ * m.regularization_
    r = w * (expit(F @ m.coef_ + m.intercept_) - y)
    G = F.T @ r
    nz = m.coef_ != 0
    tol = 1e-5 * m.n_presence_
    assert abs(r.sum()) < tol
    np.testing.assert_allclose(G[nz], -lam[nz] * np.sign(m.coef_[nz]), atol=tol)
    assert (np.abs(G[~nz]) <= lam[~nz] + tol).all()
    # and no small perturbation lowers the objective
    f0 = _objective(F @ m.coef_ + m.intercept_, y, w, lam, m.coef_)
    rng = np.random.default_rng(0)
    for _ in range(5):
        c = m.coef_ + 1e-3 * rng.standard_normal(len(m.coef_)) * nz
        assert _objective(F @ c + m.intercept_, y, w, lam, c) >= f0 - 1e-9


# ------------------------------------------------------------------- model


def test_recovers_linear_and_quadratic_shape(fitted):
    m = fitted
    Xt, yt = _simulate(seed=1)
    assert roc_auc_score(yt, m.predict_proba(Xt)[:, 1]) > 0.75
    grid = np.random.default_rng(2).uniform(-1, 1, size=(2000, 2))
    truth = 2 * grid[:, 0] - 3 * grid[:, 1] ** 2
    assert np.corrcoef(m.predict_link(grid), truth)[0, 1] > 0.95
    # response curves: increasing in x0, peaked at x1 = 0
    x0 = np.linspace(-0.9, 0.9, 7)
    link0 = m.predict_link(np.c_[x0, np.zeros(7)])
    assert (np.diff(link0) > 0).all()
    link1 = m.predict_link(np.c_[np.zeros(7), x0])
    assert link1.argmax() == 3 and link1[3] - link1[0] > 1.5


def test_outputs(fitted, simulated):
    X, y = simulated
    m = fitted
    bg = X[y == 0]
    raw = m.predict_raw(bg)
    np.testing.assert_allclose(raw.sum(), 1.0)
    np.testing.assert_allclose(-(raw * np.log(raw)).sum(), m.entropy_)
    p = m.predict_proba(X)
    assert ((p[:, 1] > 0) & (p[:, 1] < 1)).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    link = m.predict_link(X)
    np.testing.assert_allclose(p[:, 1], 1 - np.exp(-np.exp(m.entropy_ + link)))
    d = m.decision_function(X)
    assert ((d > 0) == (m.predict(X) == 1)).all()
    assert np.corrcoef(np.argsort(np.argsort(d)), np.argsort(np.argsort(link)))[0, 1] > 0.9999
    logistic = MaxentModel(feature_classes="lqh", output="logistic")
    logistic.fit(X, y, sample_weight=None)
    np.testing.assert_allclose(
        logistic.predict_proba(X)[:, 1], expit(logistic.entropy_ + logistic.predict_link(X))
    )
    np.testing.assert_allclose(
        logistic.decision_function(X), logistic.entropy_ + logistic.predict_link(X)
    )


def test_presences_added_to_background(simulated):
    X, y = simulated
    m = MaxentModel(feature_classes="lq").fit(X, y)  # add_presences_to_background=True
    np.testing.assert_allclose(m.predict_raw(X).sum(), 1.0)  # presences joined the background
    # a presence equal to a background row is not added twice
    X2 = np.vstack([X, X[:5]])
    y2 = np.r_[y, np.zeros(5, int)]
    m2 = MaxentModel(feature_classes="lq").fit(X2, y2)
    np.testing.assert_allclose(m2.predict_raw(X2[5:]).sum(), 1.0)


def test_deterministic(simulated):
    X, y = simulated
    a = MaxentModel(feature_classes="lqpht").fit(X, y)
    b = MaxentModel(feature_classes="lqpht").fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.entropy_ == b.entropy_


def test_dataframe_with_categorical_and_unseen_level():
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(
        {
            "t": rng.uniform(size=n),
            "soil": pd.Categorical(rng.choice(["a", "b", "c"], size=n)),
        }
    )
    y = ((df["soil"] == "a").to_numpy() & (rng.uniform(size=n) < 0.5)).astype(int)
    m = MaxentModel().fit(df, y)
    assert m.features_.feature_classes_ == "lqpht"
    coef = dict(zip(m.feature_names_, m.coef_))
    assert coef["soil=a"] > coef["soil=b"]
    new = pd.DataFrame({"t": [0.5, 0.5], "soil": pd.Categorical(["a", "peat"])})
    with pytest.warns(ValidationWarning, match="1 of 2 rows"):
        p = m.predict_proba(new)[:, 1]
    assert p[0] > p[1]


def test_bad_input():
    X, y = _simulate(n_bg=200, n_pres=20)
    with pytest.raises(ValidationError, match="at least 5 presence records.*got 4"):
        MaxentModel().fit(X[16:], y[16:])
    with pytest.raises(ValueError, match="two classes"):
        MaxentModel().fit(X, np.zeros(len(y)))
    Xc = np.c_[X, np.ones(len(X))]
    with pytest.raises(ValidationError, match=r"Covariates \[2\] are constant"):
        MaxentModel().fit(Xc, y)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValidationError, match=r"missing or infinite values in columns \[1\]"):
        MaxentModel().fit(Xn, y)
    with pytest.raises(ValueError, match="output must be one of"):
        MaxentModel(output="raw").fit(X, y)
    with pytest.raises(ValueError, match="regularization must return"):
        MaxentModel(regularization=lambda F, k, p, w: np.ones(3)).fit(X, y)


def test_custom_regularization(simulated):
    X, y = simulated

    def tiny(F, kinds, presence, w):
        return np.full(F.shape[1], 1e-4)

    loose = MaxentModel(feature_classes="lqh", regularization=tiny).fit(X, y)
    default = MaxentModel(feature_classes="lqh").fit(X, y)
    np.testing.assert_allclose(loose.regularization_, 1e-4)
    assert (loose.coef_ != 0).sum() > (default.coef_ != 0).sum()


@parametrize_with_checks([MaxentModel(), MaxentFeatures()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# --------------------------------------------------------------- real data


@pytest.mark.data("maxnet_bradypus")
def test_bradypus_parity_with_elapid():
    from sdmkit.datasets import load_maxnet_bradypus

    table = load_maxnet_bradypus()
    y = table.pop("presence").to_numpy()
    m = MaxentModel().fit(table, y)
    assert m.features_.feature_classes_ == "lqpht"  # 116 presences
    assert roc_auc_score(y, m.predict_proba(table)[:, 1]) > 0.93

    elapid = pytest.importorskip("elapid", reason="elapid (a [dev] dependency) is not installed")
    # elapid without glmnet (no wheels) fits an L1 logistic regression with one
    # penalty 1 / C, C = 2 / (1 - exp(-beta)), for all features: match it
    beta = 1.5
    C = 2 / (1 - np.exp(-beta))

    def elapid_penalty(F, kinds, presence, w):
        return np.full(F.shape[1], 1 / (C * w[presence].sum()))

    settings = dict(feature_classes="lhp", n_hinge=10, add_presences_to_background=False)
    e = elapid.MaxentModel(feature_types="lhp", n_hinge_features=10, beta_multiplier=beta)
    e.fit(table.copy(), y)
    pe = e.predict(table.copy())
    matched = MaxentModel(regularization=elapid_penalty, **settings).fit(table, y)
    assert np.corrcoef(pe, matched.predict_proba(table)[:, 1])[0, 1] >= 0.95
    # same nominal settings, each its own regularisation (maxnet's here)
    e = elapid.MaxentModel(feature_types="lqh", n_hinge_features=10, beta_multiplier=1.0)
    pe = e.fit(table.copy(), y).predict(table.copy())
    own = MaxentModel(feature_classes="lqh", n_hinge=10, add_presences_to_background=False)
    assert np.corrcoef(pe, own.fit(table, y).predict_proba(table)[:, 1])[0, 1] >= 0.95
