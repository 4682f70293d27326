"""Tuning presence-only SDMs by spatial cross-validation on the training data (ENMeval style).

A presence-only model has no absences to validate against. ENMeval
(Kass et al. 2021, *Methods Ecol Evol* 12:1602-1608) and blockCV (Valavi et al.
2019) therefore split the *training* presences and background points into
spatial blocks, fit each candidate setting on the other folds and score it by
the AUC of the held-out presences against the held-out background. The best
setting is then refitted on all training rows. Nothing here ever sees test
(presence–absence) data.

* :func:`presence_background_folds` — spatial block folds of presence and
  background rows, balanced on presences, with every fold holding presences;
* :class:`SpatialTuner` — a scikit-learn meta-estimator that picks the best of
  a grid of settings by those folds and refits it.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import ParameterGrid
from sklearn.utils.validation import check_is_fitted

from .._validation import ValidationError, ValidationWarning
from ..model_selection import SpatialBlockKFold
from .models import _BinaryTabularTags

__all__ = ["SpatialTuner", "presence_background_folds"]

#: Blocks per side of the bounding box when ``block_size`` is not given.
AUTO_BLOCKS_PER_SIDE = 6
#: How often an automatic block size may be halved to get presences into every fold.
_MAX_HALVINGS = 4


def _check_coords(coords, n: int) -> np.ndarray:
    if coords is None:
        raise ValidationError(
            "Spatial cross-validation needs the coordinates of every row: pass coords=<(n, 2) "
            "array of x, y> (presences and background, in the rows' order)."
        )
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape != (n, 2):
        raise ValidationError(
            f"coords must be an array of shape ({n}, 2) — one (x, y) per row of X; got "
            f"shape {xy.shape}."
        )
    bad = np.flatnonzero(~np.isfinite(xy).all(axis=1))
    if bad.size:
        raise ValidationError(
            f"coords of rows {bad[:8].tolist()} ({bad.size} rows) are NaN or infinite; drop or "
            f"fix those rows."
        )
    return xy


def presence_background_folds(
    coords, y, *, n_splits: int = 4, block_size=None, random_state=0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Spatial block folds of presence (``y == 1``) and background rows.

    Square blocks are dealt to ``n_splits`` folds so that each fold gets a
    similar number of presences (then of points):
    :class:`~sdmkit.model_selection.SpatialBlockKFold` with
    ``balance="positives"``.

    Parameters
    ----------
    coords : array-like of shape (n, 2)
        x, y of every row (presences and background), in one CRS.
    y : array-like of shape (n,)
        1 presence, 0 background.
    n_splits : int
    block_size : float, optional
        Block side in the coordinates' unit. Default: the longer side of the
        bounding box of all rows divided by :data:`AUTO_BLOCKS_PER_SIDE` (6), a
        rule fixed a priori. If fewer than ``n_splits`` blocks then hold
        presences, the automatic size is halved (up to 4 times) with a
        :class:`~sdmkit.ValidationWarning`; a ``block_size`` you pass is never
        changed (too few blocks is then an error).
    random_state : int
        Seed of the block shuffle.

    Returns
    -------
    folds : list of (train_indices, test_indices)
    block_size : float
        The block size used.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.tuning import presence_background_folds
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 100, size=(600, 2)); y = (rng.random(600) < 0.1).astype(int)
    >>> folds, size = presence_background_folds(xy, y, n_splits=3)
    >>> len(folds), all(y[test].sum() > 0 for _, test in folds)
    (3, True)
    """
    y = np.asarray(y).ravel()
    xy = _check_coords(coords, len(y))
    if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
    n_pres = int((y == 1).sum())
    if n_pres < n_splits:
        raise ValidationError(
            f"{n_pres} presences cannot fill {n_splits} spatial folds (each needs at least one); "
            f"use fewer splits or a model that needs no tuning."
        )
    auto = block_size is None
    if auto:
        side = float(np.ptp(xy, axis=0).max())
        if not side > 0:
            raise ValidationError("All rows share one location: spatial folds are impossible.")
        block_size = side / AUTO_BLOCKS_PER_SIDE
    for halving in range(_MAX_HALVINGS + 1 if auto else 1):
        cv = SpatialBlockKFold(
            n_splits=n_splits,
            block_size=block_size,
            random_state=random_state,
            balance="positives",
        )
        try:
            folds = list(cv.split(xy, y, groups=xy))
        except ValidationError:
            if not auto or halving == _MAX_HALVINGS:
                raise
            block_size /= 2.0
            continue
        if halving:
            warnings.warn(
                f"presence_background_folds: the presences lie in fewer than {n_splits} blocks "
                f"of the automatic size; halved it {halving} time(s) to {block_size:.4g}.",
                ValidationWarning,
                stacklevel=2,
            )
        return folds, float(block_size)
    raise AssertionError("unreachable")  # pragma: no cover


class SpatialTuner(_BinaryTabularTags, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Choose an SDM's settings by spatial block cross-validation on its training data.

    For every setting of ``param_grid`` the estimator (a clone) is fitted on
    all but one spatial fold of the presence + background rows and scored by
    the AUC of the held-out presences against the held-out background points
    (ENMeval's ``auc.val`` with spatial partitions). The setting with the
    highest mean AUC over folds (ties: the first in grid order) is refitted on
    all rows. The folds come from :func:`presence_background_folds`; the
    coordinates are passed to :meth:`fit` as ``coords``.

    Parameters
    ----------
    estimator : estimator
        Binary presence (1) / background (0) classifier with ``predict_proba``.
    param_grid : dict or list of dict
        As :class:`sklearn.model_selection.ParameterGrid`.
    n_splits : int, default=4
        Spatial folds. Fewer when there are few presences: ``min(n_splits,
        max(2, n_presences // 10))`` (Valavi et al. 2022 used 2 folds below 10
        presences), so that each training fold keeps enough presences.
    block_size : float, optional
        See :func:`presence_background_folds` (default: automatic).
    max_background : int, optional
        At most this many background rows in each *cross-validation* fit
        (a random, seeded subset of the fold's training background; held-out
        scoring uses all of the fold's held-out background). Speeds tuning of
        models whose cost grows with the background; the final refit uses every
        row.
    random_state : int, default=0
        Seeds the folds and the background subsets.

    Attributes
    ----------
    best_params_ : dict
    best_score_ : float
        Mean held-out AUC of the best setting.
    best_estimator_ : estimator
        The best setting refitted on all rows.
    cv_results_ : pandas.DataFrame
        One row per setting: ``params``, ``mean_auc``, ``std_auc``, ``auc_fold<k>``
        and ``error`` (why a setting could not be fitted on some fold, e.g. too
        few presences; its mean is then NaN and it cannot be chosen).
    n_splits_ : int
        Folds used.
    block_size_ : float
        Block size used.
    fallback_ : bool
        True when no setting could be scored on every fold and the estimator
        was fitted with its own parameters (with a warning).
    classes_, n_features_in_, feature_names_in_

    Examples
    --------
    A species of intermediate temperatures: only a quadratic term can find it.

    >>> import numpy as np, pandas as pd
    >>> from sdmkit.sdm.models import GLM
    >>> from sdmkit.sdm.tuning import SpatialTuner
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 100, size=(2000, 2))
    >>> X = pd.DataFrame({"t": xy[:, 0] / 10 + rng.normal(0, 1, 2000)})
    >>> y = (rng.random(2000) < 0.3 * np.exp(-((X["t"] - 5) ** 2) / 2)).astype(int)
    >>> tuner = SpatialTuner(GLM(), {"quadratic": [False, True]}, n_splits=3)
    >>> tuner.fit(X, y, coords=xy).best_params_
    {'quadratic': True}
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        n_splits=4,
        block_size=None,
        max_background=None,
        random_state=0,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.n_splits = n_splits
        self.block_size = block_size
        self.max_background = max_background
        self.random_state = random_state

    @staticmethod
    def _rows(X, idx):
        return X.iloc[idx] if isinstance(X, pd.DataFrame) else np.asarray(X)[idx]

    def _cv_fit_rows(self, train, y, rng):
        if self.max_background is None:
            return train
        if not (isinstance(self.max_background, numbers.Integral) and self.max_background > 0):
            raise ValueError(
                f"max_background must be a positive integer or None, got {self.max_background!r}."
            )
        bg = train[y[train] == 0]
        if bg.size <= self.max_background:
            return train
        keep = rng.choice(bg, size=int(self.max_background), replace=False)
        return np.sort(np.r_[train[y[train] == 1], keep])

    def fit(self, X, y, coords=None, sample_weight=None):
        """Tune on spatial folds of ``X``, ``y`` (located by ``coords``), then refit the best.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Covariates of presences and background points.
        y : array-like of shape (n,)
            1 presence, 0 background.
        coords : array-like of shape (n, 2)
            x, y of every row.
        sample_weight : array-like of shape (n,), optional
            Passed to every fit (subset to the fold's rows).

        Returns
        -------
        self
        """
        y = np.asarray(y).ravel()
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
        labels = np.unique(y)
        if labels.size != 2:
            raise ValueError(
                f"y must hold two classes (1 presence, 0 background); got {labels.tolist()}."
            )
        y01 = (y == labels[1]).astype(int)
        n_pres = int(y01.sum())
        n_splits = min(int(self.n_splits), max(2, n_pres // 10))
        folds, self.block_size_ = presence_background_folds(
            coords,
            y01,
            n_splits=n_splits,
            block_size=self.block_size,
            random_state=self.random_state,
        )
        self.n_splits_ = n_splits
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        rng = np.random.default_rng(self.random_state)
        fit_rows = [self._cv_fit_rows(train, y01, rng) for train, _ in folds]
        rows = []
        for params in ParameterGrid(self.param_grid):
            aucs, error = [], ""
            for (_, test), train in zip(folds, fit_rows):
                est = clone(self.estimator).set_params(**params)
                kw = {} if sw is None else {"sample_weight": sw[train]}
                try:
                    est.fit(self._rows(X, train), y[train], **kw)
                except ValidationError as err:  # e.g. too few presences in this fold
                    aucs.append(np.nan)
                    error = str(err)[:200]
                    continue
                score = est.predict_proba(self._rows(X, test))[:, 1]
                aucs.append(float(roc_auc_score(y01[test], score)))
            aucs = np.asarray(aucs)
            ok = np.isfinite(aucs).all()
            rows.append(
                {
                    "params": params,
                    "mean_auc": float(aucs.mean()) if ok else np.nan,
                    "std_auc": float(aucs.std()) if ok else np.nan,
                    **{f"auc_fold{k}": a for k, a in enumerate(aucs)},
                    "error": error,
                }
            )
        self.cv_results_ = pd.DataFrame(rows)
        means = self.cv_results_["mean_auc"].to_numpy()
        self.fallback_ = not np.isfinite(means).any()
        if self.fallback_:
            warnings.warn(
                f"SpatialTuner: no setting could be fitted on every fold "
                f"({self.cv_results_['error'].iloc[0]}); fitting the estimator with its own "
                f"parameters instead.",
                ValidationWarning,
                stacklevel=2,
            )
            self.best_params_, self.best_score_ = {}, np.nan
        else:
            best = int(np.nanargmax(means))  # first of equal maxima: grid order
            self.best_params_ = dict(self.cv_results_["params"].iloc[best])
            self.best_score_ = float(means[best])
        est = clone(self.estimator).set_params(**self.best_params_)
        kw = {} if sw is None else {"sample_weight": sw}
        self.best_estimator_ = est.fit(X, y, **kw)
        self.classes_ = self.best_estimator_.classes_
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def predict_proba(self, X):
        """Class probabilities of the refitted best setting."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def predict(self, X):
        """Class labels of the refitted best setting."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)
