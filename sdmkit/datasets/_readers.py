"""Readers for the upstream file formats sdmkit's datasets come in.

Each reader turns one format into the field's type (DataFrame or a
``(band, y, x)`` DataArray with a CRS); dataset modules add the meaning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["open_grid", "read_rdata", "read_rds"]


def read_rds(path: str | Path) -> pd.DataFrame:
    """Read an R ``.rds`` file holding one data frame (through pyreadr).

    R factors arrive as pandas categoricals.
    """
    import pyreadr

    result = pyreadr.read_r(str(path))
    return next(iter(result.values()))


def read_rdata(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read the data frames of an R ``.RData``/``.rda`` file, by object name."""
    import pyreadr

    return dict(pyreadr.read_r(str(path)))


def open_grid(
    path: str | Path,
    name: str | None = None,
    crs: str | int | None = None,
    dtype: str = "float32",
):
    """Open a single-band GDAL raster as a masked ``(band, y, x)`` DataArray.

    Works for GeoTIFF, R ``.grd``/``.gri`` (GDAL's RRASTER driver) and ESRI ASCII
    grids, including ``/vsizip/`` paths. Nodata cells become NaN; the array is
    loaded into memory as ``dtype``.

    Parameters
    ----------
    path : str or Path
        File path or GDAL virtual path.
    name : str, optional
        Band name (default: the file stem).
    crs : optional
        CRS to write when the file carries none (e.g. ESRI ASCII grids). A file
        that has a CRS keeps it; passing a different one is an error.
    """
    import rioxarray
    from pyproj import CRS

    da = rioxarray.open_rasterio(path, masked=True).load()
    if crs is not None:
        if da.rio.crs is None:
            da = da.rio.write_crs(crs)
        elif CRS.from_user_input(da.rio.crs) != CRS.from_user_input(crs):
            raise ValueError(f"{path} has CRS {da.rio.crs}, not the expected {crs}.")
    if da.rio.crs is None:
        raise ValueError(f"{path} has no CRS; pass crs=… to open_grid.")
    nodata = da.rio.encoded_nodata
    da = da.astype(dtype)
    band = name or Path(str(path)).name.split(".")[0]
    da = da.assign_coords(band=[band] if da.sizes["band"] == 1 else
                          [f"{band}_{i + 1}" for i in range(da.sizes["band"])])
    da = da.rio.write_nodata(np.nan, encoded=False)
    da.attrs.pop("_FillValue", None)
    if nodata is not None:
        da.attrs["source_nodata"] = float(nodata)
    da.attrs["source"] = str(path)
    return da
