"""Yield models: baselines, trend-residual regressors, predictive distributions, shortfall.

Every model is a scikit-learn style regressor on a *design frame* ``X``: one
row per region and season with ``adm_id`` (str), ``harvest_year`` (int) and
feature columns (one of them the region's trend yield, ``trend``, from
:class:`~sdmkit.forecast.yield_features.TrendEstimator`).

* :class:`AverageYieldModel` — the region's mean training yield (CY-Bench's
  average-yield baseline);
* :class:`TrendModel` — a per-region linear trend (CY-Bench-like baseline, or
  any :class:`~sdmkit.forecast.yield_features.TrendEstimator` setting);
* :class:`BlendedBaseline` — a convex blend of baselines, weights chosen by
  leave-one-season-out on the training seasons (a base for residual models);
* :class:`ResidualRegressor` — ridge, LightGBM or any regressor on the yield,
  on its difference from the trend, or on its ratio to the trend;
* :class:`ResidualDistribution` and :class:`YieldStressForecaster` — a
  predictive distribution ``y = ŷ (1 + e)`` with the relative errors ``e``
  taken from out-of-fold (leave-one-season-out) predictions, normal or
  empirical, pooled or with one scale per group (e.g. region); quantiles and
  the *shortfall probability* ``P(y < (1 − threshold) × trend)``;
* :func:`select_residual_distribution` — choose that distribution by the
  leave-one-season-out Brier score of its shortfall probabilities;
* :func:`oof_predict`, :func:`blend_weights` — out-of-fold predictions grouped by
  season, and convex blend weights chosen on them.

The Fourier network (torch) is :class:`sdmkit.forecast.spectral.FourierNetRegressor`,
with the same interface.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone

from .._validation import ValidationError, _show
from .panel import QUANTILES
from .yield_features import TrendEstimator

__all__ = [
    "AverageYieldModel",
    "BlendedBaseline",
    "ResidualDistribution",
    "ResidualRegressor",
    "TrendModel",
    "YieldStressForecaster",
    "blend_weights",
    "feature_columns",
    "oof_predict",
    "select_residual_distribution",
]

KEYS = ["adm_id", "harvest_year"]
_LGBM_DEFAULTS = dict(
    n_estimators=250,
    learning_rate=0.05,
    num_leaves=15,
    min_child_samples=40,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.7,
    verbose=-1,
    n_jobs=1,
)


def _keys(X) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(
            f"X must be a pandas.DataFrame with adm_id and harvest_year, got {type(X).__name__}."
        )
    missing = [c for c in KEYS if c not in X.columns]
    if missing:
        raise ValidationError(f"X lacks columns {missing}; it has {list(X.columns)[:12]}…")
    return X[KEYS].reset_index(drop=True)


def _target(y, n) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if y.shape[0] != n:
        raise ValidationError(f"y has {y.shape[0]} values for {n} rows of X.")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValidationError(f"y has NaN/inf at positions {_show(bad)}; drop those seasons.")
    return y


def feature_columns(X: pd.DataFrame, exclude=()) -> list[str]:
    """Numeric, bool and category columns of ``X`` other than the keys and ``exclude``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_models import feature_columns
    >>> feature_columns(pd.DataFrame({"adm_id": ["a"], "harvest_year": [2000], "x": [1.0],
    ...                               "s": ["u"]}))
    ['x']
    """
    out = []
    for c in X.columns:
        if c in KEYS or c in exclude:
            continue
        d = X[c].dtype
        if (
            isinstance(d, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(d)
            or (pd.api.types.is_numeric_dtype(d))
        ):
            out.append(c)
    return out


# =========================================================================== baselines


class AverageYieldModel(RegressorMixin, BaseEstimator):
    """Each region's mean training yield (all regions' mean for a region not seen).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_models import AverageYieldModel
    >>> X = pd.DataFrame({"adm_id": ["a", "a", "b"], "harvest_year": [2000, 2001, 2000]})
    >>> m = AverageYieldModel().fit(X, [8.0, 10.0, 6.0])
    >>> m.predict(pd.DataFrame({"adm_id": ["a", "c"], "harvest_year": [2002, 2002]})).tolist()
    [9.0, 8.0]
    """

    def fit(self, X, y):
        """Learn the region means. Returns self."""
        k = _keys(X)
        y = _target(y, len(k))
        self.means_ = pd.Series(y).groupby(k["adm_id"].astype(str).to_numpy()).mean()
        self.global_ = float(y.mean())
        return self

    def predict(self, X) -> np.ndarray:
        """Region mean for each row of ``X``."""
        k = _keys(X)
        return self.means_.reindex(k["adm_id"].astype(str)).fillna(self.global_).to_numpy(float)


class TrendModel(RegressorMixin, BaseEstimator):
    """Per-region trend yield as a model (the linear-trend baseline by default).

    By default an OLS line per region through its training seasons (both
    sides of the target year, ``causal=False``, as CY-Bench's trend baseline in
    leave-one-year-out), the region's mean when it has fewer than
    ``min_years`` seasons. Other settings: see
    :class:`~sdmkit.forecast.yield_features.TrendEstimator`.

    Parameters
    ----------
    method, min_years, window, shrinkage, decay, level, slope_prior, causal
        Passed to :class:`~sdmkit.forecast.yield_features.TrendEstimator`.
    history : pandas.DataFrame, optional
        ``adm_id, harvest_year, yield`` to estimate trends from instead of the
        training rows (e.g. :func:`~sdmkit.forecast.yield_features.yield_history`
        of the training table, which includes the yields the lag features give).

    Notes
    -----
    Columns ``yield-1`` … of ``X`` at predict time, if present, are used as the
    yields of the years just before each target (see ``TrendEstimator.predict``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_models import TrendModel
    >>> X = pd.DataFrame({"adm_id": "a", "harvest_year": range(2000, 2006)})
    >>> m = TrendModel().fit(X, [5.0, 5.5, 6.0, 6.5, 7.0, 7.5])
    >>> m.predict(pd.DataFrame({"adm_id": ["a"], "harvest_year": [2006]})).round(3).tolist()
    [8.0]
    """

    def __init__(
        self,
        method="ols",
        *,
        min_years=5,
        window=None,
        shrinkage=0.0,
        decay=1.0,
        level="mean",
        slope_prior=None,
        causal=False,
        history=None,
    ):
        self.method = method
        self.min_years = min_years
        self.window = window
        self.shrinkage = shrinkage
        self.decay = decay
        self.level = level
        self.slope_prior = slope_prior
        self.causal = causal
        self.history = history

    def _estimator(self) -> TrendEstimator:
        return TrendEstimator(**{k: getattr(self, k) for k in TrendEstimator._PARAMS})

    def fit(self, X, y):
        """Store the yield history. Returns self."""
        k = _keys(X)
        y = _target(y, len(k))
        hist = self.history if self.history is not None else k.assign(**{"yield": y})
        self.trend_ = self._estimator().fit(hist)
        return self

    def predict(self, X) -> np.ndarray:
        """Trend yield of each row of ``X``."""
        k = _keys(X)
        lags = [c for c in X.columns if str(c).startswith("yield-")]
        recent = X[lags].reset_index(drop=True) if lags else None
        return self.trend_.predict(k, recent=recent)


class BlendedBaseline(RegressorMixin, BaseEstimator):
    """Convex blend of baselines with weights chosen by leave-one-season-out on training rows.

    ``fit`` computes each baseline's leave-one-season-out predictions over the
    training seasons, picks the convex weights that minimise their squared
    error (:func:`blend_weights`), and refits the baselines on every training
    row. ``oof_`` holds the blended out-of-fold predictions of the training
    rows — the base a residual model should learn from (it never contains a
    row's own season).

    Parameters
    ----------
    models : dict of str to regressor, optional
        Default ``{"average": AverageYieldModel(), "trend": TrendModel()}``.
    step : float
        Grid spacing of the weights.

    Attributes
    ----------
    weights_ : dict
    oof_ : numpy.ndarray

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sdmkit.forecast.yield_models import BlendedBaseline
    >>> X = pd.DataFrame({"adm_id": "a", "harvest_year": range(2000, 2012)})
    >>> y = 8.0 + 0.2 * np.arange(12)
    >>> BlendedBaseline().fit(X, y).weights_
    {'average': 0.0, 'trend': 1.0}
    """

    def __init__(self, models=None, *, step: float = 0.1):
        self.models = models
        self.step = step

    def fit(self, X, y):
        """Choose the weights and refit the baselines. Returns self."""
        k = _keys(X)
        y = _target(y, len(k))
        models = self.models or {"average": AverageYieldModel(), "trend": TrendModel()}
        oof = {name: oof_predict(m, X, y) for name, m in models.items()}
        self.weights_ = blend_weights(y, oof, step=self.step)
        self.oof_ = sum(self.weights_[n] * oof[n] for n in models)
        self.models_ = {n: clone(m).fit(X, y) for n, m in models.items() if self.weights_[n] > 0}
        return self

    def predict(self, X) -> np.ndarray:
        """Blended baseline prediction (t/ha)."""
        return sum(self.weights_[n] * m.predict(X) for n, m in self.models_.items())


# =========================================================================== residual regressors


class ResidualRegressor(RegressorMixin, BaseEstimator):
    """A regressor on the yield, its difference from the trend, or its ratio to it.

    Parameters
    ----------
    estimator : {"lightgbm", "ridge"} or scikit-learn regressor
        ``"lightgbm"``: :class:`lightgbm.LGBMRegressor` (defaults: 250 trees,
        learning rate 0.05, 15 leaves, 40 rows per leaf, row and column
        subsampling, ``n_jobs=1``; override with ``params``). ``"ridge"``:
        mean imputation, standardisation and ridge regression, category
        columns one-hot encoded; alpha (``params["alpha"]`` to fix it) is
        chosen among ``params["alphas"]`` (default ``logspace(-2, 5, 29)``) by
        leave-one-season-out over the training rows' harvest years
        (``params["cv"] = "year"``, the default with at least 3 years — rows
        of one season share its weather, so row-wise leave-one-out would
        under-regularise) or by efficient row-wise leave-one-out
        (``"rows"``, :class:`~sklearn.linear_model.RidgeCV`).
    target : {"difference", "ratio", "yield"}
        Fit ``y − trend``, ``y / trend − 1`` or ``y`` itself.
    trend : str
        Column of ``X`` with the trend yield (needed unless ``target="yield"``).
    features : list of str, optional
        Default :func:`feature_columns` of ``X`` (the trend column included).
    params : dict, optional
        Estimator parameters.
    random_state : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sdmkit.forecast.yield_models import ResidualRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"adm_id": "a", "harvest_year": np.arange(60), "trend": 8.0,
    ...                   "heat": rng.normal(size=60)})
    >>> y = 8.0 - 0.5 * X["heat"] + rng.normal(0, 0.1, 60)
    >>> m = ResidualRegressor("ridge", features=["heat"]).fit(X, y)
    >>> bool(abs(m.predict(X.iloc[:1])[0] - y[0]) < 0.5)
    True
    """

    def __init__(
        self,
        estimator="lightgbm",
        *,
        target="difference",
        trend="trend",
        features=None,
        params=None,
        random_state=0,
    ):
        self.estimator = estimator
        self.target = target
        self.trend = trend
        self.features = features
        self.params = params
        self.random_state = random_state

    def _make(self, p=None):
        p = dict(self.params or {}) if p is None else dict(p)
        p.pop("cv", None)
        if isinstance(self.estimator, str):
            if self.estimator == "lightgbm":
                import lightgbm as lgb

                return lgb.LGBMRegressor(
                    **{**_LGBM_DEFAULTS, "random_state": self.random_state, **p}
                )
            if self.estimator == "ridge":
                from sklearn.impute import SimpleImputer
                from sklearn.linear_model import Ridge, RidgeCV
                from sklearn.pipeline import make_pipeline
                from sklearn.preprocessing import StandardScaler

                if "alpha" in p:
                    reg = Ridge(alpha=p["alpha"])
                else:
                    reg = RidgeCV(alphas=p.get("alphas", _RIDGE_ALPHAS))
                return make_pipeline(
                    SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(), reg
                )
            raise ValueError(
                f"estimator must be 'lightgbm', 'ridge' or a regressor, got {self.estimator!r}."
            )
        return clone(self.estimator).set_params(**p) if p else clone(self.estimator)

    def _design(self, X: pd.DataFrame, fit: bool) -> pd.DataFrame:
        if fit:
            self.features_ = (
                list(self.features) if self.features is not None else (feature_columns(X))
            )
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise ValidationError(f"X lacks feature columns {missing}.")
        D = X[self.features_].reset_index(drop=True)
        cats = [c for c in D.columns if isinstance(D[c].dtype, pd.CategoricalDtype)]
        if self.estimator == "ridge" and cats:
            if fit:
                self.categories_ = {c: list(D[c].cat.categories) for c in cats}
            parts = [D.drop(columns=cats).astype(float)]
            for c in cats:
                for level in self.categories_[c]:
                    parts.append(
                        (D[c].astype(object) == level).astype(float).rename(f"{c}={level}")
                    )
            D = pd.concat(parts, axis=1)
        elif cats:
            if fit:
                self.categories_ = {c: list(D[c].cat.categories) for c in cats}
            for c in cats:
                D[c] = pd.Categorical(D[c].astype(object), categories=self.categories_[c])
        return D

    def _trend(self, X) -> np.ndarray:
        if self.target == "yield":
            return np.zeros(len(X))
        if self.trend not in X.columns:
            raise ValidationError(
                f"target={self.target!r} needs the trend yield in column {self.trend!r} of X."
            )
        t = X[self.trend].to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(t) | ((t <= 0) if self.target == "ratio" else False))
        if bad.size:
            raise ValidationError(
                f"trend column {self.trend!r} has NaN/inf{' or non-positive' if self.target == 'ratio' else ''} "
                f"values at rows {_show(bad)}."
            )
        return t

    def fit(self, X, y):
        """Fit on the design frame ``X`` and yields ``y``. Returns self."""
        if self.target not in ("difference", "ratio", "yield"):
            raise ValueError(
                f"target must be 'difference', 'ratio' or 'yield', got {self.target!r}."
            )
        k = _keys(X)
        y = _target(y, len(k))
        t = self._trend(X)
        z = {"difference": y - t, "ratio": y / np.where(t > 0, t, 1.0) - 1.0, "yield": y}[
            self.target
        ]
        D = self._design(X, True)
        p = dict(self.params or {})
        years = X["harvest_year"].to_numpy()
        self.alpha_ = p.get("alpha")
        if (
            self.estimator == "ridge"
            and "alpha" not in p
            and p.get("cv", "year") == "year"
            and len(np.unique(years)) >= 3
        ):
            self.alpha_, self.cv_scores_ = _ridge_alpha_by_year(
                D, z, years, np.asarray(p.get("alphas", _RIDGE_ALPHAS), dtype=float)
            )
            p["alpha"] = self.alpha_
        self.model_ = self._make(p).fit(D, z)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted yield (t/ha) of each row of ``X``."""
        t = self._trend(X)
        z = np.asarray(self.model_.predict(self._design(X, False)), dtype=float)
        return {"difference": t + z, "ratio": t * (1.0 + z), "yield": z}[self.target]


_RIDGE_ALPHAS = np.logspace(-2, 5, 29)


def _ridge_alpha_by_year(D: pd.DataFrame, z: np.ndarray, years: np.ndarray, alphas: np.ndarray):
    """Alpha of a standardised ridge chosen by leave-one-year-out squared error (SVD path)."""
    A = D.to_numpy(float)
    with np.errstate(all="ignore"):
        mu = np.nanmean(A, axis=0)
    mu = np.where(np.isfinite(mu), mu, 0.0)
    A = np.where(np.isfinite(A), A, mu)
    sd = A.std(axis=0)
    A = (A - A.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    sse = np.zeros(len(alphas))
    for g in np.unique(years):
        te = years == g
        Xt, zt = A[~te], z[~te]
        xm, zm = Xt.mean(axis=0), zt.mean()
        U, sv, Vt = np.linalg.svd(Xt - xm, full_matrices=False)
        uz = U.T @ (zt - zm)
        P = (A[te] - xm) @ Vt.T
        for i, a in enumerate(alphas):
            pred = zm + P @ (sv / (sv**2 + a) * uz)
            sse[i] += float(np.sum((z[te] - pred) ** 2))
    best = int(np.argmin(sse))
    return float(alphas[best]), dict(zip(np.round(alphas, 6).tolist(), (sse / len(z)).tolist()))


# =========================================================================== out-of-fold and blends


def oof_predict(model, X: pd.DataFrame, y, *, groups=None, cv=None) -> np.ndarray:
    """Out-of-fold predictions, folds grouped by season (leave-one-year-out by default).

    Parameters
    ----------
    model : regressor
        Cloned for every fold.
    X : pandas.DataFrame
    y : array-like
    groups : array-like, optional
        Default ``X["harvest_year"]``.
    cv : int or None
        None: one fold per group (leave-one-season-out); an int ``k``: ``k``
        contiguous blocks of groups.

    Returns
    -------
    numpy.ndarray
        One prediction per row, each from a model that did not see its group.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_models import AverageYieldModel, oof_predict
    >>> X = pd.DataFrame({"adm_id": "a", "harvest_year": [2000, 2001, 2002]})
    >>> oof_predict(AverageYieldModel(), X, [1.0, 2.0, 3.0]).tolist()
    [2.5, 2.0, 1.5]
    """
    k = _keys(X)
    y = _target(y, len(k))
    g = np.asarray(k["harvest_year"] if groups is None else groups)
    uniq = np.unique(g)
    if len(uniq) < 2:
        raise ValidationError("Out-of-fold predictions need at least two seasons (groups).")
    blocks = (
        [[u] for u in uniq]
        if cv is None
        else [list(b) for b in np.array_split(uniq, int(cv)) if len(b)]
    )
    out = np.full(len(k), np.nan)
    Xr = X.reset_index(drop=True)
    for b in blocks:
        test = np.isin(g, b)
        m = clone(model).fit(Xr[~test], y[~test])
        out[test] = m.predict(Xr[test])
    return out


def blend_weights(y, preds: dict, *, step: float = 0.1) -> dict:
    """Convex blend weights minimising the squared error of out-of-fold predictions.

    Grid search over the simplex with spacing ``step`` (ties go to the first
    model listed). Choose them on out-of-fold predictions of training seasons.

    Examples
    --------
    >>> from sdmkit.forecast.yield_models import blend_weights
    >>> blend_weights([1.0, 2.0], {"a": [1.0, 2.0], "b": [2.0, 1.0]})
    {'a': 1.0, 'b': 0.0}
    """
    y = np.asarray(y, dtype=float)
    names = list(preds)
    P = np.column_stack([np.asarray(preds[n], dtype=float) for n in names])
    n = int(round(1 / step))
    best, best_w = np.inf, None
    for c in itertools.product(range(n + 1), repeat=len(names) - 1):
        if sum(c) > n:
            continue
        w = np.array([*c, n - sum(c)], dtype=float)[::-1] / n
        err = float(np.mean((P @ w - y) ** 2))
        if err < best - 1e-12:
            best, best_w = err, w
    return {k: round(float(v), 6) for k, v in zip(names, best_w)}


# =========================================================================== distributions


class ResidualDistribution:
    """Predictive distribution ``y = ŷ (1 + e)`` from out-of-fold relative errors.

    The relative errors ``e = y / ŷ − 1`` of out-of-fold predictions define
    the spread. Pooled (``groups`` not given to :meth:`fit`): ``e ~ N(mean(e),
    sd(e))`` or the empirical distribution of ``e``. With ``groups`` (e.g. the
    region of each row): a location-scale model ``e = loc + s_g z`` with one
    scale per group, ``s_g² = (SS_g + k s²) / (n_g + k)`` (``SS_g``: the
    group's sum of squared deviations from ``loc``, ``n_g`` its rows, ``s``
    the pooled sd, ``k = shrinkage``), and ``z`` standard normal or the
    empirical distribution of the standardised errors. Groups not seen in
    :meth:`fit` (or no groups at prediction time) get the pooled scale.

    Parameters
    ----------
    kind : {"normal", "empirical"}
        ``z`` normal, or the empirical distribution (linear interpolation
        between order statistics, clipped at the extremes).
    shrinkage : float
        ``k`` above: prior weight, in rows, of the pooled scale in each
        group's scale (only used with ``groups``).

    Attributes
    ----------
    errors_ : numpy.ndarray
        Sorted relative errors.
    loc_, scale_ : float
        Their mean and standard deviation.
    group_scale_ : pandas.Series or None
        Scale per group (with ``groups``).

    Examples
    --------
    >>> from sdmkit.forecast.yield_models import ResidualDistribution
    >>> d = ResidualDistribution().fit([9.0, 11.0, 10.0, 10.0], [10.0, 10.0, 10.0, 10.0])
    >>> round(float(d.cdf([10.0], [9.0])[0]), 3)
    0.11
    >>> g = ResidualDistribution(shrinkage=0.0).fit(
    ...     [9.0, 11.0, 9.9, 10.1], [10.0] * 4, groups=["a", "a", "b", "b"])
    >>> g.group_scale_.round(3).to_dict()
    {'a': 0.1, 'b': 0.01}
    """

    def __init__(self, kind: str = "normal", *, shrinkage: float = 10.0):
        self.kind = kind
        self.shrinkage = shrinkage

    def fit(self, y, oof_pred, groups=None) -> ResidualDistribution:
        """Learn the relative errors ``y / oof_pred − 1`` (and per-group scales). Returns self."""
        if self.kind not in ("normal", "empirical"):
            raise ValueError(f"kind must be 'normal' or 'empirical', got {self.kind!r}.")
        if not (np.isfinite(self.shrinkage) and self.shrinkage >= 0):
            raise ValueError(f"shrinkage must be a finite number >= 0, got {self.shrinkage!r}.")
        y = np.asarray(y, dtype=float).ravel()
        p = np.asarray(oof_pred, dtype=float).ravel()
        if y.shape != p.shape:
            raise ValidationError(f"y has {y.size} values, oof_pred {p.size}.")
        ok = np.isfinite(y) & np.isfinite(p) & (p > 0)
        if ok.sum() < 3:
            raise ValidationError("ResidualDistribution needs at least 3 finite out-of-fold pairs.")
        e = y[ok] / p[ok] - 1.0
        self.errors_ = np.sort(e)
        self.loc_ = float(e.mean())
        self.scale_ = float(e.std(ddof=1)) or 1e-6
        self.group_scale_ = None
        if groups is not None:
            g = _groups(groups, y.size)[ok]
            d = pd.DataFrame({"g": g, "ss": (e - self.loc_) ** 2})
            agg = d.groupby("g", sort=True)["ss"].agg(["sum", "size"])
            k = float(self.shrinkage)
            with np.errstate(invalid="ignore", divide="ignore"):
                s2 = (agg["sum"] + k * self.scale_**2) / (agg["size"] + k)
            self.group_scale_ = np.sqrt(s2.where(s2 > 0, self.scale_**2)).astype(float)
            self._z = np.sort((e - self.loc_) / self._scales(g))
        else:
            self._z = np.sort((e - self.loc_) / self.scale_)
        return self

    def _scales(self, groups, n=None) -> np.ndarray:
        if self.group_scale_ is None or groups is None:
            return np.full(len(groups) if n is None else n, self.scale_)
        g = _groups(groups, n)
        s = self.group_scale_.reindex(g).to_numpy(float)
        return np.where(np.isfinite(s), s, self.scale_)

    def _err_cdf(self, e: np.ndarray, groups=None) -> np.ndarray:
        if self.group_scale_ is None:  # pooled: as fitted
            if self.kind == "normal":
                return stats.norm.cdf(e, self.loc_, self.scale_)
            n = len(self.errors_)
            levels = (np.arange(1, n + 1) - 0.5) / n
            return np.interp(e, self.errors_, levels, left=0.5 / n, right=1 - 0.5 / n)
        z = (e - self.loc_) / self._scales(groups, len(e))
        if self.kind == "normal":
            return stats.norm.cdf(z)
        n = len(self._z)
        levels = (np.arange(1, n + 1) - 0.5) / n
        return np.interp(z, self._z, levels, left=0.5 / n, right=1 - 0.5 / n)

    def _err_ppf(self, q: np.ndarray) -> np.ndarray:
        if self.kind == "normal":
            return stats.norm.ppf(q, self.loc_, self.scale_)
        n = len(self.errors_)
        levels = (np.arange(1, n + 1) - 0.5) / n
        return np.interp(q, levels, self.errors_)

    def cdf(self, mean, value, groups=None) -> np.ndarray:
        """``P(y <= value)`` for predictions ``mean`` (t/ha; a mean <= 0 counts as ~0).

        ``groups``: the group of each row when the distribution was fitted
        with groups (else the pooled scale is used).
        """
        m = np.maximum(np.asarray(mean, dtype=float).ravel(), 1e-9)
        v = np.broadcast_to(np.asarray(value, dtype=float).ravel(), m.shape)
        return self._err_cdf(v / m - 1.0, groups)

    def quantiles(self, mean, levels=QUANTILES, groups=None) -> np.ndarray:
        """``(n, len(levels))`` quantiles, monotone in the level, clipped at 0."""
        m = np.asarray(mean, dtype=float)[:, None]
        lv = np.asarray(levels, dtype=float)
        if self.group_scale_ is None:
            e = self._err_ppf(lv)[None, :]
        else:
            if self.kind == "normal":
                z = stats.norm.ppf(lv)
            else:
                n = len(self._z)
                z = np.interp(lv, (np.arange(1, n + 1) - 0.5) / n, self._z)
            e = self.loc_ + self._scales(groups, len(m))[:, None] * z[None, :]
        return np.maximum(np.sort(m * (1.0 + e), axis=1), 0.0)


def _groups(groups, n=None) -> np.ndarray:
    g = np.asarray(groups, dtype=object).ravel().astype(str)
    if n is not None and g.size != n:
        raise ValidationError(f"groups has {g.size} values for {n} rows.")
    return g


def _candidate_name(c: dict) -> str:
    if not c.get("by_group"):
        return c["kind"]
    return f"{c['kind']}_by_group_k{c.get('shrinkage', 10.0):g}"


def select_residual_distribution(
    y,
    oof_pred,
    seasons,
    trend,
    *,
    threshold: float = 0.1,
    groups=None,
    candidates=None,
):
    """Choose the predictive distribution by the Brier score of its shortfall probabilities.

    Every candidate :class:`ResidualDistribution` is scored by
    leave-one-season-out over the out-of-fold pairs it is given: for each
    season ``s`` it is fitted on the other seasons' pairs and gives
    ``P(y < (1 − threshold) × trend)`` for the rows of ``s``; its score is the
    Brier score of those probabilities against the observed events. The best
    candidate is refitted on all pairs. Pass out-of-fold predictions of
    *training* seasons only: nothing of a test season may enter the choice.

    Parameters
    ----------
    y, oof_pred : array-like
        Observed yields and out-of-fold predictions of the training rows.
    seasons : array-like
        Harvest year of each row (the folds).
    trend : array-like
        Trend yield of each row (defines the shortfall event).
    threshold : float
        Relative shortfall of the event.
    groups : array-like, optional
        Group of each row (e.g. the region) for per-group scales.
    candidates : list of dict, optional
        Each ``{"kind": "normal" | "empirical", "by_group": bool,
        "shrinkage": float}``. Default: normal and empirical, pooled, and
        (with ``groups``) per-group with shrinkage 3, 10 and 30 rows.

    Returns
    -------
    distribution : ResidualDistribution
        The chosen candidate, fitted on all rows (pass the rows' groups to its
        ``cdf`` when ``info["by_group"]``).
    info : dict
        ``chosen`` (name), ``by_group`` (bool), ``brier`` (name → leave-one-
        season-out Brier score), ``event_rate`` (frequency of the event in the
        rows).

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.yield_models import select_residual_distribution
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(["calm", "wild"], 200)
    >>> seasons = np.tile(np.arange(20), 20)
    >>> oof = np.full(400, 10.0)
    >>> y = oof * (1 + np.where(g == "wild", 0.2, 0.02) * rng.normal(size=400))
    >>> d, info = select_residual_distribution(y, oof, seasons, oof, groups=g)
    >>> info["by_group"], info["brier"][info["chosen"]] < info["brier"]["normal"]
    (True, True)
    """
    from .yield_metrics import brier_score

    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(oof_pred, dtype=float).ravel()
    t = np.asarray(trend, dtype=float).ravel()
    s = np.asarray(seasons).ravel()
    if not (y.size == p.size == t.size == s.size):
        raise ValidationError(
            f"y, oof_pred, seasons and trend must have one value per row; got sizes "
            f"{y.size}, {p.size}, {s.size}, {t.size}."
        )
    g = None if groups is None else _groups(groups, y.size)
    ok = np.isfinite(y) & np.isfinite(p) & (p > 0) & np.isfinite(t)
    y, p, t, s = y[ok], p[ok], t[ok], s[ok]
    g = None if g is None else g[ok]
    uniq = np.unique(s)
    if len(uniq) < 2:
        raise ValidationError(
            "select_residual_distribution needs out-of-fold pairs of at least two seasons."
        )
    if candidates is None:
        candidates = [{"kind": k, "by_group": False} for k in ("normal", "empirical")]
        if g is not None:
            candidates += [
                {"kind": k, "by_group": True, "shrinkage": float(sh)}
                for k in ("normal", "empirical")
                for sh in (3, 10, 30)
            ]
    event = y < (1.0 - threshold) * t
    scores, best, best_c = {}, np.inf, None
    for c in candidates:
        if c.get("by_group") and g is None:
            raise ValidationError(f"Candidate {c} needs groups.")
        prob = np.full(y.size, np.nan)
        for u in uniq:
            te = s == u
            d = ResidualDistribution(c["kind"], shrinkage=c.get("shrinkage", 10.0)).fit(
                y[~te], p[~te], groups=g[~te] if c.get("by_group") else None
            )
            prob[te] = d.cdf(p[te], (1.0 - threshold) * t[te], g[te] if g is not None else None)
        name = _candidate_name(c)
        scores[name] = round(brier_score(event, prob), 5)
        if scores[name] < best - 1e-12:
            best, best_c = scores[name], c
    dist = ResidualDistribution(best_c["kind"], shrinkage=best_c.get("shrinkage", 10.0)).fit(
        y, p, groups=g if best_c.get("by_group") else None
    )
    info = {
        "chosen": _candidate_name(best_c),
        "by_group": bool(best_c.get("by_group")),
        "brier": scores,
        "event_rate": round(float(event.mean()), 5),
    }
    return dist, info


class YieldStressForecaster(BaseEstimator):
    """Yield forecasts with quantiles and the probability of a shortfall against the trend.

    ``fit`` computes out-of-fold predictions of ``model`` over the training
    seasons (leave-one-season-out, :func:`oof_predict`; or takes them from
    ``oof=``), fits a :class:`ResidualDistribution` on them, then refits
    ``model`` on all rows. The shortfall probability of a row is
    ``P(y < (1 − threshold) × trend)`` under that distribution, with ``trend``
    the row's trend yield (column ``trend`` of ``X``).

    With ``distribution="auto"`` the distribution (normal or empirical;
    pooled or, with ``scale_by``, one scale per group) is chosen by the
    leave-one-season-out Brier score of the shortfall probabilities on those
    out-of-fold predictions (:func:`select_residual_distribution`; the
    choice is in ``selection_``).

    Parameters
    ----------
    model : regressor
        E.g. :class:`ResidualRegressor`, :class:`TrendModel`,
        :class:`sdmkit.forecast.spectral.FourierNetRegressor`.
    distribution : {"normal", "empirical", "auto"}
    scale_by : str, optional
        Column of ``X`` (e.g. ``"adm_id"``) whose groups get their own scale
        of the relative errors (shrunk towards the pooled scale with weight
        ``shrinkage``); with ``"auto"`` it adds the per-group candidates.
    shrinkage : float
        See :class:`ResidualDistribution` (ignored with ``"auto"``, which
        tries 3, 10 and 30).
    threshold : float
        Relative shortfall defining the event (0.1: yield below 90% of trend).
    trend : str
        Column of ``X`` with the trend yield.
    quantiles : sequence of float
        Levels of :meth:`predict_quantiles` (default
        :data:`sdmkit.forecast.panel.QUANTILES`).
    cv : int or None
        Folds of the out-of-fold predictions (None: one per season).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sdmkit.forecast.yield_models import TrendModel, YieldStressForecaster
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"adm_id": np.repeat(["a", "b"], 10),
    ...                   "harvest_year": np.tile(np.arange(2000, 2010), 2), "trend": 8.0})
    >>> y = 8.0 + rng.normal(0, 0.8, 20)
    >>> f = YieldStressForecaster(TrendModel(min_years=3)).fit(X, y)
    >>> out = f.predict_frame(X.iloc[:2])
    >>> list(out.columns)
    ['adm_id', 'harvest_year', 'trend', 'mean', 'p_shortfall']
    >>> bool(out["p_shortfall"].between(0, 1).all())
    True
    """

    def __init__(
        self,
        model,
        *,
        distribution="normal",
        threshold=0.1,
        trend="trend",
        quantiles=QUANTILES,
        cv=None,
        scale_by=None,
        shrinkage=10.0,
    ):
        self.model = model
        self.distribution = distribution
        self.threshold = threshold
        self.trend = trend
        self.quantiles = quantiles
        self.cv = cv
        self.scale_by = scale_by
        self.shrinkage = shrinkage

    def _groups_of(self, X):
        if self.scale_by is None:
            return None
        if self.scale_by not in X.columns:
            raise ValidationError(
                f"scale_by={self.scale_by!r} is not a column of X; it has {list(X.columns)[:12]}."
            )
        return X[self.scale_by].astype(str).to_numpy()

    def fit(self, X, y, *, oof=None):
        """Fit the distribution on out-of-fold errors and the model on all rows. Returns self."""
        k = _keys(X)
        y = _target(y, len(k))
        if oof is None:
            oof = oof_predict(self.model, X, y, cv=self.cv)
        self.oof_ = np.asarray(oof, dtype=float)
        groups = self._groups_of(X)
        self.selection_ = None
        if self.distribution == "auto":
            if self.trend not in X.columns:
                raise ValidationError(
                    f"distribution='auto' scores shortfall probabilities: X needs the trend "
                    f"yield in column {self.trend!r}."
                )
            self.distribution_, self.selection_ = select_residual_distribution(
                y,
                self.oof_,
                k["harvest_year"].to_numpy(),
                X[self.trend].to_numpy(float),
                threshold=self.threshold,
                groups=groups,
            )
        else:
            self.distribution_ = ResidualDistribution(
                self.distribution, shrinkage=self.shrinkage
            ).fit(y, self.oof_, groups=groups)
        self.model_ = clone(self.model).fit(X, y)
        return self

    def predict(self, X) -> np.ndarray:
        """Point forecast (the model's prediction, t/ha)."""
        return np.asarray(self.model_.predict(X), dtype=float)

    def predict_quantiles(self, X) -> pd.DataFrame:
        """Tidy quantiles: ``adm_id, harvest_year, quantile, value`` (monotone per season)."""
        k = _keys(X)
        q = self.distribution_.quantiles(self.predict(X), self.quantiles, self._groups_of(X))
        levels = np.asarray(self.quantiles, dtype=float)
        return pd.DataFrame(
            {
                "adm_id": np.repeat(k["adm_id"].to_numpy(), len(levels)),
                "harvest_year": np.repeat(k["harvest_year"].to_numpy(), len(levels)),
                "quantile": np.tile(levels, len(k)),
                "value": q.ravel(),
            }
        )

    def predict_shortfall(self, X, mean=None) -> np.ndarray:
        """``P(y < (1 − threshold) × trend)`` of each row."""
        if self.trend not in X.columns:
            raise ValidationError(f"X needs the trend yield in column {self.trend!r}.")
        m = self.predict(X) if mean is None else np.asarray(mean, dtype=float)
        t = X[self.trend].to_numpy(float)
        return self.distribution_.cdf(m, (1.0 - self.threshold) * t, self._groups_of(X))

    def predict_frame(self, X) -> pd.DataFrame:
        """``adm_id, harvest_year, trend, mean, p_shortfall`` per row of ``X``."""
        k = _keys(X)
        m = self.predict(X)
        return k.assign(
            trend=X[self.trend].to_numpy(float),
            mean=m,
            p_shortfall=self.predict_shortfall(X, mean=m),
        )
