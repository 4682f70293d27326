"""Covariate extraction: agreement with the maxnet Bradypus table, and speed vs rasterio.

Run: ``sdmkit bench extraction`` (or ``python benchmarks/extraction.py``) with
``SDMKIT_DATA_DIR`` set. Writes ``benchmarks/results/extraction.json``.
"""

from __future__ import annotations

import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import sdmkit
from sdmkit import extract, points_from_xy
from sdmkit.datasets import fetch, load_bradypus, load_maxnet_bradypus, load_phillips_coverages

OUT = Path(__file__).with_name("results") / "extraction.json"


def bradypus_agreement(cov) -> dict:
    pts = load_bradypus()
    table = load_maxnet_bradypus()
    pres = table[table["presence"] == 1].reset_index(drop=True)
    cols = [c for c in table.columns if c != "presence"]
    target = pres[cols].astype(float).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = extract(pts, cov)[cols].to_numpy()
    exact = (got == target).all(axis=1)
    lon, lat = pts["lon"].to_numpy(), pts["lat"].to_numpy()
    fx, fy = (lon + 94.8) / 0.05, (23.55 - lat) / 0.05
    on_edge = (np.abs(fx - np.round(fx)) < 1e-6) | (np.abs(fy - np.round(fy)) < 1e-6)
    values = cov.sel(band=cols).to_numpy()
    within_one = 0
    for i in range(len(pts)):
        c, r = int(np.floor(fx[i])), int(np.floor(fy[i]))
        within_one += any((values[:, r + dr, c + dc] == target[i]).all()
                          for dr in (-1, 0, 1) for dc in (-1, 0, 1))
    # Maxent (Java) indexes rows from the bottom with unsnapped float arithmetic
    col = np.floor((lon + 94.8) / 0.05).astype(int)
    row = 1592 - 1 - np.floor((lat + 56.05) / 0.05).astype(int)
    maxent_convention = int((values[:, row, col].T == target).all(axis=1).sum())
    return {
        "points": len(pts),
        "exact_rows_gdal_convention": int(exact.sum()),
        "points_on_cell_edges": int(on_edge.sum()),
        "exact_rows_off_edges": f"{int(exact[~on_edge].sum())}/{int((~on_edge).sum())}",
        "rows_matching_a_cell_within_one": int(within_one),
        "exact_rows_maxent_java_convention": maxent_convention,
    }


def speed(cov, n: int, seed: int = 0) -> dict:
    import rasterio

    rng = np.random.default_rng(seed)
    left, bottom, right, top = cov.rio.bounds()
    pts = points_from_xy(pd.DataFrame({"lon": rng.uniform(left, right, n),
                                       "lat": rng.uniform(bottom, top, n)}))
    out = {"n_points": n, "n_bands": int(cov.sizes["band"])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {}
        for method in ("nearest", "bilinear"):
            t = time.perf_counter()
            results[method] = extract(pts, cov, method=method)
            out[f"sdmkit_{method}_seconds"] = round(time.perf_counter() - t, 4)
    mine = results["nearest"]
    zpath = fetch("phillips2006_coverages", "coverages.zip")
    xy = list(zip(pts.geometry.x, pts.geometry.y))
    t = time.perf_counter()
    peer = {}
    for band in cov["band"].values:
        with rasterio.open(f"/vsizip/{zpath}/coverages/{band}.asc") as src:
            nod = src.nodata
            v = np.array([s[0] for s in src.sample(xy)], dtype=float)
            peer[band] = np.where(v == nod, np.nan, v)
    out["rasterio_sample_seconds"] = round(time.perf_counter() - t, 4)
    out["speedup_nearest_vs_rasterio_sample"] = round(
        out["rasterio_sample_seconds"] / out["sdmkit_nearest_seconds"], 2)
    same = [(mine[b].to_numpy() == peer[b]) | (np.isnan(mine[b].to_numpy()) & np.isnan(peer[b]))
            for b in cov["band"].values]
    out["nearest_values_identical_to_rasterio"] = f"{int(np.sum(same))}/{np.size(same)}"
    return out


def main() -> dict:
    t0 = time.perf_counter()
    cov = load_phillips_coverages()
    result = {
        "benchmark": "extraction",
        "bradypus_vs_maxnet_table": bradypus_agreement(cov),
        "speed": speed(cov, 100_000),
        "wall_seconds": None,
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "sdmkit": sdmkit.__version__},
    }
    result["wall_seconds"] = round(time.perf_counter() - t0, 2)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
