"""Tabular presence/background samples used to check MaxEnt implementations.

* maxnet's ``bradypus`` (Phillips et al. 2017): 116 presences + 1,000 background
  points of *Bradypus variegatus* with 14 covariates extracted by the authors
  from the Phillips et al. (2006) coverages (``ecoreg`` categorical).
* elapid's ``bradypus.csv.gz``: the same table as shipped with elapid.
* elapid's ``ariolimax.gpkg``: 6,585 presence/background points of the banana
  slug *Ariolimax buttoni* in UTM zone 10N (EPSG:32610), 6 covariates.
"""

from __future__ import annotations

import pandas as pd

from .._validation import check_points
from ._fetch import fetch
from ._readers import read_rdata

__all__ = ["load_ariolimax", "load_elapid_bradypus", "load_maxnet_bradypus"]


def _bradypus_types(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["presence"] = table["presence"].astype("int64")
    eco = table["ecoreg"].astype(str)
    levels = sorted(eco.unique(), key=int)
    table["ecoreg"] = pd.Categorical(eco, categories=levels)
    for col in table.columns.drop(["presence", "ecoreg"]):
        table[col] = table[col].astype("float64")
    return table


def load_maxnet_bradypus() -> pd.DataFrame:
    """maxnet's ``bradypus`` table: ``presence`` (1/0) and 14 covariates.

    Rows 0–115 are the presences (in the order of dismo's ``bradypus.csv``),
    rows 116–1115 the background points. There are no coordinates.

    Examples
    --------
    >>> from sdmkit.datasets import load_maxnet_bradypus
    >>> table = load_maxnet_bradypus()  # doctest: +SKIP
    >>> int(table["presence"].sum())  # doctest: +SKIP
    116
    """
    return _bradypus_types(read_rdata(fetch("maxnet_bradypus", "bradypus.rda"))["bradypus"])


def load_elapid_bradypus() -> pd.DataFrame:
    """elapid's copy of the maxnet ``bradypus`` table (same columns and rows)."""
    return _bradypus_types(pd.read_csv(fetch("elapid", "bradypus.csv.gz")))


def load_ariolimax():
    """elapid's *Ariolimax buttoni* sample: presence (1) / background (0) points.

    Returns
    -------
    geopandas.GeoDataFrame
        ``presence`` (int) and 6 covariates (land-surface temperature, LAI and
        cloud cover, mean and standard deviation), EPSG:32610 points.
    """
    import geopandas as gpd

    gdf = gpd.read_file(fetch("elapid", "ariolimax.gpkg"))
    gdf["presence"] = gdf["presence"].astype("int64")
    return check_points(gdf, name="ariolimax points")
