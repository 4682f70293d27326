"""LightGBM quantile forecaster and calibrated blend on synthetic dengue panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError
from sdmkit.datasets.simulate import dengue_panel
from sdmkit.forecast.backtest import backtest, score_forecasts, summarize_scores
from sdmkit.forecast.baselines import ClimatologyQuantiles
from sdmkit.forecast.gbm import CalibratedBlend, LightGBMQuantileForecaster, _Cube, _features
from sdmkit.forecast.panel import QUANTILES, make_panel

FAST = {
    "n_estimators": 30,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 20,
    "origin_stride": 2,
}


@pytest.fixture(scope="module")
def panel():
    sim = dengue_panel(n_locations=8, n_weeks=470, dispersion=8.0, ar_sd=0.3, random_state=3)
    return make_panel(sim.panel)


def test_quantiles_are_monotone_tidy_and_from_the_last_week(panel):
    f = LightGBMQuantileForecaster(
        horizons=6, covariates=["temperature"], static=["population"], **FAST
    ).fit(panel)
    fc = f.predict()
    assert list(fc.columns) == ["location", "origin", "date", "horizon", "quantile", "value"]
    assert str(fc["location"].dtype) == "str" and fc["horizon"].dtype == "int64"
    assert len(fc) == 8 * 6 * len(QUANTILES)
    assert (fc["origin"] == panel["date"].max()).all()
    assert (fc["date"] == fc["origin"] + pd.to_timedelta(7 * fc["horizon"], "D")).all()
    assert fc.groupby(["location", "date"])["value"].is_monotonic_increasing.all()
    assert (fc["value"] >= 0).all() and fc["value"].notna().all()
    assert set(np.round(fc["quantile"], 6)) == set(QUANTILES)
    sub = f.predict(horizons=[2, 3])
    assert sorted(sub["horizon"].unique()) == [2, 3]


def test_features_never_peek_past_the_origin(panel):
    """Corrupt every value after an origin: the features of rows from that origin are unchanged."""
    cube = _Cube(panel, ["temperature"], ["population"], pad=120)
    origin = 300
    bad = panel.copy()
    late = bad["t"] > bad["t"].min() + origin
    rng = np.random.default_rng(0)
    bad.loc[late, "cases"] = rng.integers(0, 10**6, int(late.sum()))
    bad.loc[late, "temperature"] = 99.0
    cube_bad = _Cube(bad, ["temperature"], ["population"], pad=120)
    n = len(cube.locations)
    h = np.tile(np.arange(1, 80), n)
    li = np.repeat(np.arange(n), 79)
    to = np.full(len(li), origin)
    a, la = _features(cube, li, to, h, n_seasons=8, level_weeks=156, pooled=True)
    b, lb = _features(cube_bad, li, to, h, n_seasons=8, level_weeks=156, pooled=True)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    # ...and a shorter origin does see the change (the test can fail)
    c, _ = _features(cube_bad, li, to + 5, h, n_seasons=8, level_weeks=156, pooled=True)
    assert not np.allclose(a["recent_4"], c["recent_4"], equal_nan=True)


def test_backtested_forecasts_ignore_corrupted_future(panel):
    origin = panel["date"].unique()[400]
    f = LightGBMQuantileForecaster(horizons=[1, 4], **FAST)
    a = backtest(f, panel, [origin])
    bad = panel.copy()
    bad.loc[bad["date"] > origin, "cases"] = 123456
    b = backtest(f, bad, [origin])
    pd.testing.assert_frame_equal(a.drop(columns="observed"), b.drop(columns="observed"))


def test_calibrated_quantiles_cover_nominal_on_held_out_data():
    """Overfitted quantile trees are overconfident out of sample; split conformal fixes that."""
    sim = dengue_panel(n_locations=16, n_weeks=300, dispersion=8.0, ar_sd=0.3, random_state=3)
    panel = make_panel(sim.panel)
    origins = panel["date"].unique()[[280, 290]]  # held out: scored on weeks after them
    overfit = {
        "n_estimators": 25,
        "learning_rate": 0.3,
        "num_leaves": 31,
        "min_child_samples": 3,
        "origin_stride": 4,
        "subsample": 1.0,
        "quantiles": (0.05, 0.25, 0.5, 0.75, 0.95),
    }
    raw = LightGBMQuantileForecaster(horizons=[1, 2, 3, 4], **overfit)
    lv = {"levels": (50, 90)}
    s_raw = summarize_scores(
        score_forecasts(backtest(raw, panel, origins), **lv), ["location"], **lv
    )
    cal = raw.set_params(calibration="median", calibration_seasons=4, calibration_stride=6)
    s_cal = summarize_scores(
        score_forecasts(backtest(cal, panel, origins), **lv), ["location"], **lv
    )
    assert s_raw["coverage_90"].mean() < 0.84 and s_raw["coverage_50"].mean() < 0.45
    assert 0.85 <= s_cal["coverage_90"].mean() <= 0.97
    assert 0.42 <= s_cal["coverage_50"].mean() <= 0.6
    assert s_cal["wis"].mean() < s_raw["wis"].mean()
    fitted = cal.fit(panel[panel["date"] <= origins[0]])
    assert fitted.conformal_["method"] == "median"
    offsets = fitted.conformal_["offsets"]
    assert offsets[0.95] > offsets[0.75] > 0 > offsets[0.25] > offsets[0.05]


def test_season_mode_forecasts_the_next_season(panel):
    p = panel[
        panel["date"] <= panel.loc[(panel["year"] == 2022) & (panel["week"] == 25), "date"].iloc[0]
    ]
    f = LightGBMQuantileForecaster(**FAST).fit(p)
    fc = f.predict()
    h = fc["horizon"].unique()
    assert (h.min(), h.max(), len(h)) == (16, 67, 52)
    first = fc.loc[fc["horizon"] == 16, "date"].iloc[0]
    assert first == pd.Timestamp("2022-10-09")  # EW41 2022
    assert f.n_train_rows_ > 0


def test_bad_inputs(panel):
    with pytest.raises(ValueError, match="horizons"):
        LightGBMQuantileForecaster(horizons=[0, 1]).fit(panel)
    with pytest.raises(ValueError, match="include 0.5"):
        LightGBMQuantileForecaster(horizons=2, quantiles=(0.1, 0.9)).fit(panel)
    with pytest.raises(ValidationError, match="not in the panel"):
        LightGBMQuantileForecaster(horizons=2, covariates=["nope"]).fit(panel)
    with pytest.raises(ValidationError, match="make_panel"):
        LightGBMQuantileForecaster(horizons=2).fit(panel.drop(columns="t"))
    f = LightGBMQuantileForecaster(horizons=2, **FAST).fit(panel)
    with pytest.raises(ValidationError, match="not fitted"):
        f.predict(horizons=[5])
    with pytest.raises(ValidationError, match="backtest"):
        f.predict(origins=panel["date"].unique()[100])
    with pytest.raises(ValidationError, match="before predict"):
        LightGBMQuantileForecaster().predict()
    with pytest.raises(ValidationError, match="no training rows"):
        LightGBMQuantileForecaster(horizons=2).fit(panel[panel["t"] < panel["t"].min() + 30])


def test_calibrated_blend_chooses_weights_on_the_past_only(panel):
    origin = panel["date"].unique()[420]
    q5 = (0.05, 0.25, 0.5, 0.75, 0.95)
    members = {
        "gbm": LightGBMQuantileForecaster(quantiles=q5, **FAST),
        "clim": ClimatologyQuantiles(n_seasons=4, window=1, quantiles=q5),
    }
    blend = CalibratedBlend(
        members, horizons=[1, 3], weight_grid=0.5, calibration_seasons=3, calibration_stride=8
    )
    past = panel[panel["date"] <= origin]
    fc = blend.fit(past).predict()
    assert sum(blend.weights_.values()) == pytest.approx(1.0)
    assert len(blend.selection_) == 3
    assert fc.groupby(["location", "date"])["value"].is_monotonic_increasing.all()
    assert (fc["origin"] == origin).all()
    # refitting with corrupted future rows appended changes nothing that was chosen before
    bad = panel.copy()
    bad.loc[bad["date"] > origin, "cases"] = 0
    again = backtest(blend, bad, [origin])
    np.testing.assert_allclose(again["value"], fc["value"])
