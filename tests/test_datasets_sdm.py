"""Real-data tests of the SDM loaders (disdat, dismo, Phillips, maxnet/elapid, blockCV)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit import extract
from sdmkit.datasets import (
    DISDAT_REGIONS,
    load_anguilla,
    load_ariolimax,
    load_bioclim,
    load_blockcv_au,
    load_bradypus,
    load_disdat,
    load_elapid_bradypus,
    load_maxnet_bradypus,
    load_phillips_coverages,
)

# (EPSG, species, presence-only rows, test sites) per region, from the disdat files
DISDAT_FACTS = {
    "AWT": (28355, 40, 3806, 442),
    "CAN": (4008, 20, 5063, 14571),
    "NSW": (4326, 54, 3323, 8746),
    "NZ": (27200, 52, 3088, 19120),
    "SA": (4326, 30, 2220, 152),
    "SWI": (21781, 30, 35105, 10013),
}


@pytest.mark.data("disdat")
@pytest.mark.parametrize("region", DISDAT_REGIONS)
def test_disdat_region(region):
    d = load_disdat(region)
    epsg, n_species, n_po, n_test = DISDAT_FACTS[region]
    assert d.crs.to_epsg() == epsg
    assert d.train_po.crs == d.crs == d.train_bg.crs == d.test.crs
    assert (len(d.species), len(d.train_po), len(d.train_bg), len(d.test)) == (
        n_species, n_po, 10_000, n_test)
    assert (d.train_po["occ"] == 1).all() and (d.train_bg["occ"] == 0).all()
    for col in d.categorical:
        cats = d.train_po[col].cat.categories
        assert d.test[col].cat.categories.equals(cats) and d.train_bg[col].cat.categories.equals(cats)
        assert not d.test[col].isna().any()
    for col in set(d.predictors) - set(d.categorical):
        assert d.train_po[col].dtype == "float64"
    # every species was surveyed somewhere and has presence-only records
    sp = d.species[0]
    po, pa = d.species_data(sp)
    assert len(po) > 0 and set(pa["occ"].unique()) <= {0, 1} and pa["occ"].sum() > 0
    assert pa["group"].eq(d.species_group[sp]).all()


@pytest.mark.data("disdat")
def test_disdat_totals_and_groups():
    species = {r: load_disdat(r) for r in DISDAT_REGIONS}
    assert sum(len(d.species) for d in species.values()) == 226
    assert set(species["NSW"].species_group.values()) == {
        "ba", "db", "nb", "ot", "ou", "rt", "ru", "sr"}
    assert species["CAN"].categorical == ["ontveg"]
    assert sorted(species["NZ"].categorical) == ["age", "toxicats"]
    # the region borders shipped with disdat share the CRS of its points (SWI has none)
    import geopandas as gpd

    from sdmkit.datasets import fetch

    for region in ("AWT", "CAN", "NSW", "NZ", "SA"):
        border = gpd.read_file(fetch("disdat", f"borders/{region.lower()}.gpkg"))
        assert border.crs.to_epsg() == species[region].crs.to_epsg()
        left, bottom, right, top = border.total_bounds
        pad = 5_000 if border.crs.is_projected else 0.05
        xy = species[region].train_po.geometry
        inside = xy.x.between(left - pad, right + pad) & xy.y.between(bottom - pad, top + pad)
        assert inside.mean() > 0.95


@pytest.mark.data("dismo")
def test_dismo_loaders():
    pts = load_bradypus()
    assert len(pts) == 116 and pts.crs.to_epsg() == 4326
    grids = load_bioclim()
    assert grids.dims == ("band", "y", "x") and grids.shape == (9, 192, 186)
    assert grids.rio.resolution() == (0.5, -0.5)
    assert grids.rio.bounds() == (-125.0, -56.0, -32.0, 40.0)
    assert grids.attrs["categorical"] == ["biome"]
    assert np.isnan(grids.sel(band="bio1")).any()  # ocean masked, not -32768
    assert float(grids.sel(band="bio1").min()) > -300
    train, test = load_anguilla()
    assert train.shape == (1000, 14) and test.shape == (500, 13)
    assert set(train["Angaus"].unique()) == {0, 1}


@pytest.mark.data("phillips2006_coverages")
def test_phillips_coverages():
    cov = load_phillips_coverages()
    assert cov.shape == (14, 1592, 1212) and cov.rio.crs.to_epsg() == 4326
    assert cov.rio.bounds() == pytest.approx((-94.8, -56.05, -34.2, 23.55))
    assert 0.5 < float(cov.sel(band="h_dem").isnull().mean()) < 0.8  # the oceans


@pytest.mark.data("maxnet_bradypus", "elapid")
def test_maxnet_and_elapid_tables_are_the_same():
    m, e = load_maxnet_bradypus(), load_elapid_bradypus()
    assert m.shape == (1116, 15) and int(m["presence"].sum()) == 116
    pd.testing.assert_frame_equal(m, e)
    slug = load_ariolimax()
    assert slug.crs.to_epsg() == 32610 and len(slug) == 6585


@pytest.mark.data("blockcv_au")
def test_blockcv_au():
    au = load_blockcv_au()
    assert au.rasters.rio.crs.to_epsg() == 7845 and au.rasters.shape == (4, 452, 534)
    assert len(au.presence_absence) == 500 and len(au.presence_background) == 10243
    vals = extract(au.presence_absence, au.rasters)
    assert vals[["bio_4", "bio_12"]].notna().mean().min() > 0.95


@pytest.mark.data("dismo", "phillips2006_coverages", "maxnet_bradypus")
def test_bradypus_extraction_matches_the_maxnet_table():
    """Extract the 14 coverages at the 116 dismo points and compare with maxnet's table.

    maxnet's covariates were extracted by its authors (Maxent). 79 of the 116
    points sit exactly on a 0.05° cell edge, where the chosen cell depends on the
    convention: sdmkit follows GDAL (an edge belongs to the cell to its right /
    below). Every point off an edge must match exactly, and every point must
    match one of the cells that touch it.
    """
    pts = load_bradypus()
    cov = load_phillips_coverages()
    table = load_maxnet_bradypus()
    pres = table[table["presence"] == 1].reset_index(drop=True)
    cols = [c for c in table.columns if c != "presence"]
    got = extract(pts, cov)
    target = pres[cols].astype(float).to_numpy()
    exact = (got[cols].to_numpy() == target).all(axis=1)

    fx = (pts["lon"].to_numpy() + 94.8) / 0.05
    fy = (23.55 - pts["lat"].to_numpy()) / 0.05
    on_edge = (np.abs(fx - np.round(fx)) < 1e-6) | (np.abs(fy - np.round(fy)) < 1e-6)
    assert on_edge.sum() == 79
    assert exact[~on_edge].all()
    assert exact.sum() == 73  # reported in the closing note of the foundation issue

    values = cov.sel(band=cols).to_numpy()
    for i in np.flatnonzero(~exact):
        c, r = int(np.round(fx[i])), int(np.round(fy[i]))
        touching = [values[:, rr, cc] for rr in (r - 1, r) for cc in (c - 1, c)]
        assert any((v == target[i]).all() for v in touching), i
