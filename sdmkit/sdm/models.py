"""Presence/background and presence–absence classifiers: forest, boosting, GLM, GAM, ensemble.

Every estimator here is a scikit-learn binary classifier. ``y`` is 1 for a
presence and 0 for a background (or absence) point; ``predict_proba(X)[:, 1]``
is the relative probability of presence. ``X`` is either

* a :class:`pandas.DataFrame` — numeric columns are covariates, columns of
  ``category`` (or string) dtype are categorical; or
* a numpy array — then ``categorical=[column indices]`` marks the categorical
  columns (their values are labels, e.g. biome codes).

How each model sees a categorical covariate: one-hot columns (:class:`GLM`,
:class:`SplineGAM`), LightGBM's native categorical splits
(:class:`BoostedTrees`), ordinal codes in the order of the categories
(:class:`DownsampledRandomForest`).

Shared behaviour (documented once, tested in ``tests/test_sdm_models.py``):

* NaN or infinite covariates, and missing categorical values, are an error at
  ``fit`` and ``predict`` naming the columns and rows: drop or impute them
  explicitly (:func:`sdmkit.predict.predict_raster` already leaves NaN cells out).
* A covariate that is constant over the training rows carries no information:
  it is kept (so the columns still line up) but ignored, with a
  :class:`~sdmkit.ValidationWarning`.
* A categorical level not seen in the (non-zero-weight) training rows is
  *unseen*: ``predict`` warns with the levels and the number of rows, and then
  the GLM/GAM give it no level effect (all one-hot columns zero), LightGBM
  treats it as missing, and the forest sends it down each split with the
  larger training branch (scikit-learn's rule for missing values).
* Rows with ``sample_weight == 0`` are left out of the fit (so zero weight is
  the same as removing the row).
* Presence/background weighting (``presence_weight``): ``"balanced"`` weights
  presences and background so both have the same total weight (Valavi et al.
  2022's down-weighting of the background); a float ``w`` makes one presence
  worth ``w`` background points. Weights are scaled so each presence has
  weight 1, which keeps the penalty ``C`` comparable across data sets.

The waived :func:`sklearn.utils.estimator_checks.parametrize_with_checks`
checks of each class, with the reason, are in its ``_waived_checks``
attribute; pass ``expected_failed_checks=lambda est: est._waived_checks``.
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .._validation import ValidationError, ValidationWarning, _show

__all__ = ["GLM", "BoostedTrees", "DownsampledRandomForest", "Ensemble", "SplineGAM"]


# =========================================================================== shared input handling


def _is_categorical_dtype(dtype) -> bool:
    return isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype))


def _check_binary_y(est, y, n_rows: int):
    """Validate a binary target; return (classes, y as 0/1 int array)."""
    if y is None:
        raise ValueError(
            f"{type(est).__name__} requires y to be passed, but the target y is None. "
            f"Pass y = 1 for presences and 0 for background/absence points."
        )
    y = column_or_1d(y, warn=True)
    if y.dtype.kind == "f":
        assert_all_finite(y, input_name="y")
    if len(y) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(y)}; they must match.")
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"y has 1 class ({classes.tolist()}); a presence/background model needs two "
            f"classes: 1 for presences and 0 for background or absence points."
        )
    y_type = type_of_target(y, input_name="y", raise_unknown=True)
    if y_type != "binary":
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {y_type}: "
            f"y must hold two classes (1 = presence, 0 = background/absence)."
        )
    return classes, (y == classes[1]).astype(np.int64)


def _resolve_categorical(spec, columns: list | None, n_features: int) -> list[int]:
    """Turn ``categorical=`` (indices, or names for DataFrames) into column indices."""
    if spec is None:
        return []
    out = []
    for item in np.atleast_1d(np.asarray(spec, dtype=object)):
        if isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, bool):
            j = int(item)
        elif columns is not None and item in columns:
            j = columns.index(item)
        else:
            raise ValueError(
                f"categorical={spec!r}: {item!r} is neither a column index (0–{n_features - 1})"
                + (f" nor a column name {_show(columns)}" if columns is not None else "")
                + "."
            )
        if not -n_features <= j < n_features:
            raise ValueError(f"categorical index {j} is out of range for {n_features} columns.")
        out.append(j % n_features)
    return sorted(set(out))


def _codes_for(values, categories, name):
    """Map labels to codes into ``categories``; NaN for unseen; error for missing."""
    s = pd.Series(values, copy=False)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    missing = s.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValidationError(
            f"Categorical covariate {name!r} is missing in rows {_show(rows)}. Drop those "
            f"rows or fill them with a level explicitly (e.g. X[{name!r}].fillna(…))."
        )
    codes = pd.Index(categories).get_indexer(s.to_numpy(dtype=object)).astype(float)
    unseen = codes < 0
    codes[unseen] = np.nan
    return codes, unseen


class _BinaryTabularTags:
    """scikit-learn tags of a binary classifier of tables (categorical and string columns).

    A mixin: put it before ``ClassifierMixin`` and ``BaseEstimator`` in the bases.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


class _SDMClassifier(_BinaryTabularTags, ClassifierMixin, BaseEstimator):
    """Shared input handling: DataFrame/numpy X, categorical columns, binary y, weights.

    Subclasses implement ``_fit_encoded(Z, y01, weight)`` and
    ``_proba_encoded(Z) -> P(presence)``, where ``Z`` is a float array holding
    numeric covariates and, in the categorical columns, the integer code of
    each level in ``categories_`` (NaN for an unseen level).
    """

    _waived_checks: dict = {}

    # ------------------------------------------------------------------ encoding
    def _encode(self, X, *, reset: bool) -> np.ndarray:
        is_frame = isinstance(X, pd.DataFrame)
        if is_frame:
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                    f"(shape={X.shape}); a minimum of 1 of each is required."
                )
            names = [str(c) for c in X.columns]
            columns = [X.iloc[:, j] for j in range(X.shape[1])]
        if reset:
            if is_frame:
                cat = set(_resolve_categorical(self.categorical, list(X.columns), X.shape[1]))
                cat |= {j for j, c in enumerate(columns) if _is_categorical_dtype(c.dtype)}
                self.categorical_features_ = np.array(sorted(cat), dtype=np.int64)
            else:
                probe = validate_data(self, X, reset=True, dtype=None, ensure_all_finite=False)
                self.categorical_features_ = np.array(
                    _resolve_categorical(self.categorical, None, probe.shape[1]), dtype=np.int64
                )
        cat_idx = [int(j) for j in self.categorical_features_]
        if not is_frame:
            arr = validate_data(
                self,
                X,
                reset=False,
                dtype=None if cat_idx else np.float64,
                ensure_all_finite=False,
            )
            names = (
                [str(c) for c in self.feature_names_in_]
                if hasattr(self, "feature_names_in_")
                else [f"x{j}" for j in range(arr.shape[1])]
            )
            columns = [arr[:, j] for j in range(arr.shape[1])]
        n, p = len(columns[0]), len(columns)
        Z = np.empty((n, p), dtype=np.float64)
        for j in range(p):
            if j in cat_idx:
                continue
            try:
                col = columns[j]
                Z[:, j] = (
                    col.to_numpy(dtype=np.float64, na_value=np.nan)
                    if isinstance(col, pd.Series)
                    else np.asarray(col, dtype=np.float64)
                )
            except (TypeError, ValueError) as err:
                raise type(err)(
                    f"Covariate {names[j]!r} (column {j}) is not numeric: {err}. Mark it "
                    f"categorical (category dtype, or categorical=[{j}]) or convert it."
                ) from err
        num_idx = [j for j in range(p) if j not in cat_idx]
        bad = ~np.isfinite(Z[:, num_idx]) if num_idx else np.zeros((n, 0), bool)
        if bad.any():
            cols = [num_idx[k] for k in np.flatnonzero(bad.any(axis=0))]
            all_nan = [names[j] for j in cols if bad[:, num_idx.index(j)].all()]
            rows = np.flatnonzero(bad.any(axis=1))
            hint = f" Columns {all_nan} are NaN in every row: drop them." if all_nan else ""
            shown = _show(repr(names[j]) for j in cols)
            raise ValidationError(
                f"X contains NaN or infinite values in covariates {shown} at rows {_show(rows)} "
                f"({len(rows)} rows).{hint} Drop or impute those rows explicitly (no row is "
                f"dropped silently)."
            )
        if reset:
            self.categories_ = {}
        for j in cat_idx:
            key = self._cat_key(j, names)
            if reset:
                self.categories_[key] = self._levels(columns[j], names[j])
            codes, unseen = _codes_for(columns[j], self.categories_[key], names[j])
            if unseen.any() and not reset:
                levels = pd.unique(pd.Series(columns[j]).astype(object).to_numpy()[unseen])
                warnings.warn(
                    f"Categorical covariate {names[j]!r}: levels {_show(levels)} were not seen "
                    f"in training ({int(unseen.sum())} rows). {type(self).__name__} handles "
                    f"them as documented in sdmkit.sdm.models (no level effect / missing).",
                    ValidationWarning,
                    stacklevel=3,
                )
            Z[:, j] = codes
        return Z

    def _cat_key(self, j, names):
        return names[j] if hasattr(self, "feature_names_in_") else j

    @staticmethod
    def _levels(column, name):
        s = pd.Series(column, copy=False)
        if isinstance(s.dtype, pd.CategoricalDtype):
            observed = np.unique(s.cat.codes.to_numpy())
            observed = observed[observed >= 0]
            return np.asarray(s.cat.categories[observed], dtype=object)
        values = pd.unique(s.dropna().astype(object).to_numpy())
        try:
            return np.asarray(sorted(values), dtype=object)
        except TypeError:
            return np.asarray(sorted(values, key=str), dtype=object)

    def _warn_constant(self, Z, names):
        constant = [names[j] for j in range(Z.shape[1]) if np.all(Z[:, j] == Z[0, j])]
        if constant and Z.shape[0] > 1:
            warnings.warn(
                f"Covariates {_show(map(repr, constant))} are constant over the training rows: "
                f"they carry no information and {type(self).__name__} ignores them.",
                ValidationWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ public API
    def fit(self, X, y, sample_weight=None):
        """Fit on covariates ``X`` and labels ``y`` (1 presence, 0 background/absence).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative; multiplies the presence/background weights. Rows with
            weight 0 are left out.

        Returns
        -------
        self
        """
        Z = self._encode(X, reset=True)
        self.classes_, y01 = _check_binary_y(self, y, Z.shape[0])
        sw = _check_sample_weight(sample_weight, Z, ensure_non_negative=True)
        keep = sw > 0
        if not keep.all():
            Z, y01, sw = Z[keep], y01[keep], sw[keep]
            if np.unique(y01).size < 2:
                raise ValueError(
                    "After leaving out rows with zero sample_weight, y has 1 class; both "
                    "presences and background/absences need positive weight."
                )
        names = [str(c) for c in getattr(self, "feature_names_in_", range(Z.shape[1]))]
        self._warn_constant(Z, names)
        self._fit_encoded(Z, y01, sw)
        return self

    def predict_proba(self, X):
        """Probability of each class; column 1 is the (relative) probability of presence.

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        p = np.clip(self._proba_encoded(self._encode(X, reset=False)), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Class labels: ``classes_[1]`` where the probability of presence is ≥ 0.5."""
        proba = self.predict_proba(X)[:, 1]
        return self.classes_[(proba >= 0.5).astype(int)]

    # ------------------------------------------------------------------ weights
    def _class_weights(self, y01, sw):
        """Per-row weights combining ``presence_weight`` and ``sample_weight``.

        Scaled so that one presence of unit sample weight has weight 1.
        """
        pw = self.presence_weight
        if isinstance(pw, str):
            if pw != "balanced":
                raise ValueError(f"presence_weight must be 'balanced' or a float > 0, got {pw!r}.")
            background = sw[y01 == 1].sum() / sw[y01 == 0].sum()
        else:
            if not (isinstance(pw, numbers.Real) and np.isfinite(pw) and pw > 0):
                raise ValueError(f"presence_weight must be 'balanced' or a float > 0, got {pw!r}.")
            background = 1.0 / float(pw)
        return sw * np.where(y01 == 1, 1.0, background)


# =========================================================================== random forest


def _balanced_samples(seed, presence, background, n_background, n_trees, bootstrap_presences):
    """Row indices of every tree: (all or bootstrapped) presences + n_background background."""
    rng = np.random.default_rng(seed)
    bg = background[rng.integers(0, background.size, size=(n_trees, n_background))]
    if bootstrap_presences:
        pres = presence[rng.integers(0, presence.size, size=(n_trees, presence.size))]
    else:
        pres = np.broadcast_to(presence, (n_trees, presence.size))
    return np.concatenate([pres, bg], axis=1)


def _fit_tree(tree, Z, y01, sw, idx):
    # Z is validated float32 C-contiguous: skip scikit-learn's per-tree checks (they cost
    # more than growing a tree on a few hundred rows).
    with config_context(skip_parameter_validation=True, assume_finite=True):
        return tree.fit(
            Z[idx], y01[idx], sample_weight=None if sw is None else sw[idx], check_input=False
        )


def _tree_proba(tree, Z):
    with config_context(skip_parameter_validation=True):
        return tree.predict_proba(Z, check_input=False)[:, 1]


class DownsampledRandomForest(_SDMClassifier):
    """Down-sampled ("balanced") random forest of Valavi et al. (2022).

    Each tree is grown on all ``n`` presences plus a bootstrap sample (with
    replacement) of ``n`` background points, so every tree sees a balanced
    sample while the forest as a whole uses all of the background. This is the
    model that did best among single models in the disdat benchmark
    (R: ``randomForest(sampsize = c("0" = n, "1" = n), replace = TRUE)``).

    Why hand-written rather than ``RandomForestClassifier``: scikit-learn's
    forest draws one bootstrap of all rows per tree (``max_samples`` sets its
    size, ``class_weight="balanced_subsample"`` only re-weights it), so it cannot
    draw a fixed number of rows *per class*; imbalanced-learn's
    ``BalancedRandomForestClassifier`` balances by under-sampling too, but it is
    an extra dependency whose sampling defaults have changed between versions.
    Here each tree is a
    :class:`~sklearn.tree.DecisionTreeClassifier` fitted on its own balanced
    indices, in parallel threads with joblib (tree fitting releases the GIL).

    ``sample_weight`` multiplies the row weights inside each tree; rows are
    still drawn uniformly within their class, so (unlike in the linear models)
    a weight of 2 is not exactly a repeated row.

    Parameters
    ----------
    n_estimators : int
        Number of trees.
    max_features : {"sqrt", "log2"}, int, float or None
        Covariates tried at each split (R's ``mtry``); ``"sqrt"`` as in Valavi.
    min_samples_leaf : int
        Minimum rows in a leaf (R's ``nodesize``; 1 grows full trees).
    max_depth : int or None
    background_ratio : float
        Background points per tree as a multiple of the number of presences
        (1.0: as many background as presences).
    bootstrap_presences : bool
        False (default): every tree sees every presence once. True: presences
        are bootstrapped too, exactly like R's stratified ``sampsize`` with
        ``replace = TRUE`` used by Valavi et al.
    random_state : int, RandomState or None
        Seeds the per-tree samples and the trees.
    n_jobs : int or None
        Threads for fitting and predicting (joblib; None = 1).
    categorical : list of int or str, optional
        Categorical columns of a numpy ``X`` (DataFrames: ``category`` dtype is enough).
        Trees split on their ordinal codes (levels in ``categories_`` order).

    Attributes
    ----------
    estimators_ : list of DecisionTreeClassifier
    estimators_samples_ : list of ndarray
        Row indices each tree was grown on, into the rows of the fitted ``X``
        with positive ``sample_weight`` (all rows when no weights are given).
    classes_, categories_, categorical_features_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.models import DownsampledRandomForest
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(220, 3)); y = np.r_[np.ones(20), np.zeros(200)]
    >>> X[:20, 0] += 2
    >>> rf = DownsampledRandomForest(n_estimators=50, random_state=0).fit(X, y)
    >>> [len(s) for s in rf.estimators_samples_[:2]]  # 20 presences + 20 background
    [40, 40]
    >>> rf.predict_proba(X[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        n_estimators=500,
        max_features="sqrt",
        min_samples_leaf=1,
        max_depth=None,
        background_ratio=1.0,
        bootstrap_presences=False,
        random_state=None,
        n_jobs=None,
        categorical=None,
    ):
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.max_depth = max_depth
        self.background_ratio = background_ratio
        self.bootstrap_presences = bootstrap_presences
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.categorical = categorical

    def _fit_encoded(self, Z, y01, sw):
        from sklearn.tree import DecisionTreeClassifier

        if int(self.n_estimators) < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators!r}.")
        if not self.background_ratio > 0:
            raise ValueError(f"background_ratio must be > 0, got {self.background_ratio!r}.")
        rng = check_random_state(self.random_state)
        presence = np.flatnonzero(y01 == 1)
        background = np.flatnonzero(y01 == 0)
        n_bg = max(1, round(self.background_ratio * presence.size))
        n_trees = int(self.n_estimators)
        self._sampling_ = (
            int(rng.randint(np.iinfo(np.int32).max)),
            presence,
            background,
            n_bg,
            n_trees,
            bool(self.bootstrap_presences),
        )
        seeds = rng.randint(np.iinfo(np.int32).max, size=n_trees)
        trees = [
            DecisionTreeClassifier(
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                max_depth=self.max_depth,
                random_state=int(s),
            )
            for s in seeds
        ]
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        y64 = y01.astype(np.float64)
        sw = None if np.all(sw == 1.0) else sw
        self.estimators_ = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_tree)(tree, Z32, y64, sw, idx)
            for tree, idx in zip(trees, _balanced_samples(*self._sampling_))
        )

    @property
    def estimators_samples_(self):
        """Row indices (into the fitted rows) each tree was grown on, from the stored seed."""
        check_is_fitted(self)
        return list(_balanced_samples(*self._sampling_))

    def _proba_encoded(self, Z):
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_tree_proba)(t, Z32) for t in self.estimators_
        )
        return np.mean(parts, axis=0)


# =========================================================================== LightGBM


def _lgb_threads(n_jobs) -> int:
    """scikit-learn's n_jobs → LightGBM num_threads (None → 1, -1 → all cores)."""
    if n_jobs is None:
        return 1
    n_jobs = int(n_jobs)
    if n_jobs < 0:
        import os

        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, n_jobs)


class BoostedTrees(_SDMClassifier):
    """Gradient-boosted trees (LightGBM) with presence/background weighting.

    A binary LightGBM model on presences and background, with the background
    down-weighted (``presence_weight="balanced"``: presences and background
    carry the same total weight, as in Valavi et al. 2022's BRT). Categorical
    covariates use LightGBM's native categorical splits. The number of rounds
    is fixed (no early stopping): tune it by spatial cross-validation on the
    training data (:class:`~sdmkit.sdm.tuning.SpatialTuner`, or one long fit
    and :meth:`staged_predict_proba`).

    How the defaults were chosen. Fixed a priori from Valavi et al.'s
    ``gbm.step`` settings: 75 % row bagging, at least 10 rows per leaf
    (gbm's ``n.minobsinnode``), no L2 penalty on leaf values (gbm has none),
    balanced presence/background weights. Chosen by spatial block
    cross-validation inside the disdat *training* data only (presences vs
    held-out background; every second species × both background tracks, 226
    tasks; ``python
    benchmarks/disdat.py --select-brt``, table in
    ``benchmarks/results/disdat.json``): at learning rate 0.05, stumps
    (``num_leaves=2``, an additive model, like Valavi's ``tree.complexity = 1``
    for small samples) and 100 rounds had the highest mean held-out AUC among
    2, 6 or 16 leaves and 50–600 rounds. No presence–absence test data was
    used. (An earlier version's defaults had been changed after test AUCs of
    12 species were seen; they were discarded.)

    Parameters
    ----------
    n_estimators : int
        Boosting rounds.
    learning_rate : float
    num_leaves : int
        Maximum leaves per tree.
    min_child_samples : int
        Minimum rows in a leaf (LightGBM ``min_data_in_leaf``).
    subsample : float
        Fraction of rows drawn (without replacement) for each tree; 1.0 disables bagging.
    colsample_bytree : float
        Fraction of covariates tried by each tree.
    reg_lambda : float
        L2 penalty on leaf values.
    presence_weight : "balanced" or float
        See the module notes.
    random_state : int, RandomState or None
        Seeds bagging and feature sampling.
    n_jobs : int or None
        LightGBM threads, scikit-learn style: None = 1, -1 = all cores. One
        thread is the safe default: OpenMP threads spin-wait, so on a busy or
        small machine, or inside an already parallel loop (``predict_raster``'s
        dask chunks, cross-validation), more threads can be many times slower.
    categorical : list of int or str, optional
        Categorical columns of a numpy ``X``.

    Attributes
    ----------
    booster_ : lightgbm.Booster
    classes_, categories_, categorical_features_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.models import BoostedTrees
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3)); y = (X[:, 0] + rng.normal(size=300) > 1).astype(int)
    >>> bt = BoostedTrees(n_estimators=50, random_state=0).fit(X, y)
    >>> bt.predict_proba(X[:3]).shape
    (3, 2)
    """

    _waived_checks = {
        "check_sample_weight_equivalence_on_dense_data": (
            "LightGBM's row bagging (subsample < 1) draws rows and min_data_in_leaf counts "
            "rows, not weights, so a weight of 2 is not the same as a repeated row"
        ),
    }

    def __init__(
        self,
        n_estimators=100,
        learning_rate=0.05,
        num_leaves=2,
        min_child_samples=10,
        subsample=0.75,
        colsample_bytree=1.0,
        reg_lambda=0.0,
        presence_weight="balanced",
        random_state=None,
        n_jobs=None,
        categorical=None,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.presence_weight = presence_weight
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.categorical = categorical

    def _params(self):
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        bagging = float(self.subsample) < 1.0
        return {
            "objective": "binary",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if bagging else 0,
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l2": float(self.reg_lambda),
            "seed": seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": _lgb_threads(self.n_jobs),
            "verbose": -1,
        }

    def _fit_encoded(self, Z, y01, sw):
        import lightgbm as lgb

        if int(self.n_estimators) < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators!r}.")
        params = self._params()
        cat = [int(j) for j in self.categorical_features_]
        data = lgb.Dataset(
            Z,
            label=y01,
            weight=self._class_weights(y01, sw),
            categorical_feature=cat or "auto",
            params=params,
            free_raw_data=True,
        )
        self.booster_ = lgb.train(params, data, num_boost_round=int(self.n_estimators))

    def _proba_encoded(self, Z):
        return self.booster_.predict(Z, num_threads=self._params()["num_threads"])

    def staged_predict_proba(self, X, n_estimators):
        """Probability of presence after each of several numbers of boosting rounds.

        One fit with many rounds gives the predictions of every shorter fit
        (the first ``k`` trees), so the number of rounds can be tuned without
        refitting.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
        n_estimators : sequence of int
            Round counts, each between 1 and the fitted ``n_estimators``.

        Returns
        -------
        ndarray of shape (len(n_estimators), n_samples)
            Row ``k``: the probability of presence with the first
            ``n_estimators[k]`` trees.

        Examples
        --------
        >>> import numpy as np
        >>> from sdmkit.sdm.models import BoostedTrees
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] + rng.normal(size=300) > 1).astype(int)
        >>> bt = BoostedTrees(n_estimators=100, random_state=0).fit(X, y)
        >>> P = bt.staged_predict_proba(X[:5], [10, 100])
        >>> P.shape, bool(np.allclose(P[1], bt.predict_proba(X[:5])[:, 1]))
        ((2, 5), True)
        """
        check_is_fitted(self)
        counts = [int(k) for k in np.atleast_1d(n_estimators)]
        bad = [k for k in counts if not 1 <= k <= int(self.n_estimators)]
        if bad:
            raise ValueError(
                f"n_estimators {bad} are outside 1..{int(self.n_estimators)} (the rounds fitted)."
            )
        Z = self._encode(X, reset=False)
        threads = self._params()["num_threads"]
        return np.stack(
            [
                np.clip(self.booster_.predict(Z, num_iteration=k, num_threads=threads), 0.0, 1.0)
                for k in counts
            ]
        )


# =========================================================================== GLM and GAM


def _wstats(x, w):
    mean = np.average(x, axis=0, weights=w)
    sd = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    return mean, np.where(sd > 0, sd, 1.0)


class _PenalisedLogistic(_SDMClassifier):
    """Shared by GLM and SplineGAM: a design matrix, then L2 logistic regression."""

    def _one_hot(self, Z):
        blocks = []
        for j, levels in zip(self.categorical_features_, self.categories_.values()):
            codes = Z[:, j]
            block = np.zeros((Z.shape[0], len(levels)))
            ok = np.isfinite(codes)
            block[np.flatnonzero(ok), codes[ok].astype(int)] = 1.0
            blocks.append(block)
        return blocks

    def _numeric_columns(self):
        return [j for j in range(self.n_features_in_) if j not in set(self.categorical_features_)]

    def _fit_encoded(self, Z, y01, sw):
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(self.C, numbers.Real) and self.C > 0):
            raise ValueError(f"C must be a float > 0, got {self.C!r}.")
        num = self._numeric_columns()
        self._active_ = [j for j in num if np.ptp(Z[:, j]) > 0]
        self._fit_design(Z, sw)
        D = self._design(Z)
        self.logistic_ = LogisticRegression(
            C=float(self.C),
            solver="newton-cholesky",
            max_iter=int(self.max_iter),
            tol=float(self.tol),
        )
        self.logistic_.fit(D, y01, sample_weight=self._class_weights(y01, sw))
        self.n_iter_ = int(np.max(self.logistic_.n_iter_))
        self.coef_ = self.logistic_.coef_[0]
        self.intercept_ = float(self.logistic_.intercept_[0])

    def _proba_encoded(self, Z):
        return self.logistic_.predict_proba(self._design(Z))[:, 1]

    def _design(self, Z):
        blocks = self._numeric_design(Z) + self._one_hot(Z)
        return np.hstack(blocks) if blocks else np.zeros((Z.shape[0], 1))


class GLM(_PenalisedLogistic):
    """Penalised logistic regression on standardised covariates and their squares.

    Valavi et al. (2022)'s GLM baseline with linear + quadratic terms, fitted
    with an L2 (ridge) penalty instead of stepwise selection. Numeric
    covariates are standardised (mean 0, sd 1, weighted by ``sample_weight``);
    with ``quadratic=True`` their squares are added (and standardised too).
    Categorical covariates are one-hot encoded (every level, no reference level:
    the penalty keeps the fit identifiable).

    Parameters
    ----------
    quadratic : bool
        Add squared terms (a bell-shaped response per covariate).
    C : float
        Inverse L2 penalty strength (scikit-learn convention: larger = weaker).
    presence_weight : "balanced" or float
        See the module notes.
    max_iter, tol : lbfgs settings.
    categorical : list of int or str, optional
        Categorical columns of a numpy ``X``.

    Attributes
    ----------
    coef_ : ndarray
        Coefficients on the design columns (linear, squares, one-hot levels).
    intercept_ : float
    logistic_ : sklearn.linear_model.LogisticRegression
    classes_, categories_, categorical_features_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.models import GLM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (rng.random(400) < np.exp(-X[:, 0] ** 2)).astype(int)
    >>> glm = GLM().fit(X, y)
    >>> bool(glm.predict_proba([[0.0, 0.0]])[0, 1] > glm.predict_proba([[2.5, 0.0]])[0, 1])
    True
    """

    def __init__(
        self,
        quadratic=True,
        C=1.0,
        presence_weight="balanced",
        max_iter=1000,
        tol=1e-6,
        categorical=None,
    ):
        self.quadratic = quadratic
        self.C = C
        self.presence_weight = presence_weight
        self.max_iter = max_iter
        self.tol = tol
        self.categorical = categorical

    def _fit_design(self, Z, sw):
        X = Z[:, self._active_]
        self._mean_, self._sd_ = _wstats(X, sw)
        if self.quadratic:
            self._mean2_, self._sd2_ = _wstats(((X - self._mean_) / self._sd_) ** 2, sw)

    def _numeric_design(self, Z):
        if not self._active_:
            return []
        S = (Z[:, self._active_] - self._mean_) / self._sd_
        out = [S]
        if self.quadratic:
            out.append((S**2 - self._mean2_) / self._sd2_)
        return out


class SplineGAM(_PenalisedLogistic):
    """GAM-like logistic regression: a penalised B-spline (P-spline) per covariate.

    Each numeric covariate gets a cubic B-spline basis with knots at its
    (weighted) quantiles (:class:`sklearn.preprocessing.SplineTransformer`), so
    the model is additive: ``logit p = a + Σ_k f_k(x_k) + level effects``. The
    smoothness penalty is the P-spline one (Eilers & Marx): the basis is
    re-parameterised so that an L2 penalty on the new coefficients equals a
    penalty on the ``penalty_order``-th differences of the spline
    coefficients, plus a light ridge on the linear part. Hence ``C`` is a
    wiggliness knob: small ``C`` gives near-linear responses, large ``C``
    wiggly ones. Categorical covariates are one-hot encoded.

    Outside the training range the response is held flat
    (``extrapolation="constant"``, like MaxEnt's clamping) unless
    ``extrapolation="linear"``.

    Parameters
    ----------
    n_knots : int
        Knots per covariate (at quantiles; duplicates merged). Covariates with
        fewer than 3 distinct values get a linear term only.
    degree : int
        Spline degree (3: cubic).
    C : float
        Inverse smoothing penalty.
    penalty_order : int
        Order of the difference penalty (2: penalise curvature).
    extrapolation : {"constant", "linear"}
    presence_weight : "balanced" or float
    max_iter, tol : lbfgs settings.
    categorical : list of int or str, optional

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.models import SplineGAM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(500, 1))
    >>> y = (rng.random(500) < np.exp(-X[:, 0] ** 2)).astype(int)
    >>> gam = SplineGAM(n_knots=8).fit(X, y)
    >>> p = gam.predict_proba([[-2.5], [0.0], [2.5]])[:, 1]
    >>> bool(p[1] > p[0] and p[1] > p[2])
    True
    """

    def __init__(
        self,
        n_knots=6,
        degree=3,
        C=1.0,
        penalty_order=2,
        extrapolation="constant",
        presence_weight="balanced",
        max_iter=1000,
        tol=1e-6,
        categorical=None,
    ):
        self.n_knots = n_knots
        self.degree = degree
        self.C = C
        self.penalty_order = penalty_order
        self.extrapolation = extrapolation
        self.presence_weight = presence_weight
        self.max_iter = max_iter
        self.tol = tol
        self.categorical = categorical

    def _fit_design(self, Z, sw):
        from sklearn.preprocessing import SplineTransformer

        if self.extrapolation not in ("constant", "linear"):
            raise ValueError(
                f"extrapolation must be 'constant' or 'linear', got {self.extrapolation!r}."
            )
        if int(self.n_knots) < 2:
            raise ValueError(f"n_knots must be >= 2, got {self.n_knots!r}.")
        self._splines_ = []
        q = np.linspace(0.0, 1.0, int(self.n_knots))
        for j in self._active_:
            x = Z[:, j]
            knots = np.unique(np.quantile(x, q, weights=sw, method="inverted_cdf"))
            if knots.size < 3:
                mean, sd = _wstats(x[:, None], sw)
                self._splines_.append(("linear", (mean, sd)))
                continue
            st = SplineTransformer(
                knots=knots[:, None],
                degree=int(self.degree),
                extrapolation=self.extrapolation,
                include_bias=True,
            )
            B = st.fit_transform(x[:, None])
            K = B.shape[1]
            order = min(int(self.penalty_order), K - 1)
            Dm = np.diff(np.eye(K), n=order, axis=0)
            T = Dm.T @ np.linalg.inv(Dm @ Dm.T)  # ridge on alpha == difference penalty on beta
            idx = np.arange(K, dtype=float)
            lin = (idx - idx.mean()) / idx.std()  # null space direction: linear in the index
            basis = np.column_stack([lin, T])
            F = B @ basis
            mean = np.average(F, axis=0, weights=sw)
            self._splines_.append(("spline", (st, basis, mean)))

    def _numeric_design(self, Z):
        out = []
        for j, (kind, params) in zip(self._active_, self._splines_):
            x = Z[:, j]
            if kind == "linear":
                mean, sd = params
                out.append((x[:, None] - mean) / sd)
            else:
                st, basis, mean = params
                out.append(st.transform(x[:, None]) @ basis - mean)
        return out


# =========================================================================== ensemble


class Ensemble(_BinaryTabularTags, ClassifierMixin, BaseEstimator):
    """Weighted mean of the members' rank-normalised predictions (biomod2 / Valavi style).

    Each member is cloned and fitted on the same data. At prediction, each
    member's probability of presence is normalised and the ensemble returns
    their weighted mean:

    * ``normalize="rank"``: ``rank / n`` within the rows being predicted
      (ties share their mean rank). Rank normalisation puts members on one
      scale but makes every prediction *relative to the prediction set*: the
      same site gets a different value in a different set, and predicting a
      subset is not the subset of the prediction. Use it to evaluate on a fixed
      test set (AUC only needs the ordering), not for maps.
    * ``normalize="reference"``: the fraction of the member's predictions on
      the training rows (mostly background) that lie below the value — a fixed
      empirical CDF, so predictions do not depend on what else is predicted.
      Use this for :func:`sdmkit.predict.predict_raster` (chunked maps).
    * ``normalize="none"``: the raw probabilities.

    Parameters
    ----------
    members : list of (str, estimator)
        Named binary classifiers with ``predict_proba``.
    weights : list of float, optional
        Non-negative member weights (normalised to sum 1); default equal.
    normalize : {"rank", "reference", "none"}
    random_state : int, RandomState or None
        If given, each member with a ``random_state`` parameter gets its own
        seed drawn from it (otherwise members keep theirs).

    Attributes
    ----------
    estimators_ : dict
        Fitted members by name.
    reference_ : dict
        Sorted training predictions of each member (used by ``"reference"``).
    classes_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.models import GLM, DownsampledRandomForest, Ensemble
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2)); y = (X[:, 0] + rng.normal(size=300) > 1).astype(int)
    >>> ens = Ensemble([("glm", GLM()),
    ...                 ("rf", DownsampledRandomForest(n_estimators=50))], random_state=0)
    >>> p = ens.fit(X, y).predict_proba(X)[:, 1]
    >>> bool(0 < p.min() and p.max() <= 1)
    True
    """

    _waived_checks = {
        "check_methods_subset_invariance": (
            "normalize='rank' ranks predictions within the prediction set, so a subset's "
            "prediction is not the subset of the prediction (use normalize='reference')"
        ),
    }

    def __init__(self, members, weights=None, normalize="rank", random_state=None):
        self.members = members
        self.weights = weights
        self.normalize = normalize
        self.random_state = random_state

    def _checked_members(self):
        if not isinstance(self.members, (list, tuple)) or not self.members:
            raise ValueError(
                "members must be a non-empty list of (name, estimator) pairs, e.g. "
                "[('glm', GLM()), ('rf', DownsampledRandomForest())]."
            )
        names = []
        for item in self.members:
            if not (
                isinstance(item, (list, tuple))
                and len(item) == 2
                and isinstance(item[0], str)
                and hasattr(item[1], "predict_proba")
            ):
                raise ValueError(
                    f"Each member must be a (name, estimator with predict_proba) pair; "
                    f"got {item!r}."
                )
            names.append(item[0])
        if len(set(names)) != len(names):
            raise ValueError(f"Member names must be unique; got {names}.")
        if self.normalize not in ("rank", "reference", "none"):
            raise ValueError(
                f"normalize must be 'rank', 'reference' or 'none', got {self.normalize!r}."
            )
        w = np.ones(len(names)) if self.weights is None else np.asarray(self.weights, float)
        if w.shape != (len(names),) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() == 0:
            raise ValueError(
                f"weights must be {len(names)} non-negative numbers, not all zero; got "
                f"{self.weights!r}."
            )
        return names, w / w.sum()

    def _validate(self, X, *, reset):
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X
        # dtype=None keeps categorical labels (object arrays) for the members
        return validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)

    def fit(self, X, y, sample_weight=None, coords=None):
        """Fit every member (a clone) on ``X``, ``y``; returns self.

        ``coords`` (an (n, 2) array of x, y), if given, goes to the members
        whose ``fit`` takes it (e.g. :class:`~sdmkit.sdm.tuning.SpatialTuner`).
        """
        names, w = self._checked_members()
        X = self._validate(X, reset=True)
        self.classes_, _ = _check_binary_y(self, y, X.shape[0])
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        rng = None if self.random_state is None else check_random_state(self.random_state)
        self.estimators_ = {}
        self.reference_ = {}
        for name, est in self.members:
            est = clone(est)
            if rng is not None and "random_state" in est.get_params():
                est.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
            kw = {} if sample_weight is None else {"sample_weight": sample_weight}
            if coords is not None and "coords" in inspect.signature(est.fit).parameters:
                kw["coords"] = coords
            est.fit(X, y, **kw)
            if not np.array_equal(est.classes_, self.classes_):
                raise ValueError(
                    f"Member {name!r} has classes {est.classes_}, not {self.classes_}."
                )
            self.estimators_[name] = est
            if self.normalize == "reference":
                self.reference_[name] = np.sort(est.predict_proba(X)[:, 1])
        self.weights_ = w
        return self

    def member_predictions(self, X) -> pd.DataFrame:
        """Each member's (un-normalised) probability of presence, one column per member."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(
            {name: est.predict_proba(X)[:, 1] for name, est in self.estimators_.items()},
            index=index,
        )

    def _normalise(self, name, p):
        from scipy.stats import rankdata

        if self.normalize == "rank":
            return rankdata(p) / p.size
        if self.normalize == "reference":
            ref = self.reference_[name]
            # values within 1e-12 count as ties, so floating-point noise from predicting in
            # different batches (e.g. raster chunks) cannot move a value past a tied reference
            lo = np.searchsorted(ref, p - 1e-12, side="left")
            hi = np.searchsorted(ref, p + 1e-12, side="right")
            return (lo + hi) / (2.0 * ref.size)
        return p

    def predict_proba(self, X):
        """Weighted mean of the normalised member predictions; shape (n_samples, 2)."""
        preds = self.member_predictions(X)
        q = sum(
            w * self._normalise(name, preds[name].to_numpy())
            for name, w in zip(preds.columns, self.weights_)
        )
        q = np.clip(np.asarray(q, dtype=float), 0.0, 1.0)
        return np.column_stack([1.0 - q, q])

    def predict(self, X):
        """``classes_[1]`` where the ensemble score is ≥ 0.5."""
        proba = self.predict_proba(X)[:, 1]
        return self.classes_[(proba >= 0.5).astype(int)]
