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
# # sdmkit quickstart: occurrences, rasters, covariates and maps
#
# The sloth *Bradypus variegatus*: 116 presence records (Phillips et al. 2006) and
# WorldClim-derived bioclim grids at 0.5° over South and Central America, both
# from the R package dismo. This notebook
#
# 1. loads the points and the rasters (hash-verified, from `SDMKIT_DATA_DIR` or
#    the cache) — or, on a machine without the data, **simulated** stand-ins;
# 2. validates them, and shows what a validation error looks like;
# 3. extracts covariates at the points (nearest cell and bilinear);
# 4. maps them: an interactive ipyleaflet map that needs no basemap tiles, and a
#    static matplotlib map.

# %% tags=["parameters"]
import os

# "smoke": the small setting CI runs; "default": what `make demo` runs.
SIZE = os.environ.get("SDMKIT_NB_SIZE", "default")

# %%
import matplotlib.pyplot as plt
import pandas as pd

import sdmkit
from sdmkit import ValidationError, check_points, extract, points_from_xy
from sdmkit.datasets import available, simulate
from sdmkit.viz import leaflet_map, static_map

LAYERS = ["bio1", "bio12", "biome"] if SIZE == "smoke" else None  # None: all nine
print(f"sdmkit {sdmkit.__version__}, size={SIZE!r}")

# %% [markdown]
# ## 1. Data
# Real data when this machine has it; otherwise a simulated species on a
# simulated environment, with known truth. The cell says loudly which.

# %%
REAL = available("dismo")
if REAL:
    from sdmkit.datasets import load_bioclim, load_bradypus

    grids = load_bioclim(LAYERS)
    points = load_bradypus()
    BAND = "bio1"
    print("DATA: REAL — dismo's Bradypus variegatus records + bioclim grids")
else:
    grids = simulate.environment_grid(random_state=0)
    species = simulate.virtual_species(grids, n_presence_only=116, random_state=0)
    points = species.presence_only
    BAND = str(grids["band"].values[0])
    print("DATA: SIMULATED — no real data on this machine (set SDMKIT_DATA_DIR);\n"
          "      a virtual species on a simulated environment stands in.")
print(f"{len(points)} points in {points.crs.to_string()}; raster {dict(grids.sizes)} in {grids.rio.crs}")
grids

# %% [markdown]
# ## 2. Validation
# Everything entering sdmkit passes one set of checks (`sdmkit._validation`).
# Errors say what is wrong, where, and how to fix it. Here the same points with
# their columns exchanged — the classic (lat, lon) mix-up:

# %%
check_points(points, raster=grids)

swapped = points_from_xy(
    pd.DataFrame({"lon": points.geometry.y, "lat": points.geometry.x}), crs=points.crs
)
try:
    check_points(swapped, raster=grids)
except ValidationError as err:
    print("ValidationError:", err)

# %% [markdown]
# ## 3. Covariates at the points
# `extract` reprojects the points to the raster's CRS, samples every band and
# returns the same rows with one column per band. A point outside the raster or
# on a nodata cell gets NaN and a warning that counts it — never a dropped row.

# %%
nearest = extract(points, grids)
table = nearest.drop(columns="geometry")
table.head()

# %%
if SIZE != "smoke":
    bilinear = extract(points, grids, method="bilinear")
    band_cols = [str(b) for b in grids["band"].values]
    diff = (bilinear[band_cols] - nearest[band_cols]).abs().mean()
    print("mean |bilinear - nearest| per band (categorical bands are never interpolated):")
    print(diff.round(2).to_string())

# %% [markdown]
# ## 4. Maps
# The interactive map renders the raster as a PNG overlay in Web Mercator
# (bounds in lon/lat), so it shows even when no basemap tiles can load.

# %%
leaflet_map(grids, BAND, points=points)

# %%
fig, ax = plt.subplots(figsize=(6, 6))
static_map(grids, BAND, points=points, ax=ax,
           title=f"{BAND} and {len(points)} presence records"
                 + ("" if REAL else " (SIMULATED)"))
plt.show()
