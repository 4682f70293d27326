"""Spatial cross-validation splitters shared by encoder probes, SDMs and forecasters.

Neighbouring places are alike (spatial autocorrelation), so a random split
leaks information from training to test points close by and flatters any
model that memorises location. Blocking — assigning whole spatial blocks to a
fold — keeps test points away from training points, at least by the block
size (Roberts et al. 2017, *Ecography* 40:913-929; Valavi et al. 2019,
*Methods Ecol Evol* 10:225-232). Choose the block size from the range of
spatial autocorrelation of the residuals, not from convenience
(:func:`block_size_from_autocorrelation`).

Splitters (scikit-learn API; coordinates from ``groups`` or a GeoDataFrame):
:class:`SpatialBlockKFold` (blocks dealt to k folds), :class:`CheckerboardSplit`
(ENMeval's checkerboard1/2), :class:`BufferedLeaveOneOut` (blockCV's
cv_buffer) and :class:`EnvironmentalClusterKFold` (blockCV's cv_cluster, on
covariates). Empty folds are errors, never silently skipped.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from ._validation import ValidationError, ValidationWarning, _show

__all__ = [
    "BufferedLeaveOneOut",
    "CheckerboardSplit",
    "EnvironmentalClusterKFold",
    "SpatialBlockKFold",
    "block_ids",
    "block_size_from_autocorrelation",
]


def block_ids(x, y, block_size: float, origin: tuple[float, float] | None = None) -> np.ndarray:
    """Integer id of the square block (side ``block_size``) that holds each point.

    Parameters
    ----------
    x, y : array-like
        Coordinates in one CRS (degrees or metres; ``block_size`` in the same unit).
    block_size : float
    origin : (x0, y0), optional
        Lower-left corner of the block grid (default: the minimum of x and y).

    Examples
    --------
    >>> from sdmkit.model_selection import block_ids
    >>> block_ids([0.5, 1.5, 0.2], [0.5, 0.5, 1.7], 1.0).tolist()
    [0, 1, 2]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if block_size <= 0:
        raise ValueError(f"block_size must be positive, got {block_size}.")
    x0, y0 = (np.nanmin(x), np.nanmin(y)) if origin is None else origin
    col = np.floor((x - x0) / block_size).astype(np.int64)
    row = np.floor((y - y0) / block_size).astype(np.int64)
    pairs = np.stack([row, col], axis=1)
    _, ids = np.unique(pairs, axis=0, return_inverse=True)
    return ids.ravel()


def _coords_of(X, groups, who: str) -> np.ndarray:
    """(n, 2) coordinates from ``groups`` or from the point geometry of a GeoDataFrame ``X``."""
    if groups is None:
        geom = getattr(X, "geometry", None)
        if geom is None:
            raise ValidationError(
                f"{who} needs coordinates: pass groups=<(n, 2) array of x, y> or a GeoDataFrame "
                f"as X."
            )
        xy = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
    else:
        xy = np.asarray(groups, dtype=float)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValidationError(
                f"groups must be an (n, 2) array of (x, y) coordinates, got shape {xy.shape}."
            )
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if bad.size:
        raise ValidationError(
            f"{who}: coordinates of rows {_show(bad)} are NaN or infinite. Drop or fix them."
        )
    return xy


class SpatialBlockKFold(BaseCrossValidator):
    """K-fold cross-validation over square spatial blocks.

    Points are grouped into square blocks of side ``block_size`` (in the unit
    of their coordinates); blocks, not points, are shuffled and dealt to
    ``n_splits`` folds so that folds have similar numbers of points.

    Parameters
    ----------
    n_splits : int
    block_size : float
        Side of a block, in the coordinates' unit (degrees for lon/lat).
    random_state : int, optional
        Seed of the block shuffle.
    balance : {"points", "positives"}, default="points"
        What the folds are balanced on. ``"points"``: the number of points.
        ``"positives"``: first the number of points with ``y == 1`` (e.g.
        presences among many background points), then the number of points —
        so every fold gets its share of presences; ``split`` then needs ``y``.

    Notes
    -----
    ``split(X, y=None, groups=None)`` reads the coordinates from ``groups`` as
    an ``(n, 2)`` array of (x, y) — or, when ``X`` is a GeoDataFrame and
    ``groups`` is None, from its point geometry. A fold with no test point
    (more folds than blocks) is an error, not a silently empty fold; with
    ``balance="positives"``, so is a fold without a positive (fewer blocks
    holding positives than folds).

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import SpatialBlockKFold
    >>> xy = np.random.default_rng(0).uniform(0, 10, size=(200, 2))
    >>> cv = SpatialBlockKFold(n_splits=5, block_size=2.0, random_state=0)
    >>> sum(len(test) for _, test in cv.split(xy, groups=xy))
    200
    """

    def __init__(
        self,
        n_splits: int = 5,
        block_size: float = 1.0,
        random_state=None,
        balance: str = "points",
    ):
        self.n_splits = n_splits
        self.block_size = block_size
        self.random_state = random_state
        self.balance = balance

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _iter_test_indices(self, X=None, y=None, groups=None):
        if self.balance not in ("points", "positives"):
            raise ValueError(f"balance must be 'points' or 'positives', got {self.balance!r}.")
        xy = _coords_of(X, groups, "SpatialBlockKFold")
        ids = block_ids(xy[:, 0], xy[:, 1], self.block_size)
        blocks, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        if len(blocks) < self.n_splits:
            raise ValidationError(
                f"Only {len(blocks)} spatial blocks of size {self.block_size} hold points, "
                f"fewer than n_splits={self.n_splits}: some folds would be empty. Use a smaller "
                f"block_size or fewer splits."
            )
        if self.balance == "positives":
            if y is None:
                raise ValidationError(
                    "SpatialBlockKFold(balance='positives') needs y (1 for the points to "
                    "balance, e.g. presences): call split(X, y, groups=xy)."
                )
            y = np.asarray(y).ravel()
            if len(y) != len(xy):
                raise ValidationError(f"y has {len(y)} values but there are {len(xy)} points.")
            positives = np.bincount(inverse, weights=(y == 1).astype(float), minlength=len(blocks))
            n_pos_blocks = int((positives > 0).sum())
            if n_pos_blocks < self.n_splits:
                raise ValidationError(
                    f"Only {n_pos_blocks} spatial blocks of size {self.block_size} hold points "
                    f"with y == 1, fewer than n_splits={self.n_splits}: some folds would have "
                    f"no positive. Use a smaller block_size or fewer splits."
                )
        else:
            positives = np.zeros(len(blocks))
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(blocks))
        # deal blocks (largest first within the shuffled order) to the emptiest fold;
        # with balance="positives", emptiest in positives first, then in points
        order = order[np.lexsort((-counts[order], -positives[order]))]
        load_pos = np.zeros(self.n_splits)
        load = np.zeros(self.n_splits)
        fold_of_block = np.empty(len(blocks), dtype=int)
        for b in order:
            f = int(np.lexsort((load, load_pos))[0]) if positives[b] > 0 else int(np.argmin(load))
            fold_of_block[b] = f
            load[f] += counts[b]
            load_pos[f] += positives[b]
        fold = fold_of_block[inverse]
        for f in range(self.n_splits):
            yield np.flatnonzero(fold == f)


# --------------------------------------------------------------------------- more splitters


class CheckerboardSplit(BaseCrossValidator):
    """Checkerboard folds over square blocks (ENMeval's ``checkerboard1`` / ``checkerboard2``).

    Points are placed on a grid of square blocks of side ``block_size``. With
    ``hierarchical=False`` the blocks are coloured like a chessboard and the
    two colours are the two folds (ENMeval ``checkerboard1``). With
    ``hierarchical=True`` a second, coarser chessboard of blocks
    ``coarse_factor`` times larger is laid over the first, and the four
    (coarse colour, fine colour) combinations are the four folds (ENMeval
    ``checkerboard2``): fold ``2 * coarse + fine``.

    Deterministic: the grid starts at ``origin`` (default: the minimum x and y
    of the points), so there is no ``random_state``. Each test block touches
    training blocks only at its edges and corners; use block sizes of the
    order of the autocorrelation range (:func:`block_size_from_autocorrelation`).

    Parameters
    ----------
    block_size : float
        Side of the (fine) blocks, in the coordinates' unit.
    hierarchical : bool
        Four folds instead of two.
    coarse_factor : int
        Coarse block side in fine blocks (``hierarchical=True`` only).
    origin : (x0, y0), optional
        Lower-left corner of the grid.

    Notes
    -----
    ``split(X, y=None, groups=None)`` reads coordinates from ``groups`` as an
    ``(n, 2)`` array or from the point geometry of a GeoDataFrame ``X``. A
    fold with no point (blocks too large for the extent) raises
    :class:`~sdmkit.ValidationError`.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import CheckerboardSplit
    >>> xy = np.random.default_rng(0).uniform(0, 10, size=(300, 2))
    >>> cv = CheckerboardSplit(block_size=2.0)
    >>> [len(test) for _, test in cv.split(xy, groups=xy)] == [
    ...     len(t) for _, t in cv.split(xy, groups=xy)]
    True
    >>> CheckerboardSplit(2.0, hierarchical=True).get_n_splits()
    4
    """

    def __init__(
        self,
        block_size: float = 1.0,
        hierarchical: bool = False,
        coarse_factor: int = 2,
        origin=None,
    ):
        self.block_size = block_size
        self.hierarchical = hierarchical
        self.coarse_factor = coarse_factor
        self.origin = origin

    def get_n_splits(self, X=None, y=None, groups=None):
        return 4 if self.hierarchical else 2

    def fold_of(self, xy) -> np.ndarray:
        """Fold number of each point of an ``(n, 2)`` coordinate array."""
        xy = np.asarray(xy, dtype=float)
        if not (np.isfinite(self.block_size) and self.block_size > 0):
            raise ValidationError(f"block_size must be positive, got {self.block_size!r}.")
        x0, y0 = (xy[:, 0].min(), xy[:, 1].min()) if self.origin is None else self.origin
        col = np.floor((xy[:, 0] - x0) / self.block_size).astype(np.int64)
        row = np.floor((xy[:, 1] - y0) / self.block_size).astype(np.int64)
        fine = (row + col) % 2
        if not self.hierarchical:
            return fine
        f = int(self.coarse_factor)
        if f != self.coarse_factor or f < 2:
            raise ValidationError(
                f"coarse_factor must be an integer >= 2, got {self.coarse_factor!r}."
            )
        coarse = (np.floor_divide(row, f) + np.floor_divide(col, f)) % 2
        return 2 * coarse + fine

    def _iter_test_indices(self, X=None, y=None, groups=None):
        xy = _coords_of(X, groups, "CheckerboardSplit")
        fold = self.fold_of(xy)
        k = self.get_n_splits()
        counts = np.bincount(fold, minlength=k)
        if (counts == 0).any():
            raise ValidationError(
                f"CheckerboardSplit(block_size={self.block_size}"
                f"{', hierarchical=True' if self.hierarchical else ''}) leaves folds "
                f"{np.flatnonzero(counts == 0).tolist()} empty (points per fold: "
                f"{counts.tolist()}): the blocks are too large for the extent of the points. "
                f"Use a smaller block_size{' or coarse_factor' if self.hierarchical else ''}."
            )
        for f in range(k):
            yield np.flatnonzero(fold == f)


class BufferedLeaveOneOut(BaseCrossValidator):
    """Leave-one-out with a buffer: training points within ``buffer`` of the test point are left out.

    Spatial (buffered) leave-one-out, as ``blockCV::cv_buffer``. For each test
    point, every point at distance ``<= buffer`` (Euclidean, in coordinate
    units) is removed from the training set, so no training point lies within
    the autocorrelation range of the test point; ``buffer=0`` still removes
    duplicates of the test location.

    With ``presence_background=True`` (``blockCV``'s ``presence_bg``) only the
    presences (``y == 1``) are test points, one fold each; background points
    within the buffer join the test set when ``add_background`` and are left
    out of training either way; all points outside the buffer train.

    Parameters
    ----------
    buffer : float
        Exclusion radius, in the coordinates' unit (degrees for lon/lat).
    presence_background : bool
    add_background : bool

    Notes
    -----
    ``split(X, y=None, groups=None)`` reads coordinates from ``groups`` or a
    GeoDataFrame ``X``. A test point whose buffer swallows every other point
    (nothing left to train on), or — with ``presence_background`` — every
    presence or every background point, raises
    :class:`~sdmkit.ValidationError` naming the points. There are ``n``
    folds (``n_presences`` with ``presence_background``): costly for large
    ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import BufferedLeaveOneOut
    >>> xy = np.array([[0.0, 0.0], [0.5, 0.0], [3.0, 0.0], [6.0, 0.0]])
    >>> [train.tolist() for train, _ in BufferedLeaveOneOut(1.0).split(xy, groups=xy)]
    [[2, 3], [2, 3], [0, 1, 3], [0, 1, 2]]
    """

    def __init__(
        self, buffer: float = 0.0, presence_background: bool = False, add_background: bool = False
    ):
        self.buffer = buffer
        self.presence_background = presence_background
        self.add_background = add_background

    def _labels(self, y, n):
        if y is None:
            raise ValidationError(
                "BufferedLeaveOneOut(presence_background=True) needs y (1 presence, 0 background) "
                "in split(X, y, groups)."
            )
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValidationError(f"y must have one label per point ({n}), got shape {y.shape}.")
        pres = y == 1
        if not pres.any():
            raise ValidationError("y has no presence (1): there is no test point.")
        return pres

    def get_n_splits(self, X=None, y=None, groups=None):
        if self.presence_background:
            if y is None:
                raise ValidationError("get_n_splits needs y when presence_background=True.")
            return int((np.asarray(y) == 1).sum())
        if groups is not None:
            return len(groups)
        if X is None:
            raise ValidationError("get_n_splits needs X or groups (one fold per point).")
        return len(X)

    def split(self, X=None, y=None, groups=None):
        """Yield ``(train, test)`` index arrays, one pair per test point."""
        from scipy.spatial import cKDTree

        if not (np.isfinite(self.buffer) and self.buffer >= 0):
            raise ValidationError(f"buffer must be a finite number >= 0, got {self.buffer!r}.")
        xy = _coords_of(X, groups, "BufferedLeaveOneOut")
        n = len(xy)
        pres = self._labels(y, n) if self.presence_background else np.ones(n, dtype=bool)
        tree = cKDTree(xy)
        tests = np.flatnonzero(pres)
        near = tree.query_ball_point(xy[tests], r=self.buffer)
        trains, test_sets, bad = [], [], []
        for i, nb in zip(tests, near):
            out = np.zeros(n, dtype=bool)
            out[nb] = True
            out[i] = True
            train = np.flatnonzero(~out)
            ok = train.size > 0
            if self.presence_background:
                ok = ok and pres[train].any() and (~pres[train]).any()
            if not ok:
                bad.append(int(i))
            test = np.array([i])
            if self.presence_background and self.add_background:
                test = np.concatenate([test, np.flatnonzero(out & ~pres)])
            trains.append(train)
            test_sets.append(test)
        if bad:
            need = "presences and background points" if self.presence_background else "points"
            raise ValidationError(
                f"BufferedLeaveOneOut(buffer={self.buffer}): for test points {_show(bad)} the "
                f"buffer leaves no training {need} outside it. Use a smaller buffer (it is in "
                f"coordinate units) or drop those isolated points."
            )
        yield from zip(trains, test_sets)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover - split overrides
        for _, test in self.split(X, y, groups):
            yield test


class EnvironmentalClusterKFold(BaseCrossValidator):
    """Folds from k-means clusters of the standardised covariates (``blockCV::cv_cluster``).

    Each fold is one cluster of points in environmental space, so models are
    tested on environments they did not train on (transferability). Folds can
    differ a lot in size — that is the point, not a bug.

    Parameters
    ----------
    n_splits : int
        Number of clusters = folds.
    random_state : int, optional
        Seed of k-means.
    columns : list of str, optional
        Covariate columns of a DataFrame ``X`` (default: every numeric,
        non-categorical column; a GeoDataFrame's geometry is ignored).
    scale : bool
        Standardise each covariate to mean 0, sd 1 first (constant columns
        become 0).

    Notes
    -----
    ``split(X, y=None, groups=None)`` clusters the rows of ``X``; ``groups`` is
    ignored. NaN covariates and fewer distinct rows than ``n_splits`` (a
    cluster would be empty) raise :class:`~sdmkit.ValidationError`.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import EnvironmentalClusterKFold
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> cv = EnvironmentalClusterKFold(n_splits=4, random_state=0)
    >>> sum(len(test) for _, test in cv.split(X))
    200
    """

    def __init__(self, n_splits: int = 5, random_state=None, columns=None, scale: bool = True):
        self.n_splits = n_splits
        self.random_state = random_state
        self.columns = columns
        self.scale = scale

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _matrix(self, X) -> np.ndarray:
        import pandas as pd

        if X is None:
            raise ValidationError("EnvironmentalClusterKFold needs the covariates as X.")
        if isinstance(X, pd.DataFrame):
            if self.columns is not None:
                missing = [c for c in self.columns if c not in X.columns]
                if missing:
                    raise ValidationError(f"columns {missing} not in X; it has {list(X.columns)}.")
                frame = X[list(self.columns)]
            else:
                frame = X.select_dtypes(include="number")
            if frame.shape[1] == 0:
                raise ValidationError(
                    "X has no numeric covariate column to cluster on; pass columns=[…]."
                )
            names = list(frame.columns)
            M = frame.to_numpy(dtype=float)
        else:
            M = np.asarray(X, dtype=float)
            if M.ndim != 2:
                raise ValidationError(f"X must be 2-D (points × covariates), got shape {M.shape}.")
            names = list(range(M.shape[1]))
        bad = ~np.isfinite(M)
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1))
            cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
            raise ValidationError(
                f"EnvironmentalClusterKFold: covariates {cols} are NaN or infinite in rows "
                f"{_show(rows)}. Impute or drop those rows explicitly."
            )
        if self.scale:
            sd = M.std(axis=0)
            M = (M - M.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return M

    def cluster_labels(self, X) -> np.ndarray:
        """Fold (cluster) number of each row of ``X``."""
        from sklearn.cluster import KMeans

        M = self._matrix(X)
        k = int(self.n_splits)
        if k != self.n_splits or k < 2:
            raise ValidationError(f"n_splits must be an integer >= 2, got {self.n_splits!r}.")
        n_distinct = len(np.unique(M, axis=0))
        if n_distinct < k:
            raise ValidationError(
                f"Only {n_distinct} distinct covariate rows, fewer than n_splits={k}: some "
                f"clusters (folds) would be empty. Use fewer splits or more covariates."
            )
        km = KMeans(n_clusters=k, n_init=10, random_state=self.random_state)
        if len(M) < 20_000:
            # small problems: OpenMP threads cost more than they save, and on a busy
            # machine their spin-waiting makes k-means 100× slower
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="openmp"):
                km.fit(M)
        else:
            km.fit(M)
        return km.labels_.astype(np.int64)

    def _iter_test_indices(self, X=None, y=None, groups=None):
        labels = self.cluster_labels(X)
        counts = np.bincount(labels, minlength=self.n_splits)
        if (counts == 0).any():  # pragma: no cover - guarded by the distinct-rows check
            raise ValidationError(
                f"k-means left clusters {np.flatnonzero(counts == 0).tolist()} empty; use fewer "
                f"splits."
            )
        for f in range(int(self.n_splits)):
            yield np.flatnonzero(labels == f)


# --------------------------------------------------------------------------- block size


def _exponential(h, nugget, psill, range_):
    """Exponential semivariogram with *effective* range: 95 % of the sill at ``range_``."""
    return nugget + psill * (1.0 - np.exp(-3.0 * h / range_))


def _fit_exponential(h, gamma, n_pairs, lo: float, hi: float) -> tuple[float, float, float]:
    """Weighted least-squares fit (weights N_h / h², gstat's fit.method 7) of the exponential model.

    For a fixed range the model is linear in (nugget, psill) >= 0, solved by
    non-negative least squares; the range is profiled over a log grid, then
    refined by a bounded scalar search. No starting values, no local optima
    in the linear parameters.
    """
    from scipy.optimize import minimize_scalar, nnls

    sw = np.sqrt(n_pairs) / np.maximum(h, h[h > 0].min() / 2 if (h > 0).any() else 1.0)

    def solve(r):
        A = np.column_stack([np.ones_like(h), 1.0 - np.exp(-3.0 * h / r)]) * sw[:, None]
        coef, resid = nnls(A, gamma * sw)
        return coef, resid

    grid = np.geomspace(lo, hi, 80)
    losses = [solve(r)[1] for r in grid]
    i = int(np.argmin(losses))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = minimize_scalar(
        lambda lr: solve(np.exp(lr))[1], bounds=(np.log(a), np.log(b)), method="bounded"
    )
    r = float(np.exp(best.x)) if best.fun <= losses[i] else float(grid[i])
    (nug, psill), _ = solve(r)
    return float(nug), float(psill), r


def block_size_from_autocorrelation(
    xy,
    values,
    *,
    n_lags: int = 15,
    max_distance: float | None = None,
    max_points: int = 2000,
    random_state=0,
    return_details: bool = False,
):
    """Block size for spatial CV from the range of spatial autocorrelation.

    For each variable (covariate or model residual), an empirical
    semivariogram ``γ(h) = ½ mean (z_i − z_j)²`` over pairs in ``n_lags``
    equal distance bins up to ``max_distance`` is fitted by weighted least
    squares (weights ``N_h / h²``, gstat's default ``fit.method = 7``; the
    range profiled over a grid, nugget and partial sill >= 0 by NNLS) with an
    exponential model ``nugget + psill (1 − exp(−3h / r))``. ``r`` is the
    *effective* range, where the model reaches 95 % of its sill. The block
    size is the median of the variables' ranges (as ``blockCV::
    cv_spatial_autocor``). Pass it to :class:`SpatialBlockKFold` or
    :class:`CheckerboardSplit`, or as the buffer of
    :class:`BufferedLeaveOneOut`.

    Parameters
    ----------
    xy : array-like of shape (n, 2) or geopandas.GeoDataFrame
        Coordinates (x, y). Distances are Euclidean in their unit — degrees
        for lon/lat; project first for metres.
    values : array-like of shape (n,) or (n, k), or pandas.DataFrame
        Variables measured at the points (numeric columns of a DataFrame).
    n_lags : int
        Number of distance bins.
    max_distance : float, optional
        Largest lag; default one third of the diagonal of the points'
        bounding box (gstat's default cutoff).
    max_points : int
        Pairs are computed on a random subset of at most this many points.
    random_state : int, optional
        Seed of that subset.
    return_details : bool
        Also return a dict with ``ranges`` (variable → range), ``params`` (a
        DataFrame: ``variable``, ``nugget``, ``psill``, ``range``) and
        ``variogram`` (a DataFrame: ``variable``, ``lag``, ``gamma``,
        ``n_pairs``, ``fitted``).

    Returns
    -------
    float, or (float, dict) when ``return_details``

    Warns
    -----
    ValidationWarning
        When a variable shows (almost) no spatial structure (partial sill
        below 10 % of the sill, or a range shorter than the first lag) or its
        range exceeds ``max_distance`` (no sill reached): its range is then
        unreliable.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import block_size_from_autocorrelation
    >>> from scipy.spatial.distance import cdist
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 100, size=(400, 2))
    >>> cov = np.exp(-3 * cdist(xy, xy) / 20)  # a Gaussian field with effective range 20
    >>> z = np.linalg.cholesky(cov + 1e-9 * np.eye(400)) @ rng.normal(size=400)
    >>> 10 < block_size_from_autocorrelation(xy, z) < 40
    True
    """
    import pandas as pd
    from scipy.spatial.distance import pdist

    coords = (
        _coords_of(xy, None, "block_size_from_autocorrelation")
        if hasattr(xy, "geometry")
        else _coords_of(None, xy, "block_size_from_autocorrelation")
    )
    if isinstance(values, pd.DataFrame):
        frame = values.select_dtypes(include="number")
        names, V = list(frame.columns), frame.to_numpy(dtype=float)
    elif isinstance(values, pd.Series):
        names, V = [values.name if values.name is not None else 0], values.to_numpy(float)[:, None]
    else:
        V = np.asarray(values, dtype=float)
        V = V[:, None] if V.ndim == 1 else V
        names = list(range(V.shape[1])) if V.ndim == 2 else []
    if V.ndim != 2 or V.shape[0] != len(coords) or V.shape[1] == 0:
        raise ValidationError(
            f"values must have one row per point ({len(coords)}) and at least one numeric "
            f"column, got shape {V.shape}."
        )
    bad = np.flatnonzero(~np.isfinite(V).all(axis=1))
    if bad.size:
        raise ValidationError(
            f"values are NaN or infinite in rows {_show(bad)}. Drop those points (and their "
            f"coordinates) explicitly."
        )
    if int(n_lags) != n_lags or n_lags < 3:
        raise ValidationError(f"n_lags must be an integer >= 3, got {n_lags!r}.")
    if len(coords) < 10:
        raise ValidationError(f"Need at least 10 points for a semivariogram, got {len(coords)}.")
    rng = np.random.default_rng(random_state)
    if len(coords) > max_points:
        keep = rng.choice(len(coords), size=int(max_points), replace=False)
        coords, V = coords[keep], V[keep]
    if max_distance is None:
        max_distance = float(np.hypot(*np.ptp(coords, axis=0))) / 3.0
    if not (np.isfinite(max_distance) and max_distance > 0):
        raise ValidationError(
            f"max_distance must be positive, got {max_distance!r} (are all points at one place?)."
        )
    d = pdist(coords)
    inb = d <= max_distance
    edges = np.linspace(0.0, max_distance, int(n_lags) + 1)
    lag_id = np.clip(np.searchsorted(edges, d[inb], side="right") - 1, 0, int(n_lags) - 1)
    n_pairs = np.bincount(lag_id, minlength=int(n_lags))
    lag = np.bincount(lag_id, weights=d[inb], minlength=int(n_lags)) / np.maximum(n_pairs, 1)
    ok = n_pairs > 0
    ranges, params, tables = {}, [], []
    for j, name in enumerate(names):
        z = V[:, j]
        if np.ptp(z) == 0:
            raise ValidationError(
                f"variable {name!r} is constant; it has no spatial autocorrelation to measure. "
                f"Drop it."
            )
        sq = pdist(z[:, None], "sqeuclidean")[inb]
        gamma = (
            0.5 * np.bincount(lag_id, weights=sq, minlength=int(n_lags)) / np.maximum(n_pairs, 1)
        )
        h, g, npair = lag[ok], gamma[ok], n_pairs[ok]
        nug, psill, r = _fit_exponential(h, g, npair, lo=edges[1] / 10, hi=10.0 * max_distance)
        if psill < 0.1 * (nug + psill) or r < h[0]:
            warnings.warn(
                f"block_size_from_autocorrelation: variable {name!r} shows almost no spatial "
                f"autocorrelation at the sampled distances (nugget {nug:.3g}, partial sill "
                f"{psill:.3g}, range {r:.3g} vs first lag {h[0]:.3g}); its range is unreliable.",
                ValidationWarning,
                stacklevel=2,
            )
        elif r > max_distance:
            warnings.warn(
                f"block_size_from_autocorrelation: variable {name!r} does not reach its sill "
                f"within max_distance={max_distance:.3g} (fitted range {r:.3g}); the range is "
                f"extrapolated. Increase max_distance or detrend the variable.",
                ValidationWarning,
                stacklevel=2,
            )
        ranges[name] = float(r)
        params.append(
            {"variable": name, "nugget": float(nug), "psill": float(psill), "range": float(r)}
        )
        tables.append(
            pd.DataFrame(
                {
                    "variable": [name] * len(h),
                    "lag": h,
                    "gamma": g,
                    "n_pairs": npair.astype("int64"),
                    "fitted": _exponential(h, nug, psill, r),
                }
            )
        )
    size = float(np.median(list(ranges.values())))
    if not return_details:
        return size
    return size, {
        "ranges": ranges,
        "params": pd.DataFrame(params),
        "variogram": pd.concat(tables, ignore_index=True),
    }
