"""Yield-stress: Fourier network, blended baselines, CY-Bench tables and the benchmark entry point."""

from __future__ import annotations

import json
import runpy
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError
from sdmkit.datasets.simulate import yield_panel
from sdmkit.forecast.yield_models import BlendedBaseline
from sdmkit.forecast.yield_stress import season_panel_from_cybench

torch = pytest.importorskip("torch")

from sdmkit.forecast.spectral import (  # noqa: E402
    FourierNetRegressor,
    SpectralConv1d,
    period_series,
)

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "cybench.py"


# =========================================================================== network


def test_spectral_convolution_keeps_only_the_lowest_modes():
    torch.manual_seed(0)
    conv = SpectralConv1d(1, 1, modes=3)
    t = torch.arange(32, dtype=torch.float32)
    high = torch.cos(2 * np.pi * 8 * t / 32)[None, None, :]  # mode 8 > 3 modes kept
    low = torch.cos(2 * np.pi * 1 * t / 32)[None, None, :]
    assert conv(high).abs().max() < 1e-5
    assert conv(low).abs().max() > 1e-4


def test_fourier_net_learns_a_late_season_signal():
    rng = np.random.default_rng(0)
    n, steps = 300, 12
    S = rng.normal(size=(n, steps))
    X = pd.DataFrame(S, columns=[f"ndvi@{t}" for t in range(steps)])
    X.insert(0, "adm_id", "a")
    X.insert(1, "harvest_year", np.arange(n))
    X["trend"] = rng.uniform(6, 10, n)
    y = X["trend"].to_numpy() * (1 + 0.2 * S[:, 6:].mean(axis=1))
    train = np.arange(n) < 240
    net = FourierNetRegressor(epochs=150, n_ensemble=1, width=8, modes=4, random_state=0)
    pred = net.fit(X[train], y[train]).predict(X[~train])
    base = np.mean((y[~train] - X["trend"].to_numpy()[~train]) ** 2)
    assert np.mean((y[~train] - pred) ** 2) < 0.7 * base
    # steps after a cut-off (all NaN) are masked out and do not break prediction
    Xc = X.copy()
    Xc[[f"ndvi@{t}" for t in range(8, steps)]] = np.nan
    assert np.isfinite(net.predict(Xc[~train])).all()
    with pytest.raises(ValidationError, match="series columns"):
        FourierNetRegressor(epochs=1).fit(X[["adm_id", "harvest_year", "trend"]], y)


def test_period_series_renames_designed_features():
    X = pd.DataFrame(columns=["adm_id", "trend", "a_avgTAVGp0", "a_Z-CWBp3", "avgPRECp1"])
    assert list(period_series(X).columns) == [
        "adm_id",
        "trend",
        "avgTAVG@0",
        "Z-CWB@3",
        "avgPRECp1",
    ]


def test_blended_baseline_oof_never_sees_its_own_season():
    from sdmkit.forecast.yield_models import AverageYieldModel, TrendModel, oof_predict

    X = pd.DataFrame(
        {"adm_id": np.repeat(["a", "b"], 8), "harvest_year": np.tile(np.arange(2000, 2008), 2)}
    )
    y = 8.0 + 0.3 * (X["harvest_year"].to_numpy() - 2000) + np.tile([0.1, -0.1], 8)
    bb = BlendedBaseline(step=0.5).fit(X, y)
    assert bb.weights_ == {"average": 0.0, "trend": 1.0}
    np.testing.assert_allclose(bb.oof_, oof_predict(TrendModel(), X, y))
    y2 = y.copy()
    y2[X["harvest_year"] == 2003] += 50.0  # a wild season does not leak into its own base
    bb2 = BlendedBaseline(step=0.5).fit(X, y2)
    own = X["harvest_year"].to_numpy() == 2003
    w = bb2.weights_
    ref = w["average"] * oof_predict(AverageYieldModel(), X, y2) + w["trend"] * oof_predict(
        TrendModel(), X, y2
    )
    np.testing.assert_allclose(bb2.oof_, ref)
    assert (bb2.oof_[own] < 20).all()


# =========================================================================== a synthetic country


def _write_country(
    root: Path,
    country="XX",
    crop="maize",
    n_regions=4,
    years=range(2003, 2011),
    unit_factor=1.0,
    seed=0,
):
    sim = yield_panel(n_regions=n_regions, years=years, season_days=150, random_state=seed)
    d = root / crop / country
    d.mkdir(parents=True, exist_ok=True)
    y = sim.yields
    pd.DataFrame(
        {
            "crop_name": crop,
            "country_code": country,
            "adm_id": y["adm_id"],
            "harvest_year": y["harvest_year"],
            "yield": y["yield"] * unit_factor,
            "harvest_area": 1000.0,
            "production": y["yield"] * 1000.0,
        }
    ).to_csv(d / f"yield_{crop}_{country}.csv", index=False)
    s = sim.series[sim.series["date"].dt.day_of_year % 8 == 0]  # 8-day composites
    pd.DataFrame(
        {
            "crop_name": crop,
            "adm_id": s["adm_id"],
            "date": s["date"].dt.strftime("%Y%m%d"),
            "ndvi": 50.0 + 200.0 * s["ndvi"],
        }
    ).to_csv(d / f"ndvi_{crop}_{country}.csv", index=False)
    ids = sim.truth["adm_ids"]
    pd.DataFrame({"crop_name": crop, "adm_id": ids, "sos": 273.0 - 149.0, "eos": 273.0}).to_csv(
        d / f"crop_calendar_{crop}_{country}.csv", index=False
    )
    pd.DataFrame(
        {
            "crop_name": crop,
            "adm_id": ids,
            "awc": np.linspace(10, 20, len(ids)),
            "bulk_density": 1.3,
            "drainage_class": 3,
        }
    ).to_csv(d / f"soil_{crop}_{country}.csv", index=False)
    return sim


def test_cybench_layout_builds_a_season_panel(tmp_path):
    from sdmkit.datasets.cybench import load_cybench

    _write_country(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fpar table missing: warned by the loader
        tables = load_cybench("maize", "XX", data_dir=tmp_path)
    panel = season_panel_from_cybench(tables)
    assert panel.variables == ("ndvi",)
    assert len(panel.yields) == 4 * 8
    assert list(panel.static.columns) == ["adm_id", "awc", "bulk_density", "drainage_class"]
    arr = panel.to_array(0.5, n_steps=10)
    assert np.isnan(arr.values[..., 5:]).all() and np.isfinite(arr.values[..., :5]).all()


def test_benchmark_runs_on_a_synthetic_country(tmp_path):
    _write_country(tmp_path / "data")
    out = tmp_path / "xx.json"
    bench = runpy.run_path(str(BENCH), run_name="cybench_bench")
    res = bench["main"](
        [
            "--country",
            "XX",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--smoke",
            "--crops",
            "maize,wheat",
            "--fractions",
            "0.5,1",
        ]
    )
    saved = json.loads(out.read_text())
    assert saved["xx"]["wheat"]["skipped"].startswith("No CY-Bench yield table")
    m = saved["xx"]["maize"]["models"]
    for name in ("average", "trend", "ridge", "lightgbm_residual", "fourier_net", "ensemble"):
        assert np.isfinite(m[name]["nrmse"])
        if name != "fourier_net":  # no leak-free spread for the network (see the benchmark)
            assert 0 <= m[name]["brier"] <= 1
    assert "brier" not in m["fourier_net"]
    lead = saved["xx"]["maize"]["lead_time"]
    assert set(lead) == {"0.5", "1"}
    assert np.isfinite(lead["0.5"]["ridge"]["nrmse"])
    rel = saved["xx"]["maize"]["shortfall"]["ridge"]["reliability"]
    assert sum(r["count"] for r in rel) == m["ridge"]["n"]
    assert res["xx"]["maize"]["n_seasons"] == 32


def test_benchmark_reports_kg_per_ha_tables(tmp_path):
    _write_country(tmp_path / "data", unit_factor=1000.0)
    bench = runpy.run_path(str(BENCH), run_name="cybench_bench")
    with pytest.raises(ValidationError, match="kg/ha"):
        bench["main"](
            [
                "--country",
                "XX",
                "--data-dir",
                str(tmp_path / "data"),
                "--out",
                str(tmp_path / "o.json"),
                "--smoke",
                "--crops",
                "maize",
                "--fractions",
                "1",
            ]
        )


def _country_tables(root, **kw):
    from sdmkit.datasets.cybench import load_cybench

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_cybench("maize", "XX", data_dir=root, **kw)


def test_held_out_years_own_yields_never_reach_its_forecast(tmp_path):
    """Nested protocol: year Y's forecasts and probabilities ignore Y's own yields."""
    bench = runpy.run_path(str(BENCH), run_name="cybench_bench")
    sim = _write_country(tmp_path / "a", n_regions=4, years=range(2003, 2011))
    _write_country(tmp_path / "b", n_regions=4, years=range(2003, 2011))
    f = tmp_path / "b" / "maize" / "XX" / "yield_maize_XX.csv"
    t = pd.read_csv(f)
    wild = t["harvest_year"] == 2006
    t.loc[wild, "yield"] = t.loc[wild, "yield"] * np.array([0.3, 1.8, 0.5, 1.6])
    t.to_csv(f, index=False)
    kw = dict(smoke=True, fractions=(1.0,), keep_predictions=True)
    a = bench["country_crop"](_country_tables(tmp_path / "a"), **kw)["_predictions"]
    b = bench["country_crop"](_country_tables(tmp_path / "b"), **kw)["_predictions"]
    assert len(a) == len(b) and set(a["model"]) >= {"trend_selected", "ridge", "ensemble"}
    own = a["harvest_year"] == 2006
    for col in ("prediction", "p_shortfall"):
        np.testing.assert_allclose(a.loc[own, col], b.loc[own, col], rtol=1e-9)
    # ... while the other years' forecasts do learn from the 2006 yields
    assert not np.allclose(a.loc[~own, "prediction"], b.loc[~own, "prediction"])
    assert len(sim.yields) == 32


def test_benchmark_reports_bad_seasons_and_scores_the_rest(tmp_path):
    """Missing seasons, a single-season region, a season whose series stops early."""
    bench = runpy.run_path(str(BENCH), run_name="cybench_bench")
    _write_country(tmp_path, n_regions=4, years=range(2003, 2011))
    d = tmp_path / "maize" / "XX"
    t = pd.read_csv(d / "yield_maize_XX.csv")
    gone = (t["adm_id"] == t["adm_id"].iloc[0]) & t["harvest_year"].isin([2005, 2006])
    alone = (t["adm_id"] == t["adm_id"].iloc[-1]) & (t["harvest_year"] != 2008)
    t = t[~gone & ~alone]
    t.to_csv(d / "yield_maize_XX.csv", index=False)
    s = pd.read_csv(d / "ndvi_maize_XX.csv")
    cut = (s["adm_id"] == t["adm_id"].iloc[0]) & s["date"].between(
        20090815, 20091231
    )  # stops early
    s[~cut].to_csv(d / "ndvi_maize_XX.csv", index=False)
    res = bench["country_crop"](_country_tables(tmp_path), smoke=True, fractions=(0.5, 1.0))
    notes = " ".join(res["notes"])
    assert "1 regions have a single season" in notes and "2 missing seasons" in notes
    assert res["n_seasons"] == len(t)
    assert res["lead_time"]["1"]["_n_not_covered"] == 1
    assert res["lead_time"]["0.5"]["_n_not_covered"] == 0
    assert res["models"]["ensemble"]["n"] == res["lead_time"]["1"]["_n_scored"]
    assert res["lead_time"]["1"]["_n_scored"] <= len(t) - 1
    for name, m in res["models"].items():
        assert np.isfinite(m["nrmse"]) and (name == "fourier_net" or 0 <= m["brier"] <= 1), name
    cal = res["shortfall"]["ensemble"]
    assert sum(r["count"] for r in cal["reliability"]) == res["models"]["ensemble"]["n"]
    assert {"brier_skill", "reliability_term", "resolution_term"} <= set(cal)


def test_too_few_years_is_reported_not_raised(tmp_path):
    bench = runpy.run_path(str(BENCH), run_name="cybench_bench")
    _write_country(tmp_path, n_regions=3, years=range(2005, 2007))
    res = bench["country_crop"](_country_tables(tmp_path), smoke=True, fractions=(1.0,))
    assert "at least 3" in res["error"]


# =========================================================================== real data


@pytest.mark.data("cybench_sample")
def test_nl_wheat_panel_and_coverage():
    from sdmkit.datasets.cybench import load_cybench

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = season_panel_from_cybench(load_cybench("wheat", "NL"))
    assert panel.variables == ("fpar", "ndvi")
    cov = panel.coverage(0.5)
    # the series start in 2001: the 2000 seasons are not covered (and only they)
    assert set(cov.loc[~cov["covered"], "harvest_year"]) == {2000}
    with pytest.raises(ValidationError, match="2000"):
        panel.to_array(0.5)
    arr = panel.to_array(0.5, on_uncovered="mask")
    assert arr.covered.sum(axis=0).tolist() == [230, 230]
    # winter wheat: the season ends in early August
    b = panel.bounds()
    assert (b["end"].dt.month.isin([7, 8])).all()


@pytest.mark.data("cybench_sample")
def test_us_maize_design_at_lead_times():
    from sdmkit.datasets.cybench import load_cybench_us_maize
    from sdmkit.forecast.yield_features import TrendEstimator, cybench_design, yield_history

    tr = load_cybench_us_maize("train")
    tr = tr[tr["adm_id"].str.startswith("IA_")].reset_index(drop=True)
    te = TrendEstimator(shrinkage=np.inf, decay=0.7, level="huber", slope_prior=0.0).fit(
        yield_history(tr)
    )
    early = cybench_design(tr, trend=te, fraction=0.25)
    full = cybench_design(tr, trend=te, fraction=1.0)
    assert not any(c.endswith(("p1", "p2", "p3", "p4")) for c in early.columns)
    assert {"avgCWBp4", "avgFAPARp2", "Z-TMAXp3"} <= set(full.columns)
    assert early["state"].astype(str).eq("IA").all()
    assert np.isfinite(full["trend"]).all()
    # the trend of 2000-2011 rows uses only earlier years and the rows' own lags
    err = full["trend"] - tr["yield"]
    assert abs(err.mean()) < 1.5
