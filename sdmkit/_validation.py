"""The one place where data entering sdmkit is checked.

Three kinds of data flow through sdmkit (see ``docs/conventions.md``):

* **points** — a :class:`geopandas.GeoDataFrame` of point geometries with a CRS;
* **rasters** — an :class:`xarray.DataArray` with a rioxarray CRS and dims
  ``(band, y, x)``, nodata as NaN;
* **panels** — a tidy :class:`pandas.DataFrame` with one row per location and
  period.

Each ``check_*`` function returns the (possibly normalised) object or raises
:class:`ValidationError` naming what was wrong, where (rows, values) and how to
fix it. Nothing is ever dropped silently.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "ValidationError",
    "ValidationWarning",
    "as_whole_numbers",
    "check_lonlat",
    "check_panel",
    "check_points",
    "check_raster",
    "points_from_xy",
]

_MAX_SHOWN = 8


class ValidationError(ValueError):
    """Input data failed a check; the message says where and how to fix it."""


class ValidationWarning(UserWarning):
    """Input data is usable but something was changed or set to NaN; the message counts it."""


def _show(values: Sequence | np.ndarray | pd.Index) -> str:
    values = list(values)
    head = ", ".join(map(str, values[:_MAX_SHOWN]))
    more = len(values) - _MAX_SHOWN
    return f"[{head}{f', … ({more} more)' if more > 0 else ''}]"


def as_whole_numbers(values: pd.Series, column: str, name: str, *,
                     allow_missing: bool = False) -> pd.Series:
    """Return ``values`` as int64 (nullable ``Int64`` when missing values are allowed).

    Raises :class:`ValidationError` naming the rows that are not whole numbers
    (or are missing, unless ``allow_missing``).
    """
    v = pd.to_numeric(values, errors="coerce")
    missing = v.isna() if not allow_missing else v.isna() & values.notna()
    bad = values.index[missing | (v.notna() & (v != np.round(v)))]
    if len(bad):
        raise ValidationError(
            f"{name}: column {column!r} must hold whole numbers; rows {_show(bad)} have "
            f"{_show(values.loc[bad])}. Fix or drop those rows in the source."
        )
    return v.astype("int64") if v.notna().all() else v.astype("Int64")


# --------------------------------------------------------------------------- points


def check_lonlat(lonlat, name: str = "lonlat") -> None:
    """Check an ``(n, 2)`` array or tensor of (lon, lat) in degrees; raise if bad.

    The check every location encoder runs (:mod:`sdmkit.encoders` re-exports
    it). A torch tensor is checked where it lives (one device sync); the
    message is built on the CPU only when something is wrong. torch is not
    imported here: a tensor can only exist once it has been.

    Parameters
    ----------
    lonlat : numpy.ndarray or torch.Tensor
        Coordinates, one row per point, columns (lon, lat) in degrees.
    name : str
        What to call the input in error messages.

    Raises
    ------
    sdmkit._validation.ValidationError
        Wrong shape or dtype, non-finite values, values beyond ±360 (projected
        coordinates), lon outside [-180, 180] or lat outside [-90, 90] (the
        message names the rows and says when the columns look swapped).

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit._validation import check_lonlat
    >>> check_lonlat(np.array([[13.4, 52.5]]))
    >>> check_lonlat(np.array([[52.5, 13.4], [-33.9, 151.2]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sdmkit._validation.ValidationError: lonlat: latitude outside [-90, 90] in rows [1]; ...
    """
    torch = sys.modules.get("torch")
    is_tensor = torch is not None and isinstance(lonlat, torch.Tensor)
    if is_tensor:
        if not lonlat.is_floating_point():
            raise ValidationError(
                f"{name}: expected a floating-point tensor (float32 or float64) of (lon, lat) "
                f"in degrees; got {lonlat.dtype}. Convert with `.float()` or `.double()`."
            )
        x = lonlat.detach()
    else:
        x = np.asarray(lonlat)
        if x.dtype.kind not in "fiu":
            raise ValidationError(
                f"{name}: expected real numbers (lon, lat) in degrees; got dtype {x.dtype}. "
                f"Convert with np.asarray({name}, dtype=float) after cleaning the values."
            )
    if x.ndim != 2 or x.shape[1] != 2:
        shape = tuple(x.shape)
        hint = ""
        if len(shape) == 2 and shape[0] == 2:
            hint = f" It looks transposed: pass {name}.T."
        elif shape == (2,):
            hint = " For a single point pass [[lon, lat]]."
        raise ValidationError(
            f"{name}: expected shape (n, 2) with columns (lon, lat) in degrees; got shape "
            f"{shape}.{hint}"
        )
    lon, lat = x[:, 0], x[:, 1]
    # fast path (NaN fails both comparisons); on a device, one sync
    if is_tensor:
        if bool(((lon.abs() <= 180) & (lat.abs() <= 90)).all()):
            return
        x = x.cpu().double().numpy()
    elif ((np.abs(lon) <= 180) & (np.abs(lat) <= 90)).all():
        return
    _raise_bad_lonlat_rows(np.asarray(x, dtype=np.float64), name)


def _raise_bad_lonlat_rows(x: np.ndarray, name: str) -> None:
    lon, lat = x[:, 0], x[:, 1]
    nonfinite = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if nonfinite.size:
        raise ValidationError(
            f"{name}: NaN or infinite values (non-finite coordinates in rows "
            f"{_show(nonfinite)}). Drop or fill those rows first; nothing is dropped silently."
        )
    projected = np.flatnonzero((np.abs(x) > 360).any(axis=1))
    if projected.size:
        values = _show([tuple(row) for row in x[projected].tolist()])
        raise ValidationError(
            f"{name}: rows {_show(projected)} hold values beyond ±360 ({values}), "
            "which look like projected coordinates (e.g. metres), not degrees. Reproject "
            "the points to EPSG:4326 and pass (lon, lat) in degrees."
        )
    bad_lat = np.flatnonzero(np.abs(lat) > 90)
    if bad_lat.size:
        hint = ""
        if np.all(np.abs(lon) <= 90):
            hint = (
                " These look like (lat, lon) pairs (the columns look swapped): sdmkit expects "
                f"(lon, lat) — swap the columns (e.g. `{name}[:, ::-1]`)."
            )
        raise ValidationError(
            f"{name}: latitude outside [-90, 90] in rows {_show(bad_lat)}; latitude is column 1 "
            f"and rows {_show(bad_lat)} have {_show(lat[bad_lat])}.{hint}"
        )
    bad_lon = np.flatnonzero(np.abs(lon) > 180)
    if bad_lon.size:
        raise ValidationError(
            f"{name}: longitude outside [-180, 180] in rows {_show(bad_lon)} (values "
            f"{_show(lon[bad_lon])}). Wrap them with `(lon + 180) % 360 - 180`."
        )


def points_from_xy(
    table: pd.DataFrame,
    x: str = "lon",
    y: str = "lat",
    crs: str | int | None = "EPSG:4326",
) -> gpd.GeoDataFrame:  # noqa: F821
    """Turn a table with coordinate columns into validated points.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per point; every column is kept.
    x, y : str
        Column names of the x (longitude / easting) and y (latitude / northing)
        coordinates. sdmkit's order is always (x, y) = (lon, lat).
    crs : str, int or pyproj.CRS
        CRS of the coordinates. Required: a point without a CRS is an error.

    Returns
    -------
    geopandas.GeoDataFrame
        Same rows and index as ``table``, with a point geometry, checked by
        :func:`check_points`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit import points_from_xy
    >>> pts = points_from_xy(pd.DataFrame({"lon": [-60.0, -55.5], "lat": [-10.0, -3.2]}))
    >>> pts.crs.to_epsg()
    4326
    """
    import geopandas as gpd

    missing = [c for c in (x, y) if c not in table.columns]
    if missing:
        raise ValidationError(
            f"Columns {missing} not found; the table has {list(table.columns)}. "
            f"Pass the names of the coordinate columns as x=… and y=… (x is longitude/easting)."
        )
    if crs is None:
        raise ValidationError(
            "No CRS given for the points. Pass crs=… (e.g. 'EPSG:4326' for lon/lat degrees)."
        )
    coords = {}
    for name in (x, y):
        col = pd.to_numeric(table[name], errors="coerce")
        bad = table.index[col.isna() & table[name].notna()]
        if len(bad):
            raise ValidationError(
                f"Column {name!r} has non-numeric values in rows {_show(bad)}: "
                f"{_show(table.loc[bad, name])}. Clean them or drop those rows explicitly."
            )
        coords[name] = col.to_numpy(dtype=float)
    gdf = gpd.GeoDataFrame(
        table.copy(), geometry=gpd.points_from_xy(coords[x], coords[y]), crs=crs
    )
    return check_points(gdf)


def check_points(points, raster=None, *, name: str = "points"):
    """Check a GeoDataFrame of points, optionally against the raster it will sample.

    Checks: a GeoDataFrame with a CRS; every geometry a point; no missing or NaN
    coordinates; in a geographic CRS, longitude in [-180, 180] and latitude in
    [-90, 90]; and, given ``raster``, the obvious (lat, lon) swap — most points
    outside the raster's extent but inside it once x and y are exchanged.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
    raster : xarray.DataArray, optional
        Raster with a rioxarray CRS; used for the swap check (points are
        reprojected to its CRS first).
    name : str
        How to call the points in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        The same object, unchanged.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sdmkit import check_points
    >>> pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([10.0], [50.0]), crs=4326)
    >>> check_points(pts) is pts
    True
    """
    import geopandas as gpd

    if not isinstance(points, gpd.GeoDataFrame):
        raise ValidationError(
            f"{name} must be a geopandas.GeoDataFrame, got {type(points).__name__}. "
            f"Build one from a table with sdmkit.points_from_xy(table, x='lon', y='lat', crs=…)."
        )
    if points.crs is None:
        raise ValidationError(
            f"{name} have no CRS. Set it with points.set_crs('EPSG:4326') for lon/lat degrees "
            f"(or the CRS the coordinates are really in); sdmkit never assumes one."
        )
    geom = points.geometry
    empty = points.index[geom.isna() | geom.is_empty]
    if len(empty):
        raise ValidationError(
            f"{name} have missing or empty geometries in rows {_show(empty)}. "
            f"Drop or fix those rows explicitly before passing them in."
        )
    not_point = points.index[geom.geom_type != "Point"]
    if len(not_point):
        raise ValidationError(
            f"{name} must be Point geometries; rows {_show(not_point)} are "
            f"{_show(geom.loc[not_point].geom_type.unique())}. Use .centroid or "
            f".representative_point() if that is what you mean."
        )
    x = geom.x.to_numpy()
    y = geom.y.to_numpy()
    nan = points.index[~(np.isfinite(x) & np.isfinite(y))]
    if len(nan):
        raise ValidationError(
            f"{name} have NaN or infinite coordinates in rows {_show(nan)}. "
            f"Drop or fix those rows explicitly."
        )
    if points.crs.is_geographic:
        bad_lon = points.index[(x < -180) | (x > 180)]
        bad_lat = points.index[(y < -90) | (y > 90)]
        if len(bad_lat) or len(bad_lon):
            hint = ""
            if len(bad_lat) and np.all(np.abs(x) <= 90):
                hint = (" Every x is within [-90, 90] while some y are not: the columns look "
                        "swapped — sdmkit's order is (lon, lat), i.e. x=lon, y=lat.")
            raise ValidationError(
                f"{name} are outside the valid range for a geographic CRS "
                f"({points.crs.to_string()}): longitude outside [-180, 180] in rows "
                f"{_show(bad_lon)}, latitude outside [-90, 90] in rows {_show(bad_lat)}.{hint} "
                f"If the coordinates are projected (metres), set the right CRS instead."
            )
    if raster is not None and len(points):
        _check_swap(points, raster, name)
    return points


def _check_swap(points, raster, name: str) -> None:
    rcrs = raster.rio.crs
    if rcrs is None:
        return
    left, bottom, right, top = raster.rio.bounds()
    p = points.to_crs(rcrs) if points.crs != rcrs else points
    x, y = p.geometry.x.to_numpy(), p.geometry.y.to_numpy()
    inside = (x >= left) & (x <= right) & (y >= bottom) & (y <= top)
    if inside.mean() >= 0.5 or not points.crs.is_geographic:
        return
    px, py = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    swapped = points.set_geometry(
        __import__("geopandas").points_from_xy(py, px), crs=points.crs
    )
    if (np.abs(px) > 90).any():
        return
    s = swapped.to_crs(rcrs) if swapped.crs != rcrs else swapped
    sx, sy = s.geometry.x.to_numpy(), s.geometry.y.to_numpy()
    inside_swapped = (sx >= left) & (sx <= right) & (sy >= bottom) & (sy <= top)
    if inside_swapped.mean() > 0.5 and inside_swapped.sum() > 2 * inside.sum():
        raise ValidationError(
            f"{name} look like (lat, lon) passed as (lon, lat): {int(inside.sum())} of "
            f"{len(points)} fall inside the raster's extent {(left, bottom, right, top)}, "
            f"but {int(inside_swapped.sum())} would once x and y are exchanged. sdmkit's order "
            f"is (lon, lat): build the points with x=lon, y=lat."
        )


# --------------------------------------------------------------------------- rasters


def check_raster(raster, *, name: str = "raster"):
    """Check a raster and return it as a ``(band, y, x)`` DataArray.

    Accepts a DataArray with dims ``(y, x)`` or ``(band, y, x)`` or a Dataset
    whose variables share ``(y, x)`` (stacked into ``band``, one per variable).
    Requires a rioxarray CRS and 1-D regular ``x``/``y`` coordinates. A declared
    nodata value still present in a float array is an error (mask it to NaN).

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray  # noqa: F401
    >>> from sdmkit import check_raster
    >>> r = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"),
    ...                  coords={"y": [1.5, 0.5], "x": [0.5, 1.5, 2.5]}).rio.write_crs(4326)
    >>> check_raster(r).dims
    ('band', 'y', 'x')
    """
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    if isinstance(raster, xr.Dataset):
        crs = raster.rio.crs
        names = list(raster.data_vars)
        if not names:
            raise ValidationError(f"{name} is an empty Dataset.")
        raster = raster.to_array("band").assign_coords(band=names)
        if crs is not None:
            raster = raster.rio.write_crs(crs)
    if not isinstance(raster, xr.DataArray):
        raise ValidationError(
            f"{name} must be an xarray.DataArray or Dataset, got {type(raster).__name__}. "
            f"Open files with rioxarray.open_rasterio(path, masked=True)."
        )
    for dim in ("x", "y"):
        if dim not in raster.dims:
            raise ValidationError(
                f"{name} has dims {raster.dims}; sdmkit needs 'x' and 'y' (and optionally "
                f"'band'). Rename them, e.g. raster.rename({{'lon': 'x', 'lat': 'y'}})."
            )
    extra = [d for d in raster.dims if d not in ("band", "x", "y")]
    if extra:
        raise ValidationError(
            f"{name} has unexpected dims {extra} besides (band, y, x). Select or stack them "
            f"first, e.g. raster.isel({extra[0]}=0) or .stack(band=[…])."
        )
    if "band" not in raster.dims:
        raster = raster.expand_dims(band=[raster.name or "band_1"])
    raster = raster.transpose("band", "y", "x")
    if raster.rio.crs is None:
        raise ValidationError(
            f"{name} has no CRS. Set it with raster.rio.write_crs('EPSG:4326') (or the CRS "
            f"the grid is really in); sdmkit never assumes one."
        )
    for dim in ("x", "y"):
        c = raster[dim].to_numpy()
        if c.size > 1:
            step = np.diff(c)
            if not np.allclose(step, step[0], rtol=1e-6, atol=0):
                raise ValidationError(
                    f"{name}'s {dim} coordinate is not regularly spaced (steps from "
                    f"{step.min()} to {step.max()}). Resample it to a regular grid first."
                )
    nodata = raster.rio.nodata
    if nodata is not None and np.isfinite(nodata) and raster.dtype.kind == "f":
        hits = int((raster == nodata).sum())
        if hits:
            raise ValidationError(
                f"{name} still holds its nodata value {nodata} in {hits} cells. Open it with "
                f"rioxarray.open_rasterio(path, masked=True) or mask with "
                f"raster.where(raster != raster.rio.nodata)."
            )
    return raster


# --------------------------------------------------------------------------- panels


def check_panel(
    panel: pd.DataFrame,
    *,
    location: str = "location",
    time: str = "date",
    freq: str | None = "W",
    counts: Sequence[str] = (),
    name: str = "panel",
) -> pd.DataFrame:
    """Check a tidy location × period panel.

    Checks: the columns exist; no missing location or time; no duplicated
    (location, time) pair; when ``freq`` is given, each location's index is
    continuous at that frequency (``"W"``: consecutive weeks, 7 days apart; an
    integer-valued ``time`` such as a season year must step by 1 when
    ``freq="Y"``); each column in ``counts`` is non-negative, integer-valued
    and not NaN.

    Returns
    -------
    pandas.DataFrame
        The panel sorted by (location, time), with a fresh RangeIndex.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit import check_panel
    >>> p = pd.DataFrame({"location": ["a"] * 3,
    ...                   "date": pd.date_range("2020-01-05", periods=3, freq="W"),
    ...                   "cases": [1, 0, 4]})
    >>> len(check_panel(p, counts=["cases"]))
    3
    """
    if not isinstance(panel, pd.DataFrame):
        raise ValidationError(f"{name} must be a pandas.DataFrame, got {type(panel).__name__}.")
    missing = [c for c in (location, time, *counts) if c not in panel.columns]
    if missing:
        raise ValidationError(
            f"{name} lacks columns {missing}; it has {list(panel.columns)}. Name the location "
            f"and time columns with location=… and time=…."
        )
    for col in (location, time):
        na = panel.index[panel[col].isna()]
        if len(na):
            raise ValidationError(f"{name} has missing {col!r} in rows {_show(na)}.")
    dup = panel.duplicated([location, time], keep=False)
    if dup.any():
        d = panel.loc[dup, [location, time]].drop_duplicates()
        raise ValidationError(
            f"{name} has {int(dup.sum())} rows sharing a ({location}, {time}) pair, e.g. "
            f"{_show(map(tuple, d.to_numpy()))} (rows {_show(panel.index[dup])}). Aggregate "
            f"them (e.g. groupby([{location!r}, {time!r}]).sum()) or drop the duplicates."
        )
    for col in counts:
        v = pd.to_numeric(panel[col], errors="coerce")
        na = panel.index[v.isna()]
        neg = panel.index[v < 0]
        frac = panel.index[v.notna() & (v != np.round(v))]
        problems = []
        if len(na):
            problems.append(f"missing/NaN in rows {_show(na)}")
        if len(neg):
            problems.append(f"negative in rows {_show(neg)} (values {_show(v[neg])})")
        if len(frac):
            problems.append(f"non-integer in rows {_show(frac)} (values {_show(v[frac])})")
        if problems:
            raise ValidationError(
                f"{name} column {col!r} must hold non-negative integer counts: "
                f"{'; '.join(problems)}. Fix the source, or impute / mask explicitly."
            )
    out = panel.sort_values([location, time], kind="stable").reset_index(drop=True)
    if freq is not None:
        gaps = []
        for loc, t in out.groupby(location, sort=False)[time]:
            if len(t) < 2:
                continue
            if freq == "W":
                step = pd.to_datetime(t).diff().dropna()
                bad = step != pd.Timedelta(days=7)
                if bad.any():
                    where = pd.to_datetime(t).iloc[1:][bad.to_numpy()]
                    gaps.append(f"{loc}: steps of {_show(step[bad].unique())} before {_show(where.dt.date)}")
            elif freq == "Y":
                step = pd.Series(np.diff(t.to_numpy().astype(float)))
                bad = step != 1
                if bad.any():
                    gaps.append(f"{loc}: jumps after {_show(t.iloc[:-1][bad.to_numpy()])}")
            else:
                raise ValueError(f"freq must be 'W', 'Y' or None, got {freq!r}.")
        if gaps:
            raise ValidationError(
                f"{name} is not continuous at frequency {freq!r} for {len(gaps)} location(s): "
                f"{'; '.join(gaps[:_MAX_SHOWN])}{' …' if len(gaps) > _MAX_SHOWN else ''}. "
                f"Reindex each location to a full range and fill the gaps explicitly "
                f"(NaN for unknown), or pass freq=None if gaps are intended."
            )
    return out
