# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Yield stress: in-season crop-yield forecasts and shortfall probabilities
#
# For each region and season: forecast the yield, and the probability of a
# **shortfall** — a yield more than 10% below the region's expected (trend) yield —
# at several points *during* the season (25/50/75/100% of the crop calendar), with
# probabilities that should be calibrated.
#
# Two data layouts from the CY-Bench sample:
#
# 1. **US county maize** — CY-Bench's designed features (weather by crop-calendar
#    period, FAPAR, soil, yield lags); CY-Bench's split: train 2000–2011, test 2012–2018.
# 2. **Netherlands maize and wheat** — long tables (NDVI, FAPAR series, crop calendar,
#    soil) turned into region × season panels; leave-one-year-out.
#
# Models: average-yield and trend baselines, ridge and LightGBM on the trend residual,
# a Fourier convolutional network (spectral convolution over the in-season series).
# Then: skill against lead time, a reliability diagram and Brier score of the
# shortfall probability, and maps of that probability per region.
#
# The full benchmark (every choice made by validation on training years) is
# `sdmkit bench cybench` → `benchmarks/results/cybench.json`; this notebook reuses the
# model settings it selected instead of repeating the search.

# %% tags=["parameters"]
import os

# "smoke": the small setting CI runs; "default": what `make demo` runs.
SIZE = os.environ.get("SDMKIT_NB_SIZE", "default")

# %%
# %matplotlib inline
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sdmkit.datasets import available, simulate
from sdmkit.forecast.spectral import FourierNetRegressor, period_series, series_frame
from sdmkit.forecast.yield_features import (
    Climatology,
    SeasonFeatures,
    TrendEstimator,
    cybench_design,
    designed_features_at,
    yield_history,
)
from sdmkit.forecast.yield_metrics import (
    brier_score,
    nrmse,
    plot_reliability,
    r2,
    reliability_table,
    shortfall_event,
)
from sdmkit.forecast.yield_models import (
    AverageYieldModel,
    BlendedBaseline,
    ResidualDistribution,
    ResidualRegressor,
    TrendModel,
    YieldStressForecaster,
    blend_weights,
)
from sdmkit.forecast.yield_stress import season_panel, season_panel_from_cybench

SMOKE = SIZE == "smoke"
FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # lead times: fraction of the season observed
THRESHOLD = 0.1  # shortfall: yield < (1 - THRESHOLD) x trend yield
US_COUNTIES = 150 if SMOKE else None  # None: all ~915 counties
OOF_BLOCKS = 2 if SMOKE else 3  # contiguous blocks of training years for out-of-fold errors
LGB_TREES = 60 if SMOKE else 250
FNO_EPOCHS_US = 4 if SMOKE else 20
NL_EVAL_YEARS = 3 if SMOKE else None  # leave-one-year-out over the last k years (None: all)
FNO_EPOCHS_NL = 8 if SMOKE else 20
threadpool_limits(1)  # small models: one BLAS thread each is fastest on a 2-core machine
T0, CPU0 = time.perf_counter(), time.process_time()
print(f"size={SIZE!r}: US counties {US_COUNTIES or 'all'}, {LGB_TREES} trees, "
      f"network epochs {FNO_EPOCHS_US} (US) / {FNO_EPOCHS_NL} (NL), "
      f"NL years {'last ' + str(NL_EVAL_YEARS) if NL_EVAL_YEARS else 'all'}")

# %% [markdown]
# ## 1. Data
# Real CY-Bench sample data when the machine has it (`SDMKIT_DATA_DIR`); otherwise
# **simulated** panels with the same layout (`sdmkit.datasets.simulate.yield_panel`:
# a trend plus heat and drought stress), and the cell says which.


# %%
def simulated_us_table(n_regions, seed=0):
    """CY-Bench-like designed features (period means, yield lags) from a simulated panel."""
    sim = simulate.yield_panel(n_regions=n_regions, years=range(1995, 2019), season_days=150,
                               random_state=seed)
    s = sim.series.copy()
    day = s.groupby(["adm_id", "harvest_year"]).cumcount()
    s["p"] = (5 * day // 150).astype(int)  # five equal crop-calendar periods p0..p4
    wide = s.pivot_table(index=["adm_id", "harvest_year"], columns="p",
                         values=["tmax", "prec"], aggfunc="mean")
    wide.columns = [f"avg{'TMAX' if v == 'tmax' else 'PREC'}p{p}" for v, p in wide.columns]
    t = sim.yields[["adm_id", "harvest_year", "yield"]].merge(wide.reset_index())
    t = t.sort_values(["adm_id", "harvest_year"]).reset_index(drop=True)
    for j in range(1, 6):
        t[f"yield-{j}"] = t.groupby("adm_id")["yield"].shift(j)
    t["SM_WHC"] = t["adm_id"].map(dict(zip(sim.truth["adm_ids"], sim.truth["prec_normal"])))
    t["yield_trend"] = np.nan
    # fake "states" so that adm_id looks like CY-Bench's STATE_COUNTY
    t["adm_id"] = [f"S{int(a.split('_')[1]) % 6}_{a}" for a in t["adm_id"]]
    return t[t["harvest_year"] >= 2000].reset_index(drop=True)


def simulated_nl_panel(crop, seed):
    """A SeasonPanel with 8-day NDVI composites from a simulated panel (12 regions, 2001-2020)."""
    sim = simulate.yield_panel(n_regions=12, years=range(2001, 2021), season_days=150,
                               random_state=seed)
    s = sim.series[sim.series["date"].dt.day_of_year % 8 == 0]
    cal = {"adm_id": sim.truth["adm_ids"], "sos": [124.0] * 12, "eos": [273.0] * 12}
    return season_panel(sim.yields[["adm_id", "harvest_year", "yield"]], s, cal,
                        variables=["ndvi"], crop=crop, country="SIM")


REAL = available("cybench_sample")
if REAL:
    from sdmkit.datasets.cybench import load_cybench, load_cybench_us_maize

    us_train, us_test = load_cybench_us_maize("train"), load_cybench_us_maize("test")
    nl_panels = {}
    for crop in ("maize", "wheat"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            nl_panels[crop] = season_panel_from_cybench(load_cybench(crop, "NL"))
        for w in caught:  # the loaders' data notes (zero yields, NDVI fill values)
            print(f"note ({crop}): {str(w.message)[:160]}…")
    print("DATA: REAL — CY-Bench sample: US county maize designed features, NL maize/wheat tables")
else:
    full = simulated_us_table(150 if SMOKE else 400)
    us_train = full[full["harvest_year"] <= 2011].reset_index(drop=True)
    us_test = full[full["harvest_year"] >= 2012].reset_index(drop=True)
    nl_panels = {"maize": simulated_nl_panel("maize", 1), "wheat": simulated_nl_panel("wheat", 2)}
    print("DATA: SIMULATED — set SDMKIT_DATA_DIR for the real CY-Bench sample (cybench_sample)")
SIM = "" if REAL else " (SIMULATED)"  # appended to every figure title

if US_COUNTIES is not None:
    keep = us_train["adm_id"].drop_duplicates().sample(
        min(US_COUNTIES, us_train["adm_id"].nunique()), random_state=0)
    us_train = us_train[us_train["adm_id"].isin(keep)].reset_index(drop=True)
    us_test = us_test[us_test["adm_id"].isin(keep)].reset_index(drop=True)
print(f"US maize: train {len(us_train)} county-years ({us_train['adm_id'].nunique()} counties, "
      f"{us_train['harvest_year'].min()}-{us_train['harvest_year'].max()}), test {len(us_test)} "
      f"({us_test['harvest_year'].min()}-{us_test['harvest_year'].max()})")
for crop, panel in nl_panels.items():
    print(f"NL {crop}: {panel}")

# %% [markdown]
# The NL series are aligned to each region's crop calendar: position 0 is the start of
# the season, 1 its end. A forecast at fraction *f* may only use observations up to *f*
# (`SeasonPanel.to_array(f)` filters them before anything is binned or filled).
# NDVI is on the MOD09CMG scale (NDVI = (x − 50) / 200); dotted lines: the cut-offs.

# %%
panel = nl_panels["maize"]
arr = panel.to_array(1.0, n_steps=20, on_uncovered="mask")
var = "ndvi" if "ndvi" in arr.variables else arr.variables[0]
region = panel.yields["adm_id"].value_counts().index[0]
rows = np.flatnonzero(arr.keys["adm_id"].to_numpy() == region)
yl = panel.yields.set_index(["adm_id", "harvest_year"])["yield"]
ratio = np.array([yl[(region, yr)] for yr in arr.keys["harvest_year"].to_numpy()[rows]])
ratio = ratio / np.median(ratio)
fig, ax = plt.subplots(figsize=(7, 3.2))
grid = (np.arange(arr.n_steps) + 0.5) / arr.n_steps
cmap = plt.get_cmap("RdYlGn")
for r, q in zip(rows, ratio):
    ax.plot(grid, arr.values[r, arr.variables.index(var)], color=cmap(np.clip((q - 0.8) / 0.4, 0, 1)),
            lw=1)
for f in FRACTIONS[:-1]:
    ax.axvline(f, color="0.5", ls=":", lw=1)
ax.set_xlabel("fraction of the season")
ax.set_ylabel(var if REAL else f"{var} (simulated)")
ax.set_title(f"{var}, NL maize{SIM}, {region}: one line per season (red: low yield, green: high)")
plt.show()

# %% [markdown]
# ## 2. US county maize
# ### 2.1 Expected yield: the trend, chosen on training years only
# The shortfall event is defined against each county's trend yield, so the trend is
# the first model. Candidates are scored on training seasons 2005–2011, each season
# from earlier years only (plus its own yield lags); the benchmark sweeps 14
# candidates, here three.

# %%
hist = yield_history(us_train)
lags = [c for c in us_train.columns if c.startswith("yield-")]
trend_candidates = {
    "ols_window10 (CY-Bench-like)": dict(method="ols", min_years=5, window=10, level="mean"),
    "theil_sen": dict(method="theil-sen"),
    "pooled_slope0_decay0.7_huber": dict(shrinkage=np.inf, decay=0.7, level="huber",
                                         slope_prior=0.0),
}
val = us_train[us_train["harvest_year"] >= 2005].reset_index(drop=True)
trend_scores = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # a few counties have no earlier year: all-county mean
    for name, kw in trend_candidates.items():
        est = TrendEstimator(**kw).fit(hist)
        trend_scores[name] = nrmse(val["yield"], est.predict(val, recent=val[lags]))
best_trend = min(trend_scores, key=trend_scores.get)
trend_est = TrendEstimator(**trend_candidates[best_trend]).fit(hist)
print(f"chosen trend: {best_trend}")
pd.Series(trend_scores, name="NRMSE 2005-2011 (train)").round(2).to_frame()

# %% [markdown]
# ### 2.2 Features known at each lead time
# CY-Bench's weather features are period means of five crop-calendar periods `p0`…`p4`
# (taken as equal fifths of the season). At 25% of the season only `p0` is complete,
# at 50% `p0`–`p1`, at 75% `p0`–`p2` (with FAPAR `p2`), at 100% everything. Weather
# anomalies are taken against each county's own climatology of the **training** years
# (refitted inside every cross-validation fold).

# %%
y_tr, y_te = us_train["yield"].to_numpy(), us_test["yield"].to_numpy()
years_tr = us_train["harvest_year"].to_numpy()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    base_tr = cybench_design(us_train, trend=trend_est)
    base_te = cybench_design(us_test, trend=trend_est)
trend_tr, trend_te = base_tr["trend"].to_numpy(), base_te["trend"].to_numpy()
event_tr = shortfall_event(y_tr, trend_tr, THRESHOLD)
event_te = shortfall_event(y_te, trend_te, THRESHOLD)
dynamic = [c for c in base_tr.columns if c.startswith(("avg", "Z-", "Z+"))]
soil = [c for c in base_tr.columns if c.startswith("SM_")]


def us_design(frame, base, fraction, fit_rows):
    """Design frame at a lead time: known raw features + anomalies vs training climatology."""
    known = designed_features_at(dynamic, fraction)
    clim = Climatology(known).fit(us_train[fit_rows])
    X = base[designed_features_at(base.columns, fraction)]
    return pd.concat([X, clim.transform(frame.reset_index(drop=True))], axis=1)


for f in FRACTIONS:
    known = designed_features_at(dynamic, f)
    print(f"lead {f:.0%}: {len(known):2d} of {len(dynamic)} weather/FAPAR features known")
print(f"shortfall event (yield < {1 - THRESHOLD:.0%} of trend): "
      f"{event_tr.mean():.1%} of training seasons, {event_te.mean():.1%} of test seasons")

# %% [markdown]
# ### 2.3 Models at every lead time
# For each lead time: ridge and LightGBM on the difference from the trend (settings
# selected by leave-one-year-out on 2000–2011 in the benchmark), their blend (weights
# from out-of-fold predictions), and at the end of the season only (to keep the demo
# short) the Fourier network on the weather anomalies as a 5-step series per variable. The **shortfall probability**
# comes from a predictive distribution `y = ŷ (1 + e)`, with the relative errors `e`
# taken from out-of-fold predictions over blocks of training years
# (`YieldStressForecaster`), so an earlier, less certain forecast gets a wider
# distribution.


# %%
def oof_blocks(make_model, design, k=OOF_BLOCKS):
    """Out-of-fold predictions over k blocks of training years; design(fit_rows) -> X_train."""
    out = np.full(len(y_tr), np.nan)
    for block in np.array_split(np.unique(years_tr), k):
        test = np.isin(years_tr, block)
        X = design(~test)
        out[test] = make_model().fit(X[~test], y_tr[~test]).predict(X[test])
    return out


def probability(oof_pred, pred, trend):
    """P(yield < (1 - THRESHOLD) x trend) from the out-of-fold relative errors."""
    dist = ResidualDistribution("normal").fit(y_tr, oof_pred)
    return dist.cdf(pred, (1 - THRESHOLD) * np.asarray(trend))


all_rows = np.ones(len(y_tr), bool)
makers = {
    "ridge": lambda: ResidualRegressor("ridge", target="difference"),
    "lightgbm_residual": lambda: ResidualRegressor(
        "lightgbm", target="difference", params={"n_estimators": LGB_TREES, "num_leaves": 15}),
}
us_pred, us_prob, us_rows = {}, {}, []

# baselines: the same at every lead time (they use no in-season information)
baseline_oof = {
    "average": oof_blocks(AverageYieldModel, lambda m: base_tr),
    "trend": None,
    "trend_robust": trend_tr,  # causal: each season from earlier years only
}
ols = TrendModel("ols", window=10, min_years=5, causal=True, history=hist)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    baseline_pred = {
        "average": AverageYieldModel().fit(base_tr, y_tr).predict(base_te),
        "trend": ols.fit(us_train, y_tr).predict(us_test),
        "trend_robust": trend_te,
    }
    baseline_oof["trend"] = ols.predict(us_train)  # causal as well

t = time.perf_counter()
for f in FRACTIONS:
    Xtr = us_design(us_train, base_tr, f, all_rows)
    Xte = us_design(us_test, base_te, f, all_rows)
    oof, pred = dict(baseline_oof), dict(baseline_pred)
    for name, make in makers.items():
        oof[name] = oof_blocks(make, lambda m, f=f: us_design(us_train, base_tr, f, m))
        fc = YieldStressForecaster(make(), threshold=THRESHOLD).fit(Xtr, y_tr, oof=oof[name])
        pred[name] = fc.predict(Xte)  # fc.predict_shortfall(Xte): the same as probability()
    w = blend_weights(y_tr, {k: oof[k] for k in makers})
    oof["ensemble"] = sum(w[k] * oof[k] for k in makers)
    pred["ensemble"] = sum(w[k] * pred[k] for k in makers)
    if f == 1.0:  # Fourier network on the anomaly series by period
        keep = ["adm_id", "harvest_year", "trend", "lag1_dev", *soil]

        def fno_design(X, keep=keep):
            return period_series(X[keep + [c for c in X.columns if c.startswith("a_")]])

        def make_fno():
            return FourierNetRegressor(epochs=FNO_EPOCHS_US, n_ensemble=1, width=16, modes=3,
                                       batch_size=512, random_state=0)

        oof["fourier_net"] = oof_blocks(
            make_fno, lambda m: fno_design(us_design(us_train, base_tr, 1.0, m)))
        pred["fourier_net"] = make_fno().fit(fno_design(Xtr), y_tr).predict(fno_design(Xte))
    for name, p in pred.items():
        us_pred[f, name] = p
        us_prob[f, name] = probability(oof[name], p, trend_te)
        us_rows.append({"lead": f, "model": name, "nrmse": nrmse(y_te, p), "r2": r2(y_te, p),
                        "brier": brier_score(event_te, us_prob[f, name])})
    print(f"lead {f:.2f}: blend {w}  ({time.perf_counter() - t:.0f} s)")
us_skill = pd.DataFrame(us_rows)

# %% [markdown]
# **US maize, test years 2012–2018, end of season.** CY-Bench's reference numbers on
# this split (NRMSE %, R²): county mean 24.6 (0.18), CY-Bench trend 24.4, ridge 20.7,
# LightGBM 20.0 (0.46), LightGBM on the trend residual 19.5 (0.49). Brier score of the
# shortfall probability; the climatology reference (training-years frequency for
# every season) is in the last row.

# %%
clim_p = np.full(len(y_te), event_tr.mean())
us_table = us_skill[us_skill["lead"] == 1.0].set_index("model")[["nrmse", "r2", "brier"]]
us_table.loc["climatology (probability only)"] = [np.nan, np.nan, brier_score(event_te, clim_p)]
us_table.round(3)

# %% [markdown]
# ## 3. Netherlands maize and wheat (leave-one-year-out)
# Region × season panels from the long tables; each held-out year is forecast by
# models fitted on the other years only: region climatologies of the series, the
# baselines, and the base of the residual models — a convex blend of average,
# OLS-trend and robust-trend baselines with weights chosen by leave-one-year-out
# *inside* the training years (`BlendedBaseline`). In-season features: period means
# and anomalies of NDVI/FAPAR, Fourier coefficients (`SeasonFeatures`); the Fourier
# network reads the binned series and their anomalies directly. Seasons whose
# series do not reach the cut-off are not scored. The spread of year Y's predictive
# distribution comes from the other years' errors.

# %%
LGB_NL = dict(n_estimators=40 if SMOKE else 100, learning_rate=0.03, num_leaves=4,
              min_child_samples=20, colsample_bytree=0.5, reg_lambda=5.0)


def nl_leave_one_year_out(panel, eval_years=None):
    """Per-season predictions and shortfall probabilities for every lead time and model."""
    yl = panel.yields
    drop = yl["yield"] <= 0
    if drop.any():  # zero yield (with zero area): the crop was not grown
        print(f"  left out {int(drop.sum())} seasons with zero yield: "
              f"{list(map(tuple, yl.loc[drop, ['adm_id', 'harvest_year']].to_numpy()))}")
    yl = yl[~drop].reset_index(drop=True)
    keys, y = yl[["adm_id", "harvest_year"]], yl["yield"].to_numpy()
    years = yl["harvest_year"].to_numpy()
    held_out = np.unique(years) if eval_years is None else np.unique(years)[-eval_years:]
    components = {"average": AverageYieldModel(), "trend": TrendModel("ols", min_years=5),
                  "trend_robust": TrendModel(method="theil-sen", min_years=5, shrinkage=5.0,
                                             level="median")}
    base = {k: np.full(len(y), np.nan) for k in [*components, "baseline_blend"]}
    fold_base = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for yr in held_out:
            te = years == yr
            for name, m in components.items():
                base[name][te] = m.fit(keys[~te], y[~te]).predict(keys[te])
            bb = BlendedBaseline(components).fit(keys[~te], y[~te])
            b = np.full(len(y), np.nan)
            b[~te], b[te] = bb.oof_, bb.predict(keys[te])  # training rows: out-of-fold base
            base["baseline_blend"][te] = b[te]
            fold_base[yr] = b
    ho = np.isin(years, held_out)
    event = np.zeros(len(y), bool)  # only held-out seasons are scored
    event[ho] = shortfall_event(y[ho], base["trend_robust"][ho], THRESHOLD)
    rows, per_season = [], []
    for f in FRACTIONS:
        arr = panel.to_array(f, n_steps=20, keys=keys, on_uncovered="mask")
        covered = arr.covered.all(axis=1)
        pred = {k: np.full(len(y), np.nan) for k in ("ridge", "lightgbm_residual", "fourier_net")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for yr in held_out:
                te, trn = (years == yr) & covered, (years != yr) & covered
                if not te.any():
                    continue
                feats = SeasonFeatures(n_periods=5, n_modes=3).fit(arr.subset(trn))

                def design(mask, b=fold_base[yr], feats=feats, arr=arr):
                    sub = arr.subset(mask)
                    X = feats.transform(sub)
                    X.insert(2, "trend", b[mask])
                    if panel.static is not None:
                        X = X.merge(panel.static, on="adm_id", how="left")
                    return X, sub

                (Xa, sa), (Xb, sb) = design(trn), design(te)
                pred["ridge"][te] = ResidualRegressor("ridge", target="ratio").fit(
                    Xa, y[trn]).predict(Xb)
                pred["lightgbm_residual"][te] = ResidualRegressor(
                    "lightgbm", target="ratio", params=LGB_NL).fit(Xa, y[trn]).predict(Xb)
                Sa = series_frame(sa, anomalies=feats.anomalies(sa)).assign(trend=Xa["trend"])
                Sb = series_frame(sb, anomalies=feats.anomalies(sb)).assign(trend=Xb["trend"])
                net = FourierNetRegressor(epochs=FNO_EPOCHS_NL, n_ensemble=1, width=8, modes=4,
                                          batch_size=64, weight_decay=1e-2, random_state=int(yr))
                pred["fourier_net"][te] = net.fit(Sa, y[trn]).predict(Sb)
        pred["ensemble"] = (pred["ridge"] + pred["lightgbm_residual"] + pred["fourier_net"]) / 3
        scored = covered & np.isin(years, held_out) & np.isfinite(pred["ridge"])
        for name, p in {**base, **pred}.items():
            prob = np.full(len(y), np.nan)
            for yr in held_out:  # year yr's spread from the other held-out years' errors
                te, others = (years == yr) & scored, scored & (years != yr)
                if te.any():
                    d = ResidualDistribution("normal").fit(y[others], p[others])
                    prob[te] = d.cdf(p[te], (1 - THRESHOLD) * base["trend_robust"][te])
            rows.append({"lead": f, "model": name, "n": int(scored.sum()),
                         "nrmse": nrmse(y[scored], p[scored]), "r2": r2(y[scored], p[scored]),
                         "brier": brier_score(event[scored], prob[scored])})
            per_season.append(keys[scored].assign(lead=f, model=name, y=y[scored],
                                                  pred=p[scored], prob=prob[scored],
                                                  event=event[scored]))
    return pd.DataFrame(rows), pd.concat(per_season, ignore_index=True)


nl_skill, nl_seasons = {}, {}
for crop, panel in nl_panels.items():
    t = time.perf_counter()
    print(f"NL {crop}:")
    nl_skill[crop], nl_seasons[crop] = nl_leave_one_year_out(panel, NL_EVAL_YEARS)
    print(f"  {time.perf_counter() - t:.0f} s")
nl_table = pd.concat({crop: s[s["lead"] == 1.0].set_index("model")[["nrmse", "r2", "brier"]]
                      for crop, s in nl_skill.items()}, axis=1)
nl_table.round(3)

# %% [markdown]
# ## 4. Skill against lead time
# NRMSE (top) and Brier score of the shortfall event (bottom) at 25/50/75/100% of the
# season. Baselines use no in-season information, so they are flat (dashed); the
# grey dotted line in the Brier panels is a constant probability equal to the event's
# frequency in the evaluated seasons (climatology known in hindsight).

# %%
skills = {"US maize (test 2012-2018)": us_skill,
          **{f"NL {c} (leave-one-year-out)": s for c, s in nl_skill.items()}}
models_in_season = ["ridge", "lightgbm_residual", "fourier_net", "ensemble"]
baselines = ["average", "trend", "trend_robust"]
colors = dict(zip(models_in_season + baselines, plt.get_cmap("tab10").colors))
fig, axes = plt.subplots(2, len(skills), figsize=(4.2 * len(skills), 6.5), sharex=True)
for j, (title, s) in enumerate(skills.items()):
    for i, metric in enumerate(("nrmse", "brier")):
        ax = axes[i, j]
        for name in models_in_season:
            d = s[s["model"] == name].sort_values("lead")
            ax.plot(d["lead"], d[metric], marker="o", color=colors[name], label=name)
        for name in baselines:
            v = s.loc[(s["model"] == name) & (s["lead"] == 1.0), metric].iloc[0]
            ax.axhline(v, ls="--", lw=1, color=colors[name], label=name)
        if metric == "brier":  # constant probability = the evaluated seasons' base rate
            ev = event_te if j == 0 else nl_seasons[title.split()[1]].query(
                "lead == 1.0 and model == 'average'")["event"].to_numpy()
            ax.axhline(np.mean(ev) * (1 - np.mean(ev)), ls=":", color="0.4", label="base rate")
        ax.set_ylabel("NRMSE (%)" if metric == "nrmse" else "Brier score")
        ax.set_xticks(FRACTIONS)
        if i == 0:
            ax.set_title(title + SIM, fontsize="medium")
        else:
            ax.set_xlabel("fraction of the season observed")
fig.legend(*axes[1, 0].get_legend_handles_labels(), loc="lower center", ncol=8,
           fontsize="small", frameon=False)
fig.tight_layout(rect=(0, 0.05, 1, 1))
plt.show()

# %% [markdown]
# ## 5. Calibration of the shortfall probability
# Reliability diagrams: the observed frequency of a shortfall among seasons given a
# probability in each bin, against the mean probability (marker area ∝ number of
# seasons). On the diagonal, "30%" means 30%. Left: US maize, end of season, test
# years 2012–2018; middle: the blend at each lead time; right: NL (both crops pooled,
# leave-one-year-out, 5 bins — few seasons).

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4.8))
for name in ("ensemble", "lightgbm_residual", "fourier_net", "trend_robust"):
    plot_reliability(event_te, us_prob[1.0, name], ax=axes[0], label=name, color=colors[name])
axes[0].set_title(f"US maize{SIM}, end of season")
for f, c in zip(FRACTIONS, plt.get_cmap("viridis")(np.linspace(0, 0.9, len(FRACTIONS)))):
    plot_reliability(event_te, us_prob[f, "ensemble"], ax=axes[1], label=f"{f:.0%}", color=c)
axes[1].set_title(f"US maize{SIM}, blend, by lead time")
nl_end = pd.concat([s.query("lead == 1.0") for s in nl_seasons.values()])
for name in ("ensemble", "baseline_blend"):
    d = nl_end[nl_end["model"] == name]
    plot_reliability(d["event"], d["prob"], n_bins=5, ax=axes[2], label=name,
                     color=colors.get(name, "0.3"))
axes[2].set_title(f"NL maize + wheat{SIM}, end of season ({len(d)} seasons)")
fig.tight_layout()
plt.show()

brier = pd.DataFrame({
    "brier": {n: brier_score(event_te, us_prob[1.0, n]) for n in us_table.index[:-1]},
})
brier.loc["climatology"] = brier_score(event_te, clim_p)
brier["skill_vs_climatology"] = 1 - brier["brier"] / brier.loc["climatology", "brier"]
print(f"US maize test seasons: {len(event_te)}, shortfalls {event_te.sum()} "
      f"({event_te.mean():.1%}); climatology probability {event_tr.mean():.3f}")
brier.sort_values("brier").round(4)

# %%
print("US maize, blend, end of season: reliability bins")
reliability_table(event_te, us_prob[1.0, "ensemble"], n_bins=10).round(3)

# %% [markdown]
# How to read this: the shortfall probability adds skill over climatology only once
# in-season weather is known (from ~75% of the season in the US). The predictive
# distribution has one spread for every county and season, while forecast errors
# cluster in a few years (2012 in the US test years) — so, on the real data, the
# probabilities tend to be too high where shortfalls are rare and too low where they
# are likely (points below, then above the diagonal). A spread that depends on the
# year's conditions or on the region, or the empirical error distribution
# (`ResidualDistribution("empirical")`), is the next thing to try. With about 20
# seasons per NL region, NL reliability rests on few shortfalls per bin.

# %% [markdown]
# ## 6. Maps of the shortfall probability
# The CY-Bench sample has no region geometries (only `adm_id`s: `STATE_COUNTY` in the
# US, NUTS-2 codes in NL), so regions are drawn as points at approximate centroids
# (rounded to 0.1°): US counties are aggregated to their **state** (mean probability
# over the state's counties; marker size ∝ counties), NL provinces are points. The
# year shown is the test year with the most shortfalls; the forecast is made at 75%
# of the season — before harvest.

# %%
STATE_CENTROIDS = {  # approximate geographic centres (lon, lat)
    "AL": (-86.8, 32.8), "AR": (-92.4, 34.9), "CO": (-105.5, 39.0), "GA": (-83.4, 32.7),
    "IA": (-93.5, 42.1), "IL": (-89.2, 40.0), "IN": (-86.3, 39.9), "KS": (-98.4, 38.5),
    "KY": (-85.3, 37.5), "LA": (-92.0, 31.1), "MI": (-84.7, 44.3), "MN": (-94.3, 46.3),
    "MO": (-92.5, 38.4), "MS": (-89.7, 32.7), "NC": (-79.4, 35.6), "NE": (-99.8, 41.5),
    "OH": (-82.8, 40.3), "OK": (-97.5, 35.6), "PA": (-77.6, 40.9), "SC": (-80.9, 33.9),
    "SD": (-100.2, 44.4), "TN": (-86.3, 35.9), "TX": (-99.3, 31.5), "WI": (-89.8, 44.6),
}
NUTS2_CENTROIDS = {  # approximate NL province centres (lon, lat)
    "NL11": (6.7, 53.2), "NL12": (5.8, 53.1), "NL13": (6.6, 52.9), "NL21": (6.4, 52.4),
    "NL22": (5.9, 52.1), "NL23": (5.6, 52.5), "NL31": (5.2, 52.1), "NL32": (4.9, 52.6),
    "NL33": (4.5, 52.0), "NL34": (3.8, 51.5), "NL41": (5.2, 51.6), "NL42": (5.9, 51.2),
}


def centroids(ids, table):
    """(lon, lat) of each id; ids without coordinates go on a schematic grid, loudly."""
    ids = list(ids)
    missing = [a for a in ids if a not in table]
    if missing:
        print(f"no coordinates for {len(missing)} regions (e.g. {missing[:3]}): drawn on a "
              f"SCHEMATIC grid, not at real locations")
    side = int(np.ceil(np.sqrt(len(ids))))
    return np.array([table.get(a, (k % side, -(k // side))) for k, a in enumerate(ids)], float)


LEAD = 0.75
us_sea = us_test[["adm_id", "harvest_year"]].assign(
    state=us_test["adm_id"].str.split("_").str[0], prob=us_prob[LEAD, "ensemble"],
    event=event_te)
us_year = int(us_sea.groupby("harvest_year")["event"].mean().idxmax())
us_state = (us_sea[us_sea["harvest_year"] == us_year].groupby("state")
            .agg(prob=("prob", "mean"), observed=("event", "mean"), counties=("prob", "size"))
            .reset_index())
us_xy = centroids(us_state["state"], STATE_CENTROIDS)

nl_maps = {}
for crop, seasons in nl_seasons.items():
    d = seasons[(seasons["lead"] == LEAD) & (seasons["model"] == "ensemble")]
    yr = int(d.groupby("harvest_year")["event"].mean().idxmax())
    nl_maps[crop] = (yr, d[d["harvest_year"] == yr].reset_index(drop=True))

fig, axes = plt.subplots(1, 3, figsize=(15, 4.6),
                         gridspec_kw={"width_ratios": [1.6, 1, 1]})
norm = plt.Normalize(0, 1)
sc = axes[0].scatter(us_xy[:, 0], us_xy[:, 1], c=us_state["prob"], cmap="YlOrRd", norm=norm,
                     s=20 + 4 * us_state["counties"], edgecolor="k", linewidth=0.5)
for (x, yv), st, obs in zip(us_xy, us_state["state"], us_state["observed"]):
    axes[0].annotate(f"{st}\n{obs:.0%}", (x, yv), fontsize=7, ha="center", va="center")
axes[0].set_title(f"US maize{SIM} {us_year}: mean P(shortfall) at {LEAD:.0%} of season\n"
                  f"(label: share of counties with an observed shortfall)", fontsize="medium")
for ax, (crop, (yr, d)) in zip(axes[1:], nl_maps.items()):
    xy = centroids(d["adm_id"], NUTS2_CENTROIDS)
    ax.scatter(xy[:, 0], xy[:, 1], c=d["prob"], cmap="YlOrRd", norm=norm, s=260,
               edgecolor=np.where(d["event"], "k", "0.7"), linewidth=np.where(d["event"], 2.5, 0.8))
    for (x, yv), a in zip(xy, d["adm_id"]):
        ax.annotate(a, (x, yv), fontsize=6, ha="center", va="center")
    ax.set_title(f"NL {crop}{SIM} {yr}: P(shortfall) at {LEAD:.0%}\n(thick ring: observed shortfall)",
                 fontsize="medium")
for ax in axes:
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.deg2rad(np.mean(ax.get_ylim()))))
fig.colorbar(sc, ax=axes, shrink=0.8, label="P(yield < 90% of trend)")
plt.show()

# %% [markdown]
# The same US map, interactive (ipyleaflet, no basemap tiles: it works offline).

# %%
import geopandas as gpd  # noqa: E402

from sdmkit.viz import leaflet_map  # noqa: E402

bins = [0, 0.2, 0.4, 0.6, 1.0001]
palette = ["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"]
klass = np.digitize(us_state["prob"], bins[1:-1])
pts = gpd.GeoDataFrame(us_state, geometry=gpd.points_from_xy(us_xy[:, 0], us_xy[:, 1]),
                       crs="EPSG:4326")
legend = {f"P(shortfall) {lo:.0%}-{min(hi, 1):.0%}": c
          for lo, hi, c in zip(bins[:-1], bins[1:], palette)}
m = leaflet_map(points=pts, legend=legend)
markers = [layer for layer in m.layers if hasattr(layer, "layers")][-1].layers
for marker, k, n in zip(markers, klass, us_state["counties"]):
    marker.color = marker.fill_color = palette[k]
    marker.radius = int(4 + np.sqrt(n))
m

# %%
print(f"notebook computations: {time.perf_counter() - T0:.0f} s wall, "
      f"{time.process_time() - CPU0:.0f} s CPU; load average {os.getloadavg()[0]:.1f}")
