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
# # Dengue forecasting: weekly quantile forecasts, backtests and relative-risk maps
#
# Two stories with `sdmkit.forecast`:
#
# 1. **DengAI** (DrivenData; San Juan `sj` and Iquitos `iq`): data → validated weekly
#    panel → features computed only from data up to the forecast origin → baselines,
#    DrivenData's negative binomial GLM and a LightGBM quantile forecaster →
#    a **rolling-origin backtest** 1–12 weeks ahead (MAE, WIS, interval coverage,
#    relative WIS) → forecast fan charts against the observed cases.
# 2. **Brazil's 27 states** (Infodengue–Mosqlimate 2025 sprint): season-ahead
#    forecasts made at epiweek 25 for EW41–EW40 of the next season, backtested on the
#    sprint's validation tests 1 and 2 and compared with the 18 submitted sprint
#    models; then **maps of relative risk** of the 2023–24 season (observed /
#    expected, the forecast's expectation, and a Bayesian BYM2 smoothed estimate) on
#    an offline ipyleaflet map and a static matplotlib map.
#
# Forecasts are quantiles (0.025 … 0.975: the median and the 50/80/90/95% central
# intervals), scored with the weighted interval score (WIS, lower is better). The
# full benchmarks are `sdmkit bench dengai` and `sdmkit bench brazil`; this notebook
# runs demo-sized versions of them.

# %% tags=["parameters"]
import os

# "smoke": the small setting CI runs; "default": what `make demo` runs.
SIZE = os.environ.get("SDMKIT_NB_SIZE", "default")

# %%
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models: one thread each on a 2-core machine

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from threadpoolctl import threadpool_limits

from sdmkit import ValidationWarning
from sdmkit.datasets import available, simulate
from sdmkit.forecast.backtest import (
    backtest,
    blend_quantiles,
    pool_relative_wis,
    score_forecasts,
    summarize_scores,
)
from sdmkit.forecast.baselines import (
    DENGAI_BENCHMARK_COVARIATES,
    ClimatologyQuantiles,
    NegativeBinomialGLM,
    SeasonalNaive,
)
from sdmkit.forecast.features import feature_columns, make_features
from sdmkit.forecast.gbm import LightGBMQuantileForecaster
from sdmkit.forecast.panel import dengai_panel, join_climate, join_static, make_panel
from sdmkit.forecast.scoring import relative_wis, wis_from_frame
from sdmkit.forecast.seasonal import LinearPoolForecaster, SeasonalLevelForecaster
from sdmkit.viz import choropleth_map

SMOKE = SIZE == "smoke"
H = 12  # DengAI: forecast 1..12 weeks ahead
DENGAI_STEP = 52 if SMOKE else 13  # weeks between backtest origins (last 3 seasons per city)
N_TREES = 40 if SMOKE else 150  # LightGBM trees per quantile
RUN_BYM2 = not SMOKE  # compiling the Bayesian model alone takes ~15-30 s
BAYES_DRAWS = 600  # posterior draws (and tuning steps) per chain, 2 chains
threadpool_limits(1)
T_START = time.perf_counter()
print(f"size={SIZE!r}: DengAI origins every {DENGAI_STEP} weeks, {N_TREES} trees per quantile, "
      f"BYM2 fit: {f'{BAYES_DRAWS} draws x 2 chains' if RUN_BYM2 else 'SKIPPED (smoke)'}")  # fmt: skip

# %% [markdown]
# ## 1. DengAI: data and panel
# `dengai_panel` validates the DengAI calendar (52 week slots a year, see
# `load_dengai`) and gives every row a continuous week index `t`: no gaps, no
# duplicated weeks, no negative or missing counts. Real data when the machine has
# it; a **simulated** two-city panel otherwise (the cell says which).

# %%
if available("dengai"):
    from sdmkit.datasets import load_dengai

    dengai = dengai_panel(load_dengai().train)
    CLIMATE = list(DENGAI_BENCHMARK_COVARIATES)  # DrivenData's 4 benchmark covariates
    print("DATA: REAL — DengAI training data (DrivenData), San Juan (sj) and Iquitos (iq)")
else:
    sim = simulate.dengue_panel(n_locations=2, n_weeks=52 * 12, random_state=1)
    dengai = make_panel(sim.panel.drop(columns="population"))
    CLIMATE = ["temperature", "rainfall"]
    print("DATA: SIMULATED — two simulated cities; set SDMKIT_DATA_DIR for the real DengAI data")
span = dengai.groupby("location").agg(first=("date", "min"), last=("date", "max"),
                                      weeks=("t", "size"), mean_cases=("cases", "mean"))  # fmt: skip
span

# %%
fig, axes = plt.subplots(len(span), 1, figsize=(11, 2.4 * len(span)), sharex=False)
for ax, (city, g) in zip(np.atleast_1d(axes), dengai.groupby("location"), strict=True):
    ax.plot(g["date"], g["cases"], lw=0.8, color="k")
    ax.set_ylabel("weekly cases")
    ax.set_title(city, loc="left")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Features without peeking
# `make_features` builds one row per (location, origin, horizon): log-lags and
# trailing means of cases, lagged and rolling climate (lags 0–12 weeks), Fourier
# terms and trend of the *target* week, static covariates. Every value comes from
# weeks up to the origin; the check below corrupts everything after the origin and
# gets identical features. (The LightGBM forecaster builds its own, season-aware
# origin features the same way.)

# %%
city0 = span.index[0]
panel0 = dengai[dengai["location"] == city0].reset_index(drop=True)
origin0 = panel0["date"].iloc[-60]
feat = make_features(panel0, origins=origin0, horizons=4, climate=CLIMATE, case_lags=4)
corrupted = panel0.copy()
after = corrupted["date"] > origin0
corrupted.loc[after, "cases"] = 10**6
corrupted.loc[after, CLIMATE] = -999.0
feat_bad = make_features(corrupted, origins=origin0, horizons=4, climate=CLIMATE, case_lags=4)
cols = feature_columns(feat)
assert feat[cols].equals(feat_bad[cols]), "features changed when the future changed"
print(f"{len(cols)} features per row; identical after corrupting every week after "
      f"{origin0.date()} (only the label 'target' differs)")  # fmt: skip
numeric = ["target", "log1p_cases_lag0", "log1p_cases_mean4", f"{CLIMATE[0]}_lag4", "sin1", "trend"]
feat[["location", "origin", "date", "horizon", *numeric]].round(dict.fromkeys(numeric, 3))

# %% [markdown]
# ## 3. Models and a rolling-origin backtest
# Each model is refitted at every origin on the panel cut at that origin
# (`sdmkit.forecast.backtest.backtest`) and forecasts 1–12 weeks ahead. Origins:
# every `DENGAI_STEP` weeks over each city's last 3 seasons (the cities' spans
# differ, so they are backtested separately).
#
# * `seasonal_naive` — the same week one season earlier; spread from its own past errors.
# * `climatology` — quantiles of the same week ± 2 weeks over the last 8 seasons.
# * `nb_glm` — DrivenData's benchmark (per-city NB GLM on 4 climate covariates of the
#   same week). It needs each target week's climate, so here it gets the **observed**
#   climate of the target weeks (as DengAI's test file provides it) — an advantage
#   no other model has.
# * `lightgbm` — `LightGBMQuantileForecaster`, direct multi-horizon, one model per
#   quantile, trained at every 4th past week as an origin; counts only.
# * `blend` — the quantile average (log scale) of `lightgbm` and `climatology`,
#   weights fixed at ½–½ beforehand (not tuned on these origins).


# %%
class NBGLMWithObservedClimate(BaseEstimator):
    """DrivenData's NB GLM whose target weeks get their observed climate (no cases)."""

    def __init__(self, climate=None, covariates=DENGAI_BENCHMARK_COVARIATES):
        self.climate = climate
        self.covariates = covariates

    def fit(self, panel, y=None):
        with warnings.catch_warnings():  # leading weeks without climate: counted below
            warnings.simplefilter("ignore", ValidationWarning)
            self.glm_ = NegativeBinomialGLM(covariates=self.covariates).fit(panel)
        self.last_ = panel.groupby("location")["t"].max()
        return self

    def predict(self, horizons=1):
        h = np.arange(1, horizons + 1) if np.ndim(horizons) == 0 else np.asarray(horizons)
        step = self.climate["t"] - self.climate["location"].map(self.last_)
        return self.glm_.predict(self.climate[step.isin(h)])


def dengai_origins(g):
    dates = np.sort(g["date"].unique())
    return dates[len(dates) - 3 * 52 : len(dates) - H : DENGAI_STEP]


def backtest_cities(model):
    out = []
    for _, g in dengai.groupby("location"):
        g = g.reset_index(drop=True)
        out.append(backtest(model, g, origins=dengai_origins(g), horizons=range(1, H + 1)))
    return pd.concat(out, ignore_index=True)


dengai_models = {
    "seasonal_naive": SeasonalNaive(),
    "climatology": ClimatologyQuantiles(n_seasons=8, window=2),
    "nb_glm": NBGLMWithObservedClimate(climate=dengai.drop(columns="cases"), covariates=CLIMATE),
    "lightgbm": LightGBMQuantileForecaster(horizons=range(1, H + 1), train_origins="all",
                                           origin_stride=4, n_estimators=N_TREES, random_state=0),
}  # fmt: skip
lead = {c: int(g[CLIMATE].isna().any(axis=1).cummin().sum()) for c, g in dengai.groupby("location")}
print(f"nb_glm leaves out each city's leading weeks with missing climate (nothing to "
      f"forward-fill from): {lead}")  # fmt: skip
dengai_fc, seconds = {}, {}
for name, model in dengai_models.items():
    t0 = time.perf_counter()
    dengai_fc[name] = backtest_cities(model)
    seconds[name] = time.perf_counter() - t0
dengai_fc["blend"] = blend_quantiles(
    {"lightgbm": dengai_fc["lightgbm"], "climatology": dengai_fc["climatology"]},
    {"lightgbm": 0.5, "climatology": 0.5},
    scale="log1p",
)
n_origins = dengai_fc["climatology"].groupby("location")["origin"].nunique().to_dict()
print(f"origins per city: {n_origins}; fit + forecast seconds: "
      f"{ {k: round(v, 1) for k, v in seconds.items()} } (load {os.getloadavg()[0]:.1f})")  # fmt: skip

# %% [markdown]
# **Backtest table.** MAE of the median; mean WIS; share of observations inside the
# 50% and 90% intervals; relative WIS = geometric mean over the cities of
# WIS(model) / WIS(climatology) (< 1 beats the climatology).

# %%
dengai_scores = pd.concat(
    [score_forecasts(fc).assign(model=name) for name, fc in dengai_fc.items()], ignore_index=True
)
per_city = summarize_scores(dengai_scores, by=["model", "location"])
dengai_table = summarize_scores(dengai_scores, by=["model"]).set_index("model")
dengai_table["relative_wis"] = [
    relative_wis(per_city, m, "climatology") for m in dengai_table.index
]
wis_city = per_city.pivot(index="model", columns="location", values="wis").add_prefix("wis_")
dengai_table = dengai_table.join(wis_city)
show = ["mae", "wis", *wis_city.columns, "coverage_50", "coverage_90", "relative_wis"]
dengai_table[show].sort_values("wis").round(3)

# %% [markdown]
# What to look for: whether anything beats the climatology 1–12 weeks ahead
# (`relative_wis` < 1), and whether the intervals hold what they promise
# (`coverage_50` near 0.5, `coverage_90` near 0.9). Raw quantile boosting is often
# overconfident out of sample — its quantiles are fitted in sample — which is what
# the conformal recalibration of `LightGBMQuantileForecaster(calibration=...)` is for.
# The NB GLM's intervals come from its own dispersion and are typically wide.


# %% [markdown]
# **Fan charts.** Each origin's forecast for the next 12 weeks as nested 50/80/95%
# bands around the median, over the observed weekly cases (black).


# %%
def fan(ax, fc, color="tab:blue", label=None, lines=False):
    """Nested 50/80/95% bands and the median of one model's forecasts, per origin.

    ``lines=True`` draws only the median and the 90% interval as lines (for overlays).
    """
    wide = fc.pivot_table(index=["origin", "date"], columns="quantile", values="value")
    for i, (_, f) in enumerate(wide.groupby(level="origin")):
        d = f.index.get_level_values("date")
        if lines:
            ax.plot(d, f[0.05], d, f[0.95], color=color, lw=0.9, ls="--")
        else:
            for lo, hi, alpha in ((0.025, 0.975, 0.15), (0.1, 0.9, 0.25), (0.25, 0.75, 0.4)):
                ax.fill_between(d, f[lo], f[hi], color=color, alpha=alpha, lw=0)
        ax.plot(d, f[0.5], color=color, lw=1.4, label=label if i == 0 else None)


cities = list(span.index)
fan_models = ["lightgbm", "climatology"]
fig, axes = plt.subplots(len(cities), len(fan_models), figsize=(13, 3.2 * len(cities)),
                         squeeze=False, sharey="row")  # fmt: skip
for r, city in enumerate(cities):
    obs = dengai[dengai["location"] == city]
    first = dengai_fc["climatology"].query("location == @city")["origin"].min()
    obs = obs[obs["date"] >= first - pd.Timedelta(weeks=26)]
    for c, name in enumerate(fan_models):
        ax = axes[r, c]
        fan(ax, dengai_fc[name].query("location == @city"), label=f"{name} median")
        ax.plot(obs["date"], obs["cases"], color="k", lw=1, label="observed")
        w = dengai_table.loc[name, f"wis_{city}"]
        ax.set_title(f"{city} — {name} (mean WIS {w:.2f})", loc="left")
        ax.set_ylabel("weekly cases")
axes[0, 0].legend(loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Brazil: the 2025 sprint's season-ahead task
# Weekly probable dengue cases of the 27 federative units, ocean indices (ENSO, IOD,
# PDO) and static climate/biome shares, as one panel. Validation test *k* (1, 2)
# fits on data up to EW25 of 2021 + *k* and forecasts EW41 2021+*k* … EW40
# 2022+*k*. State polygons are Lowe et al.'s 558 microregions dissolved by state, and
# two states are neighbours when any of their microregions are (the INLA graph).


# %%
def aggregate_adjacency(adjacency, groups):
    """Neighbour matrix of groups: two groups touch when any of their members do."""
    import scipy.sparse as sp

    codes, inverse = np.unique(np.asarray(groups), return_inverse=True)
    a = sp.coo_matrix(adjacency)
    w = sp.coo_matrix((np.ones(a.nnz), (inverse[a.row], inverse[a.col])),
                      shape=(len(codes), len(codes))).tocsr()  # fmt: skip
    w.setdiag(0)
    w.eliminate_zeros()
    w.data[:] = 1.0
    return w, list(codes)


REAL_BR = available("brazil_imdc") and available("brazil_microregions")
if REAL_BR:
    from sdmkit.datasets import (
        load_brazil_cases,
        load_brazil_microregions,
        load_brazil_sst,
        load_brazil_static,
    )

    cases = load_brazil_cases()
    brazil = make_panel(cases[["location", "date", "cases"]], name="Brazil cases")
    sst = load_brazil_sst()
    COVARIATES = ["enso", "iod", "pdo"]
    ocean = pd.concat([sst[["date", *COVARIATES]].assign(location=s)
                       for s in brazil["location"].unique()])  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ValidationWarning)
        brazil = join_climate(brazil, ocean)
    for w in caught:  # the indices end in March 2025: later weeks get NaN (not used below)
        print("note:", w.message)
    static = load_brazil_static().drop(columns="uf_name")
    STATIC = [c for c in static.columns if c != "location"]
    brazil = join_static(brazil, static)
    TESTS = {k: cases.loc[cases[f"train_{k}"], "date"].max() for k in ("1", "2")}
    micro = load_brazil_microregions()
    regions_micro = micro.regions
    uf_of = dict(zip(micro.states_grid["code_num"], micro.states_grid["code"], strict=True))
    state_of_micro = regions_micro["code"].str[:2].astype(int).map(uf_of)
    states = (regions_micro.assign(location=state_of_micro).dissolve("location")
              .reset_index()[["location", "geometry"]])  # fmt: skip
    adjacency, adj_ids = aggregate_adjacency(micro.adjacency, state_of_micro)
    print("DATA: REAL — IMDC 2025 sprint: 27 Brazilian states, weekly cases "
          f"{brazil['date'].min().date()}..{brazil['date'].max().date()}; "
          "Lowe et al. (2021) microregion polygons and graph")  # fmt: skip
else:
    import geopandas as gpd
    import scipy.sparse as sp
    from shapely.geometry import box

    nx, ny = 6, 5  # a grid of simulated "states" over Brazil's bounding box
    cells = [(i, j) for j in range(ny) for i in range(nx)]
    geoms = [box(-74 + 6.5 * i, -33 + 7.6 * j, -74 + 6.5 * (i + 1), -33 + 7.6 * (j + 1))
             for i, j in cells]  # fmt: skip
    a = np.array([[abs(i - k) + abs(j - m) == 1 for k, m in cells] for i, j in cells], float)
    adjacency = sp.csr_matrix(a)
    sim_br = simulate.dengue_panel(adjacency, n_weeks=52 * 12, start="2012-01-01",
                                   random_state=2)  # fmt: skip
    adj_ids = list(sim_br.truth["locations"])
    brazil = make_panel(sim_br.panel.drop(columns="population"))
    COVARIATES, STATIC = ["temperature", "rainfall"], []
    states = gpd.GeoDataFrame({"location": adj_ids}, geometry=geoms, crs="EPSG:4326")
    regions_micro = None
    ew25 = brazil.loc[brazil["week"] == 25].drop_duplicates("date").set_index("year")["date"]
    TESTS = {"1": ew25[2021], "2": ew25[2022]}
    print("DATA: SIMULATED — 30 simulated 'states' on a grid; set SDMKIT_DATA_DIR for the "
          "real IMDC sprint data and Brazil's microregions")  # fmt: skip
print({k: str(v.date()) for k, v in TESTS.items()}, "(forecast origins of the two tests)")

# %% [markdown]
# **Models** (settings fixed beforehand, none tuned on the test seasons):
# `climatology` — same-epiweek quantiles of the last 8 seasons (the sprint's
# reference); `lightgbm` — `LightGBMQuantileForecaster(horizons="season")` with the
# ocean indices and static shares, raw quantiles; `blend` — ½–½ quantile average of
# the two on the log scale; `seasonal` — `SeasonalLevelForecaster`: the last 8
# seasons' shapes (log scale, by epiweek) around a season level predicted from the
# current season so far and its last 6 weeks (a pooled ridge regression), with the
# model's own width; `seasonal_lgbm_pool` — the equal-weight **linear pool**
# (`LinearPoolForecaster`: average of the two CDFs on the log scale) of `seasonal` and
# `lightgbm`, no weight or width fitted. Both are built as in `sdmkit bench brazil`,
# except that this notebook's LightGBM has fewer trees (`N_TREES`; the benchmark
# uses 300). (`sdmkit bench brazil` adds conformal calibration and tuned blends,
# chosen on backtests of earlier seasons; they cost minutes.)

# %%
br_models = {
    "climatology": ClimatologyQuantiles(n_seasons=8, window=0),
    "lightgbm": LightGBMQuantileForecaster(horizons="season", covariates=COVARIATES,
                                           static=STATIC, n_estimators=N_TREES, random_state=0),
    "seasonal": SeasonalLevelForecaster(n_seasons=8, predictors=("recent", "partial")),
}  # fmt: skip
br_models["seasonal_lgbm_pool"] = LinearPoolForecaster(  # refits its own copy of each member
    {"seasonal": clone(br_models["seasonal"]), "lightgbm": clone(br_models["lightgbm"])}
)
br_fc, seconds = {}, {}
test_of = {v: k for k, v in TESTS.items()}
for name, model in br_models.items():
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        br_fc[name] = backtest(model, brazil, origins=list(TESTS.values()), horizons="season")
    seconds[name] = time.perf_counter() - t0
br_fc["blend"] = blend_quantiles(
    {"lightgbm": br_fc["lightgbm"], "climatology": br_fc["climatology"]},
    {"lightgbm": 0.5, "climatology": 0.5},
    scale="log1p",
)
br_scores = pd.concat(
    [score_forecasts(fc).assign(model=n) for n, fc in br_fc.items()], ignore_index=True
)
br_scores["test"] = br_scores["origin"].map(test_of)
unit = br_scores.groupby(["model", "location", "test"], as_index=False)["wis"].mean()
print(f"fit + forecast seconds: { {k: round(v, 1) for k, v in seconds.items()} } "
      f"(load {os.getloadavg()[0]:.1f})")  # fmt: skip

# %% [markdown]
# **Backtest table.** Relative WIS against the climatology: geometric mean over
# the (state, test) pairs of WIS(model) / WIS(climatology). With the real data, also
# the sprint's convention: WIS(model) / median WIS of the pool {18 submitted sprint
# models + the model scored}, geometric mean over the 54 (state, test) pairs —
# computed here for every submission too (model 141 was excluded from the sprint's
# validation by the organisers; it stays in the pool, as in `sdmkit bench brazil`).

# %%
rows = []
for name in br_fc:
    s = br_scores[br_scores["model"] == name]
    rows.append({"model": name, "kind": "sdmkit", "mae": s["ae"].mean(), "wis": s["wis"].mean(),
                 "coverage_50": s["cover_50"].mean(), "coverage_90": s["cover_90"].mean(),
                 "relative_wis_vs_climatology": relative_wis(unit, name, "climatology",
                                                             unit=["location", "test"])})  # fmt: skip
br_table = pd.DataFrame(rows)
if REAL_BR:
    from sdmkit.datasets import load_sprint2025_forecasts

    preds = load_sprint2025_forecasts()
    preds = preds[preds["valid_test"].isin(list(TESTS))].merge(
        cases[["location", "date", "cases"]], on=["location", "date"], how="left",
        validate="many_to_one",
    )  # fmt: skip
    assert preds["cases"].notna().all(), "a sprint forecast week has no observed count"
    preds["wis"] = wis_from_frame(preds)
    preds = preds.rename(columns={"model_id": "model", "valid_test": "test"})
    pool = preds.groupby(["model", "location", "test"], as_index=False)["wis"].mean()
    br_table["relative_wis_sprint_pool"] = [pool_relative_wis(unit, m, pool) for m in br_fc]
    both = pd.concat([unit, pool.assign(model="sprint " + pool["model"].astype(str))])
    sprint = pd.DataFrame(
        {"model": f"sprint {m}", "kind": "sprint" + (" (excluded)" if m == 141 else ""),
         "mae": (g["cases"] - g["pred"]).abs().mean(), "wis": g["wis"].mean(),
         "coverage_50": g["cases"].between(g["lower_50"], g["upper_50"]).mean(),
         "coverage_90": g["cases"].between(g["lower_90"], g["upper_90"]).mean(),
         "relative_wis_vs_climatology": relative_wis(both, f"sprint {m}", "climatology",
                                                     unit=["location", "test"]),
         "relative_wis_sprint_pool": pool_relative_wis(pool, m, pool)}
        for m, g in preds.groupby("model")
    )  # fmt: skip
    br_table = pd.concat([br_table, sprint], ignore_index=True)
    br_table = br_table.sort_values("relative_wis_sprint_pool")
br_table.round(3).reset_index(drop=True)

# %% [markdown]
# The climatology's pool-relative WIS reproduces the sprint convention (about 0.871
# for 8 seasons on the real data). Coverage is the weak point of almost every entry:
# the 2023–24 season broke records in most states, far above what any forecast made
# at EW25 2023 expected — the fan charts below show it.
#
# **Why pool `seasonal` and `lightgbm`.** A linear pool is a mixture: where the two
# models disagree on how big the season will be, its CDF has mass around both
# answers and its intervals stretch over both, whereas a quantile average (like
# `blend`) keeps the members' average width centred between them — sharper, but it
# misses more often when they disagree. In the full benchmark
# (`benchmarks/results/brazil.json`, LightGBM with 300 trees) `seasonal_lgbm_pool`
# has a sprint-pool relative WIS of 0.849 and 90% coverage 0.818, against 0.864 /
# 0.740 for `lgbm`, 0.885 / 0.838 for `seasonal` and 0.852 / 0.816 for the best valid
# sprint submission (157): far better coverage than `lightgbm`, nearly that of the
# wider `seasonal`, and a lower WIS than either. On the 2015–2020 development
# backtests the ½–½ quantile average of the same two models covered 0.762 of the
# weeks with its 90% interval, the pool 0.804. (This notebook's smaller LightGBM
# gives somewhat different numbers: see the table above.)

# %% [markdown]
# **Fan charts** of test 2 (origin EW25 2023, the season of Brazil's record 2024
# epidemic) for the four states with the most cases: what each model expected at
# EW25 against what came.

# %%
test2 = TESTS["2"]
top = (brazil[brazil["date"] > test2].groupby("location")["cases"].sum()
       .sort_values(ascending=False).index[:4])  # fmt: skip
fig, axes = plt.subplots(2, 2, figsize=(13, 6.5))
for ax, loc in zip(axes.ravel(), top, strict=True):
    obs = brazil[(brazil["location"] == loc) & (brazil["date"] > test2 - pd.Timedelta(weeks=78))]
    obs = obs[obs["date"] <= test2 + pd.Timedelta(weeks=70)]
    fan(ax, br_fc["lightgbm"].query("location == @loc and origin == @test2"),
        label="lightgbm median (bands 50/80/95%)")  # fmt: skip
    fan(ax, br_fc["climatology"].query("location == @loc and origin == @test2"),
        color="tab:orange", label="climatology median (dashed: 90%)", lines=True)  # fmt: skip
    ax.plot(obs["date"], obs["cases"], color="k", lw=1, label="observed")
    ax.axvline(test2, color="k", ls=":", lw=0.8)
    ax.set_title(f"{loc}: forecast at {test2.date()} (dotted line)", loc="left")
    ax.set_ylabel("weekly cases")
axes[0, 0].legend(loc="upper left", fontsize="small")
fig.autofmt_xdate()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Relative risk of the 2023–24 season, by state
# **Relative risk here is observed / expected per state** — not a rate: the data
# hold no population. *Expected* is each week's climatology median (same epiweek,
# last 8 seasons, known at EW25 2023), so a relative risk of 3 means three times the
# usual cases for that state and season. Three estimates:
#
# * `observed_rr` = Σ observed / Σ expected over EW41 2023 – EW40 2024;
# * `forecast_rr` = Σ LightGBM median / Σ expected — what the forecaster
#   anticipated at EW25 2023;
# * `bym2_rr` — a Bayesian negative binomial model of the weekly counts with offset
#   log(expected) and a BYM2 area effect over the state graph
#   (`BayesianNegBinomialForecaster`, nutpie): posterior mean of
#   exp(intercept + area effect), which borrows strength from neighbouring states.

# %%
season_fc = br_fc["climatology"].query("origin == @test2 and quantile == 0.5")
season = season_fc[["location", "date", "value"]].rename(columns={"value": "expected"})
season = season.merge(brazil[["location", "date", "cases"]], on=["location", "date"])
lgbm_med = br_fc["lightgbm"].query("origin == @test2 and quantile == 0.5")
rr = season.groupby("location")[["cases", "expected"]].sum()
rr["observed_rr"] = rr["cases"] / rr["expected"]
rr["forecast_rr"] = lgbm_med.groupby("location")["value"].sum() / rr["expected"]
print(f"{len(season)} state-weeks; expected 0 in {(season['expected'] == 0).sum()} of them "
      "(the BYM2 offset floors expected at 1 case)")  # fmt: skip

# %%
from sdmkit.forecast.bayes import BayesianNegBinomialForecaster  # noqa: E402

if RUN_BYM2:
    bym2 = BayesianNegBinomialForecaster(
        population="expected", n_harmonics=0, temporal=None, spatial="bym2",
        adjacency=adjacency, adjacency_locations=adj_ids, draws=BAYES_DRAWS, tune=BAYES_DRAWS,
        chains=2, random_state=0, on_bad_fit="warn",
    )  # fmt: skip
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        warnings.filterwarnings("ignore", category=FutureWarning)
        bym2.fit(season.assign(expected=season["expected"].clip(lower=1.0)))
    post = bym2.idata_.posterior
    rr["bym2_rr"] = pd.Series(
        np.exp(post["intercept"] + post["location_effect"]).mean(("chain", "draw")).to_numpy(),
        index=bym2.locations_,
    )
    dg = bym2.diagnostics_
    print(f"BYM2 fit {time.perf_counter() - t0:.0f} s ({dg['sampler']}, {dg['chains']} chains x "
          f"{dg['draws']} draws; load {os.getloadavg()[0]:.1f}): max r_hat {dg['max_r_hat']:.3f}, "
          f"min bulk ESS {dg['min_ess_bulk']:.0f}, {dg['n_divergences']} divergences, "
          f"ok={dg['ok']} {dg['problems'] or ''}")  # fmt: skip
    if "rho" in post:
        print(f"share of the area effect's variance that is spatially structured (rho): "
              f"{float(post['rho'].mean()):.2f}")  # fmt: skip
else:
    rr["bym2_rr"] = np.nan  # drawn as 'no value' on the maps
    print("BYM2 fit SKIPPED in the smoke setting (SIZE='smoke'); run with SIZE='default'.")
rr.sort_values("observed_rr", ascending=False).round(2)

# %% [markdown]
# **The interactive map** (ipyleaflet, no basemap tiles: it works offline). One
# GeoJSON layer per estimate on a shared log colour scale centred on 1 (blue: fewer
# cases than usual, red: more); switch layers with the control at the top left.

# %%
risk = states.merge(rr[["observed_rr", "forecast_rr", "bym2_rr"]].reset_index(), on="location",
                    how="left", validate="one_to_one")  # fmt: skip
layers = ["forecast_rr", "bym2_rr", "observed_rr"]  # the last one is drawn on top
choropleth_map(risk, layers, cmap="RdBu_r", scale="log", center=1.0, simplify=0.02,
               label="relative risk (observed / expected), log scale")  # fmt: skip

# %% [markdown]
# **The static map** (matplotlib), with the microregion outlines under the states.

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 5.8))
choropleth_map(risk, ["observed_rr", "forecast_rr", "bym2_rr"], interactive=False, ax=axes,
               cmap="RdBu_r", scale="log", center=1.0, label="relative risk (log scale)",
               title="2023–24 season")  # fmt: skip
for ax in axes:
    if regions_micro is not None:
        regions_micro.boundary.plot(ax=ax, color="white", lw=0.15)
        risk.boundary.plot(ax=ax, color="#444444", lw=0.6)
    ax.set_axis_off()
plt.show()
print(f"notebook compute: {time.perf_counter() - T_START:.0f} s (size={SIZE!r}, "
      f"load {os.getloadavg()[0]:.1f})")  # fmt: skip
