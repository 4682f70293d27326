"""Season-ahead forecasts: past season shapes scaled to a predicted season size.

A forecast made mid-year for the whole next season (the IMDC sprint's EW25 ->
EW41..EW40 protocol: 16 to 67 weeks ahead) is mostly a question of *how big*
the season will be and *when* its weeks rise and fall. :class:`SeasonalLevelForecaster`
splits it that way, on the log1p scale of weekly counts:

* **season size** — the season level ``L`` (mean log1p count over the season's
  weeks) is predicted by a pooled ridge regression of its anomaly (vs the mean
  of the last ``n_seasons`` complete seasons of the same location) on anomalies
  of the current season seen at the origin: the mean of the season so far
  (``"partial"``) and of the last ``recent_weeks`` weeks (``"recent"``), each
  vs the same weeks of those past seasons. Optional predictors: the same two
  anomalies of the national series (``"national"``, ``"national_recent"``:
  log1p of the weekly counts summed over all locations), and a multi-season
  trend (``"trend"``: each location's least-squares slope of its past season
  levels, shrunk towards the mean slope of all locations by empirical Bayes,
  extrapolated to the next season). The regression is fitted on every
  earlier season of the panel with the same origin week, so it uses nothing
  after the origin;
* **season shape** — each of the last ``n_seasons`` complete seasons gives a
  shape (its weekly log1p counts minus its level, matched by epiweek);
* **uncertainty** — the predictive distribution of a target week is the equal
  mixture over those shapes of normals centred at ``predicted level + shape``
  with standard deviation ``width * sqrt(level_sd² + noise_sd²)``, where
  ``level_sd`` is the residual standard deviation of the level regression
  (``level_error="residual"``) or the root mean square of its
  leave-one-season-out prediction errors (``"loso"``: the errors the
  regression makes on a season it was not fitted on). With
  ``level_dist="empirical"`` the level error is not a normal but the
  empirical distribution of those errors (``n_error_quantiles`` of their
  quantiles, scaled by ``width``), each a normal of sd ``width * noise_sd``.

Quantiles are returned on the count scale (``expm1``, clipped at 0).
Combine it with other forecasters by a quantile average and recalibrate it on
earlier seasons with :class:`sdmkit.forecast.gbm.CalibratedBlend`, or by a
linear opinion pool (average of the members' predictive CDFs, which keeps their
disagreement as spread) with :class:`LinearPoolForecaster`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from sklearn.base import BaseEstimator

from .._validation import ValidationError, _show
from .features import _as_horizons
from .panel import QUANTILES, _check_is_panel, quantile_frame, step_calendar

__all__ = [
    "LinearPoolForecaster",
    "SeasonalLevelForecaster",
    "linear_pool_quantiles",
    "mixture_normal_quantiles",
]

_PREDICTORS = ("partial", "recent", "trend", "national", "national_recent")
_LEVEL_ERRORS = ("residual", "loso")
_LEVEL_DISTS = ("normal", "empirical")


def mixture_normal_quantiles(
    means, sd, quantiles: Sequence[float] = QUANTILES, *, weights=None, n_iter: int = 60
) -> np.ndarray:
    """Quantiles of equal- (or given-) weight mixtures of normals with a common sd.

    Parameters
    ----------
    means : array-like, shape (..., K)
        Component means of each mixture (NaN components are ignored).
    sd : float or array-like, shape (...)
        Standard deviation of every component of a mixture (> 0).
    quantiles : sequence of float
        Levels in (0, 1).
    weights : array-like, shape (..., K), optional
        Non-negative component weights (normalised per mixture); default equal
        weights over the non-NaN components.
    n_iter : int
        Bisection steps (60 gives ~1e-15 relative precision of the bracket).

    Returns
    -------
    numpy.ndarray, shape (..., len(quantiles))

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.seasonal import mixture_normal_quantiles
    >>> q = mixture_normal_quantiles(np.array([[1.0, 1.0]]), 1.0, [0.5, 0.975])
    >>> q.round(3).tolist()
    [[1.0, 2.96]]
    """
    M = np.asarray(means, dtype="float64")
    if M.ndim < 1 or M.shape[-1] == 0:
        raise ValueError("means must have a last axis of at least one component.")
    valid = ~np.isnan(M)
    if not valid.any(axis=-1).all():
        raise ValueError("every mixture needs at least one non-NaN component mean.")
    w = valid.astype("float64") if weights is None else np.asarray(weights, "float64") * valid
    if (w < 0).any():
        raise ValueError("weights must be >= 0.")
    tot = w.sum(axis=-1, keepdims=True)
    if (tot <= 0).any():
        raise ValueError("every mixture needs a positive total weight.")
    w = w / tot
    s = np.broadcast_to(np.asarray(sd, dtype="float64"), M.shape[:-1])
    if not np.all(s > 0):
        raise ValueError(f"sd must be > 0, got min {float(np.min(s))!r}.")
    Mz = np.where(valid, M, 0.0)
    lo0 = np.nanmin(M, axis=-1) - 10 * s
    hi0 = np.nanmax(M, axis=-1) + 10 * s
    out = []
    for q in np.asarray(quantiles, dtype="float64"):
        if not 0 < q < 1:
            raise ValueError(f"quantiles must be in (0, 1), got {q!r}.")
        lo, hi = lo0.copy(), hi0.copy()
        for _ in range(int(n_iter)):
            mid = 0.5 * (lo + hi)
            F = (ndtr((mid[..., None] - Mz) / s[..., None]) * w).sum(axis=-1)
            below = F < q
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        out.append(0.5 * (lo + hi))
    return np.stack(out, axis=-1)


class SeasonalLevelForecaster(BaseEstimator):
    """Whole-season quantile forecasts: past season shapes around a regression-predicted level.

    Fitted on a panel whose last week is the forecast origin (the same week for
    every location), it forecasts weeks of the seasons after the current one
    (seasons start at epiweek ``season_start_week``; the season of a week is
    its epi year, or the year before for weeks before the start week). See the
    module docstring for the model.

    Parameters
    ----------
    n_seasons : int
        Number of most recent complete seasons (before the current one) whose
        shapes form the mixture and whose mean level is the climatological level.
    predictors : sequence of {"partial", "recent", "trend", "national", "national_recent"}
        Predictors of the next season's level anomaly (empty: climatological
        level, no regression): anomalies of the current season so far
        (``"partial"``) and of its last ``recent_weeks`` weeks (``"recent"``),
        the same for the national series (counts summed over locations; a
        week with any location missing is missing), and the shrunk
        multi-season trend of the location's levels (``"trend"``, needs at
        least 3 past seasons of a location to use its own slope, else the
        mean slope).
    recent_weeks : int
        Length of the ``"recent"`` window (weeks up to the origin).
    ridge : float
        Ridge penalty on the regression slopes (not the intercept).
    noise_sd : float
        Week-level noise sd added (in quadrature) to the level sd, log1p scale.
    width : float
        Multiplier of the predictive sd (> 0); 1 is the model's own width.
    level_error : {"residual", "loso"}
        Spread of the level error: in-sample residuals of the level regression
        or its leave-one-season-out prediction errors (falls back to the
        residuals when fewer than 3 target seasons were fitted).
    level_dist : {"normal", "empirical"}
        Shape of the level error: a normal of sd ``level_sd`` or the empirical
        distribution of the (``level_error``) errors themselves.
    n_error_quantiles : int
        Number of quantiles of the errors used as mixture components with
        ``level_dist="empirical"``.
    level_sd_prior : float, optional
        Location-specific level sd: the pooled level variance acts as a prior
        worth this many seasons, updated with the location's own level errors
        (``sd_i² = (n0·sd² + Σ e_i²) / (n0 + n_i)``); None (default) gives
        every location the pooled sd. With ``level_dist="empirical"`` the
        errors are scaled by ``sd_i / sd``.
    min_history : int
        Complete seasons a location needs before the current season (≥ 1).
    season_start_week : int
        First epiweek of a season.
    quantiles : sequence of float
        Levels returned (default :data:`~sdmkit.forecast.panel.QUANTILES`).

    Attributes
    ----------
    origin_ : pandas.Timestamp
        The panel's last week (forecast origin).
    current_season_ : int
        Season containing the origin.
    level_models_ : dict
        Gap (target season − current season) → ``coef`` (name → value),
        ``level_sd`` (the one used), ``level_sd_residual``, ``level_sd_loso``
        (NaN when not computable), ``errors`` (the level errors of
        ``level_error``), ``level_sd_by_location`` (see ``level_sd_prior``),
        ``n_rows`` (location-seasons fitted), ``seasons`` (target seasons used)
        and ``fallback`` (True when too few rows were available and the
        climatological level with the spread of past levels was used).
    history_ : dict
        Location → the complete seasons used as shapes (most recent first).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.seasonal import SeasonalLevelForecaster
    >>> p = make_panel(dengue_panel(n_locations=3, n_weeks=340, random_state=0).panel)
    >>> p = p[p["date"] <= "2021-06-20"]  # origin: EW25 2021
    >>> m = SeasonalLevelForecaster(n_seasons=3).fit(p)
    >>> fc = m.predict()  # EW41 2021 .. EW40 2022
    >>> int(fc["horizon"].min()), int(fc["horizon"].max()), fc["quantile"].nunique()
    (16, 67, 9)
    """

    def __init__(
        self,
        n_seasons: int = 8,
        predictors: Sequence[str] = ("recent", "partial"),
        recent_weeks: int = 6,
        ridge: float = 1.0,
        noise_sd: float = 0.3,
        width: float = 1.0,
        level_error: str = "residual",
        level_dist: str = "normal",
        n_error_quantiles: int = 20,
        level_sd_prior: float | None = None,
        min_history: int = 2,
        season_start_week: int = 41,
        quantiles: Sequence[float] = QUANTILES,
    ):
        self.n_seasons = n_seasons
        self.predictors = predictors
        self.recent_weeks = recent_weeks
        self.ridge = ridge
        self.noise_sd = noise_sd
        self.width = width
        self.level_error = level_error
        self.level_dist = level_dist
        self.n_error_quantiles = n_error_quantiles
        self.level_sd_prior = level_sd_prior
        self.min_history = min_history
        self.season_start_week = season_start_week
        self.quantiles = quantiles

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> tuple[str, ...]:
        preds = tuple(self.predictors)
        bad = [p for p in preds if p not in _PREDICTORS]
        if bad or len(set(preds)) != len(preds):
            raise ValueError(
                f"predictors must be distinct names among {list(_PREDICTORS)}, got {list(preds)}."
            )
        for name, lo in (
            ("n_seasons", 1),
            ("recent_weeks", 1),
            ("min_history", 1),
            ("n_error_quantiles", 1),
        ):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}.")
        if self.min_history > self.n_seasons:
            raise ValueError(
                f"min_history ({self.min_history}) cannot exceed n_seasons ({self.n_seasons})."
            )
        if self.level_error not in _LEVEL_ERRORS:
            raise ValueError(
                f"level_error must be one of {list(_LEVEL_ERRORS)}, got {self.level_error!r}."
            )
        if self.level_dist not in _LEVEL_DISTS:
            raise ValueError(
                f"level_dist must be one of {list(_LEVEL_DISTS)}, got {self.level_dist!r}."
            )
        if self.level_sd_prior is not None and not float(self.level_sd_prior) > 0:
            raise ValueError(
                f"level_sd_prior must be None or > 0 (seasons), got {self.level_sd_prior!r}."
            )
        if self.level_dist == "empirical" and not self.noise_sd > 0:
            raise ValueError(
                "level_dist='empirical' needs noise_sd > 0 (the kernel width), got "
                f"{self.noise_sd!r}."
            )
        if not self.width > 0:
            raise ValueError(f"width must be > 0, got {self.width!r}.")
        if not self.noise_sd >= 0 or not self.ridge >= 0:
            raise ValueError(
                f"noise_sd and ridge must be >= 0, got {self.noise_sd!r} and {self.ridge!r}."
            )
        if not 1 <= int(self.season_start_week) <= 53:
            raise ValueError(f"season_start_week must be in 1..53, got {self.season_start_week!r}.")
        return preds

    # ------------------------------------------------------------------ fit

    def fit(self, panel: pd.DataFrame, y=None):
        """Store the history up to the panel's last week and fit the next season's level model.

        Parameters
        ----------
        panel : pandas.DataFrame
            A panel with ``cases`` (:func:`~sdmkit.forecast.panel.make_panel`);
            every location must end on the same week (the origin). NaN counts
            are treated as missing weeks (a season with one is not complete).
        y : ignored

        Returns
        -------
        self
        """
        preds = self._check_params()
        _check_is_panel(panel)
        if "cases" not in panel.columns:
            raise ValidationError(f"{type(self).__name__}.fit needs a panel with 'cases'.")
        last = panel.groupby("location", sort=True)["date"].max()
        if last.nunique() != 1:
            raise ValidationError(
                f"{type(self).__name__}: locations end on different weeks "
                f"({_show(last.astype(str).to_dict())}); cut the panel at one common origin."
            )
        self.locations_ = last.index.astype(str).tolist()
        t_o = int(panel["t"].max())
        t_min = int(panel["t"].min())
        n_ahead = 3 * 53 + 1
        steps = np.arange(t_min, t_o + n_ahead + 1)
        anchor = str(panel.loc[panel["t"] == t_o, "location"].iloc[0])
        cal = step_calendar(panel, [anchor] * len(steps), steps)
        week = cal["week"].to_numpy(dtype="int64")
        year = cal["year"].to_numpy(dtype="int64")
        start = int(self.season_start_week)
        season = np.where(week >= start, year, year - 1)
        wide = panel.pivot(index="location", columns="t", values="cases").reindex(
            index=self.locations_, columns=steps[steps <= t_o]
        )
        counts = np.clip(wide.to_numpy(dtype="float64"), 0, None)
        X = np.log1p(counts)
        # national series: a week with any location missing is missing (no silent drops)
        self._Xnat = np.log1p(counts.sum(axis=0))
        self._X, self._t_min, self._t_o = X, t_min, t_o
        self._steps, self._week, self._season, self._dates = steps, week, season, cal["date"]
        self.origin_ = pd.Timestamp(last.iloc[0])
        sc = int(season[t_o - t_min])
        self.current_season_ = sc
        # season start steps (only seasons whose start is in the calendar)
        first = {}
        for i, s in enumerate(season):
            if s not in first and week[i] == start:
                first[int(s)] = int(steps[i])
        # a season starting before the data (partial first season) has no start entry
        if sc not in first:
            raise ValidationError(
                f"{type(self).__name__}: the data start after the start (EW{start}) of the "
                f"current season {sc}; it needs at least {self.min_history} complete seasons "
                "before it."
            )
        self._first = first
        p_o = t_o - first[sc]
        self._p_o = p_o
        seasons = sorted(s for s in first if s + 1 in first and first[s] >= t_min)
        complete = [s for s in seasons if first[s + 1] - 1 <= t_o]
        n_loc = len(self.locations_)
        self._L = {}  # season -> level per location (NaN if a week is missing)
        self._A = {}  # season -> (partial mean, recent mean) at the origin's position
        for s in complete:
            self._L[s] = self._mean(first[s], first[s + 1] - 1)
        r0 = p_o - int(self.recent_weeks) + 1
        for s in [*complete, sc]:
            a = first[s]
            self._A[s] = {
                "partial": self._mean(a, a + p_o),
                "recent": self._mean(a + r0, a + p_o),
                "national": np.repeat(self._mean(a, a + p_o, national=True), n_loc),
                "national_recent": np.repeat(self._mean(a + r0, a + p_o, national=True), n_loc),
            }
        self._complete = complete
        self._trend_cache = {}
        self.history_ = {}
        for i, loc in enumerate(self.locations_):
            hist = self._history(i, sc)
            if len(hist) < int(self.min_history):
                raise ValidationError(
                    f"{type(self).__name__}: location {loc!r} has {len(hist)} complete seasons "
                    f"before season {sc} (needs min_history={self.min_history}); give a longer "
                    "panel or lower min_history."
                )
            self.history_[loc] = hist
        self._preds = preds
        self.level_models_ = {}
        self._level_model(1)
        self._n_loc = n_loc
        return self

    def _mean(self, a: int, b: int, national: bool = False):
        """Mean log1p count over steps a..b (NaN if any is missing or outside the data)."""
        if national:
            if a < self._t_min or b > self._t_o:
                return np.nan
            return float(self._Xnat[a - self._t_min : b - self._t_min + 1].mean())
        if a < self._t_min or b > self._t_o:
            return np.full(self._X.shape[0], np.nan)
        return self._X[:, a - self._t_min : b - self._t_min + 1].mean(axis=1)

    def _trend(self, s: int) -> np.ndarray:
        """Shrunk trend of every location's past levels, extrapolated to season s + 1.

        Per location, the least-squares slope ``b_i`` (and its standard error)
        of the levels of its history seasons on the season number; the slopes
        are shrunk towards their mean ``b̄`` by empirical Bayes (normal-normal:
        ``tau² = max(var(b) − mean(se²), 0)``, weight ``tau² / (tau² + se_i²)``),
        and the feature is ``b_shrunk × (s + 1 − mean history season)``: the
        trend's anomaly of the next season vs the climatological level.
        """
        if s in self._trend_cache:
            return self._trend_cache[s]
        n = self._X.shape[0]
        b = np.full(n, np.nan)
        se2 = np.full(n, np.nan)
        centre = np.full(n, np.nan)
        for i in range(n):
            hist = self._history(i, s)
            if not hist:
                continue
            h = np.array(hist, dtype="float64")
            centre[i] = h.mean()
            if len(hist) < 3:
                continue
            lv = np.array([self._L[k][i] for k in hist])
            hc = h - h.mean()
            b[i] = float(hc @ (lv - lv.mean()) / (hc @ hc))
            res = lv - lv.mean() - b[i] * hc
            se2[i] = float(res @ res / (len(h) - 2) / (hc @ hc))
        ok = ~np.isnan(b)
        shrunk = np.zeros(n)
        if ok.any():
            bbar = float(b[ok].mean())
            tau2 = (
                max(float(b[ok].var(ddof=1)) - float(se2[ok].mean()), 0.0) if ok.sum() > 1 else 0.0
            )
            w = np.where(ok, tau2 / (tau2 + np.where(ok, se2, 1.0) + 1e-300), 0.0)
            shrunk = bbar + w * (np.where(ok, b, bbar) - bbar)
        out = shrunk * (s + 1 - centre)
        self._trend_cache[s] = out
        return out

    def _history(self, i: int, s: int) -> list[int]:
        """The last ``n_seasons`` complete seasons of location i before season s."""
        out = []
        for h in sorted((c for c in self._complete if c < s), reverse=True):
            if not np.isnan(self._L[h][i]):
                out.append(h)
            if len(out) == int(self.n_seasons):
                break
        return out

    def _design(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Climatological level and predictor anomalies of every location at season s's origin."""
        n = self._X.shape[0]
        cl = np.full(n, np.nan)
        feats = np.full((n, len(self._preds)), np.nan)
        for i in range(n):
            hist = self._history(i, s)
            if len(hist) < int(self.min_history):
                continue
            cl[i] = np.mean([self._L[h][i] for h in hist])
            for j, p in enumerate(self._preds):
                if p == "trend":
                    continue
                feats[i, j] = self._A[s][p][i] - np.mean([self._A[h][p][i] for h in hist])
        if "trend" in self._preds:
            j = self._preds.index("trend")
            feats[:, j] = np.where(np.isnan(cl), np.nan, self._trend(s))
        return cl, feats

    def _level_model(self, gap: int) -> dict:
        if gap in self.level_models_:
            return self.level_models_[gap]
        rows, ys, used, where = [], [], [], []
        for s in self._complete:
            if s + gap not in self._L:
                continue
            cl, f = self._design(s)
            y = self._L[s + gap] - cl
            ok = ~np.isnan(y) & ~np.isnan(f).any(axis=1)
            if ok.any():
                rows.append(np.c_[np.ones(ok.sum()), f[ok]])
                ys.append(y[ok])
                used.append(s + gap)
                where.append(np.flatnonzero(ok))
        k = 1 + len(self._preds)
        names = ["intercept", *self._preds]
        n_rows = int(sum(len(v) for v in ys))
        if n_rows < 2 * k + 1:
            # too little history for a regression: climatological level, spread of past levels
            dev, err_loc = [], []
            sc = self.current_season_
            for i in range(self._X.shape[0]):
                hist = self._history(i, sc)
                lv = np.array([self._L[h][i] for h in hist])
                dev.extend(lv - lv.mean())
                err_loc.extend([i] * len(lv))
            sd = float(np.sqrt(np.sum(np.square(dev)) / max(len(dev) - 1, 1)))
            model = {
                "coef": dict.fromkeys(names, 0.0),
                "level_sd": sd,
                "level_sd_residual": sd,
                "level_sd_loso": float("nan"),
                "errors": np.asarray(dev, dtype="float64"),
                "level_sd_by_location": self._local_sd(sd, np.asarray(dev), np.asarray(err_loc)),
                "n_rows": n_rows,
                "seasons": used,
                "fallback": True,
            }
        else:
            A, yv = np.vstack(rows), np.concatenate(ys)
            pen = float(self.ridge) * np.eye(k)
            pen[0, 0] = 0.0
            beta = np.linalg.solve(A.T @ A + pen, A.T @ yv)
            resid = yv - A @ beta
            sd = float(np.sqrt(resid @ resid / max(len(yv) - k, 1)))
            # leave-one-season-out: errors on a target season the regression did not see
            group = np.concatenate([np.full(len(v), g) for g, v in zip(used, ys, strict=True)])
            loso = np.full(len(yv), np.nan)
            if len(used) >= 3:
                for g in used:
                    out = group == g
                    if (~out).sum() < 2 * k + 1:
                        continue
                    Ai, yi = A[~out], yv[~out]
                    bi = np.linalg.solve(Ai.T @ Ai + pen, Ai.T @ yi)
                    loso[out] = yv[out] - A[out] @ bi
            loc_idx = np.concatenate(where)
            loso_loc = loc_idx[~np.isnan(loso)]
            loso = loso[~np.isnan(loso)]
            sd_loso = float(np.sqrt(np.mean(loso**2))) if len(loso) else float("nan")
            use_loso = self.level_error == "loso" and len(loso) > 0
            model = {
                "coef": {n: float(b) for n, b in zip(names, beta, strict=True)},
                "level_sd": sd_loso if use_loso else sd,
                "level_sd_residual": sd,
                "level_sd_loso": sd_loso,
                "errors": loso if use_loso else resid,
                "level_sd_by_location": self._local_sd(
                    sd_loso if use_loso else sd,
                    loso if use_loso else resid,
                    loso_loc if use_loso else loc_idx,
                ),
                "n_rows": n_rows,
                "seasons": used,
                "fallback": False,
            }
        self.level_models_[gap] = model
        return model

    def _local_sd(self, sd: float, errors: np.ndarray, loc: np.ndarray) -> np.ndarray:
        """Per-location level sd: the pooled sd as a prior worth ``level_sd_prior`` seasons.

        ``sd_i² = (n0 · sd² + Σ e_i²) / (n0 + n_i)`` over the location's own
        errors ``e_i`` (the posterior mean of a variance under a scaled
        inverse-chi² prior centred on the pooled variance); every location gets
        ``sd`` when ``level_sd_prior`` is None.
        """
        n = self._X.shape[0]
        if self.level_sd_prior is None:
            return np.full(n, sd)
        n0 = float(self.level_sd_prior)
        ss = np.bincount(loc, weights=np.square(errors), minlength=n)
        cnt = np.bincount(loc, minlength=n)
        return np.sqrt((n0 * sd**2 + ss) / (n0 + cnt))

    # ------------------------------------------------------------------ predict

    def _season_horizons(self) -> np.ndarray:
        nxt = self.current_season_ + 1
        idx = np.flatnonzero(self._season == nxt)
        return (self._steps[idx] - self._t_o).astype("int64")

    def predict(self, horizons="season") -> pd.DataFrame:
        """Quantile forecasts of weeks of the seasons after the origin's season.

        Parameters
        ----------
        horizons : "season", int or sequence of int
            ``"season"`` (or None): every week of the next season; an int H
            means 1..H; or explicit steps ahead. Every target week must fall in
            a season after the current one (at most 3 seasons ahead).

        Returns
        -------
        pandas.DataFrame
            ``location``, ``origin``, ``date``, ``horizon``, ``quantile``, ``value``.
        """
        if not hasattr(self, "level_models_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(panel) first.")
        if horizons is None or (isinstance(horizons, str) and horizons == "season"):
            h = self._season_horizons()
        elif isinstance(horizons, str):
            raise ValueError(f"horizons must be 'season' or ints, got {horizons!r}.")
        else:
            h = _as_horizons(horizons)
        pos = self._t_o + h - self._t_min
        if h.max() > len(self._steps) - 1 - (self._t_o - self._t_min):
            raise ValidationError(
                f"{type(self).__name__}: horizons up to {int(h.max())} reach beyond 3 seasons "
                "ahead; forecast fewer weeks."
            )
        tseason = self._season[pos]
        early = h[tseason <= self.current_season_]
        if len(early):
            raise ValidationError(
                f"{type(self).__name__} forecasts seasons after the current one (season "
                f"{self.current_season_}, next starts at EW{self.season_start_week}); horizons "
                f"{_show(early.tolist())} fall in the current season. Use horizons='season'."
            )
        tweek = self._week[pos]
        dates = self._dates.to_numpy()[pos]
        values, locs = [], []
        for gap in np.unique(tseason - self.current_season_):
            model = self._level_model(int(gap))
            cl, f = self._design(self.current_season_)
            beta = np.array(list(model["coef"].values()))
            mu = cl + np.c_[np.ones(len(cl)), f] @ beta
            sd_loc = model["level_sd_by_location"]
            sd = float(self.width) * np.hypot(sd_loc, self.noise_sd)
            if not np.all(sd > 0):
                raise ValidationError(
                    f"{type(self).__name__}: zero predictive spread (level_sd = noise_sd = 0); "
                    "set noise_sd > 0."
                )
            sel = np.flatnonzero(tseason - self.current_season_ == gap)
            if self.level_dist == "empirical":
                e = np.asarray(model["errors"], dtype="float64")
                nq = int(self.n_error_quantiles)
                e_q = float(self.width) * np.quantile(e, (np.arange(nq) + 0.5) / nq)
                e_q = e_q[None, :] * (sd_loc / model["level_sd"])[:, None]  # per-location scale
                sd = np.full(len(sd_loc), float(self.width) * float(self.noise_sd))
            for i, loc in enumerate(self.locations_):
                if np.isnan(mu[i]):
                    raise ValidationError(
                        f"{type(self).__name__}: no level forecast for {loc!r} (missing weeks in "
                        "the current season's predictor windows); fill or drop them."
                    )
                hist = self.history_[loc]
                M = np.empty((len(sel), len(hist)))
                for k, s in enumerate(hist):
                    M[:, k] = self._analog(i, s, tweek[sel]) - self._L[s][i] + mu[i]
                if self.level_dist == "empirical":
                    M = (M[:, :, None] + e_q[i][None, None, :]).reshape(len(sel), -1)
                values.append(mixture_normal_quantiles(M, sd[i], self.quantiles))
                locs.append((loc, sel))
        loc_col = np.concatenate([np.repeat(loc, len(sel)) for loc, sel in locs])
        order = np.concatenate([sel for _, sel in locs])
        v = np.clip(np.expm1(np.vstack(values)), 0, None)
        return quantile_frame(
            loc_col,
            np.repeat(self.origin_, len(order)),
            dates[order],
            h[order],
            v,
            self.quantiles,
        )

    def _analog(self, i: int, s: int, weeks: np.ndarray) -> np.ndarray:
        """log1p counts of location i in season s at the given epiweeks (53 -> 52 if absent)."""
        a, b = self._first[s], self._first[s + 1]
        wk = self._week[a - self._t_min : b - self._t_min]
        lookup = {int(w): a + j for j, w in enumerate(wk)}
        t = np.array([lookup.get(int(w), lookup.get(52)) for w in weeks])
        return self._X[i, t - self._t_min]


def linear_pool_quantiles(
    member_quantiles, weights, quantiles: Sequence[float] = QUANTILES, *, tail: float = 5e-4
) -> np.ndarray:
    """Quantiles of a linear opinion pool (weighted average of CDFs) of quantile forecasts.

    Each member's CDF is the piecewise-linear interpolation of its quantiles
    (levels → values), extended beyond its outer quantiles to the levels
    ``tail`` and ``1 − tail`` with the slope of a normal through its two outer
    quantiles on each side, and 0 / 1 outside. Point masses (tied quantiles,
    e.g. at 0) are kept: the CDF jumps there. The pool's CDF is piecewise
    linear between the members' knots, so its quantiles are exact for these
    CDFs. Pool on a scale where linear interpolation is sensible (e.g.
    ``log1p`` of counts; the result is on the same scale).

    Parameters
    ----------
    member_quantiles : sequence of array-like, each shape (n, len(quantiles))
        Every member's quantile values per target (sorted per row if needed).
    weights : sequence of float
        Non-negative member weights (normalised to sum 1).
    quantiles : sequence of float
        The levels of the members' columns and of the output, increasing in (0, 1).
    tail : float
        Level of the tail knots, below the lowest level given.

    Returns
    -------
    numpy.ndarray, shape (n, len(quantiles))

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.seasonal import linear_pool_quantiles
    >>> a = np.array([[0.0, 1.0, 2.0]]); b = np.array([[10.0, 11.0, 12.0]])
    >>> linear_pool_quantiles([a, b], [0.5, 0.5], [0.25, 0.5, 0.75]).round(1).tolist()
    [[1.0, 5.9, 11.0]]

    (the pool's CDF is flat at 0.5 between the two members' tails; its median is
    the lowest value reaching 0.5: the upper tail knot of the first member.)
    """
    tau = np.asarray(quantiles, dtype="float64")
    if tau.ndim != 1 or len(tau) < 2 or not np.all(np.diff(tau) > 0):
        raise ValueError("quantiles must be at least 2 increasing levels in (0, 1).")
    if not (0 < tail < tau[0] and tau[-1] < 1 - tail):
        raise ValueError(f"tail must be in (0, {tau[0]}) and below 1 - {tau[-1]}, got {tail!r}.")
    w = np.asarray(weights, dtype="float64")
    Qs = [np.sort(np.asarray(q, dtype="float64"), axis=1) for q in member_quantiles]
    if len(Qs) == 0 or len(w) != len(Qs):
        raise ValueError(f"give one weight per member: {len(Qs)} members, {len(w)} weights.")
    if (w < 0).any() or not w.sum() > 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {w.tolist()}.")
    shapes = {q.shape for q in Qs}
    if len(shapes) != 1 or Qs[0].ndim != 2 or Qs[0].shape[1] != len(tau):
        raise ValueError(f"every member needs shape (n, {len(tau)}); got {sorted(shapes)}.")
    if not all(np.isfinite(q).all() for q in Qs):
        raise ValueError("member quantiles must be finite.")
    w = w / w.sum()
    z = ndtri(tau)
    zt = ndtri(tail)
    T = np.r_[tail, tau, 1 - tail]
    knots = []
    for Q in Qs:
        lo = Q[:, 0] - (Q[:, 1] - Q[:, 0]) / (z[1] - z[0]) * (z[0] - zt)
        hi = Q[:, -1] + (Q[:, -1] - Q[:, -2]) / (z[-1] - z[-2]) * (-zt - z[-1])
        knots.append(np.c_[lo, Q, hi])
    X = np.sort(np.concatenate(knots, axis=1), axis=1)
    F = np.zeros_like(X)
    m = len(T)
    for wk, K in zip(w, knots, strict=True):
        j = (X[:, :, None] >= K[:, None, :]).sum(-1)  # knots <= x (right-continuous at ties)
        jj = np.clip(j, 1, m - 1)
        k0 = np.take_along_axis(K, jj - 1, 1)
        k1 = np.take_along_axis(K, jj, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(k1 > k0, (X - k0) / (k1 - k0), 1.0)
        f = T[jj - 1] + (T[jj] - T[jj - 1]) * np.clip(frac, 0, 1)
        F += wk * np.where(j == 0, 0.0, np.where(j >= m, 1.0, f))
    F = np.maximum.accumulate(F, axis=1)
    out = np.empty((X.shape[0], len(tau)))
    rows = np.arange(X.shape[0])
    for r, t in enumerate(tau):
        j = np.clip((F < t).sum(1), 1, X.shape[1] - 1)
        f0, f1 = F[rows, j - 1], F[rows, j]
        x0, x1 = X[rows, j - 1], X[rows, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(f1 > f0, (t - f0) / (f1 - f0), 1.0)
        out[:, r] = x0 + (x1 - x0) * np.clip(frac, 0, 1)
    return out


class LinearPoolForecaster(BaseEstimator):
    """Linear opinion pool of quantile forecasters: the weighted average of their CDFs.

    Unlike a quantile average (Vincentisation), which keeps the members'
    average width, a linear pool widens where members disagree (its CDF is a
    mixture), so it hedges between a sharp and a wide member. Members are
    fitted on the same panel; their quantiles are pooled on the ``log1p`` scale
    of counts (:func:`linear_pool_quantiles`) and returned on the count scale.

    Parameters
    ----------
    members : dict
        Name → forecaster (``fit(panel)``, ``predict(horizons=...)`` returning
        the tidy quantile frame with at least ``quantiles``).
    weights : dict, optional
        Name → weight (≥ 0); default equal weights.
    horizons : "season", int or sequence of int
        Passed to every member's ``predict`` when ``predict`` gets none;
        ``"season"`` is every week of the next season (EW``season_start_week``
        on, :func:`sdmkit.forecast.backtest.season_horizons`).
    quantiles : sequence of float
        Levels pooled and returned (every member must return them).
    season_start_week : int
        First epiweek of a season (for ``"season"`` horizons).

    Attributes
    ----------
    weights_ : dict
        Name → normalised weight.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.baselines import ClimatologyQuantiles
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.seasonal import LinearPoolForecaster, SeasonalLevelForecaster
    >>> p = make_panel(dengue_panel(n_locations=3, n_weeks=340, random_state=0).panel)
    >>> p = p[p["date"] <= "2021-06-20"]  # origin: EW25 2021
    >>> pool = LinearPoolForecaster({"seasonal": SeasonalLevelForecaster(n_seasons=3),
    ...                              "clim": ClimatologyQuantiles(n_seasons=3)})
    >>> fc = pool.fit(p).predict()
    >>> int(fc["horizon"].min()), int(fc["horizon"].max()), pool.weights_["clim"]
    (16, 67, 0.5)
    """

    def __init__(
        self, members, weights=None, horizons="season", quantiles=QUANTILES, season_start_week=41
    ):
        self.members = members
        self.weights = weights
        self.horizons = horizons
        self.quantiles = quantiles
        self.season_start_week = season_start_week

    def fit(self, panel: pd.DataFrame, y=None):
        """Fit every member on ``panel``.

        Parameters
        ----------
        panel : pandas.DataFrame
        y : ignored

        Returns
        -------
        self
        """
        if not isinstance(self.members, dict) or not self.members:
            raise ValueError("members must be a non-empty dict of name -> forecaster.")
        names = list(self.members)
        if self.weights is None:
            w = dict.fromkeys(names, 1.0)
        else:
            w = dict(self.weights)
            if set(w) != set(names):
                raise ValueError(f"weights must name exactly the members {names}, got {sorted(w)}.")
        tot = float(sum(w.values()))
        if any(v < 0 for v in w.values()) or not tot > 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {w}.")
        self.weights_ = {n: float(w[n]) / tot for n in names}
        _check_is_panel(panel)
        from .backtest import season_horizons

        self._season_h = season_horizons(
            panel, int(panel["t"].max()), season_start_week=int(self.season_start_week)
        )
        self.fitted_ = {n: m.fit(panel) for n, m in self.members.items()}
        return self

    def predict(self, horizons=None) -> pd.DataFrame:
        """Pooled quantile forecasts (columns as the members' frames).

        Parameters
        ----------
        horizons : "season", int or sequence of int, optional
            Default: the ``horizons`` parameter.

        Returns
        -------
        pandas.DataFrame
            ``location``, ``origin``, ``date``, ``horizon``, ``quantile``, ``value``.
        """
        if not hasattr(self, "fitted_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(panel) first.")
        h = self.horizons if horizons is None else horizons
        if isinstance(h, str):
            if h != "season":
                raise ValueError(f"horizons must be 'season' or ints, got {h!r}.")
            h = self._season_h
        q = [float(v) for v in self.quantiles]
        keys = ["location", "origin", "date", "horizon"]
        wides = {}
        for name, m in self.fitted_.items():
            fc = m.predict(horizons=h)
            wide = fc.pivot_table(index=keys, columns="quantile", values="value", aggfunc="first")
            missing = [v for v in q if not np.isclose(wide.columns.to_numpy(float), v).any()]
            if missing:
                raise ValidationError(
                    f"{type(self).__name__}: member {name!r} returns no quantiles {missing}; "
                    "give members that forecast every level in `quantiles`."
                )
            wide.columns = [float(c) for c in wide.columns]
            wides[name] = wide[[c for c in wide.columns if np.isclose(c, q).any()]]
        index = next(iter(wides.values())).index
        for name, wide in wides.items():
            if not wide.index.equals(index):
                raise ValidationError(
                    f"{type(self).__name__}: member {name!r} forecasts other targets than "
                    f"{next(iter(wides))!r} ({len(wide)} vs {len(index)} rows); members must "
                    "forecast the same locations, origins and horizons."
                )
        logs = [np.log1p(np.clip(w.to_numpy(dtype="float64"), 0, None)) for w in wides.values()]
        pooled = linear_pool_quantiles(logs, list(self.weights_.values()), q)
        v = np.clip(np.expm1(pooled), 0, None)
        idx = index.to_frame(index=False)
        return quantile_frame(idx["location"], idx["origin"], idx["date"], idx["horizon"], v, q)
