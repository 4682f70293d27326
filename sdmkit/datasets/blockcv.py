"""blockCV's Australian example: 4 bioclim rasters (EPSG:7845) and a simulated species.

From the R package blockCV (Valavi et al. 2019): real WorldClim-derived
bio_4, bio_5, bio_12 and bio_15 at ~8.56 km in GDA2020 / GA LCC, plus a
**simulated** species as presence–absence (500 sites) and presence–background
(10,243 points) tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import xarray as xr

from .._validation import points_from_xy
from ._fetch import fetch
from ._readers import open_grid

__all__ = ["BlockCVAustralia", "load_blockcv_au"]

_LAYERS = ("bio_4", "bio_5", "bio_12", "bio_15")


@dataclass(frozen=True)
class BlockCVAustralia:
    """blockCV's example data.

    Attributes
    ----------
    rasters : xarray.DataArray
        ``(band, y, x)`` float32, EPSG:7845, bands bio_4, bio_5, bio_12, bio_15.
    presence_absence : geopandas.GeoDataFrame
        500 sites, ``occ`` 1/0 (simulated species).
    presence_background : geopandas.GeoDataFrame
        10,243 points, ``occ`` 1 presence / 0 background (simulated species).
    """

    rasters: xr.DataArray
    presence_absence: object
    presence_background: object
    source: str = "blockCV v4.0-0 inst/extdata (species SIMULATED by the blockCV authors)"


def load_blockcv_au() -> BlockCVAustralia:
    """Load blockCV's Australian rasters and simulated species.

    Examples
    --------
    >>> from sdmkit.datasets import load_blockcv_au
    >>> au = load_blockcv_au()  # doctest: +SKIP
    >>> au.rasters.rio.crs.to_epsg()  # doctest: +SKIP
    7845
    """
    bands = [open_grid(fetch("blockcv_au", f"au/{name}.tif"), name=name) for name in _LAYERS]
    rasters = xr.concat(bands, dim="band", combine_attrs="drop").rio.write_crs(bands[0].rio.crs)
    rasters.name = "bioclim"
    crs = rasters.rio.crs
    tables = []
    for name in ("species.csv", "species_pb.csv"):
        t = pd.read_csv(fetch("blockcv_au", name))
        t["occ"] = t["occ"].astype("int64")
        tables.append(points_from_xy(t, "x", "y", crs=crs))
    return BlockCVAustralia(rasters=rasters, presence_absence=tables[0],
                            presence_background=tables[1])
