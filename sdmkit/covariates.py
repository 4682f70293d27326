"""Sample raster covariates at points.

``extract`` is the one door through which raster values reach point tables in
sdmkit: it validates both inputs, reprojects the points (never the raster) to
the raster's CRS, samples every band, and hands back the caller's points with
one column per band. Points outside the raster come back as NaN with a warning
that counts them; no row is ever dropped.

Why not ``DataArray.sel(method="nearest")`` or ``DataArray.interp``: ``sel``
snaps a point outside the grid to the edge cell (inventing a value), and
``interp`` treats coordinates as cell-centre samples, so a point in the outer
half of an edge cell becomes NaN. Both conventions would silently disagree with
GDAL/terra, which treat a raster as a mosaic of cells. The indexing here is the
raster's affine transform, the same convention as ``rasterio.sample`` and R's
``terra::extract``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import ValidationError, ValidationWarning, check_points, check_raster

__all__ = ["extract"]


def extract(points, rasters, method: str = "nearest", *, prefix: str = ""):
    """Sample rasters at points; return the points with one column per band.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Point geometries with a CRS (see :func:`sdmkit.points_from_xy`).
    rasters : xarray.DataArray, xarray.Dataset or list of them
        Rasters with a rioxarray CRS, dims ``(band, y, x)`` or ``(y, x)``.
        Several rasters may have different grids and CRSs. Dask-backed rasters
        are read only at the cells the points need.
    method : {"nearest", "bilinear"}
        ``"nearest"``: the value of the cell that contains the point (cell
        edges belong to the cell to their right / below, as in GDAL).
        ``"bilinear"``: weighted mean of the four cell centres around the point;
        NaN neighbours are left out and the weights renormalised, but a point
        whose own cell is NaN stays NaN. Bands listed in
        ``raster.attrs["categorical"]`` are always sampled nearest.
    prefix : str
        Prepended to every new column name.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``points`` (same rows, index, CRS and geometry) with one float
        column per band.

    Warns
    -----
    ValidationWarning
        When points fall outside a raster or on nodata cells (those values are NaN).

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr, rioxarray  # noqa: F401
    >>> from sdmkit import extract, points_from_xy
    >>> grid = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("y", "x"), name="elev",
    ...                     coords={"y": [1.5, 0.5], "x": [0.5, 1.5, 2.5]}).rio.write_crs(4326)
    >>> pts = points_from_xy(pd.DataFrame({"lon": [0.2, 2.9], "lat": [1.9, 0.1]}))
    >>> extract(pts, grid)["elev"].tolist()
    [0.0, 5.0]
    """
    if method not in ("nearest", "bilinear"):
        raise ValueError(f"method must be 'nearest' or 'bilinear', got {method!r}.")
    items = list(rasters) if isinstance(rasters, (list, tuple)) else [rasters]
    if not items:
        raise ValidationError("No rasters given to extract.")
    checked = [check_raster(r, name=f"raster {i}") for i, r in enumerate(items)]
    check_points(points, raster=checked[0])
    out = points.copy()
    for raster in checked:
        values, n_out, n_nodata = _sample(points, raster, method)
        for name, col in zip(raster["band"].to_numpy(), values.T):
            column = f"{prefix}{name}"
            if column in out.columns:
                raise ValidationError(
                    f"Column {column!r} already exists in the points; pass prefix='…' to "
                    f"extract or rename the band (raster.assign_coords(band=[…]))."
                )
            out[column] = col
        if n_out or n_nodata:
            parts = [f"{n_out} outside the raster (bounds "
                     f"{tuple(round(b, 6) for b in raster.rio.bounds())} in {raster.rio.crs})"
                     if n_out else "",
                     f"{n_nodata} on nodata cells in at least one band" if n_nodata else ""]
            warnings.warn(
                f"extract: of {len(points)} points, {' and '.join(p for p in parts if p)}; "
                f"their values are NaN (no row was dropped).",
                ValidationWarning,
                stacklevel=2,
            )
    return out


def _sample(points, raster, method: str):
    """Return (values (n, bands), n outside, n on nodata) for one raster."""
    crs = raster.rio.crs
    pts = points.to_crs(crs) if points.crs != crs else points
    x = pts.geometry.x.to_numpy()
    y = pts.geometry.y.to_numpy()
    height, width = raster.sizes["y"], raster.sizes["x"]
    inv = ~raster.rio.transform(recalc=True)
    col_f, row_f = inv @ (x, y)
    col_f, row_f = np.asarray(col_f, float), np.asarray(row_f, float)
    eps = 1e-9  # a point exactly on the far edge belongs to the last cell
    inside = (col_f >= -eps) & (col_f <= width + eps) & (row_f >= -eps) & (row_f <= height + eps)
    col = np.clip(np.floor(col_f), 0, width - 1).astype(np.int64)
    row = np.clip(np.floor(row_f), 0, height - 1).astype(np.int64)

    nearest = _take(raster, row, col)
    nearest[~inside] = np.nan
    if method == "nearest":
        values = nearest
    else:
        values = _bilinear(raster, row_f, col_f, height, width)
        values[np.isnan(nearest)] = np.nan  # own cell nodata or outside → NaN
        categorical = set(raster.attrs.get("categorical", []))
        for j, band in enumerate(raster["band"].to_numpy()):
            if band in categorical:
                values[:, j] = nearest[:, j]
    n_out = int((~inside).sum())
    n_nodata = int((np.isnan(values).any(axis=1) & inside).sum())
    return values, n_out, n_nodata


def _take(raster, row, col) -> np.ndarray:
    import xarray as xr

    picked = raster.isel(y=xr.DataArray(row, dims="p"), x=xr.DataArray(col, dims="p"))
    return np.asarray(picked.transpose("p", "band").to_numpy(), dtype="float64").copy()


def _bilinear(raster, row_f, col_f, height, width) -> np.ndarray:
    cx = col_f - 0.5
    cy = row_f - 0.5
    c0 = np.floor(cx)
    r0 = np.floor(cy)
    wx = cx - c0
    wy = cy - r0
    total = 0.0
    weight = 0.0
    for dr, dc, w in ((0, 0, (1 - wy) * (1 - wx)), (0, 1, (1 - wy) * wx),
                      (1, 0, wy * (1 - wx)), (1, 1, wy * wx)):
        r = np.clip(r0 + dr, 0, height - 1).astype(np.int64)
        c = np.clip(c0 + dc, 0, width - 1).astype(np.int64)
        v = _take(raster, r, c)
        ok = ~np.isnan(v)
        total = total + np.where(ok, v, 0.0) * w[:, None]
        weight = weight + ok * w[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan)

