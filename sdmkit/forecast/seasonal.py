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
  vs the same weeks of those past seasons. The regression is fitted on every
  earlier season of the panel with the same origin week, so it uses nothing
  after the origin;
* **season shape** — each of the last ``n_seasons`` complete seasons gives a
  shape (its weekly log1p counts minus its level, matched by epiweek);
* **uncertainty** — the predictive distribution of a target week is the equal
  mixture over those shapes of normals centred at ``predicted level + shape``
  with standard deviation ``width * sqrt(level_sd² + noise_sd²)``, where
  ``level_sd`` is the residual standard deviation of the level regression.

Quantiles are returned on the count scale (``expm1``, clipped at 0).
Combine it with other forecasters and recalibrate it on earlier seasons with
:class:`sdmkit.forecast.gbm.CalibratedBlend`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr
from sklearn.base import BaseEstimator

from .._validation import ValidationError, _show
from .features import _as_horizons
from .panel import QUANTILES, _check_is_panel, quantile_frame, step_calendar

__all__ = ["SeasonalLevelForecaster", "mixture_normal_quantiles"]

_PREDICTORS = ("partial", "recent")


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
    predictors : sequence of {"partial", "recent"}
        Anomalies of the current season used to predict the next season's
        level anomaly (empty: climatological level, no regression).
    recent_weeks : int
        Length of the ``"recent"`` window (weeks up to the origin).
    ridge : float
        Ridge penalty on the regression slopes (not the intercept).
    noise_sd : float
        Week-level noise sd added (in quadrature) to the level sd, log1p scale.
    width : float
        Multiplier of the predictive sd (> 0); 1 is the model's own width.
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
        ``level_sd``, ``n_rows`` (location-seasons fitted), ``seasons`` (target
        seasons used) and ``fallback`` (True when too few rows were available
        and the climatological level with the spread of past levels was used).
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
        for name, lo in (("n_seasons", 1), ("recent_weeks", 1), ("min_history", 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}.")
        if self.min_history > self.n_seasons:
            raise ValueError(
                f"min_history ({self.min_history}) cannot exceed n_seasons ({self.n_seasons})."
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
        X = np.log1p(np.clip(wide.to_numpy(dtype="float64"), 0, None))
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
        for s in [*complete, sc]:
            a = first[s]
            self._A[s] = {
                "partial": self._mean(a, a + p_o),
                "recent": self._mean(a + p_o - int(self.recent_weeks) + 1, a + p_o),
            }
        self._complete = complete
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

    def _mean(self, a: int, b: int) -> np.ndarray:
        """Mean log1p count over steps a..b (NaN if any is missing or outside the data)."""
        if a < self._t_min or b > self._t_o:
            return np.full(self._X.shape[0], np.nan)
        return self._X[:, a - self._t_min : b - self._t_min + 1].mean(axis=1)

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
                feats[i, j] = self._A[s][p][i] - np.mean([self._A[h][p][i] for h in hist])
        return cl, feats

    def _level_model(self, gap: int) -> dict:
        if gap in self.level_models_:
            return self.level_models_[gap]
        rows, ys, used = [], [], []
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
        k = 1 + len(self._preds)
        names = ["intercept", *self._preds]
        n_rows = int(sum(len(v) for v in ys))
        if n_rows < 2 * k + 1:
            # too little history for a regression: climatological level, spread of past levels
            dev = []
            sc = self.current_season_
            for i in range(self._X.shape[0]):
                hist = self._history(i, sc)
                lv = np.array([self._L[h][i] for h in hist])
                dev.extend(lv - lv.mean())
            sd = float(np.sqrt(np.sum(np.square(dev)) / max(len(dev) - 1, 1)))
            model = {
                "coef": dict.fromkeys(names, 0.0),
                "level_sd": sd,
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
            model = {
                "coef": {n: float(b) for n, b in zip(names, beta, strict=True)},
                "level_sd": sd,
                "n_rows": n_rows,
                "seasons": used,
                "fallback": False,
            }
        self.level_models_[gap] = model
        return model

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
            sd = float(self.width) * float(np.hypot(model["level_sd"], self.noise_sd))
            if not sd > 0:
                raise ValidationError(
                    f"{type(self).__name__}: zero predictive spread (level_sd = noise_sd = 0); "
                    "set noise_sd > 0."
                )
            sel = np.flatnonzero(tseason - self.current_season_ == gap)
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
                values.append(mixture_normal_quantiles(M, sd, self.quantiles))
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
