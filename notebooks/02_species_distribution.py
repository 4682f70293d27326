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
# # Species distribution models: from records to maps
#
# Two stories with one toolkit:
#
# 1. **Bradypus variegatus** (116 presence records, dismo's bioclim grids): background
#    sampling, covariates and location features, six models compared by **spatial**
#    block cross-validation on the training data, response curves and maps.
# 2. **One disdat region** (Elith et al. 2020): the Valavi et al. (2022) protocol —
#    fit on presence-only records + background, evaluate on independent
#    presence–absence surveys — with random and target-group background.
#
# The full 226-species benchmark is `sdmkit bench disdat`; this notebook runs a
# demo-sized slice of it.

# %% tags=["parameters"]
import os

# "smoke": the small setting CI runs; "default": what `make demo` runs.
SIZE = os.environ.get("SDMKIT_NB_SIZE", "default")

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_limits

from sdmkit import extract
from sdmkit.datasets import available, simulate
from sdmkit.model_selection import SpatialBlockKFold, block_size_from_autocorrelation
from sdmkit.predict import plot_response_curves, predict_raster, response_curves, suitability_map
from sdmkit.sdm.background import sample_background
from sdmkit.sdm.benchmark import disdat_tasks, disdat_units, evaluate_po_pa, fit_unit
from sdmkit.sdm.maxent import MaxentModel
from sdmkit.sdm.models import GLM, BoostedTrees, DownsampledRandomForest, Ensemble, SplineGAM
from sdmkit.sdm.neural import DeepMaxent

SMOKE = SIZE == "smoke"
N_BACKGROUND = 1000 if SMOKE else 10_000
N_TREES = 50 if SMOKE else 500
DEEP_EPOCHS = 10 if SMOKE else 100  # DeepMaxent epochs (100: the benchmarked setting)
threadpool_limits(1)  # small models: one BLAS thread each is fastest on a 2-core machine
warnings.filterwarnings("ignore", category=UserWarning, module="sklearn")
print(f"size={SIZE!r}: {N_BACKGROUND} background points, {N_TREES} trees")

# %% [markdown]
# ## 1. Bradypus: data
# Real data when the machine has it; a **simulated** species otherwise (the cell says which).

# %%
if available("dismo"):
    from sdmkit.datasets import load_bioclim, load_bradypus

    grids = load_bioclim()
    presences = load_bradypus()
    print("DATA: REAL — dismo's Bradypus variegatus + bioclim grids (biome categorical)")
else:
    grids = simulate.environment_grid((120, 90), random_state=0)
    presences = simulate.virtual_species(grids, n_presence_only=116, random_state=0).presence_only
    print("DATA: SIMULATED — set SDMKIT_DATA_DIR for the real Bradypus data")

background = sample_background(grids, N_BACKGROUND, random_state=0, presences=presences,
                               overlap="ignore").to_crs(presences.crs)
occ = pd.concat([presences.assign(occ=1)[["occ", "geometry"]],
                 background.assign(occ=0)[["occ", "geometry"]]], ignore_index=True)
table = extract(occ, grids)
bands = [str(b) for b in grids["band"].values]
categorical = grids.attrs.get("categorical", [])
for col in categorical:
    table[col] = table[col].astype("Int64").astype("category")
table = table.dropna(subset=bands)  # background can't fall on NaN cells; presences might
X, y = table[bands], table["occ"].to_numpy()
print(f"{int(y.sum())} presences, {int((1 - y).sum())} background points, {len(bands)} covariates")

# %% [markdown]
# ## 2. Models and spatial cross-validation
# Blocks are sized from the range of spatial autocorrelation of the covariates
# (an exponential semivariogram fit), so test blocks sit beyond the distance at
# which neighbours resemble each other.

# %%
xy = np.column_stack([table.geometry.x, table.geometry.y])
numeric = [b for b in bands if b not in categorical]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # continental gradients: some variograms never level off
    autocorr = block_size_from_autocorrelation(xy, table[numeric].to_numpy(), random_state=0)
extent = min(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]))
block = min(autocorr, extent / 5)  # at least 5 blocks across the study area
print(f"autocorrelation range {autocorr:.1f} degrees; block size used {block:.1f} degrees")

models = {
    "maxent": MaxentModel(),
    "rf_down": DownsampledRandomForest(n_estimators=N_TREES, random_state=0),
    "brt": BoostedTrees(random_state=0),
    "glm": GLM(),
    "gam": SplineGAM(),
}
models["ensemble"] = Ensemble([(k, models[k]) for k in ("maxent", "rf_down", "brt", "gam")],
                              normalize="reference")
# balance="positives": every test fold gets presences (else its AUC is undefined, NaN)
cv = SpatialBlockKFold(n_splits=3 if SMOKE else 5, block_size=block, random_state=0,
                      balance="positives")  # fmt: skip
rows = []
for name, model in models.items():
    scores = cross_val_score(model, X, y, groups=xy, cv=cv, scoring="roc_auc")
    rows.append({"model": name, "spatial_cv_auc": scores.mean(), "sd": scores.std()})
cv_table = pd.DataFrame(rows).sort_values("spatial_cv_auc", ascending=False)
cv_table.round(3)

# %% [markdown]
# ## 3. Response curves and maps
# The best model by spatial CV, refitted on all data and mapped with dask-chunked,
# bounded-memory prediction.

# %%
best = cv_table["model"].iloc[0]
model = models[best].fit(X, y)
curves = response_curves(model, X, n=50)
fig = plot_response_curves(curves, ncols=5)
fig.suptitle(f"response curves ({best})")
plt.show()

# %%
suitability = predict_raster(model, grids, chunks=64).compute()
suitability_map(suitability, points=presences, label=f"P(presence), {best}")

# %%
ax = suitability_map(suitability, points=presences, interactive=False,
                     title=f"Bradypus suitability ({best}) and presence records")
plt.show()

# %% [markdown]
# ## 4. A disdat region: presence-only fit, presence–absence evaluation
# Each species is fitted on its presence-only records plus background and scored on
# the independent survey sites of its biological group. Two background choices:
# the region's random background, and the target group (other species' records of
# the same group, which share the sampling bias).

# %% [markdown]
# **DeepMaxent** (Ryckewaert et al. 2024, `sdmkit.sdm.neural.DeepMaxent`) is fitted
# once on *all* species of the region's survey group: a shared neural network with
# one output per species, trained with Maxent's normalised Poisson loss, each
# species' records contrasted with its domain — here the target-group domain, the
# record sites of the whole group. Its per-species AUC/COR join the table below
# (target-group track only). Across the full benchmark (`sdmkit bench disdat`, 226
# species, benchmarks/results/disdat.json) it did not beat MaxEnt: mean AUC 0.711 vs
# 0.727 with random background, 0.753 vs 0.757 with target-group background; in SA
# alone it was ahead (0.806 vs 0.791, target group). The smoke setting trains only a
# few epochs, so its smoke numbers say nothing about the model.

# %%
if available("disdat"):
    from sdmkit.datasets import load_disdat

    region = load_disdat("SA")
    n_species = 3 if SMOKE else len(region.species)
    demo_models = {
        "maxent": lambda: MaxentModel(),
        "rf_down": lambda: DownsampledRandomForest(n_estimators=N_TREES, random_state=0),
        "glm": lambda: GLM(),
    }
    results = []
    for track in ("random", "target_group"):
        for task in list(disdat_tasks(region, track))[:n_species]:
            for name, make in demo_models.items():
                res = evaluate_po_pa(make(), task.train_po, task.background, task.test,
                                     features=task.features)
                results.append({"track": track, "species": task.species, "model": name, **res})
    # DeepMaxent: one fit per target-group unit (every species of the group), scored on the
    # same species as the single-species models
    shown = {t.species for t in list(disdat_tasks(region, "target_group"))[:n_species]}
    for unit in disdat_units(region, "target_group"):
        if not shown.intersection(unit.species):
            continue
        scores, wall, _ = fit_unit(unit, lambda: DeepMaxent(epochs=DEEP_EPOCHS, random_state=0,
                                                            device="cpu", progress=False))  # fmt: skip
        print(f"DeepMaxent, group {unit.group!r}: {len(unit.species)} species, "
              f"{len(unit.X)} sites, {DEEP_EPOCHS} epochs, fit {wall:.1f} s")  # fmt: skip
        for sp in sorted(shown.intersection(scores)):
            occ = unit.tests[sp]["occ"].to_numpy().astype(int)
            results.append({"track": "target_group", "species": sp, "model": "deepmaxent",
                            "auc": roc_auc_score(occ, scores[sp]),
                            "cor": np.corrcoef(occ, scores[sp])[0, 1]})  # fmt: skip
    results = pd.DataFrame(results)
    summary = results.groupby(["track", "model"])[["auc", "cor"]].mean().unstack("track")
    print(f"DATA: REAL — disdat SA, {n_species} species")
    display(summary.round(3))  # noqa: F821 (IPython)
else:
    print("DATA: disdat is not available on this machine (set SDMKIT_DATA_DIR); skipped.")
