"""Background points, record cleaning and class weights for presence-only SDMs.

Presence-only models contrast the environment at presences with the
environment available to the species, summarised by *background* points:

* :func:`sample_background` — uniform over the valid cells of a raster (or of a
  polygon region), or proportional to a sampling-bias surface;
* :func:`target_group_background` — the records of the other species of the
  same biological group (Phillips et al. 2009, *Ecol Appl* 19:181-197), which
  share the focal species' sampling bias;
* :func:`thin`, :func:`one_per_cell` — reduce clustered records;
* :func:`class_weights` — per-point weights for presence/background fits.

Background overlapping presences
--------------------------------
A background point in the same raster cell (or at the same location) as a
presence is normal — background describes the whole study area, presences
included (maxnet even adds the presences to the background by default,
``addsamplestobackground = TRUE``).
But duplicates of presences weaken the contrast. :func:`sample_background` and
:func:`target_group_background` therefore count such overlaps (``attrs
["n_overlap"]`` of the result) and, with ``overlap="warn"`` (default), keep
them with a :class:`~sdmkit.ValidationWarning` that counts them;
``overlap="drop"`` removes them (the warning counts what was removed);
``overlap="ignore"`` keeps them silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._validation import ValidationError, ValidationWarning, _show, check_points, check_raster

__all__ = [
    "class_weights",
    "one_per_cell",
    "sample_background",
    "target_group_background",
    "thin",
]

_OVERLAP = ("warn", "drop", "ignore")


# --------------------------------------------------------------------------- helpers


def _cells(points, raster) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, inside) of each point in the raster grid (GDAL convention, as extract)."""
    crs = raster.rio.crs
    pts = points.to_crs(crs) if points.crs != crs else points
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    height, width = raster.sizes["y"], raster.sizes["x"]
    col_f, row_f = ~raster.rio.transform(recalc=True) @ (x, y)
    col_f, row_f = np.asarray(col_f, float), np.asarray(row_f, float)
    eps = 1e-9
    inside = (col_f >= -eps) & (col_f <= width + eps) & (row_f >= -eps) & (row_f <= height + eps)
    col = np.clip(np.floor(col_f), 0, width - 1).astype(np.int64)
    row = np.clip(np.floor(row_f), 0, height - 1).astype(np.int64)
    return row, col, inside


def _xy(points) -> np.ndarray:
    return np.column_stack([points.geometry.x.to_numpy(), points.geometry.y.to_numpy()])


def _resolve_overlap(background, overlap_mask: np.ndarray, overlap: str, what: str):
    n = int(overlap_mask.sum())
    if n and overlap == "drop":
        background = background.loc[~overlap_mask].copy()
        warnings.warn(
            f"{what}: dropped {n} background points that share a "
            f"{'cell' if 'cell' in what else 'location'} with a presence (overlap='drop'); "
            f"{len(background)} remain.",
            ValidationWarning,
            stacklevel=3,
        )
    elif n and overlap == "warn":
        warnings.warn(
            f"{what}: {n} of {len(background)} background points share a location/cell with a "
            f"presence. They are kept (background describes the whole area); pass "
            f"overlap='drop' to remove them or overlap='ignore' to silence this warning.",
            ValidationWarning,
            stacklevel=3,
        )
    background.attrs["n_overlap"] = n
    return background


def _check_overlap_arg(overlap: str) -> None:
    if overlap not in _OVERLAP:
        raise ValidationError(f"overlap must be one of {_OVERLAP}, got {overlap!r}.")


# --------------------------------------------------------------------------- random background


def sample_background(
    mask_raster,
    n: int,
    *,
    random_state=None,
    bias=None,
    region=None,
    replace: bool = False,
    jitter: bool = False,
    presences=None,
    overlap: str = "warn",
):
    """Sample background points from the valid cells of a raster.

    A cell is valid when every band is finite (a boolean raster: when True),
    and — given ``region`` — when its centre lies in the region. Cells are drawn
    uniformly, or with probability proportional to ``bias``; without
    replacement by default (like ``dismo::randomPoints``), so each cell gives
    at most one point.

    Parameters
    ----------
    mask_raster : xarray.DataArray or Dataset
        Any raster on the modelling grid (e.g. the covariates), with a CRS;
        NaN marks cells outside the study area. For a 0/1 integer mask pass
        ``mask.where(mask == 1)``.
    n : int
        Number of points wanted. When fewer cells are available without
        replacement, all of them are returned with a warning (dismo's rule).
    random_state : int, numpy.random.Generator or None
        Same seed, same points.
    bias : xarray.DataArray, optional
        Sampling-effort surface (y, x) on the same grid and CRS; finite and
        >= 0 on every valid cell (cells with weight 0 are never drawn).
    region : shapely geometry, GeoSeries or GeoDataFrame, optional
        Polygons restricting the cells (their centres). A shapely geometry
        is taken to be in the raster's CRS; a GeoSeries / GeoDataFrame is
        reprojected to it.
    replace : bool
        Draw cells with replacement.
    jitter : bool
        False (default): points at cell centres. True: uniformly jittered
        inside their cell (they still extract to the same cell values).
    presences : geopandas.GeoDataFrame, optional
        Presences to check for overlap (background in a presence's cell).
    overlap : {"warn", "drop", "ignore"}
        What to do with overlapping background points (see module notes).

    Returns
    -------
    geopandas.GeoDataFrame
        ``row``, ``col`` (int64 cell indices into the raster) and point
        geometry, in the raster's CRS, with a fresh RangeIndex;
        ``attrs["n_overlap"]`` counts overlaps with ``presences`` (0 if none
        given).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> from sdmkit.sdm.background import sample_background
    >>> env = environment_grid((30, 20), random_state=0)
    >>> bg = sample_background(env, 100, random_state=0)
    >>> len(bg), bg.crs.to_epsg()
    (100, 4326)
    """
    import geopandas as gpd

    _check_overlap_arg(overlap)
    if int(n) != n or n < 1:
        raise ValidationError(f"n must be a positive integer, got {n!r}.")
    raster = _as_mask_raster(mask_raster)
    valid = _valid_cells(raster)
    if region is not None:
        valid &= _in_region(raster, region)
    weights = None
    if bias is not None:
        weights = _bias_weights(bias, raster, valid)
        valid &= weights > 0
    rows_v, cols_v = np.nonzero(valid)
    n_avail = rows_v.size
    if n_avail == 0:
        raise ValidationError(
            "No valid cell to sample: every cell is NaN in some band"
            + (", outside the region" if region is not None else "")
            + (" or has zero bias" if bias is not None else "")
            + ". Check the mask, the region's CRS and the bias surface."
        )
    rng = np.random.default_rng(random_state)
    size = int(n)
    if not replace and size > n_avail:
        warnings.warn(
            f"sample_background: asked for {size} points but only {n_avail} cells are available "
            f"without replacement; returning all {n_avail}. Pass replace=True for {size} points.",
            ValidationWarning,
            stacklevel=2,
        )
        size = n_avail
    p = None
    if weights is not None:
        w = weights[rows_v, cols_v]
        p = w / w.sum()
    pick = rng.choice(n_avail, size=size, replace=replace, p=p)
    rows, cols = rows_v[pick].astype(np.int64), cols_v[pick].astype(np.int64)
    xs, ys = raster["x"].to_numpy(), raster["y"].to_numpy()
    px, py = xs[cols].astype(float), ys[rows].astype(float)
    if jitter:
        dx, dy = (abs(float(r)) for r in raster.rio.resolution())
        px = px + (rng.random(size) - 0.5) * dx
        py = py + (rng.random(size) - 0.5) * dy
    bg = gpd.GeoDataFrame(
        {"row": rows, "col": cols}, geometry=gpd.points_from_xy(px, py), crs=raster.rio.crs
    )
    if presences is None:
        bg.attrs["n_overlap"] = 0
        return bg
    check_points(presences, name="presences")
    prow, pcol, inside = _cells(presences, raster)
    occupied = np.zeros(valid.shape, dtype=bool)
    occupied[prow[inside], pcol[inside]] = True
    bg = _resolve_overlap(bg, occupied[rows, cols], overlap, "sample_background (same cell)")
    return bg.reset_index(drop=True)


def _as_mask_raster(mask_raster):
    raster = check_raster(mask_raster, name="mask_raster")
    return raster


def _valid_cells(raster) -> np.ndarray:
    values = raster.to_numpy()
    if values.dtype == bool:
        return values.all(axis=0)
    return np.isfinite(values.astype(float)).all(axis=0)


def _in_region(raster, region) -> np.ndarray:
    import geopandas as gpd
    import shapely

    if isinstance(region, gpd.GeoDataFrame | gpd.GeoSeries):
        if region.crs is None:
            raise ValidationError(
                "region has no CRS. Set it with region.set_crs(…); sdmkit never assumes one."
            )
        geom = region.to_crs(raster.rio.crs).geometry.union_all()
    elif isinstance(region, shapely.Geometry):
        geom = region
    else:
        raise ValidationError(
            f"region must be a shapely geometry, GeoSeries or GeoDataFrame, got "
            f"{type(region).__name__}."
        )
    if geom.is_empty or geom.area == 0:
        raise ValidationError("region is empty or has no area; pass polygon(s).")
    xx, yy = np.meshgrid(raster["x"].to_numpy(), raster["y"].to_numpy())
    return shapely.contains_xy(geom, xx, yy)


def _bias_weights(bias, raster, valid: np.ndarray) -> np.ndarray:
    b = check_raster(bias, name="bias")
    if b.sizes["band"] != 1:
        raise ValidationError(
            f"bias must be a single (y, x) layer; it has {b.sizes['band']} bands."
        )
    if b.rio.crs != raster.rio.crs:
        raise ValidationError(
            f"bias CRS {b.rio.crs} differs from the mask's CRS {raster.rio.crs}. Align it with "
            f"bias.rio.reproject_match(mask_raster)."
        )
    same = (
        b.sizes["y"] == raster.sizes["y"]
        and b.sizes["x"] == raster.sizes["x"]
        and np.allclose(b["x"].to_numpy(), raster["x"].to_numpy())
        and np.allclose(b["y"].to_numpy(), raster["y"].to_numpy())
    )
    if not same:
        raise ValidationError(
            f"bias grid ({b.sizes['y']}×{b.sizes['x']}) is not the mask's grid "
            f"({raster.sizes['y']}×{raster.sizes['x']}) or its x/y coordinates differ. Align it "
            f"with bias.rio.reproject_match(mask_raster)."
        )
    w = b.isel(band=0).to_numpy().astype(float)
    bad = valid & ~(np.isfinite(w) & (w >= 0))
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise ValidationError(
            f"bias must be finite and >= 0 on every valid cell; {int(bad.sum())} cells are not, at "
            f"(row, col) {_show(zip(rows.tolist(), cols.tolist()))}. Fill them (bias.fillna(0)) "
            f"or clip negatives."
        )
    return np.where(valid, w, 0.0)


# --------------------------------------------------------------------------- target group


def target_group_background(
    presences,
    group_of="group",
    species: str | None = None,
    *,
    species_col: str = "spid",
    include_focal: bool = False,
    dedupe: str | None = "location",
    raster=None,
    overlap: str = "warn",
):
    """Target-group background: records of the other species of the focal species' group.

    Phillips et al. (2009): the presence-only records of species collected by
    the same kind of survey (same region and biological group) carry the same
    sampling bias as the focal species, so their locations make a background
    whose bias cancels the focal species' bias.

    Parameters
    ----------
    presences : geopandas.GeoDataFrame
        Presence-only records of many species of one region, e.g. a disdat
        region's ``train_po`` (columns ``spid``, ``group``).
    group_of : str or mapping
        Column of ``presences`` with each record's group (default
        ``"group"``), or a mapping species id → group (e.g.
        ``DisdatRegion.species_group``).
    species : str
        The focal species id (a value of ``species_col``).
    species_col : str
        Column with the species id.
    include_focal : bool
        Also use the focal species' own records (off by default: only the
        *other* species, as the sdmkit disdat benchmark fixes).
    dedupe : {"location", "cell", None}
        ``"location"``: keep the first record at each distinct (x, y);
        ``"cell"``: keep the first record per ``raster`` cell (see
        :func:`one_per_cell`); ``None``: keep every record.
    raster : xarray.DataArray, optional
        Grid for ``dedupe="cell"``; when given, overlap with the focal
        presences is judged per cell instead of per exact location.
    overlap : {"warn", "drop", "ignore"}
        Background points at a focal presence's location (or cell). See the
        module notes.

    Returns
    -------
    geopandas.GeoDataFrame
        The selected rows of ``presences`` (all columns, original index) with
        ``occ`` set to 0 when that column exists; ``attrs["n_overlap"]``
        counts overlaps with the focal species' records.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from sdmkit.sdm.background import target_group_background
    >>> po = gpd.GeoDataFrame(
    ...     {"spid": ["a", "b", "b", "c"], "group": ["bird", "bird", "bird", "plant"]},
    ...     geometry=gpd.points_from_xy([0, 1, 1, 2], [0, 1, 1, 2]), crs=4326)
    >>> target_group_background(po, "group", "a")["spid"].tolist()  # one b after de-duplication
    ['b']
    """
    _check_overlap_arg(overlap)
    check_points(presences, name="presences")
    if species_col not in presences.columns:
        raise ValidationError(
            f"presences lack the species column {species_col!r}; columns are "
            f"{list(presences.columns)}. Pass species_col=…."
        )
    if species is None:
        raise ValidationError("Pass the focal species id as species=….")
    spid = presences[species_col].astype("string")
    if isinstance(group_of, str):
        if group_of not in presences.columns:
            raise ValidationError(
                f"presences lack the group column {group_of!r}; columns are "
                f"{list(presences.columns)}. Pass group_of=<column> or a mapping species → group."
            )
        group = presences[group_of].astype("string")
    elif isinstance(group_of, Mapping):
        unknown = sorted(set(spid.dropna()) - set(map(str, group_of)))
        if unknown:
            raise ValidationError(
                f"group_of has no group for species {_show(unknown)}; add them to the mapping."
            )
        group = spid.map({str(k): v for k, v in group_of.items()}).astype("string")
    else:
        raise ValidationError(
            f"group_of must be a column name or a mapping species → group, got "
            f"{type(group_of).__name__}."
        )
    focal = (spid == str(species)).fillna(False).to_numpy(bool)
    if not focal.any():
        raise ValidationError(
            f"Species {species!r} has no record in presences[{species_col!r}]; species present: "
            f"{_show(sorted(spid.dropna().unique()))}."
        )
    focal_groups = group[focal].dropna().unique()
    if len(focal_groups) != 1:
        raise ValidationError(
            f"Species {species!r} must belong to exactly one group; its records have "
            f"{_show(list(focal_groups)) if len(focal_groups) else 'no group (missing values)'}."
        )
    g = focal_groups[0]
    same_group = (group == g).fillna(False).to_numpy(bool)
    chosen = same_group if include_focal else same_group & ~focal
    pos = np.flatnonzero(chosen)
    if pos.size == 0:
        raise ValidationError(
            f"No record of another species of group {g!r} (focal species {species!r}): the "
            f"target-group background would be empty. Use a random background "
            f"(sample_background) or a broader group."
        )
    grid = None if raster is None else check_raster(raster, name="raster")
    if dedupe == "location":
        xy = pd.DataFrame(_xy(presences.iloc[pos]))
        pos = pos[~xy.duplicated().to_numpy()]
    elif dedupe == "cell":
        if grid is None:
            raise ValidationError("dedupe='cell' needs raster=… (the modelling grid).")
        keep, n_out = _one_per_cell_mask(presences.iloc[pos], grid, "first", None)
        if n_out:
            warnings.warn(
                f"target_group_background: {n_out} records are outside the raster and have no "
                f"cell; dedupe='cell' drops them.",
                ValidationWarning,
                stacklevel=2,
            )
        pos = pos[keep]
    elif dedupe is not None:
        raise ValidationError(f"dedupe must be 'location', 'cell' or None, got {dedupe!r}.")
    bg = presences.iloc[pos].copy()
    if "occ" in bg.columns:
        bg["occ"] = np.zeros(len(bg), dtype=np.int64)
    fp = presences.iloc[np.flatnonzero(focal)]
    if grid is not None:
        brow, bcol, _ = _cells(bg, grid)
        frow, fcol, finside = _cells(fp, grid)
        width = grid.sizes["x"]
        hit = np.isin(brow * width + bcol, frow[finside] * width + fcol[finside])
        what = "target_group_background (same cell)"
    else:
        fxy, bxy = _xy(fp), _xy(bg)
        key = pd.MultiIndex.from_arrays([fxy[:, 0], fxy[:, 1]])
        hit = np.asarray(pd.MultiIndex.from_arrays([bxy[:, 0], bxy[:, 1]]).isin(key), bool)
        what = "target_group_background (same location)"
    hit &= ~focal[pos]  # the focal species' own records (include_focal) are not overlaps
    return _resolve_overlap(bg, hit, overlap, what)


# --------------------------------------------------------------------------- cleaning


def thin(points, distance: float, random_state=None, *, n_repeats: int = 1):
    """Spatial thinning: keep a subset with no two points closer than ``distance``.

    Randomised greedy algorithm: visit the points in random order and keep a
    point unless a kept point lies closer than ``distance``; neighbours come
    from a KD-tree. With ``n_repeats > 1`` the largest of several random
    subsets is returned (as R's ``spThin``). Distances are Euclidean in the
    points' CRS units — degrees for lon/lat, so reproject to an equal-distance
    CRS (e.g. a UTM zone) for distances in metres.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
    distance : float
        Minimum distance between kept points (points exactly ``distance``
        apart may both be kept).
    random_state : int, numpy.random.Generator or None
    n_repeats : int

    Returns
    -------
    geopandas.GeoDataFrame
        The kept rows, in their original order and with their original index.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sdmkit.sdm.background import thin
    >>> pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0, 0.5, 3, 3.2], [0, 0, 0, 0]),
    ...                        crs=3857)
    >>> len(thin(pts, 1.0, random_state=0))
    2
    """
    from scipy.spatial import cKDTree

    check_points(points, name="points")
    if not (np.isfinite(distance) and distance >= 0):
        raise ValidationError(f"distance must be a finite number >= 0, got {distance!r}.")
    if int(n_repeats) != n_repeats or n_repeats < 1:
        raise ValidationError(f"n_repeats must be a positive integer, got {n_repeats!r}.")
    if len(points) == 0 or distance == 0:
        return points.copy()
    xy = _xy(points)
    tree = cKDTree(xy)
    neighbours = tree.query_ball_point(xy, r=distance)
    rng = np.random.default_rng(random_state)
    best = None
    for _ in range(int(n_repeats)):
        removed = np.zeros(len(xy), dtype=bool)
        kept = np.zeros(len(xy), dtype=bool)
        for i in rng.permutation(len(xy)):
            if removed[i]:
                continue
            kept[i] = True
            nb = np.asarray(neighbours[i], dtype=np.int64)
            d = np.hypot(*(xy[nb] - xy[i]).T)
            removed[nb[d < distance]] = True
        if best is None or kept.sum() > best.sum():
            best = kept
    return points.loc[best].copy()


def one_per_cell(points, raster, *, keep: str = "first", random_state=None):
    """Keep one record per raster cell.

    Cells follow the GDAL convention used by :func:`sdmkit.extract` (cell
    edges belong to the cell to their right / below). A cell counts whether
    or not its values are NaN. Points outside the raster have no cell: they
    are dropped with a :class:`~sdmkit.ValidationWarning` that counts them.

    Parameters
    ----------
    points : geopandas.GeoDataFrame
        Reprojected to the raster's CRS to find cells (returned unchanged).
    raster : xarray.DataArray or Dataset
    keep : {"first", "random"}
        Which record of a cell to keep: the first in row order, or a random one.
    random_state : int, numpy.random.Generator or None
        Used with ``keep="random"``.

    Returns
    -------
    geopandas.GeoDataFrame
        The kept rows, in their original order and with their original index.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> from sdmkit.sdm.background import one_per_cell
    >>> env = environment_grid((10, 10), bounds=(0, 0, 10, 10), random_state=0)
    >>> pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0.2, 0.8, 5.5], [0.2, 0.4, 5.5]),
    ...                        crs=4326)
    >>> len(one_per_cell(pts, env))
    2
    """
    check_points(points, name="points")
    grid = check_raster(raster, name="raster")
    if keep not in ("first", "random"):
        raise ValidationError(f"keep must be 'first' or 'random', got {keep!r}.")
    if len(points) == 0:
        return points.copy()
    keep_mask, n_out = _one_per_cell_mask(points, grid, keep, random_state)
    if n_out:
        warnings.warn(
            f"one_per_cell: {n_out} of {len(points)} points are outside the raster (bounds "
            f"{tuple(round(b, 6) for b in grid.rio.bounds())}) and have no cell; they are dropped. "
            f"Clip them explicitly or use a raster that covers them.",
            ValidationWarning,
            stacklevel=2,
        )
    return points.loc[keep_mask].copy()


def _one_per_cell_mask(points, grid, keep: str, random_state) -> tuple[np.ndarray, int]:
    """Boolean mask of the kept rows (one per cell) and the number of points outside the grid."""
    row, col, inside = _cells(points, grid)
    cell = row * grid.sizes["x"] + col
    order = np.arange(len(points))
    if keep == "random":
        order = np.random.default_rng(random_state).permutation(len(points))
    order = order[inside[order]]
    _, first = np.unique(cell[order], return_index=True)
    kept = np.zeros(len(points), dtype=bool)
    kept[order[first]] = True
    return kept, int((~inside).sum())


# --------------------------------------------------------------------------- weights


def class_weights(
    y,
    scheme: str = "balanced",
    *,
    background_weight: float = 100.0,
    area: float | None = None,
    epsilon: float = 1e-6,
) -> np.ndarray:
    """Per-point weights for presence (1) / background (0) data.

    Schemes:

    * ``"balanced"`` — both classes get the same total weight:
      ``n / (2 n_class)`` per point (scikit-learn's ``class_weight="balanced"``;
      the "equal weights" of Valavi et al. 2022 up to a constant);
    * ``"maxent"`` — presences 1, background ``background_weight`` (default
      100). This is maxnet's infinitely-weighted logistic regression
      (``weights <- p + (1 - p) * 100`` in ``maxnet::maxnet``) and elapid's
      ``compute_weights(y, pbr=100)``: a large background weight makes the
      logistic fit approach the Poisson point-process / MaxEnt solution
      (Fithian & Hastie 2013);
    * ``"ipp"`` — down-weighted Poisson regression weights for an
      inhomogeneous Poisson point process (Berman & Turner 1992; Renner et al.
      2015): presences ``epsilon``, background (quadrature) points
      ``area / n_background``. Fit a Poisson GLM to the response ``y / w``
      with ``sample_weight=w``; its linear predictor is then log intensity per
      unit of ``area`` (default: ``area = n_background``, one unit per
      background point).

    Parameters
    ----------
    y : array-like of shape (n,)
        1 presence, 0 background.
    scheme : {"balanced", "maxent", "ipp"}
    background_weight : float
        Background weight of the ``"maxent"`` scheme.
    area : float, optional
        Study-area size for ``"ipp"``.
    epsilon : float
        Presence weight of ``"ipp"`` (small, > 0).

    Returns
    -------
    numpy.ndarray of float, shape (n,)

    Examples
    --------
    >>> from sdmkit.sdm.background import class_weights
    >>> class_weights([1, 0, 0, 0], "balanced").tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    >>> class_weights([1, 0], "maxent").tolist()
    [1.0, 100.0]
    """
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValidationError(f"y must be 1-D, got shape {arr.shape}.")
    bad = np.flatnonzero(~np.isin(arr, (0.0, 1.0)))
    if bad.size:
        raise ValidationError(
            f"y must hold 0/1 (1 presence, 0 background); positions {_show(bad)} hold "
            f"{_show(arr[bad])}."
        )
    pres = arr == 1
    n_p, n_b = int(pres.sum()), int((~pres).sum())
    if n_p == 0 or n_b == 0:
        raise ValidationError(
            f"y needs both presences and background for class weights; it has {n_p} presences "
            f"and {n_b} background points."
        )
    if scheme == "balanced":
        return np.where(pres, arr.size / (2 * n_p), arr.size / (2 * n_b))
    if scheme == "maxent":
        if not (np.isfinite(background_weight) and background_weight > 0):
            raise ValidationError(f"background_weight must be > 0, got {background_weight!r}.")
        return np.where(pres, 1.0, float(background_weight))
    if scheme == "ipp":
        a = float(n_b if area is None else area)
        if not (np.isfinite(a) and a > 0):
            raise ValidationError(f"area must be > 0, got {area!r}.")
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise ValidationError(f"epsilon must be > 0, got {epsilon!r}.")
        return np.where(pres, float(epsilon), a / n_b)
    raise ValidationError(f"scheme must be 'balanced', 'maxent' or 'ipp', got {scheme!r}.")
