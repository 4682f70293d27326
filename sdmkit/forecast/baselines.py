"""Baseline forecasters: seasonal naive, same-week climatology, DengAI's negative binomial GLM.

All return the tidy quantile frame of :mod:`sdmkit.forecast.panel`
(``location``, ``origin``, ``date``, ``horizon``, ``quantile``, ``value``),
monotone in the quantile level, and never use data after the forecast origin.

* :class:`SeasonalNaive` — the count of the same week one season earlier;
  quantiles from its own historical errors on the log1p scale.
* :class:`ClimatologyQuantiles` — empirical quantiles of the counts of the same
  week (± ``window`` weeks) over the last ``n_seasons`` seasons; with
  ``n_seasons=None, window=0`` its median is the week-of-year median.
* :class:`NegativeBinomialGLM` — DrivenData's DengAI benchmark: a per-location
  negative binomial (NB2, log link) regression of the counts on contemporaneous
  climate covariates, dispersion chosen on a holdout inside training, refitted
  on all training weeks.

"Same week" means the same epiweek number (MMWR; week 53 falls back to week 52
in 52-week years) or, on the DengAI calendar, the same of the 52 slots.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator

from .._validation import ValidationError, ValidationWarning, _show
from .features import _as_horizons
from .panel import QUANTILES, _check_is_panel, check_origin, quantile_frame, step_calendar

__all__ = [
    "DENGAI_BENCHMARK_COVARIATES",
    "ClimatologyQuantiles",
    "NegativeBinomialGLM",
    "SeasonalNaive",
    "fit_nb2",
]

#: The 4 climate covariates of DrivenData's DengAI negative binomial benchmark.
DENGAI_BENCHMARK_COVARIATES: tuple[str, ...] = (
    "reanalysis_specific_humidity_g_per_kg",
    "reanalysis_dew_point_temp_k",
    "station_avg_temp_c",
    "station_min_temp_c",
)


# --------------------------------------------------------------------------- shared


class _SeasonalBase(BaseEstimator):
    """Stores a panel at fit; finds same-week rows of earlier seasons at or before an origin."""

    quantiles: Sequence[float]

    def fit(self, panel: pd.DataFrame, y=None):
        """Store the panel's history (``location``, ``t``, ``year``, ``week``, ``cases``).

        Parameters
        ----------
        panel : pandas.DataFrame
            A panel with ``cases`` (:func:`~sdmkit.forecast.panel.make_panel`).
        y : ignored

        Returns
        -------
        self
        """
        _check_is_panel(panel)
        if "cases" not in panel.columns:
            raise ValidationError(f"{type(self).__name__}.fit needs a panel with 'cases'.")
        self._res_cache, self._first_years = {}, {}  # per-fit caches
        self.panel_ = panel[["location", "date", "t", "year", "week", "cases"]].copy()
        self._cal_panel = panel[["location", "date", "t", "year", "week"]]
        self._index = {}
        for loc, g in self.panel_.groupby("location", sort=True):
            self._index[loc] = (
                dict(
                    zip(zip(g["year"].tolist(), g["week"].tolist()), g["t"].tolist(), strict=True)
                ),
                int(g["t"].iloc[0]),
                g["cases"].to_numpy(dtype="float64"),
            )
        self.locations_ = sorted(self._index)
        return self

    def _check_fitted(self):
        if not hasattr(self, "panel_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(panel) first.")

    def _first_year(self, loc: str) -> int:
        years = self._first_years
        if loc not in years:
            years[loc] = min(y for y, _ in self._index[loc][0])
        return years[loc]

    def _same_week_t(self, loc: str, year: int, week: int, k: int) -> int | None:
        """Step of week ``week`` of season ``year - k`` in ``loc`` (53 -> 52 if absent)."""
        lookup = self._index[loc][0]
        t = lookup.get((year - k, week))
        if t is None and week == 53:
            t = lookup.get((year - k, 52))
        return t

    def _targets(self, horizons, origins) -> pd.DataFrame:
        self._check_fitted()
        h = _as_horizons(horizons)
        o = check_origin(self.panel_, None if origins is None else origins)
        n = len(h)
        tg = pd.DataFrame(
            {
                "location": np.repeat(o["location"].to_numpy(), n),
                "origin": np.repeat(o["origin"].to_numpy(), n),
                "t_origin": np.repeat(o["t"].to_numpy(), n),
                "horizon": np.tile(h, len(o)),
            }
        )
        tg["t"] = tg["t_origin"] + tg["horizon"]
        cal = step_calendar(self._cal_panel, tg["location"].to_numpy(), tg["t"].to_numpy())
        for c in ("date", "year", "week"):
            tg[c] = cal[c].to_numpy()
        return tg

    def predict(self, horizons=1, origins=None) -> pd.DataFrame:
        """Quantile forecasts ``horizons`` weeks after each origin.

        Parameters
        ----------
        horizons : int or sequence of int
            H means 1..H; or explicit steps ahead (≥ 1).
        origins : date-like, sequence, or None
            Forecast origins (dates in the fitted panel; only data up to each
            origin is used). None: each location's last fitted week.

        Returns
        -------
        pandas.DataFrame
            ``location``, ``origin``, ``date``, ``horizon``, ``quantile``, ``value``.
        """
        tg = self._targets(horizons, origins)
        values = np.vstack(
            [
                self._predict_one(*row)
                for row in tg[["location", "t_origin", "t", "year", "week"]].itertuples(index=False)
            ]
        )
        return quantile_frame(tg["location"], tg["origin"], tg["date"], tg["horizon"], values,
                              self.quantiles)  # fmt: skip


# --------------------------------------------------------------------------- seasonal naive


class SeasonalNaive(_SeasonalBase):
    """Seasonal naive forecast: the count of the same week in the latest season before the origin.

    The median is that count. Its spread comes from the method's own errors
    in the history up to the origin: ``r = log1p(y_t) - log1p(y_same week one
    season earlier)`` for every past week (the last ``n_seasons`` seasons of
    them), and the quantile ``q`` is
    ``expm1(log1p(point) + Q_q(r) - Q_0.5(r))``, clipped at 0 — so the median is
    exactly the seasonal-naive value and intervals scale with the level, as
    count errors do. When the target is more than a season after the origin,
    the source is ``k`` seasons back and the residuals are those of lag ``k``.

    Parameters
    ----------
    n_seasons : int or None
        Seasons of residual history used for the quantiles (None: all).
    quantiles : sequence of float
        Levels (default :data:`~sdmkit.forecast.panel.QUANTILES`).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.baselines import SeasonalNaive
    >>> p = make_panel(dengue_panel(n_locations=2, n_weeks=160, random_state=0).panel)
    >>> f = SeasonalNaive().fit(p).predict(horizons=4)
    >>> f.groupby(["location", "horizon"])["value"].is_monotonic_increasing.all()
    np.True_
    """

    def __init__(self, n_seasons: int | None = None, quantiles: Sequence[float] = QUANTILES):
        self.n_seasons = n_seasons
        self.quantiles = quantiles

    def _residuals(self, loc: str, k: int, t_origin: int) -> np.ndarray:
        lookup, t0, cases = self._index[loc]
        g = self.panel_.loc[self.panel_["location"] == loc]
        ts, ys, ws = g["t"].to_numpy(), g["year"].to_numpy(), g["week"].to_numpy()
        keep = ts <= t_origin
        if self.n_seasons is not None:
            keep &= ts > t_origin - 52 * int(self.n_seasons)
        res = []
        for t, y, w in zip(ts[keep], ys[keep], ws[keep], strict=True):
            s = self._same_week_t(loc, int(y), int(w), k)
            if s is not None:
                res.append(np.log1p(cases[t - t0]) - np.log1p(cases[s - t0]))
        return np.asarray(res)

    def _predict_one(self, loc, t_origin, t, year, week) -> np.ndarray:
        _, t0, cases = self._index[loc]
        s = None
        for k in range(1, int(year) - self._first_year(loc) + 1):
            s = self._same_week_t(loc, int(year), int(week), k)
            if s is not None and s <= t_origin:
                break
            s = None
        if s is None:
            raise ValidationError(
                f"SeasonalNaive: {loc} has no week {week} in a season before origin step "
                f"{t_origin}; it needs at least one full season of history before the origin."
            )
        cache = self._res_cache
        key = (loc, k, int(t_origin))
        if key not in cache:
            cache[key] = self._residuals(loc, k, int(t_origin))
        r = cache[key]
        point = np.log1p(cases[s - t0])
        if r.size == 0:
            return np.full(len(self.quantiles), np.expm1(point))
        rq = np.quantile(r, self.quantiles)
        out = np.clip(np.expm1(point + rq - np.quantile(r, 0.5)), 0, None)
        out[np.isclose(self.quantiles, 0.5)] = cases[s - t0]  # exact, no log round trip
        return out


# --------------------------------------------------------------------------- climatology


class ClimatologyQuantiles(_SeasonalBase):
    """Same-week climatological quantiles over the last ``n_seasons`` seasons.

    For a target week ``W`` of year ``Y``, the pool holds the counts of weeks
    ``W - window .. W + window`` (steps of the continuous weekly index around
    week ``W`` of each season) of the seasons ``Y - 1, Y - 2, …``, keeping only
    weeks at or before the origin and seasons whose week ``W`` is at or before
    the origin, until ``n_seasons`` seasons are collected. The forecast is the
    pool's empirical quantiles (``numpy.quantile``, linear interpolation).
    ``window=0, n_seasons=None`` gives the classic week-of-year median.

    Parameters
    ----------
    n_seasons : int or None
        Number of seasons pooled (None: every season before the origin).
    window : int
        Half-width ``w`` of the neighbourhood in weeks (≥ 0): ``2w + 1`` weeks
        per season.
    quantiles : sequence of float
        Levels (default :data:`~sdmkit.forecast.panel.QUANTILES`).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.baselines import ClimatologyQuantiles
    >>> p = make_panel(dengue_panel(n_locations=2, n_weeks=200, random_state=0).panel)
    >>> f = ClimatologyQuantiles(n_seasons=3, window=1).fit(p).predict(horizons=[1, 10])
    >>> sorted(f["horizon"].unique().tolist()), f["quantile"].nunique()
    ([1, 10], 9)
    """

    def __init__(self, n_seasons: int | None = 8, window: int = 2,
                 quantiles: Sequence[float] = QUANTILES):  # fmt: skip
        self.n_seasons = n_seasons
        self.window = window
        self.quantiles = quantiles

    def _predict_one(self, loc, t_origin, t, year, week) -> np.ndarray:
        _, t0, cases = self._index[loc]
        w = int(self.window)
        if w < 0:
            raise ValueError(f"window must be >= 0, got {self.window!r}.")
        first_year = self._first_year(loc)
        pool = []
        for k in range(1, int(year) - first_year + 1):
            if self.n_seasons is not None and len(pool) >= int(self.n_seasons):
                break
            s = self._same_week_t(loc, int(year), int(week), k)
            if s is None or s > t_origin:
                continue
            idx = np.arange(max(s - w, t0), min(s + w, t_origin) + 1) - t0
            pool.append(cases[idx])
        if not pool:
            raise ValidationError(
                f"ClimatologyQuantiles: {loc} has no week {week} in any season before origin step "
                f"{t_origin}; it needs at least one season of history before the origin."
            )
        return np.quantile(np.concatenate(pool), self.quantiles)


# --------------------------------------------------------------------------- NB GLM


def fit_nb2(X, y, alpha: float, *, max_iter: int = 100, tol: float = 1e-8) -> np.ndarray:
    """Maximum-likelihood coefficients of a negative binomial (NB2) GLM with log link, fixed alpha.

    Iteratively reweighted least squares as in statsmodels' ``GLM(...,
    family=NegativeBinomial(alpha))``: variance ``mu + alpha * mu**2``,
    working weights ``mu / (1 + alpha * mu)``, start ``mu = (y + mean(y)) / 2``,
    stop when the deviance changes by less than ``tol`` (relative).

    Parameters
    ----------
    X : array-like, shape (n, p)
        Design matrix (include a column of ones for an intercept).
    y : array-like, shape (n,)
        Non-negative counts.
    alpha : float
        Dispersion (> 0; alpha → 0 is Poisson).

    Returns
    -------
    numpy.ndarray, shape (p,)

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.baselines import fit_nb2
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); X = np.column_stack([np.ones_like(x), x])
    >>> y = rng.negative_binomial(2, 2 / (2 + np.exp(1 + 0.5 * x)))
    >>> np.round(fit_nb2(X, y, alpha=0.5), 1).tolist()
    [1.0, 0.5]
    """
    X = np.asarray(X, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}.")
    mu = (y + y.mean()) / 2
    eta = np.log(mu)
    dev_old, beta = np.inf, np.zeros(X.shape[1])
    for _ in range(max_iter):
        w = mu / (1 + alpha * mu)
        z = eta + (y - mu) / mu
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)
        eta = X @ beta
        mu = np.exp(np.clip(eta, -700, 700))
        dev = _nb2_deviance(y, mu, alpha)
        if abs(dev - dev_old) <= tol * (abs(dev) + 1e-12):
            break
        dev_old = dev
    return beta


def _nb2_deviance(y, mu, alpha) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(y > 0, y * np.log(y / mu), 0.0)
    t2 = (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu))
    return float(2 * np.sum(t1 - t2))


class NegativeBinomialGLM(BaseEstimator):
    """DrivenData's DengAI benchmark: per-location NB2 GLM on contemporaneous climate.

    For each location: covariates forward-filled (within the location, in week
    order), then for each ``alpha`` in ``alphas`` an NB2 GLM with log link
    (``counts ~ 1 + covariates``, :func:`fit_nb2`) is fitted on the first
    weeks and scored by the MAE of its integer-truncated mean predictions on
    the last ``holdout`` weeks; the best alpha (first on ties, as the
    benchmark's strict ``<``) is refitted on all weeks. Defaults replicate the
    benchmark: the 4 covariates of :data:`DENGAI_BENCHMARK_COVARIATES` and
    ``alphas = 10 ** [-8, -7, -6, -5, -4]`` (``np.arange(-8, -3)``); DrivenData
    held out the last 136 of 936 San Juan weeks and 120 of 520 Iquitos weeks.

    The selected alphas are tiny (the fit is practically Poisson, and they are
    chosen for the mean's MAE), so predictive quantiles built with them would
    be far too narrow. With ``predictive_dispersion="moments"`` (default) the
    quantiles use the NB2 dispersion estimated from the refitted model's
    Pearson moments, ``max(1e-8, sum(((y - mu)**2 - mu) / mu**2) / (n - p))``;
    ``"fit"`` uses the selected alpha. Quantiles are
    ``scipy.stats.nbinom.ppf(q, n=1/alpha, p=1/(1 + alpha * mu))``.

    The model uses no lagged counts: a target week needs only its own
    covariates, so any number of weeks after the training data can be
    forecast (``horizon`` counts weeks after the location's last fitted week).

    Parameters
    ----------
    covariates : sequence of str
        Covariate columns of the panel.
    alphas : sequence of float
        Dispersion grid.
    holdout : float, int or mapping
        Weeks held out (at the end) for the alpha search: a fraction of each
        location's weeks, a number of weeks, or ``{location: fraction or
        count}``.
    predictive_dispersion : {"moments", "fit"}
        Dispersion of the predictive distribution (see above).
    quantiles : sequence of float
        Levels (default :data:`~sdmkit.forecast.panel.QUANTILES`).

    Attributes
    ----------
    coef_ : pandas.DataFrame
        Coefficients per location (index) for ``Intercept`` and each covariate.
    alpha_ : dict
        Selected alpha per location.
    holdout_mae_ : dict
        ``{location: {alpha: MAE}}`` of the grid search.
    predictive_alpha_ : dict
        Dispersion used for quantiles per location.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.baselines import NegativeBinomialGLM
    >>> p = make_panel(dengue_panel(n_locations=2, n_weeks=150, random_state=0).panel)
    >>> m = NegativeBinomialGLM(["temperature", "rainfall"]).fit(p[p["t"] < p["t"].max() - 9])
    >>> f = m.predict(p[p["t"] >= p["t"].max() - 9])
    >>> f["horizon"].min(), f["horizon"].max()
    (np.int64(1), np.int64(10))
    """

    def __init__(
        self,
        covariates: Sequence[str] = DENGAI_BENCHMARK_COVARIATES,
        alphas: Sequence[float] = tuple(10.0 ** np.arange(-8, -3)),
        holdout: float | int | Mapping = 0.15,
        predictive_dispersion: str = "moments",
        quantiles: Sequence[float] = QUANTILES,
    ):
        self.covariates = covariates
        self.alphas = alphas
        self.holdout = holdout
        self.predictive_dispersion = predictive_dispersion
        self.quantiles = quantiles

    def _design(self, panel: pd.DataFrame, fill: Mapping | None = None) -> pd.DataFrame:
        cov = list(self.covariates)
        missing = [c for c in cov if c not in panel.columns]
        if missing:
            raise ValidationError(
                f"NegativeBinomialGLM: covariates {missing} are not panel columns; join them first."
            )
        p = panel.sort_values(["location", "t"], kind="stable")
        X = p[cov].astype("float64").groupby(p["location"]).ffill()
        if fill is not None:  # leading NaNs of new data: the last training values
            for loc in p["location"].unique():
                rows = (p["location"] == loc).to_numpy()
                X.loc[rows] = X.loc[rows].fillna(pd.Series(fill[loc]))
        return pd.concat([p[["location", "date", "t"] + (["cases"] if "cases" in p else [])], X],
                         axis=1)  # fmt: skip

    def fit(self, panel: pd.DataFrame, y=None):
        """Fit one NB2 GLM per location (see the class docstring).

        Parameters
        ----------
        panel : pandas.DataFrame
            Training panel with ``cases`` and the covariates.
        y : ignored

        Returns
        -------
        self
        """
        _check_is_panel(panel)
        if "cases" not in panel.columns:
            raise ValidationError("NegativeBinomialGLM.fit needs a panel with 'cases'.")
        if self.predictive_dispersion not in ("moments", "fit"):
            raise ValueError(
                f"predictive_dispersion must be 'moments' or 'fit', got {self.predictive_dispersion!r}."
            )
        d = self._design(panel)
        cov = list(self.covariates)
        self.coef_, self.alpha_, self.holdout_mae_, self.predictive_alpha_ = {}, {}, {}, {}
        self.last_t_, self.last_date_, self.last_values_ = {}, {}, {}
        for loc, g in d.groupby("location", sort=True):
            lead = g[cov].isna().any(axis=1).to_numpy()
            if lead.any():
                warnings.warn(
                    f"NegativeBinomialGLM: {loc} has {int(lead.sum())} leading weeks with missing "
                    f"covariates (nothing to forward-fill from); they are left out of the fit.",
                    ValidationWarning, stacklevel=2,
                )  # fmt: skip
            g = g.loc[~lead]
            X = np.column_stack([np.ones(len(g)), g[cov].to_numpy()])
            yv = g["cases"].to_numpy(dtype="float64")
            n_hold = _holdout_size(self.holdout, loc, len(g))
            if n_hold < 1 or len(g) - n_hold < X.shape[1] + 1:
                raise ValidationError(
                    f"NegativeBinomialGLM: {loc} has {len(g)} usable weeks; the holdout of "
                    f"{n_hold} weeks leaves too few to fit {X.shape[1]} coefficients."
                )
            scores, best, best_score = {}, None, np.inf
            for a in self.alphas:
                beta = fit_nb2(X[:-n_hold], yv[:-n_hold], float(a))
                pred = np.exp(X[-n_hold:] @ beta).astype("int64")  # DrivenData: .astype(int)
                score = float(np.mean(np.abs(pred - yv[-n_hold:])))
                scores[float(a)] = score
                if score < best_score:
                    best, best_score = float(a), score
            beta = fit_nb2(X, yv, best)
            mu = np.exp(X @ beta)
            mom = np.sum(((yv - mu) ** 2 - mu) / mu**2) / max(len(yv) - X.shape[1], 1)
            self.coef_[loc] = beta
            self.alpha_[loc] = best
            self.holdout_mae_[loc] = scores
            self.predictive_alpha_[loc] = (
                max(float(mom), 1e-8) if self.predictive_dispersion == "moments" else best
            )
            self.last_t_[loc] = int(g["t"].iloc[-1])
            self.last_date_[loc] = g["date"].iloc[-1]
            self.last_values_[loc] = g[cov].iloc[-1].to_dict()
        self.coef_ = pd.DataFrame(self.coef_, index=["Intercept", *cov]).T
        self._cal_panel = panel[["location", "date", "t", "year", "week"]]
        return self

    def predict_mean(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Predicted mean count of each row of ``panel`` (any weeks, in-sample too).

        Returns
        -------
        pandas.DataFrame
            ``location``, ``date``, ``t``, ``mean`` (float64), sorted by (location, t).
        """
        if not hasattr(self, "coef_"):
            raise RuntimeError("NegativeBinomialGLM is not fitted; call fit(panel) first.")
        _check_is_panel(panel)
        unknown = sorted(set(panel["location"]) - set(self.coef_.index))
        if unknown:
            raise ValidationError(
                f"NegativeBinomialGLM: locations {_show(unknown)} were not in the training panel "
                f"(fitted: {_show(list(self.coef_.index))})."
            )
        d = self._design(panel, fill=self.last_values_)
        cov = list(self.covariates)
        X = np.column_stack([np.ones(len(d)), d[cov].to_numpy()])
        B = self.coef_.loc[d["location"]].to_numpy()
        out = d[["location", "date", "t"]].reset_index(drop=True)
        out["mean"] = np.exp(np.sum(X * B, axis=1))
        return out

    def predict(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Quantile forecasts for the weeks of ``panel`` (after the training data).

        Parameters
        ----------
        panel : pandas.DataFrame
            Panel of target weeks with the covariates (``cases`` not needed),
            e.g. :func:`~sdmkit.forecast.panel.dengai_panel` of the test
            features. Every week must come after the location's last training
            week; origin = that week, horizon = steps after it.

        Returns
        -------
        pandas.DataFrame
            ``location``, ``origin``, ``date``, ``horizon``, ``quantile``, ``value``.
        """
        m = self.predict_mean(panel)
        horizon = m["t"].to_numpy() - m["location"].map(self.last_t_).to_numpy()
        bad = np.flatnonzero(horizon < 1)
        if bad.size:
            raise ValidationError(
                f"NegativeBinomialGLM.predict: {bad.size} target weeks are not after the training "
                f"data (e.g. {_show(m.loc[bad, ['location', 'date']].astype(str).agg(' '.join, axis=1))}); "
                f"use predict_mean for in-sample fitted values."
            )
        alpha = m["location"].map(self.predictive_alpha_).to_numpy(dtype="float64")
        mu = m["mean"].to_numpy()
        n = 1 / alpha
        prob = 1 / (1 + alpha * mu)
        values = stats.nbinom.ppf(np.asarray(self.quantiles)[None, :], n[:, None], prob[:, None])
        origin = m["location"].map(self.last_date_).to_numpy()
        return quantile_frame(m["location"], origin, m["date"], horizon, values, self.quantiles)


def _holdout_size(holdout, loc: str, n: int) -> int:
    h = holdout[loc] if isinstance(holdout, Mapping) else holdout
    if isinstance(h, float) and 0 < h < 1:
        return int(round(h * n))
    if int(h) == h and h >= 1:
        return int(h)
    raise ValueError(f"holdout must be a fraction in (0, 1) or a number of weeks, got {h!r}.")
