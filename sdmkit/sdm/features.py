"""MaxEnt feature classes: linear, quadratic, product, hinge, threshold, categorical.

A MaxEnt model is a log-linear model on *features*: simple transforms of the
covariates. :class:`MaxentFeatures` builds them the way maxnet (Phillips et al.
2017, *Ecography* 40:887-893) and the Java Maxent program do:

* every continuous covariate ``x`` is first rescaled to ``u = (x - min) /
  (max - min)`` on its training range (presence and background together), so
  that ``u`` lies in [0, 1] on the training data (Maxent Java's scaling);
* ``l`` linear ``u``; ``q`` quadratic ``u**2``; ``p`` products ``u_i * u_j``
  of every pair of covariates;
* ``h`` hinges on ``n_hinge`` evenly spaced knots ``k`` of [0, 1]: forward
  hinges ``clip((u - k) / (1 - k), 0, 1)`` for every knot but the last and
  reverse hinges ``clip(u / k, 0, 1)`` for every knot but the first (maxnet's
  ``hinge()``: ``2 * (n_hinge - 1)`` features per covariate);
* ``t`` thresholds ``u >= k`` on ``n_threshold`` interior knots of [0, 1];
* categorical covariates (pandas ``category`` dtype, or the ``categorical``
  column indices of an array) are one-hot encoded over their levels, always,
  whatever the feature classes.

``feature_classes="auto"`` applies maxnet's sample-size rule
(``maxnet.formula``): fewer than 10 presences ``"l"``, fewer than 15 ``"lq"``,
fewer than 80 ``"lqh"``, otherwise ``"lqpht"``.

Differences from maxnet, on purpose: maxnet squares and multiplies the raw
covariates (``x^2``, ``x_i x_j``); here they act on the rescaled ``u`` (as Maxent
Java does), which keeps the features in [0, 1] and the fit well conditioned.
maxnet's ``thresholds()`` keeps knots ``3 … nknots + 1`` of a ``nknots + 2``
grid (an operator-precedence slip in ``[2:nknots+1]``: 49 knots for 50); here
all ``n_threshold`` interior knots are used.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._validation import ValidationError, ValidationWarning

__all__ = ["MaxentFeatures", "auto_feature_classes"]

_CLASSES = "lqpht"
_MAX_SHOWN = 8


def auto_feature_classes(n_presence: float) -> str:
    """maxnet's default feature classes for a number of presences.

    Parameters
    ----------
    n_presence : float
        Number of presence records (the sum of their weights when weighted).

    Returns
    -------
    str
        ``"l"`` below 10 presences, ``"lq"`` below 15, ``"lqh"`` below 80,
        otherwise ``"lqpht"`` (``maxnet.formula(classes="default")``).

    Examples
    --------
    >>> from sdmkit.sdm.features import auto_feature_classes
    >>> [auto_feature_classes(n) for n in (5, 12, 50, 116)]
    ['l', 'lq', 'lqh', 'lqpht']
    """
    if n_presence < 10:
        return "l"
    if n_presence < 15:
        return "lq"
    if n_presence < 80:
        return "lqh"
    return "lqpht"


def _check_classes(feature_classes) -> None:
    if feature_classes == "auto":
        return
    if (
        not isinstance(feature_classes, str)
        or not feature_classes
        or set(feature_classes) - set(_CLASSES)
    ):
        raise ValueError(
            f"feature_classes must be 'auto' or a non-empty string of the letters "
            f"'l' (linear), 'q' (quadratic), 'p' (product), 'h' (hinge), 't' "
            f"(threshold); got {feature_classes!r}."
        )


def _show(values) -> str:
    values = list(values)
    head = ", ".join(map(str, values[:_MAX_SHOWN]))
    more = len(values) - _MAX_SHOWN
    return f"[{head}{f', … ({more} more)' if more > 0 else ''}]"


def _fmt(v: float) -> str:
    return f"{v:.6g}"


class MaxentFeatures(TransformerMixin, BaseEstimator):
    """Maxent feature transformer: fit on presence + background, transform any X.

    Parameters
    ----------
    feature_classes : str, default="auto"
        Letters of the feature classes to build: ``l`` linear, ``q`` quadratic,
        ``p`` product, ``h`` hinge, ``t`` threshold; or ``"auto"`` for maxnet's
        sample-size rule (:func:`auto_feature_classes`, counting ``y == 1``
        rows; with ``y=None`` every row counts). Categorical covariates are
        always one-hot encoded.
    n_hinge : int, default=50
        Hinge knots per covariate (maxnet's ``nknots``): ``2 * (n_hinge - 1)``
        hinge features.
    n_threshold : int, default=50
        Interior threshold knots per covariate.
    clamp : bool, default=True
        At transform time, clip covariates to their training range and
        features to their training range (maxnet's ``clamp=TRUE``). Hinges are
        bounded to [0, 1] either way.
    categorical : list of int or str, optional
        Columns to one-hot encode when ``X`` is an array (or to force for a
        DataFrame). DataFrame columns of ``category`` dtype are always
        categorical.

    Attributes
    ----------
    feature_classes_ : str
        The resolved feature classes.
    continuous_, categorical_ : list
        Input columns (names for a DataFrame, indices for an array).
    mins_, maxs_ : ndarray
        Training range of each continuous covariate.
    categories_ : dict
        Levels of each categorical column (all levels of a ``category`` dtype,
        as maxnet's ``levels()``; the sorted distinct values for an array).
    feature_names_ : ndarray of str
        Names of the output features, e.g. ``"bio1"``, ``"bio1^2"``,
        ``"bio1:bio5"``, ``"hinge(bio1)>0.2"``, ``"hinge(bio1)<0.4"``,
        ``"threshold(bio1)>=0.5"``, ``"ecoreg=3"`` (knots in covariate units).
    feature_kinds_ : ndarray of str
        Class of each feature: ``linear``, ``quadratic``, ``product``,
        ``hinge``, ``threshold`` or ``categorical``.
    feature_min_, feature_max_ : ndarray
        Range of each feature on the training data (for clamping).

    Notes
    -----
    Missing values are an error at fit and at transform (the message counts
    the rows). Categorical levels unseen at fit are encoded as all-zero
    one-hot rows (no level's effect) with a :class:`~sdmkit.ValidationWarning`
    that counts the rows. A continuous covariate that is constant on the
    training data is an error: it cannot be rescaled and carries no
    information.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.features import MaxentFeatures
    >>> X = np.linspace(0, 10, 21).reshape(-1, 1)
    >>> f = MaxentFeatures(feature_classes="lh", n_hinge=3).fit(X)
    >>> f.feature_names_.tolist()
    ['x0', 'hinge(x0)>0', 'hinge(x0)>5', 'hinge(x0)<5', 'hinge(x0)<10']
    >>> f.transform([[2.5]]).round(2).tolist()
    [[0.25, 0.25, 0.0, 0.5, 0.25]]
    """

    def __init__(
        self,
        feature_classes="auto",
        n_hinge=50,
        n_threshold=50,
        clamp=True,
        categorical=None,
    ):
        self.feature_classes = feature_classes
        self.n_hinge = n_hinge
        self.n_threshold = n_threshold
        self.clamp = clamp
        self.categorical = categorical

    # ------------------------------------------------------------------ input
    def _split(self, X, reset: bool):
        """Return (continuous float array, list of categorical 1-d arrays)."""
        if hasattr(X, "iloc"):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if "geometry" in X.columns:
                raise ValidationError(
                    "X has a 'geometry' column; pass only the covariate columns, e.g. "
                    "X = points.drop(columns='geometry')."
                )
            if reset:
                forced = list(self.categorical or [])
                names = list(X.columns)
                bad = [c for c in forced if c not in names and not isinstance(c, int)]
                if bad:
                    raise ValueError(f"categorical columns {bad} are not in X's columns.")
                forced = [names[c] if isinstance(c, int) else c for c in forced]
                self.categorical_ = [
                    c for c in names if c in forced or isinstance(X[c].dtype, pd.CategoricalDtype)
                ]
                self.continuous_ = [c for c in names if c not in self.categorical_]
            cont = X[self.continuous_]
            bad = [
                c
                for c in self.continuous_
                if not (pd.api.types.is_numeric_dtype(cont[c]) or cont[c].isna().all())
            ]
            if bad:
                raise ValidationError(
                    f"Columns {bad} are neither numeric nor of 'category' dtype; convert "
                    f"them, e.g. X[col] = X[col].astype('category') for classes."
                )
            cont = cont.to_numpy(dtype=np.float64, na_value=np.nan)
            cats = [X[c] for c in self.categorical_]
            rows = X.index
        else:
            if reset:
                cat_idx = sorted(int(i) for i in (self.categorical or []))
            else:
                cat_idx = list(self.categorical_)
            if cat_idx:
                Xa = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1)
                validate_data(self, Xa, skip_check_array=True, reset=reset)
                if reset:
                    if max(cat_idx) >= Xa.shape[1]:
                        raise ValueError(
                            f"categorical indices {cat_idx} exceed the {Xa.shape[1]} columns of X."
                        )
                    self.categorical_ = cat_idx
                    self.continuous_ = [i for i in range(Xa.shape[1]) if i not in cat_idx]
                cont = check_array(
                    Xa[:, self.continuous_],
                    dtype=np.float64,
                    ensure_all_finite=False,
                    ensure_min_features=0,
                )
                cats = [pd.Series(Xa[:, i]) for i in self.categorical_]
            else:
                cont = check_array(X, dtype=np.float64, ensure_all_finite=False)
                validate_data(self, cont, skip_check_array=True, reset=reset)
                if reset:
                    self.categorical_ = []
                    self.continuous_ = list(range(cont.shape[1]))
                cats = []
            rows = np.arange(cont.shape[0])
        self._check_missing(cont, cats, rows)
        return cont, cats

    def _check_missing(self, cont, cats, rows) -> None:
        names = [*self.continuous_, *self.categorical_]
        bad = ~np.isfinite(cont)
        cols = [c for c, b in zip(self.continuous_, bad.any(axis=0)) if b]
        row_bad = bad.any(axis=1)
        for c, s in zip(self.categorical_, cats):
            m = pd.isna(s).to_numpy()
            if m.any():
                cols.append(c)
                row_bad |= m
        if cols:
            all_nan = [
                c for c in cols if c in self.continuous_ and bad[:, self.continuous_.index(c)].all()
            ]
            hint = f" Columns {all_nan} are missing on every row: drop them." if all_nan else ""
            raise ValidationError(
                f"X has missing or infinite values in columns {cols} on {int(row_bad.sum())} "
                f"of {len(row_bad)} rows {_show(np.asarray(rows)[row_bad])}.{hint} Drop or "
                f"impute those rows (points outside the rasters come back as NaN). "
                f"Input columns: {names}."
            )

    # -------------------------------------------------------------------- fit
    def fit(self, X, y=None, sample_weight=None):
        """Learn covariate ranges, knots and categorical levels.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)
            Presence and background covariates together.
        y : array-like of shape (n_samples,), optional
            1 presence, 0 background; only used by ``feature_classes="auto"``.
        sample_weight : array-like, optional
            Weights of the rows; the presence count of the ``"auto"`` rule is
            the sum of presence weights.

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight)
        return self

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the features of the training rows (as :meth:`transform`).

        Returns
        -------
        ndarray of shape (n_samples, len(feature_names_)), float64
        """
        return self._fit(X, y, sample_weight)[0]

    def _fit(self, X, y, sample_weight, append_rows=None):
        """Fit; return the training features.

        ``append_rows(cont, cats)``, if given, returns indices of rows whose
        features are appended at the end (copies of training rows; the
        feature ranges do not change). Returns (features, appended indices).
        """
        _check_classes(self.feature_classes)
        for name in ("n_hinge", "n_threshold"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {v!r}.")
        cont, cats = self._split(X, reset=True)
        w = _check_sample_weight(sample_weight, cont, ensure_non_negative=True)
        if (w == 0).any():  # zero weight: as if the row were not there
            keep = w > 0
            cont, w = cont[keep], w[keep]
            cats = [s[keep] for s in cats]
            y = None if y is None else np.asarray(y).ravel()[keep]
        n = cont.shape[0]
        if n < 2:
            raise ValueError(f"MaxentFeatures needs at least 2 samples, got n_samples = {n}.")
        if self.feature_classes == "auto":
            pres = np.ones(n, bool) if y is None else np.asarray(y).ravel() == 1
            self.feature_classes_ = auto_feature_classes(float(w[pres].sum()))
        else:
            self.feature_classes_ = "".join(c for c in _CLASSES if c in self.feature_classes)
        self.mins_ = cont.min(axis=0) if cont.shape[1] else np.zeros(0)
        self.maxs_ = cont.max(axis=0) if cont.shape[1] else np.zeros(0)
        const = [c for c, lo, hi in zip(self.continuous_, self.mins_, self.maxs_) if lo == hi]
        if const:
            raise ValidationError(
                f"Covariates {const} are constant on the training data (presence and "
                f"background); they carry no information and cannot be rescaled. Drop them."
            )
        self.categories_ = {}
        for c, s in zip(self.categorical_, cats):
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.categories_[c] = s.cat.categories.to_numpy()
            else:
                self.categories_[c] = np.asarray(pd.unique(s.to_numpy()))
                self.categories_[c] = np.sort(self.categories_[c])
        self.hinge_knots_ = np.linspace(0.0, 1.0, self.n_hinge)
        self.threshold_knots_ = np.linspace(0.0, 1.0, self.n_threshold + 2)[1:-1]
        self.feature_names_, self.feature_kinds_ = self._names()
        extra = np.zeros(0, np.int64) if append_rows is None else append_rows(cont, cats)
        if len(extra):
            cont = np.vstack([cont, cont[extra]])
            cats = [pd.concat([s, s.iloc[extra]], ignore_index=True) for s in cats]
        F, self.feature_min_, self.feature_max_ = self._features(
            cont, cats, clamp=False, warn=False, with_range=True
        )
        return F, extra

    def _names(self):
        fc = self.feature_classes_
        cont = [
            str(c) if not isinstance(c, (int, np.integer)) else f"x{c}" for c in self.continuous_
        ]
        lo, rng = self.mins_, self.maxs_ - self.mins_
        names, kinds, spec = [], [], []  # spec: (i, j, a, b) of each feature, see _columns

        def add(kind, items, specs):
            names.extend(items)
            kinds.extend([kind] * len(items))
            spec.extend(specs)

        m = len(cont)
        if "l" in fc:
            add("linear", cont, [(i, i, 1.0, 0.0) for i in range(m)])
        if "q" in fc:
            add("quadratic", [f"{c}^2" for c in cont], [(i, i, 0.0, 0.0) for i in range(m)])
        if "p" in fc:
            pairs = list(combinations(range(m), 2))
            add(
                "product",
                [f"{cont[i]}:{cont[j]}" for i, j in pairs],
                [(i, j, 0, 0) for i, j in pairs],
            )
        if "h" in fc:
            k = self.hinge_knots_
            items, specs = [], []
            for i, c in enumerate(cont):
                kv = lo[i] + k * rng[i]
                items += [f"hinge({c})>{_fmt(v)}" for v in kv[:-1]]
                items += [f"hinge({c})<{_fmt(v)}" for v in kv[1:]]
                specs += [(i, i, 1 / (1 - t), -t / (1 - t)) for t in k[:-1]]
                specs += [(i, i, 1 / t, 0.0) for t in k[1:]]
            add("hinge", items, specs)
        if "t" in fc:
            k = self.threshold_knots_
            items, specs = [], []
            for i, c in enumerate(cont):
                items += [f"threshold({c})>={_fmt(v)}" for v in lo[i] + k * rng[i]]
                specs += [(i, i, t, 0.0) for t in k]
            add("threshold", items, specs)
        for ci, c in enumerate(self.categorical_):
            name = str(c) if not isinstance(c, (int, np.integer)) else f"x{c}"
            levels = self.categories_[c]
            add(
                "categorical",
                [f"{name}={v}" for v in levels],
                [(ci, li, 0.0, 0.0) for li in range(len(levels))],
            )
        spec = np.array(spec, dtype=np.float64).reshape(-1, 4)
        self._spec_ij = spec[:, :2].astype(np.int64)
        self._spec_ab = spec[:, 2:]
        return np.asarray(names, dtype=object), np.asarray(kinds, dtype=object)

    # -------------------------------------------------------------- transform
    def _prepare(self, cont, cats, clamp: bool, warn: bool = True):
        """Rescaled covariates ``u`` and categorical level codes (-1: unseen)."""
        n = cont.shape[0]
        u = (cont - self.mins_) / (self.maxs_ - self.mins_)
        if clamp:
            np.clip(u, 0.0, 1.0, out=u)
        codes, unseen = [], np.zeros(n, bool)
        for c, s in zip(self.categorical_, cats):
            levels = self.categories_[c]
            codes.append(pd.Index(levels).get_indexer(np.asarray(s.to_numpy(), dtype=object)))
            unseen |= codes[-1] < 0
        if warn and unseen.any():
            warnings.warn(
                f"{int(unseen.sum())} of {n} rows have categorical levels not seen at fit "
                f"(columns {self.categorical_}); they get all-zero one-hot features, i.e. no "
                f"categorical effect.",
                ValidationWarning,
                stacklevel=4,
            )
        return u, codes

    def _features(self, cont, cats, clamp: bool, warn: bool = True, with_range: bool = False):
        """All features of the rows (row blocks, so that each block's passes stay in cache).

        With ``with_range``, also the per-feature (min, max), computed while each
        block is in cache.
        """
        u, codes = self._prepare(cont, cats, clamp, warn)
        n, p = len(u), len(self.feature_names_)
        F = np.empty((n, p))
        lo, hi = np.full(p, np.inf), np.full(p, -np.inf)
        step = max(1, 2**17 // max(1, p))
        for r0 in range(0, n, step):
            block = F[r0 : r0 + step]
            self._fill(block, u[r0 : r0 + step], [c[r0 : r0 + step] for c in codes])
            if clamp:
                np.clip(block, self.feature_min_, self.feature_max_, out=block)
            if with_range:
                np.minimum(lo, block.min(axis=0), out=lo)
                np.maximum(hi, block.max(axis=0), out=hi)
        return (F, lo, hi) if with_range else F

    def _fill(self, F, u, codes) -> None:
        """Write the features of rows ``u`` (rescaled covariates) into ``F``."""
        fc = self.feature_classes_
        n, m = u.shape
        at = 0

        def block(width):
            nonlocal at
            at += width
            return F[:, at - width : at]

        if "l" in fc:
            block(m)[:] = u
        if "q" in fc:
            np.multiply(u, u, out=block(m))
        if "p" in fc and m > 1:
            i, j = np.triu_indices(m, k=1)
            np.multiply(u[:, i], u[:, j], out=block(len(i)))
        if "h" in fc and m:
            k = self.hinge_knots_
            nk = len(k) - 1
            out = block(2 * nk * m).reshape(n, m, 2, nk)
            # forward (u - k) / (1 - k) and reverse u / k as one a * u + b, then [0, 1]
            a = np.stack([1.0 / (1.0 - k[:-1]), 1.0 / k[1:]])
            b = np.stack([-k[:-1] / (1.0 - k[:-1]), np.zeros(nk)])
            np.multiply(u[:, :, None, None], a, out=out)
            np.add(out, b, out=out)
            np.maximum(out, 0.0, out=out)
            np.minimum(out, 1.0, out=out)
        if "t" in fc and m:
            k = self.threshold_knots_
            block(len(k) * m).reshape(n, m, len(k))[:] = u[:, :, None] >= k
        for c, code in zip(self.categorical_, codes):
            onehot = block(len(self.categories_[c]))
            onehot[:] = 0.0
            ok = code >= 0
            onehot[np.flatnonzero(ok), code[ok]] = 1.0

    def _columns(self, u, codes, idx, clamp: bool) -> np.ndarray:
        """Only the features ``idx`` (e.g. those with non-zero coefficients) of rows ``u``.

        Feature ``f`` with ``(i, j, a, b) = spec[f]`` is ``u_i`` (linear),
        ``u_i u_j`` (quadratic, product), ``clip(a u_i + b, 0, 1)`` (hinge),
        ``u_i >= a`` (threshold) or ``code_i == j`` (categorical).
        """
        out = np.empty((len(u), len(idx)))
        kinds = self.feature_kinds_[idx]
        i, j = self._spec_ij[idx].T
        a, b = self._spec_ab[idx].T
        for kind in np.unique(kinds):
            m = kinds == kind
            cols = np.flatnonzero(m)
            if kind == "linear":
                out[:, cols] = u[:, i[m]]
            elif kind in ("quadratic", "product"):
                out[:, cols] = u[:, i[m]] * u[:, j[m]]
            elif kind == "hinge":
                out[:, cols] = np.clip(u[:, i[m]] * a[m] + b[m], 0.0, 1.0)
            elif kind == "threshold":
                out[:, cols] = u[:, i[m]] >= a[m]
            else:
                out[:, cols] = np.column_stack(codes)[:, i[m]] == j[m]
        if clamp:
            np.clip(out, self.feature_min_[idx], self.feature_max_[idx], out=out)
        return out

    def _dot(self, X, coef) -> np.ndarray:
        """``transform(X) @ coef``, computing only the features with non-zero coefficients,
        in row blocks: memory stays bounded however many rows (raster cells) ``X`` has."""
        cont, cats = self._split(X, reset=False)
        u, codes = self._prepare(cont, cats, self.clamp, warn=True)
        idx = np.flatnonzero(coef)
        out = np.zeros(len(u))
        step = max(1, 2**20 // max(1, len(idx)))
        for r0 in range(0, len(u), step):
            r = slice(r0, r0 + step)
            F = self._columns(u[r], [c[r] for c in codes], idx, self.clamp)
            out[r] = F @ coef[idx]
        return out

    def transform(self, X):
        """Compute the features of ``X``.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)
            Same columns as at fit.

        Returns
        -------
        ndarray of shape (n_samples, len(feature_names_)), float64
        """
        check_is_fitted(self, "feature_names_")
        cont, cats = self._split(X, reset=False)
        return self._features(cont, cats, clamp=self.clamp)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features (:attr:`feature_names_`)."""
        check_is_fitted(self, "feature_names_")
        return self.feature_names_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = False
        return tags
