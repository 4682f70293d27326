"""Spatial cross-validation splitters shared by encoder probes, SDMs and forecasters.

Neighbouring places are alike (spatial autocorrelation), so a random split
leaks information from training to test points close by and flatters any
model that memorises location. Blocking — assigning whole spatial blocks to a
fold — keeps test points away from training points, at least by the block
size (Roberts et al. 2017, *Ecography* 40:913-929; Valavi et al. 2019,
*Methods Ecol Evol* 10:225-232). Choose the block size from the range of
spatial autocorrelation of the residuals, not from convenience.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from ._validation import ValidationError

__all__ = ["SpatialBlockKFold", "block_ids"]


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

    Notes
    -----
    ``split(X, y=None, groups=None)`` reads the coordinates from ``groups`` as
    an ``(n, 2)`` array of (x, y) — or, when ``X`` is a GeoDataFrame and
    ``groups`` is None, from its point geometry. A fold with no test point
    (more folds than blocks) is an error, not a silently empty fold.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.model_selection import SpatialBlockKFold
    >>> xy = np.random.default_rng(0).uniform(0, 10, size=(200, 2))
    >>> cv = SpatialBlockKFold(n_splits=5, block_size=2.0, random_state=0)
    >>> sum(len(test) for _, test in cv.split(xy, groups=xy))
    200
    """

    def __init__(self, n_splits: int = 5, block_size: float = 1.0, random_state=None):
        self.n_splits = n_splits
        self.block_size = block_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.n_splits

    def _coords(self, X, groups):
        if groups is None:
            geom = getattr(X, "geometry", None)
            if geom is None:
                raise ValidationError(
                    "SpatialBlockKFold needs coordinates: pass groups=<(n, 2) array of x, y> "
                    "or a GeoDataFrame as X."
                )
            return np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
        xy = np.asarray(groups, dtype=float)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValidationError(
                f"groups must be an (n, 2) array of (x, y) coordinates, got shape {xy.shape}."
            )
        return xy

    def _iter_test_indices(self, X=None, y=None, groups=None):
        xy = self._coords(X, groups)
        ids = block_ids(xy[:, 0], xy[:, 1], self.block_size)
        blocks, counts = np.unique(ids, return_counts=True)
        if len(blocks) < self.n_splits:
            raise ValidationError(
                f"Only {len(blocks)} spatial blocks of size {self.block_size} hold points, "
                f"fewer than n_splits={self.n_splits}: some folds would be empty. Use a smaller "
                f"block_size or fewer splits."
            )
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(blocks))
        # deal blocks (largest first within the shuffled order) to the emptiest fold
        order = order[np.argsort(-counts[order], kind="stable")]
        load = np.zeros(self.n_splits)
        fold_of_block = np.empty(len(blocks), dtype=int)
        for b in order:
            f = int(np.argmin(load))
            fold_of_block[b] = f
            load[f] += counts[b]
        fold = fold_of_block[np.searchsorted(blocks, ids)]
        for f in range(self.n_splits):
            yield np.flatnonzero(fold == f)
