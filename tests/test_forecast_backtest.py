"""Backtests (no peeking), interval <-> quantile conversion, scores, conformal, blends, sprint pool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError
from sdmkit.datasets.simulate import dengue_panel
from sdmkit.forecast.backtest import (
    apply_conformal,
    backtest,
    blend_quantiles,
    crps_from_quantiles,
    fit_conformal,
    from_interval_frame,
    log_score_from_quantiles,
    pool_relative_wis,
    score_forecasts,
    season_horizons,
    summarize_scores,
    to_interval_frame,
)
from sdmkit.forecast.baselines import ClimatologyQuantiles
from sdmkit.forecast.panel import QUANTILES, make_panel
from sdmkit.forecast.scoring import wis

ORIGIN = pd.Timestamp("2020-01-05")


def _panel(n_locations=3, n_weeks=260, seed=0):
    return make_panel(
        dengue_panel(n_locations=n_locations, n_weeks=n_weeks, random_state=seed).panel
    )


def _quantile_frame(n_dates=5, seed=0, locations=("a", "b")):
    rng = np.random.default_rng(seed)
    rows = []
    for loc in locations:
        for h in range(1, n_dates + 1):
            base = rng.gamma(2.0, 50.0)
            vals = np.sort(base * np.exp(rng.normal(0, 0.6, len(QUANTILES))))
            for q, v in zip(QUANTILES, vals, strict=True):
                rows.append((loc, ORIGIN, ORIGIN + pd.Timedelta(weeks=h), h, q, v))
    fc = pd.DataFrame(rows, columns=["location", "origin", "date", "horizon", "quantile", "value"])
    fc["location"] = fc["location"].astype("str")
    return fc


class Spy:
    """A forecaster that records the last date it was fitted on and forecasts that week's count."""

    seen: list = []

    def fit(self, panel):
        Spy.seen.append(panel["date"].max())
        self.last_ = panel.groupby("location").tail(1)
        return self

    def predict(self, horizons=1):
        h = np.atleast_1d(horizons)
        rows = []
        for _, r in self.last_.iterrows():
            for hh in h:
                for q in QUANTILES:
                    rows.append(
                        (
                            r["location"],
                            r["date"],
                            r["date"] + pd.Timedelta(weeks=int(hh)),
                            int(hh),
                            q,
                            float(r["cases"]),
                        )
                    )
        return pd.DataFrame(
            rows, columns=["location", "origin", "date", "horizon", "quantile", "value"]
        )


# --------------------------------------------------------------------------- backtest


def test_backtest_never_uses_data_after_the_origin():
    panel = _panel()
    origins = panel["date"].unique()[[150, 200]]
    clim = ClimatologyQuantiles(n_seasons=2, window=1)
    a = backtest(clim, panel, origins, horizons=[1, 4, 10])
    # corrupt every value after the first origin: forecasts from it must not move
    bad = panel.copy()
    after = bad["date"] > origins[0]
    bad.loc[after, "cases"] = bad.loc[after, "cases"] * 50 + 7
    b = backtest(clim, bad, origins[:1], horizons=[1, 4, 10])
    first = a[a["origin"] == origins[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(first.drop(columns="observed"), b.drop(columns="observed"))
    # ... while the observations joined for scoring are the (corrupted) future values
    assert not np.allclose(first["observed"], b["observed"])
    Spy.seen = []
    backtest(Spy(), panel, origins, horizons=2)
    assert Spy.seen == list(pd.DatetimeIndex(origins))


def test_backtest_season_horizons_and_bad_origins():
    panel = _panel(n_weeks=300)
    o = panel.loc[(panel["year"] == 2019) & (panel["week"] == 25), "date"].iloc[0]
    fc = backtest(ClimatologyQuantiles(n_seasons=3, window=0), panel, [o], horizons="season")
    targets = fc.drop_duplicates(["location", "date"])
    wk = targets["date"].min()
    assert (targets["horizon"].min(), targets.groupby("location").size().iloc[0]) == (16, 52)
    assert wk == o + pd.Timedelta(weeks=16)
    assert fc["observed"].notna().all()
    with pytest.raises(ValidationError, match="beyond the data"):
        backtest(ClimatologyQuantiles(), panel, [panel["date"].max() + pd.Timedelta(weeks=3)])
    t = int(panel.loc[panel["date"] == o, "t"].iloc[0])
    assert season_horizons(panel, t).tolist() == list(range(16, 68))


# --------------------------------------------------------------------------- conversion


def test_interval_conversion_round_trips():
    fc = _quantile_frame()
    wide = to_interval_frame(fc)
    assert list(wide.columns[4:]) == [
        "pred",
        "lower_50",
        "upper_50",
        "lower_80",
        "upper_80",
        "lower_90",
        "upper_90",
        "lower_95",
        "upper_95",
    ]
    assert len(wide) == 10
    back = from_interval_frame(wide)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True),
        fc.sort_values(["location", "origin", "date", "quantile"], ignore_index=True),
        check_dtype=False,
    )
    # and the other way: sprint columns -> quantiles -> sprint columns
    w = wide.drop(columns=["origin", "horizon"])
    again = to_interval_frame(from_interval_frame(w, origin=ORIGIN))
    pd.testing.assert_frame_equal(again[w.columns].reset_index(drop=True), w, check_dtype=False)


def test_interval_conversion_errors():
    fc = _quantile_frame()
    with pytest.raises(ValidationError, match="quantile level 0.025 is missing"):
        to_interval_frame(fc[fc["quantile"] != 0.025])
    with pytest.raises(ValidationError, match="origin"):
        from_interval_frame(to_interval_frame(fc).drop(columns="origin"))


# --------------------------------------------------------------------------- scores


def test_scores_match_scoring_module_and_hand_values():
    fc = _quantile_frame(seed=1)
    rng = np.random.default_rng(2)
    keys = fc[["location", "date"]].drop_duplicates()
    obs = keys.assign(observed=rng.gamma(2.0, 50.0, len(keys)))
    fc = fc.merge(obs, on=["location", "date"])
    s = score_forecasts(fc)
    intervals = {lv: (s[f"lower_{lv}"], s[f"upper_{lv}"]) for lv in (50, 80, 90, 95)}
    np.testing.assert_allclose(s["wis"], wis(s["observed"], s["pred"], intervals))
    np.testing.assert_allclose(s["ae"], np.abs(s["observed"] - s["pred"]))
    assert (
        s["cover_90"].tolist()
        == ((s["observed"] >= s["lower_90"]) & (s["observed"] <= s["upper_90"])).tolist()
    )
    summ = summarize_scores(s, by=["location"])
    assert summ["n"].tolist() == [5, 5]
    assert 0 <= summ["coverage_50"].min() <= summ["coverage_95"].max() <= 1
    assert np.isfinite(s["log_score"]).all()


def test_scores_and_conformal_join_observed_cases_from_a_panel():
    fc = _quantile_frame(seed=1)
    keys = fc[["location", "date"]].drop_duplicates()
    panel = keys.assign(cases=np.arange(len(keys)) % 7 * 10.0)
    joined = fc.merge(panel.rename(columns={"cases": "observed"}), on=["location", "date"])
    pd.testing.assert_frame_equal(score_forecasts(fc, panel), score_forecasts(joined))
    assert fit_conformal(fc, panel) == fit_conformal(joined)
    for f in (score_forecasts, fit_conformal):
        with pytest.raises(ValidationError, match=f"{f.__name__}: .*no 'observed'.*panel="):
            f(fc)


def test_crps_and_log_score_from_quantiles():
    taus = np.array(QUANTILES)
    point = np.full((2, len(taus)), 10.0)  # a point mass: CRPS = |y - x|
    np.testing.assert_allclose(crps_from_quantiles([13.0, 4.0], point, taus), [3.0, 6.0])
    # a wide symmetric forecast: an observation at the median scores better than one in the tail
    Q = np.expm1(np.log1p(100.0) + np.array([-2, -1.6, -1.3, -0.7, 0, 0.7, 1.3, 1.6, 2.0]))[None]
    Q2 = np.vstack([Q, Q])
    ls = log_score_from_quantiles([100.0, 3000.0], Q2, taus)
    crps = crps_from_quantiles([100.0, 3000.0], Q2, taus)
    assert ls[0] < ls[1] and crps[0] < crps[1]
    # tied quantiles (all zero) still give a finite score, worse far from zero
    zeros = np.zeros((2, len(taus)))
    ls0 = log_score_from_quantiles([0.0, 500.0], zeros, taus)
    assert np.isfinite(ls0).all() and ls0[0] < ls0[1]
    # the interpolated density integrates to ~1 over counts
    grid = np.arange(0, 20000)
    dens = np.exp(-log_score_from_quantiles(grid, np.repeat(Q, len(grid), 0), taus))
    assert dens.sum() == pytest.approx(1.0, abs=0.02)


def test_pool_relative_wis_adds_the_model_to_the_pool():
    pool = pd.DataFrame(
        {
            "model": ["p", "q", "r", "p", "q", "r"],
            "location": list("aaabbb"),
            "test": "1",
            "wis": [1.0, 2.0, 4.0, 10.0, 20.0, 40.0],
        }
    )
    me = pd.DataFrame({"model": "m", "location": ["a", "b"], "test": "1", "wis": [1.0, 80.0]})
    # a: median{1,2,4,1} = 1.5 -> 2/3; b: median{10,20,40,80} = 30 -> 8/3
    assert pool_relative_wis(me, "m", pool) == pytest.approx(np.sqrt(2 / 3 * 8 / 3))
    with pytest.raises(ValidationError, match="no scores"):
        pool_relative_wis(me, "zz", pool)


# --------------------------------------------------------------------------- conformal, blends


def _overconfident(n=2000, seed=0):
    """Forecasts whose intervals are 3x too narrow on the log scale."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(2, 7, n)
    y = np.round(np.expm1(m + rng.normal(0, 0.8, n)))
    z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0, 0.6745, 1.2816, 1.645, 1.96])
    vals = np.expm1(m[:, None] + 0.8 / 3 * z[None])
    dates = ORIGIN + pd.to_timedelta(7 * (np.arange(n) + 1), "D")
    fc = pd.DataFrame({
        "location": "a", "origin": ORIGIN, "date": np.repeat(dates, 9),
        "horizon": np.repeat(np.arange(n) + 1, 9), "quantile": np.tile(QUANTILES, n),
        "value": vals.ravel(), "observed": np.repeat(y, 9),
    })  # fmt: skip
    return fc


@pytest.mark.parametrize("method", ["median", "interval", "quantile"])
def test_conformal_restores_coverage_on_new_data(method):
    cal, new = _overconfident(seed=0), _overconfident(seed=1)
    raw = summarize_scores(score_forecasts(new), by=["location"])
    assert raw["coverage_90"].iloc[0] < 0.5
    c = fit_conformal(cal, method=method)
    fixed = apply_conformal(new, c)
    assert fixed.groupby("date")["value"].is_monotonic_increasing.all()
    s = summarize_scores(score_forecasts(fixed), by=["location"]).iloc[0]
    assert 0.86 <= s["coverage_90"] <= 0.94
    assert 0.45 <= s["coverage_50"] <= 0.56
    assert s["wis"] < raw["wis"].iloc[0]
    # the median is untouched unless asked
    med = fixed[fixed["quantile"] == 0.5]["value"].to_numpy()
    np.testing.assert_allclose(med, new[new["quantile"] == 0.5]["value"].to_numpy())


def test_conformal_errors():
    fc = _overconfident(50)
    with pytest.raises(ValueError, match="method"):
        fit_conformal(fc, method="bogus")
    with pytest.raises(ValidationError, match="no offset"):
        apply_conformal(fc.assign(quantile=fc["quantile"] + 0.001), fit_conformal(fc))


def test_blend_quantiles_averages_and_checks_alignment():
    a = _quantile_frame(seed=3)
    b = a.assign(value=a["value"] * 4)
    m = blend_quantiles({"a": a, "b": b}, {"a": 1.0, "b": 3.0})
    np.testing.assert_allclose(
        m["value"], a.sort_values(["location", "date", "quantile"])["value"] * (0.25 + 0.75 * 4)
    )
    g = blend_quantiles({"a": a, "b": b}, {"a": 1, "b": 1}, scale="log1p")
    va = a.sort_values(["location", "date", "quantile"])["value"].to_numpy()
    np.testing.assert_allclose(g["value"], np.expm1((np.log1p(va) + np.log1p(4 * va)) / 2))
    with pytest.raises(ValidationError, match="missing from some models"):
        blend_quantiles({"a": a, "b": b.iloc[9:]}, {"a": 1, "b": 1})


# --------------------------------------------------------------------------- real data


@pytest.mark.data("brazil_imdc")
def test_sprint_pool_convention_reproduces_the_climatology_and_the_official_table():
    from sdmkit.datasets.dengue import (
        load_brazil_cases,
        load_sprint2025_forecasts,
        load_sprint2025_wis,
    )
    from sdmkit.forecast.scoring import wis_from_frame

    cases = load_brazil_cases()
    preds = load_sprint2025_forecasts()
    preds = preds[preds["valid_test"].isin(["1", "2"])]
    preds = preds.merge(cases[["location", "date", "cases"]], on=["location", "date"])
    preds["wis"] = wis_from_frame(preds)
    pool = preds.groupby(["model_id", "location", "valid_test"], as_index=False)["wis"].mean()
    pool = pool.rename(columns={"model_id": "model", "valid_test": "test"})
    # the official table, for one model, from the submitted forecasts
    official = load_sprint2025_wis()
    mine = pool[pool["model"] == 157].merge(
        official.rename(columns={"model_id": "model", "valid_test": "test"}),
        on=["model", "location", "test"],
    )
    assert len(mine) == 54
    np.testing.assert_allclose(mine["wis_x"], mine["wis_y"], rtol=1e-3)
    # same-epiweek climatology over the last 8 seasons, scored against the pool of 18 + itself
    panel = make_panel(cases[["location", "date", "cases"]])
    rows = []
    for k in ("1", "2"):
        flag = cases[f"target_{k}"].to_numpy()
        origin = cases.loc[cases[f"train_{k}"], "date"].max()
        fc = backtest(
            ClimatologyQuantiles(n_seasons=8, window=0), panel, [origin], horizons="season"
        )
        s = score_forecasts(fc)
        target = cases.loc[flag, ["location", "date"]]
        s = s.merge(target, on=["location", "date"])
        assert len(s) == 27 * 52
        rows.append(s.groupby("location", as_index=False)["wis"].mean().assign(test=k))
    clim = pd.concat(rows).assign(model="climatology")
    assert pool_relative_wis(clim, "climatology", pool) == pytest.approx(0.871, abs=0.01)
