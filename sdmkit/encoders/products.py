"""Embedding products: embeddings of a whole grid, or averaged over polygons.

``embed_grid`` returns a lazy, dask-backed :class:`xarray.Dataset` (dims
``embedding, y, x``): nothing is computed until it is written (``to_zarr``) or
loaded, and then one chunk at a time, so a global 0.1° grid (6.5 million cells)
streams to disk in bounded memory. ``embed_polygons`` gives the area-weighted
mean embedding of each polygon (e.g. districts for dengue forecasting).
"""

from __future__ import annotations

import numpy as np

from .._validation import ValidationError, check_raster

__all__ = ["as_embedding_function", "embed_grid", "embed_polygons"]


def as_embedding_function(encoder, batch_size: int = 65536):
    """Wrap an encoder as ``f(lonlat: ndarray (n, 2)) -> ndarray (n, d)``.

    Accepts an object with ``embed(lonlat, ...)`` (sdmkit's ``LocationEncoder``),
    a ``torch.nn.Module`` taking an ``(n, 2)`` tensor of (lon, lat) degrees, or a
    plain function on numpy arrays.
    """
    if hasattr(encoder, "embed"):

        def f(lonlat):
            return np.asarray(encoder.embed(lonlat, batch_size=batch_size, progress=False))

        return f
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional for plain functions
        torch = None
    if torch is not None and isinstance(encoder, torch.nn.Module):
        param = next(encoder.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32

        def f(lonlat):
            out = []
            with torch.inference_mode():
                for i in range(0, len(lonlat), batch_size):
                    t = torch.as_tensor(lonlat[i : i + batch_size], dtype=dtype)
                    out.append(encoder(t).cpu().numpy())
            return np.concatenate(out) if out else np.empty((0, 0), dtype="float32")

        return f
    if callable(encoder):
        return lambda lonlat: np.asarray(encoder(lonlat))
    raise TypeError(
        f"encoder must have .embed(), be a torch.nn.Module or a function, got "
        f"{type(encoder).__name__}."
    )


def _regular_grid(resolution: float, bounds):
    west, south, east, north = bounds
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValidationError(
            f"bounds must be (west, south, east, north) in degrees within [-180, 180] x "
            f"[-90, 90] with west < east and south < north, got {bounds}."
        )
    nx = int(round((east - west) / resolution))
    ny = int(round((north - south) / resolution))
    x = west + resolution * (np.arange(nx) + 0.5)
    y = north - resolution * (np.arange(ny) + 0.5)
    return x, y, "EPSG:4326"


def embed_grid(
    encoder,
    grid=None,
    *,
    resolution: float = 1.0,
    bounds=(-180.0, -90.0, 180.0, 90.0),
    chunks: int = 128,
    dtype: str = "float32",
    mask: bool = True,
    batch_size: int = 65536,
):
    """Embed every cell centre of a grid, lazily and chunk by chunk.

    Parameters
    ----------
    encoder
        A ``LocationEncoder``, a torch module on (lon, lat) degrees, or a function
        (see :func:`as_embedding_function`).
    grid : xarray.DataArray or Dataset, optional
        A raster whose grid (and CRS) to use; cell centres are transformed to
        lon/lat for the encoder. With ``mask=True`` cells where every band is
        NaN get NaN embeddings (and are not computed). Default: a regular
        lon/lat grid of ``resolution`` degrees over ``bounds``.
    resolution : float
        Cell size in degrees of the default grid.
    bounds : (west, south, east, north)
        Extent of the default grid.
    chunks : int
        Chunk side in cells; memory scales with ``chunks² × features``.
    dtype : str
        Output dtype.

    Returns
    -------
    xarray.Dataset
        Variable ``location_embedding`` with dims ``(embedding, y, x)``, dask-backed,
        with the grid's CRS. Write it with ``.to_zarr(path)`` (bounded memory)
        or load it with ``.compute()``.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.encoders.products import embed_grid
    >>> wrap = lambda ll: np.c_[np.sin(np.radians(ll)), np.cos(np.radians(ll))]
    >>> ds = embed_grid(wrap, resolution=10.0)
    >>> ds["location_embedding"].shape
    (4, 18, 36)
    """
    import dask.array as da
    import rioxarray  # noqa: F401
    import xarray as xr
    from pyproj import Transformer

    f = as_embedding_function(encoder, batch_size=batch_size)
    valid = None
    if grid is None:
        x, y, crs = _regular_grid(resolution, bounds)
    else:
        r = check_raster(grid, name="grid")
        x, y, crs = r["x"].to_numpy(), r["y"].to_numpy(), r.rio.crs
        if mask:
            valid = r.notnull().any("band").data
            if not isinstance(valid, da.Array):
                valid = da.from_array(np.asarray(valid), chunks=chunks)
            else:
                valid = valid.rechunk(chunks)
    n_features = np.asarray(f(np.array([[0.0, 0.0]]))).shape[1]
    to_lonlat = None
    if grid is not None and not r.rio.crs.is_geographic:
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def block(valid_block=None, block_info=None):
        (y0, y1), (x0, x1) = block_info[None]["array-location"][1:]
        xx, yy = np.meshgrid(x[x0:x1], y[y0:y1])
        if to_lonlat is not None:
            xx, yy = to_lonlat.transform(xx, yy)
        lonlat = np.column_stack([xx.ravel(), yy.ravel()])
        out = np.full((lonlat.shape[0], n_features), np.nan, dtype=dtype)
        keep = np.ones(lonlat.shape[0], bool) if valid_block is None else valid_block.ravel()
        if keep.any():
            out[keep] = f(lonlat[keep])
        return out.T.reshape(n_features, y1 - y0, x1 - x0)

    ychunks = da.core.normalize_chunks(chunks, (len(y),))[0]
    xchunks = da.core.normalize_chunks(chunks, (len(x),))[0]
    out_chunks = ((n_features,), ychunks, xchunks)
    if valid is not None:
        data = da.map_blocks(
            lambda v, block_info=None: block(v, block_info),
            valid,
            new_axis=0,
            chunks=out_chunks,
            dtype=dtype,
        )
    else:
        template = da.empty((len(y), len(x)), chunks=(ychunks, xchunks), dtype=bool)
        data = da.map_blocks(
            lambda t, block_info=None: block(None, block_info),
            template,
            new_axis=0,
            chunks=out_chunks,
            dtype=dtype,
        )
    emb = xr.DataArray(
        data,
        dims=("embedding", "y", "x"),
        coords={"embedding": np.arange(n_features), "y": y, "x": x},
        name="location_embedding",
    )
    ds = emb.to_dataset().rio.write_crs(crs)
    ds.attrs["description"] = "location embeddings of the grid's cell centres"
    return ds


def embed_polygons(
    encoder,
    polygons,
    *,
    samples: int = 64,
    min_samples: int = 8,
    random_state=0,
    batch_size: int = 65536,
):
    """Area-weighted mean embedding of each polygon.

    Each polygon is covered by a regular grid of points in an equal-area CRS
    (EPSG:6933), spaced so that about ``samples`` points fall inside it; since
    every point then stands for the same area, the mean of their embeddings is
    the area-weighted mean over the polygon. Polygons too small or thin to hold
    ``min_samples`` grid points fall back to random points inside them (and,
    failing that, their representative point), so no polygon is left out.

    Parameters
    ----------
    encoder
        See :func:`as_embedding_function`.
    polygons : geopandas.GeoDataFrame or GeoSeries
        (Multi)polygons with a CRS.
    samples : int
        Target number of points per polygon.
    min_samples : int
        Below this many grid points, random points are used instead.

    Returns
    -------
    pandas.DataFrame
        One row per polygon (same index), columns ``emb_000``, … and ``n_points``.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> from sdmkit.encoders.products import embed_polygons
    >>> polys = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(10, 10, 12, 11)], crs=4326)
    >>> embed_polygons(lambda ll: ll.copy(), polys)[["emb_000", "emb_001"]].round(1).values.tolist()
    [[0.5, 0.5], [11.0, 10.5]]
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    if isinstance(polygons, gpd.GeoSeries):
        polygons = polygons.to_frame("geometry")
    if polygons.crs is None:
        raise ValidationError("polygons have no CRS; set it with polygons.set_crs(...).")
    if len(polygons) == 0:
        raise ValidationError("polygons is empty: there are no polygons to embed.")
    bad = polygons.index[~polygons.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(bad):
        raise ValidationError(
            f"embed_polygons needs (Multi)Polygons; rows {list(bad[:8])} are not."
        )
    f = as_embedding_function(encoder, batch_size=batch_size)
    ea = polygons.geometry.to_crs("EPSG:6933")
    rng = np.random.default_rng(random_state)
    xs, ys, owner = [], [], []
    for i, geom in enumerate(ea.to_numpy()):
        minx, miny, maxx, maxy = geom.bounds
        step = np.sqrt(geom.area / samples) if geom.area > 0 else 0.0
        px = py = np.empty(0)
        if step > 0:
            gx = np.arange(minx + step / 2, maxx, step)
            gy = np.arange(miny + step / 2, maxy, step)
            gxx, gyy = np.meshgrid(gx, gy)
            inside = shapely.contains_xy(geom, gxx.ravel(), gyy.ravel())
            px, py = gxx.ravel()[inside], gyy.ravel()[inside]
        if len(px) < min_samples:
            rx = rng.uniform(minx, maxx, samples * 20)
            ry = rng.uniform(miny, maxy, samples * 20)
            inside = shapely.contains_xy(geom, rx, ry)
            px, py = rx[inside][:samples], ry[inside][:samples]
        if len(px) == 0:
            p = geom.representative_point()
            px, py = np.array([p.x]), np.array([p.y])
        xs.append(px)
        ys.append(py)
        owner.append(np.full(len(px), i))
    pts = gpd.GeoSeries(
        gpd.points_from_xy(np.concatenate(xs), np.concatenate(ys)), crs="EPSG:6933"
    ).to_crs("EPSG:4326")
    lonlat = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    emb = f(lonlat)
    owner = np.concatenate(owner)
    frame = pd.DataFrame(emb, columns=[f"emb_{j:03d}" for j in range(emb.shape[1])])
    means = frame.groupby(owner).mean()
    means["n_points"] = np.bincount(owner, minlength=len(polygons))
    means.index = polygons.index
    return means
