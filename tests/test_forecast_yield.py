"""Yield-stress forecaster: data model, features, models, calibration, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError, ValidationWarning
from sdmkit.datasets.simulate import yield_panel
from sdmkit.forecast.yield_features import (
    Climatology,
    SeasonFeatures,
    TrendEstimator,
    designed_features_at,
    fill_series,
    fourier_features,
    yield_history,
)
from sdmkit.forecast.yield_metrics import (
    brier_decomposition,
    brier_score,
    brier_skill_score,
    nrmse,
    r2,
    reliability_table,
    shortfall_event,
)
from sdmkit.forecast.yield_models import (
    AverageYieldModel,
    ResidualDistribution,
    ResidualRegressor,
    TrendModel,
    YieldStressForecaster,
    blend_weights,
    oof_predict,
    select_residual_distribution,
)
from sdmkit.forecast.yield_stress import season_bounds, season_panel

KEYS = ["adm_id", "harvest_year"]
YEARS = [2001, 2002, 2003, 2005, 2006, 2007, 2009, 2010, 2011, 2013, 2014, 2015]  # no leap years


def _sim(n_regions=6, years=YEARS, days=60, seed=0, **kw):
    sim = yield_panel(n_regions=n_regions, years=years, season_days=days, random_state=seed, **kw)
    cal = pd.DataFrame({"adm_id": sim.truth["adm_ids"], "sos": 273.0 - (days - 1), "eos": 273.0})
    return sim, cal


@pytest.fixture(scope="module")
def sim():
    return _sim()


@pytest.fixture(scope="module")
def panel(sim):
    s, cal = sim
    return season_panel(s.yields, s.series, cal, variables=["tmax", "prec", "ndvi"])


# =========================================================================== data model


def test_season_bounds_plain_and_across_new_year():
    keys = pd.DataFrame({"adm_id": ["m", "w"], "harvest_year": [2020, 2020]})
    cal = {"adm_id": ["m", "w"], "sos": [101.0, 289.0], "eos": [301.0, 196.0]}
    b = season_bounds(keys, cal)
    assert b["start"].dt.strftime("%Y-%m-%d").tolist() == ["2020-04-10", "2019-10-16"]
    assert b["end"].dt.strftime("%Y-%m-%d").tolist() == ["2020-10-27", "2020-07-14"]


def test_observations_are_aligned_to_their_season(sim, panel):
    s, _ = sim
    obs = panel.observations
    assert obs["fraction"].between(0, 1).all()
    assert set(obs["variable"]) == {"tmax", "prec", "ndvi"}
    m = obs[obs["variable"] == "ndvi"].merge(
        s.series[["adm_id", "date", "harvest_year", "ndvi"]],
        on=["adm_id", "date"],
        suffixes=("", "_sim"),
    )
    assert len(m) == len(s.series)  # every simulated day falls in its season
    assert (m["harvest_year"] == m["harvest_year_sim"]).all()
    np.testing.assert_allclose(m["value"], m["ndvi"])
    first = obs.groupby(KEYS + ["variable"])["fraction"].min()
    np.testing.assert_allclose(first, 0.0, atol=1e-9)


def test_to_array_shape_and_nothing_after_the_cutoff(panel):
    arr = panel.to_array(0.25, n_steps=12)
    assert arr.values.shape == (len(panel.yields), 3, 12)
    assert arr.available_steps == 3
    assert np.isnan(arr.values[..., 3:]).all()
    assert np.isfinite(arr.values[..., :3]).all()
    assert arr.covered.all()


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_features_do_not_peek_beyond_the_cutoff(sim, fraction):
    s, cal = sim
    p0 = season_panel(s.yields, s.series, cal, variables=["tmax", "ndvi"])
    cut = p0.cutoff_dates(fraction).merge(s.series[["adm_id", "harvest_year", "date"]], on=KEYS)
    later = (cut["date"] > cut["cutoff"]).to_numpy()
    assert later.any() and (~later).any()
    bad = s.series.copy()
    bad.loc[later, ["tmax", "ndvi"]] = 1e6  # corrupt every value after the cut-off
    bad.loc[later[::1] & (np.arange(len(bad)) % 3 == 0), "ndvi"] = np.nan
    p1 = season_panel(s.yields, bad, cal, variables=["tmax", "ndvi"])
    a0, a1 = p0.to_array(fraction, n_steps=16), p1.to_array(fraction, n_steps=16)
    np.testing.assert_array_equal(a0.values, a1.values)
    train = a0.keys["harvest_year"].to_numpy() < 2011
    f0 = SeasonFeatures().fit(a0.subset(train))
    f1 = SeasonFeatures().fit(a1.subset(train))
    pd.testing.assert_frame_equal(f0.transform(a0), f1.transform(a1))
    np.testing.assert_array_equal(f0.anomalies(a0), f1.anomalies(a1))
    # ... while a change before the cut-off does change them (the test can fail)
    early = s.series.copy()
    early.loc[~later, "tmax"] += 5.0
    a2 = season_panel(s.yields, early, cal, variables=["tmax", "ndvi"]).to_array(
        fraction, n_steps=16
    )
    assert not np.allclose(f0.transform(a2)["tmax_cum"], f0.transform(a0)["tmax_cum"])


def test_series_not_covering_the_cutoff_raise_or_are_masked(sim):
    s, cal = sim
    short = s.series[
        ~(
            (s.series["adm_id"] == "adm_02")
            & (s.series["harvest_year"] == 2005)
            & (s.series["date"] > "2005-08-20")
        )
    ]
    p = season_panel(s.yields, short, cal, variables=["ndvi"])
    p.to_array(0.25)  # covered early on
    with pytest.raises(ValidationError, match=r"adm_02.*2005|do not reach the cut-off"):
        p.to_array(0.9)
    arr = p.to_array(0.9, on_uncovered="mask")
    i = np.flatnonzero((arr.keys["adm_id"] == "adm_02") & (arr.keys["harvest_year"] == 2005))
    assert not arr.covered[i].any() and arr.covered.sum() == len(arr.keys) - 1
    cov = p.coverage(0.9)
    assert cov.loc[~cov["covered"], ["adm_id", "harvest_year"]].values.tolist() == [
        ["adm_02", 2005]
    ]


def test_seasons_without_any_series_are_reported(sim):
    s, cal = sim
    p = season_panel(s.yields, s.series[s.series["harvest_year"] != 2001], cal)
    with pytest.raises(ValidationError, match="2001"):
        p.to_array(0.5)
    assert (p.coverage(0.5).query("harvest_year == 2001")["n_obs"] == 0).all()


def test_kg_per_ha_yields_are_detected_by_magnitude(sim):
    s, cal = sim
    kg = s.yields.assign(**{"yield": s.yields["yield"] * 1000.0})
    with pytest.raises(ValidationError, match="kg/ha"):
        season_panel(kg, None, cal)
    p = season_panel(kg, None, cal, yield_units="kg/ha")
    np.testing.assert_allclose(p.yields["yield"], s.yields["yield"])
    with pytest.raises(ValidationError, match="t/ha magnitude"):
        season_panel(s.yields, None, cal, yield_units="kg/ha")


def test_bad_tables_give_clear_errors(sim):
    s, cal = sim
    with pytest.raises(ValidationError, match="adm_05"):
        season_panel(s.yields, None, cal[cal["adm_id"] != "adm_05"])
    extra = pd.concat([s.series, s.series.head(3).assign(adm_id="zz")])
    with pytest.warns(ValidationWarning, match="without a crop calendar"):
        season_panel(s.yields, extra, cal, variables=["ndvi"])
    dup = pd.concat([s.yields, s.yields.head(1)])
    with pytest.raises(ValidationError, match="sharing"):
        season_panel(dup, None, cal)
    with pytest.raises(ValidationError, match="day of year"):
        season_panel(s.yields, None, cal.assign(sos=400.0))
    with pytest.raises(ValidationError, match=r"\(0, 1\]"):
        season_panel(s.yields, None, cal).to_array(1.5)
    with pytest.warns(ValidationWarning, match="yield 0"):
        season_panel(
            s.yields.assign(**{"yield": s.yields["yield"].where(s.yields.index != 0, 0.0)}),
            None,
            cal,
        )


def test_missing_seasons_and_single_year_regions(sim):
    s, cal = sim
    y = s.yields[~((s.yields["adm_id"] == "adm_01") & s.yields["harvest_year"].isin([2005, 2006]))]
    y = y[~((y["adm_id"] == "adm_03") & (y["harvest_year"] != 2009))]  # one season only
    p = season_panel(y, s.series, cal)
    assert len(p.yields) == len(y)
    assert p.to_array(0.5).values.shape[0] == len(y)
    te = TrendEstimator(min_years=3, causal=False).fit(p.yields)
    other = pd.DataFrame({"adm_id": ["adm_03"], "harvest_year": [2013]})
    assert te.predict(other)[0] == pytest.approx(
        float(y.loc[y["adm_id"] == "adm_03", "yield"].iloc[0])
    )
    alone = pd.DataFrame({"adm_id": ["adm_03"], "harvest_year": [2009]})
    with pytest.warns(ValidationWarning, match="no yield history"):
        t = te.predict(alone)
    assert t[0] == pytest.approx(p.yields["yield"].mean())


# =========================================================================== features


def _line(years, a=8.0, b=0.1, region="r"):
    years = np.asarray(years)
    return pd.DataFrame({"adm_id": region, "harvest_year": years, "yield": a + b * (years - 2000)})


def test_trend_is_exact_on_lines_even_with_gaps():
    h = _line([2000, 2001, 2003, 2004, 2007, 2008, 2009])
    target = pd.DataFrame({"adm_id": ["r"], "harvest_year": [2012]})
    for method in ("theil-sen", "ols"):
        t = TrendEstimator(method, level="mean" if method == "ols" else "median").fit(h)
        assert t.predict(target)[0] == pytest.approx(8.0 + 0.1 * 12)


def test_trend_is_robust_to_a_crash_year_and_short_series():
    h = _line(range(2000, 2012))
    h.loc[h["harvest_year"] == 2010, "yield"] -= 4.0  # a drought
    target = pd.DataFrame({"adm_id": ["r"], "harvest_year": [2012]})
    truth = 8.0 + 0.1 * 12
    ts = TrendEstimator("theil-sen").fit(h).predict(target)[0]
    ols = TrendEstimator("ols", level="mean").fit(h).predict(target)[0]
    assert abs(ts - truth) < 0.05 < abs(ols - truth)
    short = _line([2008, 2009, 2010])
    assert TrendEstimator(min_years=5).fit(short).predict(target)[0] == pytest.approx(
        short["yield"].mean()
    )


def test_causal_trend_ignores_later_years_and_shrinks_slopes():
    h = _line(range(2000, 2012))
    target = pd.DataFrame({"adm_id": ["r"], "harvest_year": [2006]})
    h2 = h.copy()
    h2.loc[h2["harvest_year"] > 2006, "yield"] += 3.0
    a = TrendEstimator().fit(h).predict(target)
    assert a == pytest.approx(TrendEstimator().fit(h2).predict(target))
    assert a != pytest.approx(TrendEstimator(causal=False).fit(h2).predict(target))
    # slopes shrink towards the pooled slope (0 here) with few years
    flat = pd.concat([_line(range(2000, 2012), b=0.0, region=f"f{i}") for i in range(5)])
    both = pd.concat([flat, _line(range(2005, 2011), b=0.3, region="steep")])
    tgt = pd.DataFrame({"adm_id": ["steep"], "harvest_year": [2011]})
    free = TrendEstimator().fit(both).predict(tgt)[0]
    shrunk = TrendEstimator(shrinkage=6.0).fit(both).predict(tgt)[0]
    assert free == pytest.approx(8.0 + 0.3 * 11)
    assert 8.0 + 0.3 * 7.5 < shrunk < free - 0.3  # between the region mean and its own line


def test_recent_lags_join_the_history():
    h = _line(range(2000, 2006))
    target = pd.DataFrame({"adm_id": ["r"], "harvest_year": [2010]})
    lags = pd.DataFrame({f"yield-{j}": [8.0 + 0.1 * (10 - j)] for j in range(1, 5)})
    est = TrendEstimator().fit(h)
    assert est.predict(target, recent=lags)[0] == pytest.approx(9.0)
    f = pd.DataFrame(
        {
            "adm_id": ["a", "a"],
            "harvest_year": [2010, 2012],
            "yield": [9.0, 9.2],
            "yield-1": [8.9, 9.1],
            "yield-2": [8.8, 9.0],
        }
    )
    hh = yield_history(f)
    assert hh["harvest_year"].tolist() == [2008, 2009, 2010, 2011, 2012]
    assert hh.loc[hh["harvest_year"] == 2010, "source"].item() == "row"


def test_climatology_is_learnt_on_training_rows_only():
    train = pd.DataFrame({"adm_id": ["a", "a", "b", "b"], "x": [1.0, 3.0, 10.0, 14.0]})
    test = pd.DataFrame({"adm_id": ["a", "b", "c"], "x": [5.0, 10.0, 7.0]})
    c = Climatology(["x"]).fit(train)
    np.testing.assert_allclose(c.transform(test)["a_x"], [3.0, -2.0, 7.0 - 7.0])
    z = Climatology(["x"], kind="z").fit(train).transform(test)["a_x"]
    np.testing.assert_allclose(z[:2], [3.0 / np.sqrt(2), -2.0 / np.sqrt(8)])


def test_season_feature_climatology_uses_training_seasons_only(panel):
    arr = panel.to_array(1.0, n_steps=12)
    train = arr.keys["harvest_year"].to_numpy() < 2013
    f = SeasonFeatures().fit(arr.subset(train))
    changed = arr.values.copy()
    changed[~train] += 3.0
    arr2 = type(arr)(arr.keys, changed, arr.variables, arr.fraction, arr.covered)
    f2 = SeasonFeatures().fit(arr2.subset(train))
    for a, b in zip(f.climatology_.values(), f2.climatology_.values()):
        np.testing.assert_array_equal(a, b)
    d = f.transform(arr2)["tmax_cum"] - f.transform(arr)["tmax_cum"]
    np.testing.assert_allclose(d[~train], 3.0)
    np.testing.assert_allclose(d[train], 0.0, atol=1e-12)
    f3 = SeasonFeatures().fit(arr2)  # fitting on every season (what not to do) moves it
    assert not np.allclose(f3.transform(arr2)["tmax_cum"], f.transform(arr2)["tmax_cum"])


def test_fill_and_fourier_helpers():
    v = np.array([[np.nan, 2.0, np.nan, 4.0, np.nan, 9.0]])
    np.testing.assert_array_equal(fill_series(v, 5), [[2.0, 2.0, 2.0, 4.0, 4.0, 9.0]])
    np.testing.assert_array_equal(fill_series(v, 2)[0, 2:], v[0, 2:])
    t = np.arange(16)
    f = fourier_features(np.sin(2 * np.pi * 2 * t / 16), 3)
    np.testing.assert_allclose(f, [0, 0, 0, 0, -0.5], atol=1e-12)
    with pytest.raises(ValidationError, match="finite"):
        fourier_features(v, 2)


def test_designed_feature_lead_time_mapping():
    cols = ["avgTAVGp0", "avgPRECp1", "avgFAPARp2", "Z-CWBp3", "avgCWBp4", "SM_WHC", "yield-1"]
    assert designed_features_at(cols, 0.25) == ["avgTAVGp0", "SM_WHC", "yield-1"]
    assert designed_features_at(cols, 0.5) == ["avgTAVGp0", "avgPRECp1", "SM_WHC", "yield-1"]
    assert "avgFAPARp2" in designed_features_at(cols, 0.75)
    assert designed_features_at(cols, 1.0) == cols


# =========================================================================== models


def _design(arr, trend, feats):
    X = feats.transform(arr)
    X.insert(2, "trend", trend.predict(arr.keys))
    return X


@pytest.mark.filterwarnings("ignore:TrendEstimator")  # first seasons: no history
def test_season_features_beat_the_baselines_on_simulated_stress():
    s, cal = _sim(n_regions=20, days=40, seed=3, noise_sd=0.15)
    p = season_panel(s.yields, s.series, cal, variables=["tmax", "prec"])
    arr = p.to_array(1.0, n_steps=8)
    y = p.yields["yield"].to_numpy()
    train = (p.yields["harvest_year"] < 2011).to_numpy()
    trend = TrendEstimator(min_years=4, shrinkage=5.0).fit(p.yields[train])
    feats = SeasonFeatures(n_periods=2, n_modes=0).fit(arr.subset(train))
    Xa, Xb = _design(arr.subset(train), trend, feats), _design(arr.subset(~train), trend, feats)
    ridge = ResidualRegressor("ridge", target="ratio").fit(Xa, y[train]).predict(Xb)
    avg = AverageYieldModel().fit(Xa, y[train]).predict(Xb)
    lin = TrendModel(min_years=4).fit(Xa, y[train]).predict(Xb)
    assert nrmse(y[~train], ridge) < 0.8 * min(nrmse(y[~train], avg), nrmse(y[~train], lin))
    lgb = ResidualRegressor("lightgbm", params={"n_estimators": 60, "min_child_samples": 5})
    assert nrmse(y[~train], lgb.fit(Xa, y[train]).predict(Xb)) < nrmse(y[~train], avg)


def test_residual_regressor_targets_and_categories():
    rng = np.random.default_rng(0)
    n = 200
    X = pd.DataFrame(
        {
            "adm_id": rng.choice(["a", "b"], n),
            "harvest_year": rng.integers(0, 20, n),
            "trend": rng.uniform(5, 10, n),
            "x": rng.normal(size=n),
        }
    )
    X["state"] = X["adm_id"].astype("category")
    y = X["trend"] * (1 - 0.1 * X["x"])
    for target in ("ratio", "difference", "yield"):
        for est in ("ridge", "lightgbm"):
            m = ResidualRegressor(
                est, target=target, params={"n_estimators": 50} if est == "lightgbm" else None
            ).fit(X, y)
            assert np.isfinite(m.predict(X.iloc[:5])).all()
    exact = ResidualRegressor("ridge", target="ratio", features=["x"]).fit(X, y)
    np.testing.assert_allclose(exact.predict(X), y, rtol=1e-3)
    with pytest.raises(ValidationError, match="trend"):
        ResidualRegressor("ridge").fit(X.drop(columns="trend"), y)


def test_oof_predictions_never_see_their_season_and_blend_weights():
    X = pd.DataFrame({"adm_id": "a", "harvest_year": [1, 1, 2, 2, 3]})
    oof = oof_predict(AverageYieldModel(), X, [1.0, 1.0, 2.0, 2.0, 9.0])
    np.testing.assert_allclose(oof, [(2 + 2 + 9) / 3] * 2 + [(1 + 1 + 9) / 3] * 2 + [1.5])
    y = np.array([1.0, 2.0, 3.0])
    w = blend_weights(y, {"a": y + 1, "b": y - 1})
    assert w == {"a": 0.5, "b": 0.5}


def test_shortfall_probabilities_are_calibrated():
    rng = np.random.default_rng(1)
    n = 4000
    trend = rng.uniform(6, 12, n)
    mean = trend * (1 + rng.normal(0, 0.08, n))  # what the model knows
    y = mean * (1 + rng.normal(0, 0.06, n))  # what it does not
    half = n // 2
    for kind in ("normal", "empirical"):
        d = ResidualDistribution(kind).fit(y[:half], mean[:half])
        p = d.cdf(mean[half:], 0.9 * trend[half:])
        ev = shortfall_event(y[half:], trend[half:])
        clim = np.full(half, ev.mean())
        assert brier_score(ev, p) < 0.7 * brier_score(ev, clim)
        rel = reliability_table(ev, p, n_bins=5)
        big = rel[rel["count"] >= 100]
        assert (np.abs(big["freq"] - big["prob_mean"]) < 0.08).all()
        q = d.quantiles(mean[half:], [0.05, 0.5, 0.95])
        assert (np.diff(q, axis=1) >= 0).all()
        inside = (y[half:] >= q[:, 0]) & (y[half:] <= q[:, 2])
        assert abs(inside.mean() - 0.9) < 0.03


def _two_spreads(n_years=20, per_group=15, seed=0):
    """Calm regions (2% relative error) and wild ones (20%), forecasts equal to the trend."""
    rng = np.random.default_rng(seed)
    regions = [f"calm{i}" for i in range(per_group)] + [f"wild{i}" for i in range(per_group)]
    g = np.repeat(regions, n_years)
    years = np.tile(np.arange(2000, 2000 + n_years), len(regions))
    sd = np.where(np.char.startswith(g.astype(str), "calm"), 0.02, 0.2)
    mean = np.full(g.size, 10.0)
    y = mean * (1 + sd * rng.normal(size=g.size))
    return g, years, mean, y


def test_group_scales_follow_each_regions_spread():
    g, years, mean, y = _two_spreads()
    d = ResidualDistribution("normal", shrinkage=3.0).fit(y, mean, groups=g)
    s = d.group_scale_
    calm, wild = s[s.index.str.startswith("calm")], s[s.index.str.startswith("wild")]
    # shrunk towards the pooled sd (~0.14) but far apart
    assert calm.max() < 0.07 and wild.min() > 0.13
    assert d.scale_ == pytest.approx(np.std(y / mean - 1, ddof=1))
    # the shortfall of a calm region is much less likely than that of a wild one
    p = d.cdf([10.0, 10.0], [9.0, 9.0], groups=["calm0", "wild0"])
    assert p[0] < 0.05 and p[1] > 0.2
    # unseen groups and no groups at all: the pooled scale
    pooled = ResidualDistribution("normal").fit(y, mean)
    np.testing.assert_allclose(d.cdf([10.0], [9.0], groups=["new"]), pooled.cdf([10.0], [9.0]))
    np.testing.assert_allclose(d.cdf([10.0], [9.0]), pooled.cdf([10.0], [9.0]))
    # quantiles per group are monotone and wider where the spread is
    for kind in ("normal", "empirical"):
        dk = ResidualDistribution(kind, shrinkage=3.0).fit(y, mean, groups=g)
        q = dk.quantiles(np.array([10.0, 10.0]), [0.05, 0.5, 0.95], groups=["calm0", "wild0"])
        assert (np.diff(q, axis=1) >= 0).all()
        assert q[1, 2] - q[1, 0] > 3 * (q[0, 2] - q[0, 0])
    with pytest.raises(ValidationError, match="groups has 2 values for 3 rows"):
        ResidualDistribution().fit([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], groups=["a", "b"])
    with pytest.raises(ValueError, match="shrinkage"):
        ResidualDistribution(shrinkage=-1).fit(y, mean)


def test_group_scales_calibrate_where_a_pooled_spread_is_too_high_at_the_low_end():
    g, years, mean, y = _two_spreads(seed=1)
    gt, yt_years, mt, yt = _two_spreads(seed=2)  # new seasons of the same regions
    trend = np.full(yt.size, 10.0)
    event = shortfall_event(yt, trend)
    pooled = ResidualDistribution("normal").fit(y, mean).cdf(mt, 0.9 * trend)
    grouped = ResidualDistribution("normal", shrinkage=3.0).fit(y, mean, groups=g)
    p = grouped.cdf(mt, 0.9 * trend, groups=gt)
    calm = np.char.startswith(gt.astype(str), "calm")
    # pooled: calm regions get ~0.25 though they (almost) never fall short
    assert pooled[calm].mean() > 0.15 and event[calm].mean() < 0.01
    assert p[calm].mean() < 0.05
    assert brier_score(event, p) < 0.8 * brier_score(event, pooled)
    dec = brier_decomposition(event, p)
    assert dec["reliability"] < brier_decomposition(event, pooled)["reliability"]


def test_select_residual_distribution_chooses_by_held_out_brier():
    g, years, mean, y = _two_spreads()
    d, info = select_residual_distribution(y, mean, years, mean, groups=g)
    assert info["by_group"] and info["chosen"].split("_")[0] in ("normal", "empirical")
    assert set(info["brier"]) == {
        "normal",
        "empirical",
        *(f"{k}_by_group_k{s}" for k in ("normal", "empirical") for s in (3, 10, 30)),
    }
    assert info["brier"][info["chosen"]] == min(info["brier"].values())
    assert d.group_scale_ is not None
    # one spread for everybody: no groups offered, a pooled candidate is chosen
    d2, info2 = select_residual_distribution(y, mean, years, mean)
    assert not info2["by_group"] and d2.group_scale_ is None
    # the score of a season never uses that season's own errors: a wild season left out
    # changes the others' scores but is not known when it is itself scored
    cand = [{"kind": "normal", "by_group": False}]
    y3 = y.copy()
    y3[years == 2000] = mean[years == 2000] * 0.5  # every region crashes in 2000
    _, i3 = select_residual_distribution(y3, mean, years, mean, candidates=cand)
    assert i3["brier"]["normal"] > info2["brier"]["normal"]
    with pytest.raises(ValidationError, match="two seasons"):
        select_residual_distribution(y[:5], mean[:5], np.zeros(5), mean[:5])
    with pytest.raises(ValidationError, match="needs groups"):
        select_residual_distribution(
            y, mean, years, mean, candidates=[{"kind": "normal", "by_group": True}]
        )


def test_yield_stress_forecaster_with_region_scales_and_auto_choice():
    g, years, mean, y = _two_spreads()
    X = pd.DataFrame({"adm_id": g, "harvest_year": years, "trend": mean})
    f = YieldStressForecaster(TrendModel(min_years=3), distribution="auto", scale_by="adm_id")
    f.fit(X, y)
    assert f.selection_["by_group"]
    out = f.predict_frame(X.iloc[[0, len(X) - 1]])  # a calm and a wild region
    assert out["p_shortfall"].iloc[0] < 0.05 < out["p_shortfall"].iloc[1]
    q = f.predict_quantiles(X.iloc[[0, len(X) - 1]])
    width = q.groupby("adm_id")["value"].agg(lambda v: v.max() - v.min())
    assert width["wild14"] > 2 * width["calm0"]
    fixed = YieldStressForecaster(TrendModel(min_years=3), scale_by="adm_id", shrinkage=0.0)
    assert fixed.fit(X, y).distribution_.group_scale_ is not None
    with pytest.raises(ValidationError, match="scale_by='region'"):
        YieldStressForecaster(TrendModel(), scale_by="region").fit(X, y)


@pytest.mark.filterwarnings("ignore:TrendEstimator")  # first seasons: no history
def test_yield_stress_forecaster_end_to_end(sim):
    s, _ = sim
    X = s.yields[KEYS].assign(trend=s.yields["trend_yield"])
    y = s.yields["yield"].to_numpy()
    f = YieldStressForecaster(TrendModel(min_years=4, causal=True)).fit(X, y)
    q = f.predict_quantiles(X)
    assert set(q.columns) == {"adm_id", "harvest_year", "quantile", "value"}
    assert (q.groupby(KEYS)["value"].diff().dropna() >= 0).all()
    fr = f.predict_frame(X)
    assert fr["p_shortfall"].between(0, 1).all()
    # a season forecast far below its trend has a higher shortfall probability
    low = X.iloc[:1].assign(trend=30.0)
    assert f.predict_shortfall(low)[0] > f.predict_shortfall(X.iloc[:1])[0]


# =========================================================================== metrics


def test_metrics():
    assert nrmse([10.0, 10.0], [9.0, 11.0]) == pytest.approx(10.0)
    assert r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert brier_score([True, False], [1.0, 0.0]) == 0.0
    with pytest.raises(ValidationError, match="NaN"):
        nrmse([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        brier_score([1], [1.2])
    t = reliability_table([0, 1, 1, 0], [0.05, 0.95, 0.9, 0.15], n_bins=10)
    assert t["count"].sum() == 4 and t["freq"].tolist() == [0.0, 0.0, 1.0]
    assert brier_skill_score([1, 0], [1.0, 0.0], 0.5) == 1.0
    assert brier_skill_score([1, 0, 0, 0], [0.25] * 4, 0.25) == pytest.approx(0.0)
    assert brier_skill_score([1, 0], [0.0, 1.0], [0.5, 0.5]) == pytest.approx(-3.0)
    assert np.isnan(brier_skill_score([0, 0], [0.1, 0.2], 0.0))
    # the decomposition is exact when every bin holds one probability
    ev = [0, 0, 1, 0, 1, 1, 1, 0]
    pr = [0.15, 0.15, 0.15, 0.55, 0.55, 0.95, 0.95, 0.95]
    d = brier_decomposition(ev, pr)
    assert d["brier"] == pytest.approx(d["reliability"] - d["resolution"] + d["uncertainty"])
    assert d["base_rate"] == 0.5 and d["uncertainty"] == 0.25
    with pytest.raises(ValidationError, match="reference"):
        brier_skill_score([1, 0], [0.5, 0.5], 1.5)


def test_brier_metrics_are_exported_from_the_package():
    import sdmkit.forecast as fc

    assert fc.brier_skill_score is brier_skill_score
    assert fc.brier_decomposition is brier_decomposition
    assert {"brier_skill_score", "brier_decomposition"} <= set(fc.__all__)


def test_trend_model_uses_lag_columns_at_predict_time():
    hist = _line(range(2000, 2006), region="a")
    X = pd.DataFrame(
        {
            "adm_id": ["a"],
            "harvest_year": [2010],
            **{f"yield-{j}": [8.0 + 0.1 * (10 - j)] for j in (1, 2, 3)},
        }
    )
    m = TrendModel("theil-sen", level="median", causal=True, history=hist).fit(
        hist[KEYS], hist["yield"]
    )
    assert m.predict(X)[0] == pytest.approx(9.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.predict(X)
