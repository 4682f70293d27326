"""SDM metrics: hand-computed values on tiny arrays, agreement with scikit-learn, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from sdmkit import ValidationError, ValidationWarning
from sdmkit.sdm.metrics import (
    boyce_index,
    calibration_curve,
    cor,
    evaluate,
    f1_at_k_samples,
    max_tss,
    micro_f1,
    omission_rate,
    pr_auc,
    roc_auc,
    tss,
)

Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])


# ----------------------------------------------------------------- hand-computed values


def test_auc_by_hand_including_ties():
    # pairs (pres, abs): (.35,.1)=1 (.35,.4)=0 (.8,.1)=1 (.8,.4)=1 -> 3/4
    assert roc_auc(Y, S) == 0.75
    # a tie between a presence and an absence counts one half: (1, .5, 1, 1) -> 3.5/4
    assert roc_auc(Y, [0.1, 0.35, 0.35, 0.8]) == 0.875
    assert roc_auc(Y, [1.0, 1.0, 1.0, 1.0]) == 0.5


def test_pr_auc_by_hand():
    # ranking .8(1) .4(0) .35(1) .1(0): AP = 0.5*1 + 0.5*(2/3)
    assert pr_auc(Y, S) == pytest.approx(0.5 + 1 / 3)


def test_cor_is_point_biserial():
    # Pearson of (0,0,1,1) with S, computed from its definition
    y = Y.astype(float)
    expected = np.sum((y - y.mean()) * (S - S.mean())) / np.sqrt(
        np.sum((y - y.mean()) ** 2) * np.sum((S - S.mean()) ** 2)
    )
    assert cor(Y, S) == pytest.approx(expected)
    # point-biserial formula: (M1 - M0) / s_n * sqrt(p q)
    m1, m0, sn = S[Y == 1].mean(), S[Y == 0].mean(), S.std()
    assert cor(Y, S) == pytest.approx((m1 - m0) / sn * np.sqrt(0.5 * 0.5))
    with pytest.warns(ValidationWarning, match="constant"):
        assert np.isnan(cor(Y, [0.3] * 4))


def test_tss_and_max_tss_by_hand():
    assert tss(Y, S, 0.3) == 0.5  # sens 1, spec 0.5
    assert tss(Y, S, 0.5) == 0.5  # sens 0.5, spec 1
    assert tss(Y, S, 0.0) == 0.0  # everything present
    value, thr = max_tss(Y, S)
    assert (value, thr) == (0.5, 0.8)  # ties: the highest threshold
    assert tss(Y, S, thr) == value
    assert max_tss([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == (1.0, 0.3)


def test_omission_rates_follow_enmeval():
    train = np.arange(1, 21) / 20  # 0.05 … 1.0, n = 20
    test = np.array([0.01, 0.06, 0.12, 0.5, 0.9])
    assert omission_rate(test, train, "mtp") == 0.2  # only 0.01 < 0.05
    # p10: 18th highest of 20 (ceil(0.9 * 20)) = 0.15 -> 0.01, 0.06, 0.12 omitted
    rate, thr = omission_rate(test, train, "p10", return_threshold=True)
    assert thr == pytest.approx(0.15) and rate == pytest.approx(0.6)
    # n < 10: floor(0.9 * 5) = 4th highest
    assert omission_rate([0.1], [0.5, 0.4, 0.3, 0.2, 0.1], "p10", return_threshold=True)[1] == 0.2
    with pytest.raises(ValidationError, match="rule"):
        omission_rate(test, train, "p5")


def test_multi_species_f1_by_hand_and_vs_sklearn():
    y = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    s = np.array([[0.9, 0.1, 0.8, 0.0], [0.0, 0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]])
    # per sample: 2*1/(2+2), 2*1/(2+1), 0 (no true species)
    assert f1_at_k_samples(y, s, k=2) == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    # equals sklearn's samples-averaged F1 of the top-k indicator matrix (non-empty rows)
    top = np.zeros_like(y)
    np.put_along_axis(top, np.argsort(-s, axis=1)[:, :2], 1, axis=1)
    assert f1_at_k_samples(y[:2], s[:2], k=2) == pytest.approx(
        f1_score(y[:2], top[:2], average="samples")
    )
    # ties at the k-th place go to the lower column
    assert f1_at_k_samples([[1, 0, 0]], [[0.5, 0.5, 0.5]], k=1) == 1.0
    assert f1_at_k_samples([[0, 0, 1]], [[0.5, 0.5, 0.5]], k=1) == 0.0
    rng = np.random.default_rng(0)
    yt = rng.random((50, 8)) < 0.3
    yp = rng.random((50, 8)) < 0.4
    assert micro_f1(yt, yp) == pytest.approx(f1_score(yt, yp, average="micro"))
    assert micro_f1([[1, 0], [1, 1]], [[1, 1], [0, 1]]) == pytest.approx(2 / 3)
    assert micro_f1(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0


# ----------------------------------------------------------------- vs scikit-learn, perfect/random


def test_agree_with_sklearn_on_random_data_with_ties():
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.3).astype(int)
    s = np.round(rng.random(500) + 0.5 * y, 1)  # coarse rounding -> many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
    assert cor(y, s) == pytest.approx(np.corrcoef(y, s)[0, 1])
    value, thr = max_tss(y, s)
    grid = np.unique(s)
    assert value == pytest.approx(max(tss(y, s, t) for t in grid))


def test_perfect_and_random_scores():
    rng = np.random.default_rng(2)
    y = np.r_[np.zeros(400), np.ones(400)].astype(int)
    perfect = y + rng.random(800) * 0.5
    m = evaluate(y, perfect, threshold=0.9)
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0 and m["max_tss"] == 1.0
    assert m["tss"] == 1.0 and m["cor"] > 0.8
    assert m["n_presence"] == 400 and m["n_absence"] == 400 and m["prevalence"] == 0.5
    rand = evaluate(y, rng.random(800))
    assert abs(rand["roc_auc"] - 0.5) < 0.06 and abs(rand["cor"]) < 0.1
    assert abs(rand["pr_auc"] - 0.5) < 0.06
    assert set(m) == {
        "n_presence",
        "n_absence",
        "prevalence",
        "roc_auc",
        "pr_auc",
        "cor",
        "boyce",
        "max_tss",
        "max_tss_threshold",
        "tss",
    }
    inverted = evaluate(y, -perfect)
    assert inverted["roc_auc"] == 0.0 and inverted["cor"] < -0.8


# ----------------------------------------------------------------- Boyce index


def test_boyce_index_good_random_and_inverted_models():
    rng = np.random.default_rng(3)
    background = rng.uniform(0, 1, 20000)
    good = rng.beta(5, 1, 500)  # presences concentrate at high suitability
    assert boyce_index(good, background) > 0.95
    assert boyce_index(1 - good, background) < -0.95
    random = [boyce_index(rng.uniform(0, 1, 500), background) for _ in range(5)]
    assert abs(np.mean(random)) < 0.4


def test_boyce_index_hand_computed_curve():
    # scores 0..9 once each in the background; presences at 6, 7, 8, 9, 9
    b = np.arange(10.0)
    p = np.array([6.0, 7.0, 8.0, 9.0, 9.0])
    value, curve = boyce_index(p, b, n_bins=4, window=0.4, rm_duplicate=False, return_curve=True)
    # range 0..9, width 3.6, windows [0,3.6] [1.8,5.4] [3.6,7.2] [5.4,9]
    assert curve["lower"].tolist() == pytest.approx([0.0, 1.8, 3.6, 5.4])
    assert curve["n_background"].tolist() == [4, 4, 4, 4]  # {0..3} {2..5} {4..7} {6..9}
    assert curve["n_presence"].tolist() == [0, 0, 2, 5]
    # F = (n_p / 5) / (n_b / 10): 0, 0, (0.4 / 0.4), (1.0 / 0.4)
    assert curve["ratio"].tolist() == pytest.approx([0, 0, 1.0, 2.5])
    # Spearman of window position with F (0, 0, 1, 2.5): ranks (1,2,3,4) vs (1.5,1.5,3,4)
    assert value == pytest.approx(np.corrcoef([1, 2, 3, 4], [1.5, 1.5, 3, 4])[0, 1])
    # ecospat's rm.duplicate drops the first of the two equal zeros -> 3 points, perfect rank
    assert boyce_index(p, b, n_bins=4, window=0.4) == pytest.approx(1.0)
    # enmSdmX-style: drop windows without presences
    v, c = boyce_index(p, b, n_bins=4, window=0.4, drop_zeros=True, return_curve=True)
    assert c["used"].tolist() == [False, False, True, True]


def test_boyce_index_undefined_cases_and_errors():
    with pytest.warns(ValidationWarning, match="undefined"):
        # both windows have F = 1: a flat curve has no rank correlation
        assert np.isnan(boyce_index([0.0, 1.0], [0.0, 1.0], n_bins=2, window=0.5))
    with pytest.raises(ValidationError, match="All scores equal"):
        boyce_index([1.0], [1.0, 1.0])
    with pytest.raises(ValidationError, match="window"):
        boyce_index([0.5], [0.0, 1.0], window=1.5)
    with pytest.raises(ValidationError, match="NaN"):
        boyce_index([np.nan], [0.0, 1.0])


# ----------------------------------------------------------------- calibration


def test_calibration_curve_wraps_sklearn_and_counts():
    from sklearn.calibration import calibration_curve as sk

    rng = np.random.default_rng(4)
    prob = rng.random(1000)
    y = (rng.random(1000) < prob).astype(int)
    for strategy in ("uniform", "quantile"):
        table = calibration_curve(y, prob, n_bins=5, strategy=strategy)
        pt, pp = sk(y, prob, n_bins=5, strategy=strategy)
        assert np.allclose(table["prob_true"], pt) and np.allclose(table["prob_pred"], pp)
        assert table["count"].sum() == 1000
        assert table["count"].dtype == "int64" and table["bin"].dtype == "int64"
    table = calibration_curve(y, prob, n_bins=5)
    assert np.all(np.abs(table["prob_true"] - table["prob_pred"]) < 0.1)  # calibrated
    sparse = calibration_curve([0, 1], [0.05, 0.95], n_bins=10)
    assert sparse["bin"].tolist() == [0, 9] and sparse["count"].tolist() == [1, 1]
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        calibration_curve([0, 1], [0.5, 1.5])


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", [roc_auc, pr_auc, cor, max_tss])
def test_binary_metrics_reject_bad_input(fn):
    with pytest.raises(ValidationError, match="only class 1"):
        fn([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValidationError, match="same length"):
        fn([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValidationError, match=r"positions \[1\]"):
        fn([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValidationError, match="0/1 labels"):
        fn([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValidationError, match="1-D"):
        fn(np.zeros((3, 3)), np.zeros((3, 3)))


def test_multi_species_metrics_reject_bad_input():
    with pytest.raises(ValidationError, match="2-D"):
        f1_at_k_samples([1, 0], [0.1, 0.2])
    with pytest.raises(ValidationError, match="same shape"):
        f1_at_k_samples(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValidationError, match=r"k must be an integer in \[1, 3\]"):
        f1_at_k_samples(np.ones((2, 3)), np.ones((2, 3)), k=25)
    with pytest.raises(ValidationError, match="0/1"):
        micro_f1([[0, 2]], [[0, 1]])
    with pytest.raises(ValidationError, match="NaN"):
        f1_at_k_samples([[0, 1]], [[np.nan, 1.0]], k=1)
