"""Apply fitted models to rasters, draw response curves and suitability maps.

The ground floor shared by species distribution models and location
embeddings: anything with a scikit-learn ``predict_proba`` (or another method)
can be mapped over a ``(band, y, x)`` raster with :func:`predict_raster`, which
works chunk by chunk on dask (``xr.apply_ufunc(..., dask="parallelized")``), so
memory stays bounded by the chunk size however large the grid. The result is
lazy until computed. :func:`response_curves` tabulates how a model's
prediction moves with each covariate, and :func:`suitability_map` shows a
prediction with :mod:`sdmkit.viz.maps` (no map code is duplicated here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import ValidationError, _show, check_points, check_raster

__all__ = ["plot_response_curves", "predict_raster", "response_curves", "suitability_map"]

_DEFAULT_CHUNK = 256


# =========================================================================== predict_raster


def _model_categories(model) -> dict:
    """Categories a fitted model knows, by feature name (sdmkit estimators, ensembles)."""
    found = {}
    cats = getattr(model, "categories_", None)
    if isinstance(cats, dict):
        found.update({k: v for k, v in cats.items() if isinstance(k, str)})
    members = getattr(model, "estimators_", None)
    if isinstance(members, dict):
        for member in members.values():
            for k, v in _model_categories(member).items():
                found.setdefault(k, v)
    return found


def _labels(values: np.ndarray, categories) -> pd.Categorical:
    """Raster values (float) → a categorical with the model's levels (+ unseen ones)."""
    cats = pd.Index(categories)
    if cats.dtype.kind in "iub":
        labels = values.astype(object)
        integral = values == np.round(values)
        labels[integral] = values[integral].astype(np.int64)
    elif cats.dtype.kind == "f":
        labels = values.astype(object)
    else:  # string levels: 3.0 → "3"
        labels = np.array(
            [str(int(v)) if float(v).is_integer() else str(v) for v in values], dtype=object
        )
    extra = [v for v in pd.unique(labels) if v not in set(cats)]
    return pd.Categorical(labels, categories=list(cats) + extra)


def _column(pred, method: str) -> np.ndarray:
    pred = np.asarray(pred)
    if pred.ndim == 2 and pred.shape[1] == 2:
        return pred[:, 1]
    if pred.ndim == 2 and pred.shape[1] == 1:
        return pred[:, 0]
    if pred.ndim == 1:
        return pred
    raise ValueError(
        f"model.{method} returned shape {pred.shape}; predict_raster maps one value per cell "
        f"(a binary predict_proba, or a method returning one column)."
    )


def _predict_block(
    block,
    *coords,
    model,
    method,
    band_feats,
    features,
    emb_feats,
    cat_levels,
    use_frame,
    embed,
    crs_wkt,
):
    """Predict one (y, x, band) block; NaN where any band is NaN."""
    ny, nx, nb = block.shape
    flat = block.reshape(-1, nb).astype(np.float64, copy=False)
    valid = np.isfinite(flat).all(axis=1)
    out = np.full(ny * nx, np.nan)
    if not valid.any():
        return out.reshape(ny, nx)
    values = flat[valid]
    table = pd.DataFrame(values, columns=band_feats)
    for name, levels in cat_levels.items():
        table[name] = _labels(values[:, band_feats.index(name)], levels)
    if embed is not None:
        table = _append_embedding(table, coords, valid, embed, emb_feats, crs_wkt)
    if features is not None:
        table = table[features]
    X = table if use_frame else table.to_numpy(dtype=np.float64)
    out[valid] = _column(getattr(model, method)(X), method)
    return out.reshape(ny, nx)


def _append_embedding(table, coords, valid, embed, emb_feats, crs_wkt):
    from pyproj import CRS, Transformer

    ys, xs = coords
    xx, yy = np.broadcast_arrays(xs, ys)
    x, y = xx.reshape(-1)[valid], yy.reshape(-1)[valid]
    crs = CRS.from_wkt(crs_wkt)
    if not crs.equals(CRS.from_epsg(4326)):
        x, y = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    emb = embed(np.column_stack([x, y]))
    if isinstance(emb, pd.DataFrame):
        emb = emb.reset_index(drop=True)
        if emb_feats:
            missing = [f for f in emb_feats if f not in emb.columns]
            if missing:
                raise ValidationError(
                    f"embed returned columns {_show(emb.columns)} but the model needs "
                    f"{_show(missing)} from it."
                )
            emb = emb[emb_feats]
    else:
        emb = np.asarray(emb, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[0] != len(x):
            raise ValidationError(
                f"embed must return an (n, d) array or DataFrame for n={len(x)} cells; got "
                f"shape {emb.shape}."
            )
        names = emb_feats or [f"emb_{i:03d}" for i in range(emb.shape[1])]
        if len(names) != emb.shape[1]:
            raise ValidationError(
                f"embed returned {emb.shape[1]} columns but the model expects {len(names)} "
                f"features that are not raster bands: {_show(names)}."
            )
        emb = pd.DataFrame(emb, columns=names)
    return pd.concat([table, emb], axis=1)


def _chunk_spec(chunks, stack):
    if chunks is None:
        if stack.chunks is not None:
            return {"band": -1}
        chunks = _DEFAULT_CHUNK
    if isinstance(chunks, int):
        return {"band": -1, "y": chunks, "x": chunks}
    if isinstance(chunks, dict):
        return {"band": -1, **{k: v for k, v in chunks.items() if k in ("y", "x")}}
    cy, cx = chunks
    return {"band": -1, "y": cy, "x": cx}


def predict_raster(
    model,
    rasters,
    *,
    method: str = "predict_proba",
    feature_names=None,
    chunks=None,
    categorical=None,
    embed=None,
    name: str | None = None,
):
    """Apply a fitted model to every cell of a raster, lazily and chunk by chunk.

    Each band is one covariate, named like the model's features. The raster is
    cut into dask chunks over ``y``/``x`` (every band of a chunk together) and
    :func:`xarray.apply_ufunc` with ``dask="parallelized"`` predicts chunk by
    chunk, so memory stays bounded by the chunk size. Cells where any needed
    band is NaN are NaN in the output and never reach the model.

    Parameters
    ----------
    model : fitted estimator
        Anything with ``method`` (e.g. ``predict_proba``); if it has
        ``feature_names_in_`` (fitted on a DataFrame) it gets a DataFrame with
        those columns, otherwise a numpy array in band order.
    rasters : xarray.DataArray or xarray.Dataset
        ``(band, y, x)`` (or a Dataset of ``(y, x)`` variables) with a CRS;
        checked with :func:`sdmkit.check_raster`. Bands the model does not use
        are ignored.
    method : str
        Model method to call. ``predict_proba`` maps column 1 (probability of
        presence); a method returning one value per row is mapped as is.
    feature_names : list of str, optional
        The model's features in order, when it has no ``feature_names_in_``.
        Names that are not bands must come from ``embed``.
    chunks : int, (int, int), dict or None
        Chunk size over (y, x). Default: the input's dask chunks, or 256 × 256.
    categorical : list of str or dict, optional
        Categorical bands. A dict gives each band's levels; a list takes them
        from the model (``categories_`` of sdmkit estimators). Default: the
        categorical features of the model. Cell values are matched to levels by
        value (3.0 ↔ 3 ↔ "3"); values that are not levels of the model reach it
        as unseen levels (sdmkit estimators warn and handle them as documented
        in :mod:`sdmkit.sdm.models`).
    embed : callable, optional
        ``embed(lonlat) -> (n, d)`` array or DataFrame: location features for
        the cell centres, given as an ``(n, 2)`` array of (lon, lat) degrees
        (cell centres reprojected to EPSG:4326), e.g.
        ``lambda ll: encoder.embed(ll, output="dataframe")``. Array columns are
        named ``emb_000``, ``emb_001``, … unless the model names them.
    name : str, optional
        Name of the output (default ``"probability"`` for ``predict_proba``,
        otherwise the method name).

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` float64, dask-backed (lazy: call ``.compute()``), with the
        raster's coordinates and CRS; NaN where the input had NaN.

    Raises
    ------
    sdmkit.ValidationError
        When the model needs features that are neither bands nor embedding
        columns, or when a categorical band's levels are unknown.
    ValueError
        For an ``Ensemble(normalize="rank")``: its predictions are relative to
        the set predicted, which a chunked map cannot give; use
        ``normalize="reference"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> from sdmkit.predict import predict_raster
    >>> env = environment_grid((30, 20), random_state=0)  # 3 bands
    >>> model = LogisticRegression().fit(np.random.default_rng(0).normal(size=(40, 3)),
    ...                                  [0, 1] * 20)
    >>> prob = predict_raster(model, env, chunks=10)  # lazy
    >>> prob.dims, prob.chunks
    (('y', 'x'), ((10, 10, 10), (10, 10)))
    >>> bool(float(prob.max()) <= 1.0)
    True
    """
    import rioxarray  # noqa: F401
    import xarray as xr

    if not hasattr(model, method):
        raise ValueError(f"{type(model).__name__} has no method {method!r}.")
    if getattr(model, "normalize", None) == "rank":
        raise ValueError(
            f"{type(model).__name__}(normalize='rank') ranks predictions within the set being "
            f"predicted, so a map computed chunk by chunk would change at chunk edges. Refit "
            f"with normalize='reference' (ranks against the training predictions) to map it."
        )
    raster = check_raster(rasters, name="rasters")
    bands = [str(b) for b in raster["band"].to_numpy()]
    raster = raster.assign_coords(band=bands)
    features = (
        feature_names if feature_names is not None else getattr(model, "feature_names_in_", None)
    )
    features = None if features is None else [str(f) for f in features]
    if features is None:
        band_feats, emb_feats = bands, []
    else:
        band_feats = [f for f in features if f in bands]
        emb_feats = [f for f in features if f not in bands]
        if emb_feats and embed is None:
            raise ValidationError(
                f"The model needs features {_show(emb_feats)} that are not bands of the raster "
                f"(bands: {_show(bands)}). Rename the bands (raster.assign_coords(band=[…])), "
                f"or pass embed=… if they are location embeddings."
            )
    use_frame = hasattr(model, "feature_names_in_")
    cat_levels = _resolve_levels(model, categorical, band_feats, use_frame)

    stack = raster.sel(band=band_feats)
    stack = stack.chunk(_chunk_spec(chunks, stack))
    inputs = [stack]
    if embed is not None:
        ys = xr.DataArray(stack["y"].to_numpy(), dims="y").chunk({"y": stack.chunksizes["y"]})
        xs = xr.DataArray(stack["x"].to_numpy(), dims="x").chunk({"x": stack.chunksizes["x"]})
        inputs += [ys, xs]
    out = xr.apply_ufunc(
        _predict_block,
        *inputs,
        input_core_dims=[["band"]] + [[] for _ in inputs[1:]],
        output_core_dims=[[]],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs={
            "model": model,
            "method": method,
            "band_feats": band_feats,
            "features": features if (embed is not None or use_frame) else None,
            "emb_feats": emb_feats,
            "cat_levels": cat_levels,
            "use_frame": use_frame,
            "embed": embed,
            "crs_wkt": raster.rio.crs.to_wkt(),
        },
    )
    out = out.transpose("y", "x")
    out.name = name or ("probability" if method == "predict_proba" else method)
    out.attrs = {
        "long_name": (
            "probability of presence"
            if method == "predict_proba"
            else f"{type(model).__name__}.{method}"
        ),
        "model": type(model).__name__,
    }
    return out.rio.write_crs(raster.rio.crs)


def _resolve_levels(model, categorical, band_feats, use_frame) -> dict:
    known = _model_categories(model)
    if isinstance(categorical, dict):
        levels = {str(k): list(v) for k, v in categorical.items()}
    else:
        names = [str(c) for c in (categorical or [])]
        unknown = [c for c in names if c not in known]
        if unknown:
            raise ValidationError(
                f"Categorical bands {_show(unknown)}: the model does not expose their levels. "
                f"Pass them as categorical={{band: [levels…]}}."
            )
        levels = {c: list(known[c]) for c in names}
        for c, v in known.items():
            levels.setdefault(c, list(v))
    levels = {k: v for k, v in levels.items() if k in band_feats}
    return levels if use_frame else {}


# =========================================================================== response curves


def _is_cat(series: pd.Series) -> bool:
    return isinstance(series.dtype, (pd.CategoricalDtype, pd.StringDtype)) or series.dtype == object


def response_curves(
    model,
    X,
    features=None,
    *,
    n: int = 100,
    kind: str = "profile",
    method: str = "predict_proba",
    quantiles=(0.0, 1.0),
    max_rows: int = 500,
    random_state=0,
) -> pd.DataFrame:
    """How the model's prediction changes along each covariate.

    ``kind="profile"`` (default): every other covariate is held at its median
    (numeric) or most frequent level (categorical) — the classic SDM response
    curve. ``kind="average"``: partial dependence, the mean prediction over up
    to ``max_rows`` rows of ``X`` with the covariate set to each value.

    Parameters
    ----------
    model : fitted estimator
    X : pandas.DataFrame or ndarray
        Covariates the model was fitted on (e.g. presences + background);
        sets the covariate ranges, medians and modes. Arrays get columns
        ``x0, x1, …`` and are passed to the model as arrays.
    features : list of str, optional
        Covariates to vary (default: all columns).
    n : int
        Grid points per numeric covariate (evenly spaced).
    kind : {"profile", "average"}
    method : str
        Model method; ``predict_proba`` gives column 1.
    quantiles : (float, float)
        Range of each numeric grid as quantiles of ``X`` (default: min to max).
    max_rows : int
        Rows of ``X`` averaged over for ``kind="average"``.
    random_state : int or None
        Picks those rows.

    Returns
    -------
    pandas.DataFrame
        Tidy, one row per (feature, grid point): ``feature`` (str), ``value``
        (float64; NaN for categorical covariates), ``level`` (str; the level for
        categorical covariates, <NA> for numeric ones), ``response`` (float64).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sdmkit.predict import response_curves
    >>> X = pd.DataFrame({"t": np.linspace(0, 1, 50), "r": np.linspace(1, 0, 50)})
    >>> m = LogisticRegression().fit(X, (X["t"] > 0.5).astype(int))
    >>> rc = response_curves(m, X, n=5)
    >>> rc.columns.tolist(), len(rc)
    (['feature', 'value', 'level', 'response'], 10)
    """
    if kind not in ("profile", "average"):
        raise ValueError(f"kind must be 'profile' or 'average', got {kind!r}.")
    as_array = not isinstance(X, pd.DataFrame)
    frame = (
        pd.DataFrame(np.asarray(X, dtype=float), columns=[f"x{j}" for j in range(np.shape(X)[1])])
        if as_array
        else X.reset_index(drop=True)
    )
    if len(frame) == 0:
        raise ValidationError("X has no rows; response curves need the training covariates.")
    features = list(frame.columns) if features is None else list(features)
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValidationError(
            f"features {_show(missing)} are not columns of X {_show(frame.columns)}."
        )
    if kind == "profile":
        base = pd.DataFrame(
            {
                c: (
                    pd.Series(frame[c].mode(dropna=True).iloc[:1].to_numpy(), dtype=frame[c].dtype)
                    if _is_cat(frame[c])
                    else pd.Series([frame[c].median()])
                )
                for c in frame.columns
            }
        )
    else:
        take = min(max_rows, len(frame))
        rows = np.random.default_rng(random_state).choice(len(frame), take, replace=False)
        base = frame.iloc[np.sort(rows)]
    parts = []
    for f in features:
        col = frame[f]
        if _is_cat(col):
            levels = (
                list(col.cat.categories[np.unique(col.cat.codes[col.cat.codes >= 0])])
                if isinstance(col.dtype, pd.CategoricalDtype)
                else sorted(col.dropna().unique())
            )
            grid, value, level = levels, np.full(len(levels), np.nan), [str(v) for v in levels]
        else:
            lo, hi = np.nanquantile(col.to_numpy(dtype=float), quantiles)
            grid = np.linspace(lo, hi, n)
            value, level = grid, [pd.NA] * n
        # grid-major: block g holds every base row with the covariate set to grid[g]
        table = base.iloc[np.tile(np.arange(len(base)), len(grid))].reset_index(drop=True)
        repeated = np.repeat(np.asarray(grid, dtype=object), len(base))
        table[f] = (
            pd.Series(repeated, dtype=col.dtype) if _is_cat(col) else repeated.astype(np.float64)
        )
        Xg = table.to_numpy(dtype=float) if as_array else table
        pred = _column(getattr(model, method)(Xg), method).reshape(len(grid), len(base))
        parts.append(
            pd.DataFrame(
                {
                    "feature": pd.array([f] * len(grid), dtype="str"),
                    "value": np.asarray(value, dtype=np.float64),
                    "level": pd.array(level, dtype="str"),
                    "response": pred.mean(axis=1).astype(np.float64),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def plot_response_curves(
    curves: pd.DataFrame,
    *,
    ncols: int = 4,
    sharey: bool = True,
    ylabel: str = "response",
    color: str = "C0",
):
    """Small multiples of :func:`response_curves` output (line or bar per covariate).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_response_curves(response_curves(model, X))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    features = list(dict.fromkeys(curves["feature"]))
    if not features:
        raise ValueError("curves is empty: nothing to plot.")
    ncols = max(1, min(ncols, len(features)))
    nrows = -(-len(features) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.0 * ncols, 2.4 * nrows), sharey=sharey, squeeze=False
    )
    for ax, f in zip(axes.flat, features):
        sub = curves[curves["feature"] == f]
        if sub["level"].notna().any():
            ax.bar(sub["level"].astype(str), sub["response"], color=color)
            ax.tick_params(axis="x", labelrotation=90)
        else:
            ax.plot(sub["value"], sub["response"], color=color)
        ax.set_title(f, fontsize=10)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in list(axes.flat)[len(features) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


# =========================================================================== maps


def suitability_map(
    prob,
    points=None,
    *,
    interactive: bool = True,
    label: str = "probability of presence",
    cmap: str = "viridis",
    points_label: str = "presences",
    point_color: str = "red",
    basemap: bool = False,
    ax=None,
    title: str | None = None,
):
    """Map a predicted suitability raster (and optionally occurrence points).

    A thin wrapper: :func:`sdmkit.viz.maps.leaflet_map` (interactive; raster
    reprojected to EPSG:3857 as an ImageOverlay with bounds in EPSG:4326,
    colour bar, legend; no tiles needed) or :func:`sdmkit.viz.maps.static_map`
    (matplotlib). A lazy (dask) raster is computed first — a single band.

    Parameters
    ----------
    prob : xarray.DataArray
        ``(y, x)`` prediction, e.g. from :func:`predict_raster`.
    points : geopandas.GeoDataFrame, optional
        Occurrences to overlay.
    interactive : bool
        True: ipyleaflet map; False: matplotlib axes.
    label : str
        Colour-bar label.
    cmap, point_color : colours.
    points_label : str
        Legend entry for the points (interactive map).
    basemap : bool
        Add OpenStreetMap tiles (interactive map; needs the network).
    ax : matplotlib Axes, optional
        Static map only.
    title : str, optional
        Static map title (default: ``label``).

    Returns
    -------
    ipyleaflet.Map or matplotlib.axes.Axes

    Examples
    --------
    >>> from sdmkit.predict import suitability_map
    >>> m = suitability_map(prob, presences)  # doctest: +SKIP
    >>> ax = suitability_map(prob, presences, interactive=False)  # doctest: +SKIP
    """
    from .viz.maps import leaflet_map, static_map

    da = check_raster(prob, name="prob")
    if da.sizes["band"] != 1:
        raise ValidationError(
            f"prob has {da.sizes['band']} bands; map one prediction (a (y, x) raster)."
        )
    da = da.assign_coords(band=[label])
    if da.chunks is not None:
        da = da.compute()
    if points is not None:
        check_points(points, name="points")
    if interactive:
        legend = {f"{points_label} ({len(points)})": point_color} if points is not None else None
        return leaflet_map(
            da, points=points, cmap=cmap, point_color=point_color, legend=legend, basemap=basemap
        )
    return static_map(
        da, points=points, ax=ax, cmap=cmap, title=title or label, point_color=point_color
    )
