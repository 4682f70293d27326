"""dismo example data: *Bradypus variegatus*, *Solanum acaule*, bioclim grids, *Anguilla*.

The R package dismo ships these as its worked examples (Hijmans et al.): the
116 Bradypus (brown-throated sloth) records of Phillips et al. (2006), WorldClim
-derived bioclim grids and a biome grid at 0.5° over South and Central America
(R ``raster`` .grd/.gri files, read through GDAL's RRASTER driver), GBIF records
of the wild potato *Solanum acaule*, and the real presence–absence survey of
the New Zealand short-finned eel *Anguilla australis* (Elith et al. 2008).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from .._validation import points_from_xy
from ._fetch import fetch, fetch_dataset
from ._readers import open_grid, read_rdata

__all__ = ["BIOCLIM_LAYERS", "load_acaule", "load_anguilla", "load_bioclim", "load_bradypus"]

#: Bands of :func:`load_bioclim`, with units (WorldClim stores temperatures as °C × 10).
BIOCLIM_LAYERS = {
    "bio1": ("annual mean temperature", "degC * 10"),
    "bio5": ("max temperature of warmest month", "degC * 10"),
    "bio6": ("min temperature of coldest month", "degC * 10"),
    "bio7": ("temperature annual range", "degC * 10"),
    "bio8": ("mean temperature of wettest quarter", "degC * 10"),
    "bio12": ("annual precipitation", "mm"),
    "bio16": ("precipitation of wettest quarter", "mm"),
    "bio17": ("precipitation of driest quarter", "mm"),
    "biome": ("WWF terrestrial biome (categorical code)", "1"),
}

_EX = "orig/inst_ex"


def load_bradypus():
    """The 116 *Bradypus variegatus* presence records as points (EPSG:4326).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``species``, ``lon``, ``lat`` and a point geometry.

    Examples
    --------
    >>> from sdmkit.datasets import load_bradypus
    >>> pts = load_bradypus()  # doctest: +SKIP
    >>> len(pts), pts.crs.to_epsg()  # doctest: +SKIP
    (116, 4326)
    """
    table = pd.read_csv(fetch("dismo", f"{_EX}/bradypus.csv"), dtype={"species": "string"})
    return points_from_xy(table, "lon", "lat", crs="EPSG:4326")


def load_acaule():
    """GBIF records of *Solanum acaule* as points (EPSG:4326).

    Every record is kept, including those without coordinates, which GBIF
    exports as blanks: they would be invalid points, so they are returned
    separately rather than dropped.

    Returns
    -------
    points : geopandas.GeoDataFrame
        Records with coordinates.
    no_coordinates : pandas.DataFrame
        Records whose ``lon`` or ``lat`` is missing.
    """
    table = pd.read_csv(fetch("dismo", f"{_EX}/acaule.csv"), encoding="latin-1", index_col=0)
    has_xy = table["lon"].notna() & table["lat"].notna()
    return points_from_xy(table[has_xy], "lon", "lat", crs="EPSG:4326"), table[~has_xy]


def load_bioclim(layers: list[str] | None = None) -> xr.DataArray:
    """Bioclim and biome grids at 0.5° over South and Central America.

    Parameters
    ----------
    layers : list of str, optional
        Subset of :data:`BIOCLIM_LAYERS` (default: all nine, ``biome`` last).

    Returns
    -------
    xarray.DataArray
        Float32, dims ``(band, y, x)``, 192 × 186 cells, EPSG:4326 (OGC:CRS84),
        nodata as NaN. ``attrs["categorical"]`` lists categorical bands
        (``["biome"]``); ``attrs["units"]`` maps bands to units.

    Examples
    --------
    >>> from sdmkit.datasets import load_bioclim
    >>> grids = load_bioclim(["bio1", "bio12"])  # doctest: +SKIP
    >>> grids.sizes["band"]  # doctest: +SKIP
    2
    """
    layers = list(BIOCLIM_LAYERS) if layers is None else list(layers)
    unknown = [name for name in layers if name not in BIOCLIM_LAYERS]
    if unknown:
        raise ValueError(f"Unknown bioclim layers {unknown}; choose from {list(BIOCLIM_LAYERS)}.")
    files = [f"{_EX}/{name}.{ext}" for name in layers for ext in ("grd", "gri")]
    root = fetch_dataset("dismo", files)
    bands = [open_grid(root / _EX / f"{name}.grd", name=name) for name in layers]
    stack = xr.concat(bands, dim="band", combine_attrs="drop")
    stack = stack.rio.write_crs(bands[0].rio.crs)
    stack.name = "bioclim"
    stack.attrs.update(
        categorical=[b for b in layers if b == "biome"],
        units={b: BIOCLIM_LAYERS[b][1] for b in layers},
        long_names={b: BIOCLIM_LAYERS[b][0] for b in layers},
        source="dismo inst/ex (WorldClim-derived; test fixture, do not re-publish)",
    )
    return stack


def load_anguilla() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The *Anguilla australis* presence–absence survey (Elith et al. 2008).

    Returns
    -------
    train : pandas.DataFrame
        1,000 sites: ``Site``, ``Angaus`` (0/1), 11 environmental predictors and
        ``Method`` (categorical fishing method).
    test : pandas.DataFrame
        500 independent sites; the response column is ``Angaus_obs``.

    Notes
    -----
    The sites have no coordinates in the published data; this is a tabular
    presence–absence benchmark.
    """
    out = []
    for name in ("Anguilla_train", "Anguilla_test"):
        frame = read_rdata(fetch("dismo", f"orig/data/{name}.RData"))[name]
        frame["Method"] = frame["Method"].astype("category")
        out.append(frame)
    return out[0], out[1]
