"""Tests for sdmkit.sdm.neural (multi-species neural SDM, SINR losses, top-K calibration)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from scipy.stats import spearmanr  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from sdmkit._validation import ValidationError, ValidationWarning  # noqa: E402
from sdmkit.datasets.simulate import environment_grid, virtual_species  # noqa: E402
from sdmkit.sdm.metrics import f1_at_k_samples  # noqa: E402
from sdmkit.sdm.neural import (  # noqa: E402
    WAIVED_SKLEARN_CHECKS,
    MultiSpeciesSDM,
    an_full_loss,
    an_slds_loss,
    an_ssdl_loss,
    bernoulli_entropy,
    pa_bce_loss,
    random_lonlat,
)

EPS = 1e-5
SMALL = dict(hidden=32, n_blocks=1, device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _logit(p):
    return math.log(p / (1 - p))


def _nl(p):  # SINR's -log(p + 1e-5)
    return -math.log(p + EPS)


def _h(p):  # Bernoulli entropy with SINR's eps
    return p * _nl(p) + (1 - p) * _nl(1 - p)


# --------------------------------------------------------------------------- losses


P = [[0.8, 0.3, 0.1], [0.2, 0.6, 0.9]]  # probabilities at the 2 presence locations
Q = [[0.1, 0.5, 0.2], [0.4, 0.05, 0.3]]  # probabilities at 2 random locations
SPECIES = [0, 2]


def _t(rows):
    return torch.tensor([[_logit(p) for p in r] for r in rows], dtype=torch.float64)


def test_an_full_matches_hand_computation():
    got = an_full_loss(_t(P), _t(Q), torch.tensor(SPECIES), pos_weight=4.0)
    row0 = (4 * _nl(0.8) + _nl(1 - 0.3) + _nl(1 - 0.1)) / 3
    row1 = (_nl(1 - 0.2) + _nl(1 - 0.6) + 4 * _nl(0.9)) / 3
    rand = sum(_nl(1 - q) for r in Q for q in r) / 6
    assert float(got) == pytest.approx((row0 + row1) / 2 + rand, rel=1e-12)


def test_an_full_me_matches_hand_computation():
    got = an_full_loss(_t(P), _t(Q), torch.tensor(SPECIES), pos_weight=4.0, max_entropy=True)
    row0 = (4 * _nl(0.8) - _h(0.3) - _h(0.1)) / 3
    row1 = (-_h(0.2) - _h(0.6) + 4 * _nl(0.9)) / 3
    rand = -sum(_h(q) for r in Q for q in r) / 6
    assert float(got) == pytest.approx((row0 + row1) / 2 + rand, rel=1e-12)


def test_ssdl_slds_bce_match_hand_computation():
    obs, other = torch.tensor([_logit(0.8), _logit(0.9)]), torch.tensor([_logit(0.3), _logit(0.5)])
    ssdl = (_nl(0.8) + _nl(0.9)) / 2 + (_nl(0.7) + _nl(0.5)) / 2
    assert float(an_ssdl_loss(obs, other)) == pytest.approx(ssdl, rel=1e-6)
    assert float(an_slds_loss(obs, other)) == pytest.approx(ssdl, rel=1e-6)  # same formula
    me = (_nl(0.8) + _nl(0.9)) / 2 - (_h(0.3) + _h(0.5)) / 2
    assert float(an_slds_loss(obs, other, max_entropy=True)) == pytest.approx(me, rel=1e-6)
    w = torch.tensor([2.0, 0.0])  # weights act per record on both terms
    assert float(an_ssdl_loss(obs, other, weight=w)) == pytest.approx(_nl(0.8) + _nl(0.7), rel=1e-6)
    bce = (-math.log(0.8) - math.log(1 - 0.3) - math.log(1 - 0.1)) / 3
    got = pa_bce_loss(_t(P[:1]), torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))
    assert float(got) == pytest.approx(bce, rel=1e-9)
    assert float(bernoulli_entropy(torch.tensor(0.5))) == pytest.approx(math.log(2), abs=1e-4)


def test_random_lonlat_is_uniform_by_area():
    pts = random_lonlat(200_000, 0)
    assert pts.shape == (200_000, 2)
    # a quarter of the sphere's area lies north of 30°N (sin 30° = 0.5)
    assert np.mean(pts[:, 1] > 30) == pytest.approx(0.25, abs=0.005)
    box = random_lonlat(1000, 1, bounds=(-10, 35, 30, 70))
    assert box[:, 0].min() >= -10 and box[:, 0].max() <= 30
    assert box[:, 1].min() >= 35 and box[:, 1].max() <= 70
    with pytest.raises(ValueError, match="west < east"):
        random_lonlat(3, 0, bounds=(10, 0, -10, 5))


# --------------------------------------------------------------------------- presence-only


@pytest.fixture(scope="module")
def virtual_community():
    """4 virtual species on a simulated grid, unbiased presence-only records."""
    env = environment_grid((36, 28), random_state=1)
    values = env.to_numpy()
    cells = values.reshape(3, -1).T
    valid = np.isfinite(cells).all(1)
    X, y, truth = [], [], []
    for i in range(4):
        vs = virtual_species(
            env,
            prevalence=0.2,
            n_presence_absence=5,
            n_presence_only=150,
            bias_strength=0.0,
            random_state=10 + i,
        )
        r, c = vs.presence_only["row"].to_numpy(), vs.presence_only["col"].to_numpy()
        X.append(values[:, r, c].T)
        y += [f"sp{i}"] * len(r)
        truth.append(vs.probability.to_numpy().ravel()[valid])
    return np.vstack(X), np.array(y), cells[valid], np.column_stack(truth)


@pytest.mark.parametrize("loss", ["an_full", "an_ssdl"])
def test_presence_only_ranks_true_probability(virtual_community, loss):
    X, y, cells, truth = virtual_community
    m = MultiSpeciesSDM(
        loss=loss, pos_weight=4.0, epochs=25, batch_size=128, lr=2e-3, random_state=0, **SMALL
    )
    m.fit(X, y, background=cells)
    assert m.classes_.tolist() == ["sp0", "sp1", "sp2", "sp3"]
    proba = m.predict_proba(cells)
    assert proba.shape == (len(cells), 4) and np.all((proba > 0) & (proba < 1))
    rho = [spearmanr(proba[:, j], truth[:, j]).statistic for j in range(4)]
    assert min(rho) > 0.5, rho
    assert len(m.loss_curve_) == 25 and m.loss_curve_[-1] < m.loss_curve_[0]


def test_random_features_callable_and_determinism(virtual_community):
    X, y, cells, _ = virtual_community
    calls = []

    def random_features(n, rng):
        calls.append(n)
        return cells[rng.integers(0, len(cells), n)]

    kw = dict(loss="an_full_me", epochs=2, batch_size=256, random_features=random_features, **SMALL)
    a = MultiSpeciesSDM(random_state=3, **kw).fit(X, y)
    b = MultiSpeciesSDM(random_state=3, **kw).fit(X, y)
    c = MultiSpeciesSDM(random_state=4, **kw).fit(X, y)
    assert calls and set(calls) <= {256, len(y) % 256}
    np.testing.assert_array_equal(a.predict_proba(cells[:50]), b.predict_proba(cells[:50]))
    assert not np.array_equal(a.predict_proba(cells[:50]), c.predict_proba(cells[:50]))
    # the global torch RNG is left alone
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    MultiSpeciesSDM(random_state=3, **kw).fit(X, y)
    assert torch.rand(1) == before


def test_auto_loss_and_slds_without_random_locations(virtual_community):
    X, y, cells, _ = virtual_community
    m = MultiSpeciesSDM(epochs=1, **SMALL).fit(X, y)
    assert m.loss_ == "an_slds"
    assert MultiSpeciesSDM(epochs=1, **SMALL).fit(X, y, background=cells).loss_ == "an_full"
    assert set(m.predict(cells[:5])) <= set(m.classes_)
    assert m.predict_topk(cells[:5], k=2).shape == (5, 2)
    with pytest.raises(ValidationError, match="random_features=callable"):
        MultiSpeciesSDM(loss="an_ssdl", epochs=1, **SMALL).fit(X, y)


def test_subsampling_cap_per_species():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], [50, 8])
    X = rng.normal(size=(58, 3))
    m = MultiSpeciesSDM(loss="an_slds", max_records_per_species=10, epochs=1, **SMALL)
    m.fit(X, y)
    assert m.n_records_.to_dict() == {"a": 50, "b": 8}  # counts before the cap


def test_rare_species_warn_and_drop_or_raise():
    rng = np.random.default_rng(0)
    y = np.array(["common"] * 30 + ["other"] * 20 + ["rare1"] * 2 + ["rare2"] * 4)
    X = rng.normal(size=(len(y), 3))
    with pytest.warns(ValidationWarning, match=r"2 of 4 species have fewer than min_records=5"):
        m = MultiSpeciesSDM(loss="an_slds", epochs=1, **SMALL).fit(X, y)
    assert m.classes_.tolist() == ["common", "other"]
    assert m.dropped_species_ == ["rare1", "rare2"]
    with pytest.raises(ValidationError, match="'rare1': 2, 'rare2': 4"):
        MultiSpeciesSDM(loss="an_slds", on_rare="raise", epochs=1, **SMALL).fit(X, y)
    with pytest.raises(ValidationError, match="only one class"):
        with pytest.warns(ValidationWarning):
            keep = np.r_[0:30, 50:52]  # "common" and "rare1" only
            MultiSpeciesSDM(loss="an_slds", epochs=1, **SMALL).fit(X[keep], y[keep])


def test_bad_inputs_have_clear_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = np.repeat(["a", "b"], 10)
    Xn = X.copy()
    Xn[[3, 7], 1] = np.nan
    with pytest.raises(ValidationError, match=r"rows \[3, 7\]"):
        MultiSpeciesSDM(epochs=1, **SMALL).fit(Xn, y)
    frame = pd.DataFrame({"t": X[:, 0], "eco": pd.Categorical(["x", "y"] * 10)})
    with pytest.raises(ValidationError, match="get_dummies"):
        MultiSpeciesSDM(epochs=1, **SMALL).fit(frame, y)
    with pytest.raises(ValidationError, match="only 0/1"):
        MultiSpeciesSDM(epochs=1, **SMALL).fit(X, np.full((20, 3), 2))
    with pytest.raises(ValidationError, match="presence-only loss"):
        MultiSpeciesSDM(loss="an_full", epochs=1, **SMALL).fit(X, np.zeros((20, 3)))
    with pytest.raises(ValidationError, match="needs y as an"):
        MultiSpeciesSDM(loss="pa_bce", epochs=1, **SMALL).fit(X, y)
    with pytest.raises(ValidationError, match=r"background must be a non-empty \(m, 2\)"):
        MultiSpeciesSDM(loss="an_full", epochs=1, **SMALL).fit(X, y, background=np.ones((5, 3)))
    bad_rf = MultiSpeciesSDM(
        loss="an_full", epochs=1, random_features=lambda n, r: np.ones((n, 5)), **SMALL
    )
    with pytest.raises(ValidationError, match=r"returned shape \(20, 5\)"):
        bad_rf.fit(X, y)
    with pytest.warns(ValidationWarning, match="constant"):
        MultiSpeciesSDM(epochs=1, **SMALL).fit(np.column_stack([X, np.ones(20)]), y)
    with pytest.raises(ValueError, match="loss must be"):
        MultiSpeciesSDM(loss="focal", **SMALL).fit(X, y)


# --------------------------------------------------------------------------- presence–absence


@pytest.fixture(scope="module")
def multilabel():
    """40 species driven by 6 features; ~3 species present per site."""
    rng = np.random.default_rng(42)
    n, d, S = 1800, 6, 40
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, S)) * 1.4
    b = rng.uniform(-5.0, -2.0, S)
    prob = 1 / (1 + np.exp(-(X @ W + b)))
    Y = (rng.random((n, S)) < prob).astype(int)
    cols = [f"s{j}" for j in range(S)]
    frame = pd.DataFrame(Y, columns=cols)
    return X, frame, prob


def test_presence_absence_head_and_topk_calibration(multilabel):
    X, Y, prob = multilabel
    tr, va, te = slice(0, 1000), slice(1000, 1400), slice(1400, None)
    m = MultiSpeciesSDM(epochs=30, batch_size=128, lr=3e-3, random_state=0, **SMALL)
    m.fit(X[tr], Y.iloc[tr])
    assert m.loss_ == "pa_bce" and m.classes_.tolist() == list(Y.columns)
    p_te = m.predict_proba(X[te])
    r = spearmanr(p_te.ravel(), prob[te].ravel()).statistic
    assert r > 0.7, r

    top = m.predict_topk(X[te], k=25)
    assert top.shape == (400, 25) and top[0, 0] == Y.columns[np.argmax(p_te[0])]
    f1_fixed = f1_at_k_samples(Y.iloc[te].to_numpy(), p_te, k=25)

    m.calibrate_topk(X[va], Y.iloc[va])
    rule = m.decision_rule_
    assert rule["rule"] in ("top_k", "threshold")
    # the calibration table's top-K scores are the metrics module's F1@K
    p_va = m.predict_proba(X[va])
    for k in (1, 5, 25):
        row = m.calibration_.query("rule == 'top_k' and value == @k")
        assert row["f1"].item() == pytest.approx(f1_at_k_samples(Y.iloc[va].to_numpy(), p_va, k=k))
    # and the threshold scores are sklearn's samples-F1 (with at least the top species)
    t = 0.3
    pred = ((p_va >= t) | (p_va >= p_va.max(1, keepdims=True))).astype(int)
    row = m.calibration_.query("rule == 'threshold' and value == @t")
    assert row["f1"].item() == pytest.approx(f1_score(Y.iloc[va], pred, average="samples"))

    pred_te = m.predict(X[te])
    f1_cal = f1_score(Y.iloc[te].to_numpy(), pred_te, average="samples", zero_division=0)
    assert f1_cal > f1_fixed + 0.1, (f1_cal, f1_fixed, rule)

    only_k = MultiSpeciesSDM(**{**m.get_params()})
    only_k.__dict__.update({k: v for k, v in m.__dict__.items() if k.endswith("_")})
    only_k.calibrate_topk(X[va], Y.iloc[va], method="top_k", ks=[2, 3, 4, 25])
    assert only_k.decision_rule_["rule"] == "top_k" and only_k.decision_rule_["value"] in (2, 3, 4)
    assert (only_k.predict(X[te]).sum(1) == only_k.decision_rule_["value"]).all()


def test_calibration_counts_species_unknown_to_the_model(multilabel):
    X, Y, _ = multilabel
    m = MultiSpeciesSDM(epochs=2, batch_size=256, random_state=0, **SMALL).fit(X[:300], Y[:300])
    extra = Y.iloc[300:400].assign(new_species=1)  # present everywhere, never predicted
    base = m.calibrate_topk(X[300:400], Y.iloc[300:400], method="top_k", ks=[3]).decision_rule_
    more = m.calibrate_topk(X[300:400], extra, method="top_k", ks=[3]).decision_rule_
    assert more["f1"] < base["f1"]
    po = MultiSpeciesSDM(loss="an_slds", epochs=1, **SMALL)
    po.fit(X[:60], np.repeat(["a", "b", "c"], 20))
    with pytest.raises(ValidationError, match="presence-absence fit"):
        po.calibrate_topk(X[:10], Y.iloc[:10])


# --------------------------------------------------------------------------- scikit-learn


@parametrize_with_checks(
    [
        MultiSpeciesSDM(
            hidden=8,
            n_blocks=1,
            epochs=3,
            batch_size=64,
            min_records=1,
            device="cpu",
            random_state=0,
            progress=False,
        )
    ],
    expected_failed_checks=lambda est: WAIVED_SKLEARN_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
