"""SeasonalLevelForecaster: season shapes around a predicted season level (simulated data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sdmkit import ValidationError
from sdmkit.forecast.baselines import ClimatologyQuantiles
from sdmkit.forecast.gbm import CalibratedBlend
from sdmkit.forecast.panel import QUANTILES, make_panel
from sdmkit.forecast.seasonal import (
    LinearPoolForecaster,
    SeasonalLevelForecaster,
    linear_pool_quantiles,
    mixture_normal_quantiles,
)

COLS = ["location", "origin", "date", "horizon", "quantile", "value"]
RHO, SD = 0.7, 0.6


def simulate(n_loc=40, start="2008-01-06", end="2021-12-26", seed=0):
    """Weekly Poisson counts: location base + AR(1) season level (across seasons) + a bump."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="7D")
    p = make_panel(pd.DataFrame({"location": "x", "date": dates, "cases": 0}))
    season = np.where(p["week"] >= 41, p["year"], p["year"] - 1)
    seasons = np.unique(season)
    first = {s: np.flatnonzero(season == s)[0] for s in seasons}
    pos = np.array([i - first[s] for i, s in enumerate(season)])
    bump = 1.5 * np.cos(2 * np.pi * (pos / 52 - 0.45))
    rows, truth = [], {}
    for i in range(n_loc):
        a = rng.normal(4.0, 0.5)
        u = {seasons[0]: rng.normal(0, SD)}
        for s in seasons[1:]:
            u[s] = RHO * u[s - 1] + np.sqrt(1 - RHO**2) * SD * rng.normal()
        logmu = a + np.array([u[s] for s in season]) + bump
        truth[f"L{i:02d}"] = pd.Series(logmu, index=dates)
        rows.append(pd.DataFrame({"location": f"L{i:02d}", "date": dates,
                                  "cases": rng.poisson(np.exp(logmu))}))  # fmt: skip
    return make_panel(pd.concat(rows, ignore_index=True)), truth


@pytest.fixture(scope="module")
def sim():
    return simulate()


def _cut(panel, date):
    return panel[panel["date"] <= pd.Timestamp(date)].reset_index(drop=True)


ORIGIN = "2020-06-14"  # EW25 2020 -> next season EW41 2020 .. EW40 2021 (2020 has 53 weeks)


def test_frame_horizons_and_53_week_season(sim):
    panel, _ = sim
    past = _cut(panel, ORIGIN)
    m = SeasonalLevelForecaster().fit(past)
    fc = m.predict()
    assert list(fc.columns) == COLS
    assert m.current_season_ == 2019
    h = np.sort(fc["horizon"].unique())
    assert h[0] == 16 and len(h) == 53  # EW41..EW53 2020, EW1..EW40 2021
    assert (fc["origin"] == pd.Timestamp(ORIGIN)).all()
    w = fc.pivot_table(index=["location", "date"], columns="quantile", values="value")
    assert list(w.columns) == list(QUANTILES)
    assert np.isfinite(w.to_numpy()).all() and (w.to_numpy() >= 0).all()
    assert (np.diff(w.to_numpy(), axis=1) >= 0).all()
    # nothing after the origin: the level model is fitted on complete seasons before it
    assert max(m.level_models_[1]["seasons"]) <= m.current_season_
    assert all(max(v) < m.current_season_ for v in m.history_.values())
    # identical forecasts from a panel that continues after the origin but is cut at it
    again = SeasonalLevelForecaster().fit(_cut(panel, ORIGIN)).predict()
    pd.testing.assert_frame_equal(fc, again)


def test_level_regression_tracks_season_size_and_beats_climatology(sim):
    panel, truth = sim
    past = _cut(panel, ORIGIN)
    m = SeasonalLevelForecaster().fit(past)
    coef = m.level_models_[1]["coef"]
    assert 0.3 < coef["partial"] + coef["recent"] < 1.2  # persistence RHO = 0.7
    assert not m.level_models_[1]["fallback"]
    fc = m.predict()
    clim = (
        ClimatologyQuantiles(n_seasons=8, window=0)
        .fit(past)
        .predict(horizons=np.sort(fc["horizon"].unique()))
    )
    err = {}
    for name, f in (("seasonal", fc), ("climatology", clim)):
        med = f[f["quantile"] == 0.5]
        true = np.array([truth[r.location][r.date] for r in med.itertuples()])
        err[name] = np.mean(np.abs(np.log1p(med["value"].to_numpy()) - true))
    assert err["seasonal"] < 0.85 * err["climatology"], err


def test_calibrated_when_the_model_is_right(sim):
    panel, _ = sim
    covers = []
    for origin in ("2019-06-16", "2020-06-14"):
        m = SeasonalLevelForecaster().fit(_cut(panel, origin))
        fc = m.predict()
        w = fc.pivot_table(index=["location", "date"], columns="quantile", values="value")
        y = panel.set_index(["location", "date"])["cases"].reindex(w.index)
        covers.append(((y >= w[0.05]) & (y <= w[0.95])).to_numpy())
        assert 0.3 < m.level_models_[1]["level_sd"] < 0.7  # sd of the season shock: 0.43
    cov = float(np.concatenate(covers).mean())
    assert 0.8 <= cov <= 0.98, cov
    narrow = SeasonalLevelForecaster(width=0.2).fit(_cut(panel, ORIGIN)).predict()
    w = narrow.pivot_table(index=["location", "date"], columns="quantile", values="value")
    y = panel.set_index(["location", "date"])["cases"].reindex(w.index)
    assert ((y >= w[0.05]) & (y <= w[0.95])).mean() < 0.6


def test_fallback_with_short_history(sim):
    panel, _ = sim
    past = _cut(panel, "2011-06-19")  # complete seasons 2008, 2009; current 2010
    m = SeasonalLevelForecaster(min_history=2).fit(past)
    assert m.level_models_[1]["fallback"]
    assert m.level_models_[1]["level_sd"] > 0
    assert len(m.predict()) == 40 * 52 * 9


def test_two_seasons_ahead(sim):
    panel, _ = sim
    m = SeasonalLevelForecaster().fit(_cut(panel, ORIGIN))
    fc = m.predict(horizons=np.arange(16, 16 + 53 + 52))
    assert set(m.level_models_) == {1, 2}
    assert fc["horizon"].max() == 120


def test_errors(sim):
    panel, _ = sim
    past = _cut(panel, ORIGIN)
    with pytest.raises(ValidationError, match="current season"):
        SeasonalLevelForecaster().fit(past).predict(horizons=[1, 2])
    with pytest.raises(ValidationError, match="min_history"):
        SeasonalLevelForecaster(min_history=3).fit(_cut(panel, "2011-06-19"))
    ragged = past[~((past["location"] == "L00") & (past["date"] == past["date"].max()))]
    with pytest.raises(ValidationError, match="different weeks"):
        SeasonalLevelForecaster().fit(ragged)
    with pytest.raises(ValidationError, match="cases"):
        SeasonalLevelForecaster().fit(past.drop(columns="cases"))
    with pytest.raises(ValueError, match="predictors"):
        SeasonalLevelForecaster(predictors=["enso"]).fit(past)
    with pytest.raises(ValueError, match="width"):
        SeasonalLevelForecaster(width=0).fit(past)
    with pytest.raises(ValueError, match="min_history"):
        SeasonalLevelForecaster(n_seasons=2, min_history=3).fit(past)
    with pytest.raises(RuntimeError, match="not fitted"):
        SeasonalLevelForecaster().predict()
    with pytest.raises(ValidationError, match="3 seasons"):
        SeasonalLevelForecaster().fit(past).predict(horizons=[400])


def test_in_calibrated_blend(sim):
    panel, _ = sim
    past = _cut(panel, ORIGIN)
    past = past[past["location"].isin(["L00", "L01", "L02"])].reset_index(drop=True)
    b = CalibratedBlend({"s": SeasonalLevelForecaster()}, calibration_seasons=2).fit(past)
    fc = b.predict()
    assert b.conformal_["n"] > 0 and fc["horizon"].min() == 16


def test_mixture_normal_quantiles():
    q = mixture_normal_quantiles(np.array([[1.0]]), 2.0, QUANTILES)
    np.testing.assert_allclose(q[0], stats.norm.ppf(QUANTILES, 1.0, 2.0), atol=1e-9)
    two = mixture_normal_quantiles(np.array([[-10.0, 10.0]]), 1.0, [0.25, 0.75])[0]
    np.testing.assert_allclose(two, [-10.0, 10.0], atol=1e-6)
    sym = mixture_normal_quantiles(np.array([[-1.0, 1.0]]), 1.0, [0.5, 0.9])[0]
    F = 0.5 * (stats.norm.cdf(sym[1], -1, 1) + stats.norm.cdf(sym[1], 1, 1))
    np.testing.assert_allclose([sym[0], F], [0.0, 0.9], atol=1e-9)
    weighted = mixture_normal_quantiles(np.array([[-10.0, 10.0]]), 1.0, [0.5], weights=[[3, 1]])
    assert weighted[0, 0] < -9
    nan = mixture_normal_quantiles(np.array([[0.0, np.nan]]), 1.0, [0.975])
    np.testing.assert_allclose(nan[0, 0], 1.959964, atol=1e-5)
    with pytest.raises(ValueError, match="sd"):
        mixture_normal_quantiles(np.zeros((1, 2)), 0.0, [0.5])
    with pytest.raises(ValueError, match="non-NaN"):
        mixture_normal_quantiles(np.full((1, 2), np.nan), 1.0, [0.5])


# ---------------------------------------------------------------- season-size options


def simulate_levels(
    slopes=None, sd_loc=None, nat_amp=0.0, skew=False, n_loc=30, seed=1, start="2008-01-06"
):
    """Poisson weekly counts; season level = per-location trend + iid shock (sd per location,
    normal or right-skewed) + a national swing of +-``nat_amp`` shared by all locations."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, "2021-12-26", freq="7D")
    p = make_panel(pd.DataFrame({"location": "x", "date": dates, "cases": 0}))
    season = np.where(p["week"] >= 41, p["year"], p["year"] - 1)
    seasons = np.unique(season)
    first = {s: np.flatnonzero(season == s)[0] for s in seasons}
    pos = np.array([i - first[s] for i, s in enumerate(season)])
    bump = 1.5 * np.cos(2 * np.pi * (pos / 52 - 0.45))
    g = {
        s: nat_amp * (-1.0) ** s for s in seasons
    }  # national swing: big and small seasons alternate
    rows, truth = [], {}
    for i in range(n_loc):
        b = 0.0 if slopes is None else slopes[i]
        sd = 0.5 if sd_loc is None else sd_loc[i]
        u = {
            s: sd * ((rng.exponential() - 1.0) if skew else rng.normal()) + g[s] + b * (s - 2008)
            for s in seasons
        }
        logmu = rng.normal(4.0, 0.5) + np.array([u[s] for s in season]) + bump
        truth[f"L{i:02d}"] = pd.Series(logmu, index=dates)
        rows.append(pd.DataFrame({"location": f"L{i:02d}", "date": dates,
                                  "cases": rng.poisson(np.exp(logmu))}))  # fmt: skip
    return make_panel(pd.concat(rows, ignore_index=True)), truth


def _median_error(m, truth):
    med = m.predict().query("quantile == 0.5")
    true = np.array([truth[r.location][r.date] for r in med.itertuples()])
    return float(np.mean(np.abs(np.log1p(med["value"].to_numpy()) - true)))


def test_trend_predictor_recovers_location_trends():
    panel, truth = simulate_levels(slopes=np.linspace(-0.3, 0.3, 30), sd_loc=np.full(30, 0.2))
    past = _cut(panel, ORIGIN)
    base = SeasonalLevelForecaster().fit(past)
    trend = SeasonalLevelForecaster(predictors=("recent", "partial", "trend")).fit(past)
    assert trend.level_models_[1]["coef"]["trend"] > 0.2
    assert _median_error(trend, truth) < 0.95 * _median_error(base, truth)


def test_national_predictor_uses_the_shared_component():
    # alternating national seasons, large iid local shocks: the national series carries the
    # (negative) persistence; each location's own anomaly carries it under local noise
    panel, truth = simulate_levels(nat_amp=0.5, sd_loc=np.full(30, 1.0))
    past = _cut(panel, ORIGIN)
    base = SeasonalLevelForecaster().fit(past)
    nat = SeasonalLevelForecaster(predictors=("recent", "partial", "national")).fit(past)
    assert nat.level_models_[1]["coef"]["national"] < -0.5
    # the shared part of the next season (a big one: +0.5) is forecast, not left as a bias
    bias = {}
    for name, m in (("base", base), ("national", nat)):
        med = m.predict().query("quantile == 0.5")
        true = np.array([truth[r.location][r.date] for r in med.itertuples()])
        bias[name] = float(np.mean(np.log1p(med["value"].to_numpy()) - true))
    assert bias["base"] < -0.3 and abs(bias["national"]) < 0.5 * abs(bias["base"]), bias
    # the national series is the log1p of the summed counts: a missing week is missing
    wide = past.pivot(index="location", columns="t", values="cases")
    a = nat._first[nat.current_season_]
    expect = np.log1p(wide.loc[:, a : nat._t_o].sum(axis=0)).mean()
    np.testing.assert_allclose(nat._A[nat.current_season_]["national"], expect)
    holey = past.copy()
    holey.loc[(holey["location"] == "L03") & (holey["date"] == "2020-03-01"), "cases"] = np.nan
    m = SeasonalLevelForecaster(predictors=("recent", "partial", "national")).fit(holey)
    with pytest.raises(ValidationError, match="no level forecast"):
        m.predict()


def test_loso_level_error_and_empirical_distribution():
    panel, _ = simulate_levels(sd_loc=np.full(30, 0.8), skew=True)
    past = _cut(panel, ORIGIN)
    m = SeasonalLevelForecaster(level_error="loso").fit(past)
    lm = m.level_models_[1]
    assert lm["level_sd"] == lm["level_sd_loso"] >= 0.9 * lm["level_sd_residual"]
    assert len(lm["errors"]) == lm["n_rows"]
    w = {}
    for dist in ("normal", "empirical"):
        fc = SeasonalLevelForecaster(level_error="loso", level_dist=dist).fit(past).predict()
        q = np.log1p(fc.pivot_table(index=["location", "date"], columns="quantile", values="value"))
        w[dist] = float(((q[0.95] - q[0.5]) / (q[0.5] - q[0.05])).median())
    # right-skewed season shocks: the empirical level errors give a longer upper tail
    assert w["empirical"] > 1.3 and abs(w["normal"] - 1) < 0.1, w
    # with one location and few seasons the LOSO errors fall back to the residuals
    short = SeasonalLevelForecaster(level_error="loso").fit(_cut(panel, "2012-06-17"))
    assert short.level_models_[1]["level_sd"] == short.level_models_[1]["level_sd_residual"]


def test_location_level_sd_prior():
    sd_loc = np.r_[np.full(15, 0.2), np.full(15, 1.0)]
    panel, _ = simulate_levels(sd_loc=sd_loc)
    past = _cut(panel, ORIGIN)
    pooled = SeasonalLevelForecaster().fit(past).level_models_[1]["level_sd_by_location"]
    assert np.ptp(pooled) == 0
    m = SeasonalLevelForecaster(level_sd_prior=4).fit(past)
    s = m.level_models_[1]["level_sd_by_location"]
    assert s[15:].mean() > 1.5 * s[:15].mean()
    fc = m.predict().pivot_table(index=["location", "date"], columns="quantile", values="value")
    width = np.log1p(fc[0.95]) - np.log1p(fc[0.05])
    by_loc = width.groupby(level="location").mean().to_numpy()
    assert by_loc[15:].mean() > by_loc[:15].mean()
    with pytest.raises(ValueError, match="level_sd_prior"):
        SeasonalLevelForecaster(level_sd_prior=0).fit(past)
    with pytest.raises(ValueError, match="level_error"):
        SeasonalLevelForecaster(level_error="cv").fit(past)
    with pytest.raises(ValueError, match="level_dist"):
        SeasonalLevelForecaster(level_dist="t").fit(past)


def test_linear_pool_quantiles_is_the_mixture():
    rng = np.random.default_rng(0)
    levels = np.linspace(0.01, 0.99, 99)
    mu = rng.normal(0, 2, size=(50, 2))
    qa = stats.norm.ppf(levels[None, :], mu[:, [0]], 1.0)
    qb = stats.norm.ppf(levels[None, :], mu[:, [1]], 0.5)
    pooled = linear_pool_quantiles([qa, qb], [0.3, 0.7], levels)
    # the exact mixture CDF at the pooled quantiles is the level (piecewise-linear CDFs: ~1e-3)
    F = 0.3 * stats.norm.cdf(pooled, mu[:, [0]], 1.0) + 0.7 * stats.norm.cdf(
        pooled, mu[:, [1]], 0.5
    )
    assert np.abs(F - levels)[:, 5:-5].max() < 0.01
    q9 = np.sort(rng.normal(size=(20, 9)), axis=1)
    np.testing.assert_allclose(linear_pool_quantiles([q9, q9], [1, 1]), q9, atol=1e-12)
    zeros = np.array([[0, 0, 0, 0, 0.5, 1, 2, 3, 4.0]])  # point mass at 0 (log1p scale)
    np.testing.assert_allclose(linear_pool_quantiles([zeros, zeros], [1, 1]), zeros, atol=1e-12)
    with pytest.raises(ValueError, match="one weight per member"):
        linear_pool_quantiles([q9, q9], [1.0])
    with pytest.raises(ValueError, match="shape"):
        linear_pool_quantiles([q9, q9[:, :5]], [1, 1])


def test_linear_pool_forecaster_widens_between_members(sim):
    panel, _ = sim
    past = _cut(panel, ORIGIN)
    past = past[past["location"].isin(["L00", "L01", "L02"])].reset_index(drop=True)
    members = {"s": SeasonalLevelForecaster(), "c": ClimatologyQuantiles(n_seasons=8, window=0)}
    pool = LinearPoolForecaster(members).fit(past)
    fc = pool.predict()
    assert pool.weights_ == {"s": 0.5, "c": 0.5}
    assert list(fc.columns) == COLS and fc["horizon"].min() == 16
    w = {
        n: f.pivot_table(index=["location", "date"], columns="quantile", values="value")
        for n, f in (("pool", fc), *((k, m.predict(horizons="season" if k == "s" else
                                                   np.sort(fc["horizon"].unique())))
                                     for k, m in pool.fitted_.items()))
    }  # fmt: skip
    lo = np.minimum(w["s"][0.5], w["c"][0.5]) - 1e-9
    hi = np.maximum(w["s"][0.5], w["c"][0.5]) + 1e-9
    assert ((w["pool"][0.5] >= lo) & (w["pool"][0.5] <= hi)).all()
    span = np.log1p(w["pool"][0.95]) - np.log1p(w["pool"][0.05])
    narrow = np.minimum(*(np.log1p(w[k][0.95]) - np.log1p(w[k][0.05]) for k in ("s", "c")))
    assert (span >= narrow - 1e-9).all()
    with pytest.raises(ValueError, match="weights must name"):
        LinearPoolForecaster(members, weights={"s": 1.0}).fit(past)
    with pytest.raises(RuntimeError, match="not fitted"):
        LinearPoolForecaster(members).predict()
