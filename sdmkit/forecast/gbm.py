"""LightGBM quantile forecaster: direct multi-horizon, season-ahead capable, conformal-calibrated.

Design
------
*Direct multi-horizon, horizon as a feature.* One LightGBM model per quantile
level (``objective="quantile"``), trained on rows (location, origin, horizon)
with the horizon and the target's week of year among the features. One model per
horizon (or horizon bucket) would split a season-ahead data set (27 states × ~12
seasons × 52 horizons) into 52 sets of ~300 rows each; sharing one model lets
the horizons borrow strength and keeps the fit to ``len(quantiles)`` models.

*Target transform.* ``z = log1p(cases) − level`` where ``level`` is the
location's mean ``log1p(cases)`` over the ``level_weeks`` weeks up to the
origin: log1p tames the epidemic tails and the per-location level puts small
and large locations on one scale, so trees split on shape, not size. Quantiles
are back-transformed with ``expm1(level + z)`` (quantiles commute with monotone
maps) and clipped at 0.

*Features* (all computed from data at or before the origin — tested by
corrupting every later value): ``horizon``; Fourier terms of the target's and
the origin's week; same-epiweek climatology of the target week over the last
``n_seasons`` seasons available at the origin (median, mean, quartiles, spread,
last and second-last season, a ±2-week smoothed median); recent level (last 1,
4, 13, 26 weeks) and slope; the last 52-week windows (this and the previous
two years) and how the last 8/26 weeks compare with the same weeks of past
seasons; time-varying covariates (mean of the last 4 weeks and its change over
13 weeks) and static covariates. These are season-ahead features that
:mod:`sdmkit.forecast.features` (short-horizon lags) does not provide.

*Monotone quantiles.* Each row's quantiles are sorted (independent quantile
models can cross).

*Conformal recalibration* (``calibration="median"``, ``"interval"`` or
``"quantile"``; split conformal on backtests, Lei et al. 2018 / Romano et al.
2019): before the final fit, the forecaster is refitted at
``calibration_seasons`` earlier origins (the same epiweek of the previous
years for season horizons, else every ``calibration_stride`` weeks back), each
on the data up to that origin; its forecasts of weeks up to the final origin
are scored and :func:`sdmkit.forecast.backtest.fit_conformal` turns the misses
into offsets on the log1p scale. Nothing after the final origin is used. Raw
quantile GBMs are overconfident out of sample (in-sample quantile loss, and
season-level errors shared by all weeks of a season), so this is how the
intervals get their nominal coverage. ``"median"`` (symmetric log-scale
intervals around the GBM median, widths from the absolute log residuals)
gave the best WIS among calibrated variants in backtests on Brazil's
2016–2021 seasons.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from .._validation import ValidationError, _show
from .backtest import apply_conformal, backtest, blend_quantiles, fit_conformal, season_horizons
from .features import _as_horizons
from .panel import QUANTILES, quantile_frame, step_calendar

__all__ = ["CalibratedBlend", "LightGBMQuantileForecaster"]


# --------------------------------------------------------------------------- calendar cube


class _Cube:
    """Dense (location × week) view of a panel with a calendar that runs past its end."""

    def __init__(
        self, panel: pd.DataFrame, covariates: Sequence[str], static: Sequence[str], pad: int
    ):
        _require_panel(panel)
        self.locations = np.sort(panel["location"].unique().astype(str))
        loc_idx = pd.Index(self.locations).get_indexer(panel["location"].astype(str))
        self.tmin = int(panel["t"].min())
        self.tmax = int(panel["t"].max())
        n_t = self.tmax - self.tmin + 1 + pad
        col = panel["t"].to_numpy() - self.tmin
        self.y = np.full((len(self.locations), n_t), np.nan)
        self.y[loc_idx, col] = np.log1p(panel["cases"].to_numpy(dtype="float64"))
        self.cov = {}
        for c in covariates:
            m = np.full((len(self.locations), n_t), np.nan)
            m[loc_idx, col] = panel[c].to_numpy(dtype="float64")
            self.cov[c] = m
        first = panel.groupby("location", sort=True).first()
        self.static = {c: first.loc[self.locations, c].to_numpy(dtype="float64") for c in static}
        anchor = str(self.locations[0])
        cal = step_calendar(panel, [anchor] * n_t, np.arange(self.tmin, self.tmin + n_t))
        self.dates = pd.DatetimeIndex(cal["date"])
        self.year = cal["year"].to_numpy()
        self.week = cal["week"].to_numpy()
        self.code = self.year * 100 + self.week  # increasing in t
        last_t = panel.groupby("location", sort=True)["t"].max()
        self.last = last_t.loc[self.locations].to_numpy() - self.tmin
        self._cs = {}

    def prev_same_week(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Index of the same epiweek ``k`` years earlier (week 53 -> 52); -1 if absent."""
        key = (self.year[idx] - k) * 100 + np.minimum(self.week[idx], 52)
        pos = np.searchsorted(self.code, key)
        pos = np.clip(pos, 0, len(self.code) - 1)
        return np.where(self.code[pos] == key, pos, -1)

    def _cumsums(self, name: str):
        if name not in self._cs:
            m = self.y if name == "__y__" else self.cov[name]
            ok = ~np.isnan(m)
            s = np.concatenate([np.zeros((m.shape[0], 1)), np.cumsum(np.where(ok, m, 0), 1)], 1)
            n = np.concatenate([np.zeros((m.shape[0], 1)), np.cumsum(ok, 1)], 1)
            self._cs[name] = (s, n)
        return self._cs[name]

    def window_mean(self, li, end, width: int, name: str = "__y__") -> np.ndarray:
        """Mean of the ``width`` weeks ending at index ``end`` (inclusive); NaN if none."""
        s, n = self._cumsums(name)
        end = np.asarray(end)
        ok = end >= 0
        e = np.clip(end + 1, 0, s.shape[1] - 1)
        b = np.clip(end + 1 - width, 0, s.shape[1] - 1)
        cnt = n[li, e] - n[li, b]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (s[li, e] - s[li, b]) / cnt
        return np.where(ok & (cnt > 0), out, np.nan)


def _require_panel(panel) -> None:
    need = ("location", "date", "t", "year", "week", "cases")
    if not isinstance(panel, pd.DataFrame) or any(c not in panel.columns for c in need):
        got = list(panel.columns) if isinstance(panel, pd.DataFrame) else type(panel).__name__
        raise ValidationError(
            f"expected a panel from sdmkit.forecast.panel.make_panel with columns {list(need)}; "
            f"got {got}."
        )


# --------------------------------------------------------------------------- horizons


def _season_horizons_cube(cube: _Cube, to: int, season_start_week: int) -> np.ndarray:
    week = cube.week[to + 1 : to + 161]
    starts = np.flatnonzero(week == season_start_week)
    if len(starts) < 2:
        raise ValidationError(f"no week {season_start_week} within 160 weeks of the origin.")
    return np.arange(starts[0], starts[1]) + 1


# --------------------------------------------------------------------------- features


_POOLED = (
    "recent_4",
    "recent_13",
    "recent_26",
    "slope_4",
    "year_1",
    "year_2",
    "anomaly_8",
    "anomaly_26",
)


def _origin_features(cube: _Cube, li, to, level, n_seasons: int) -> dict:
    """Features of the season up to the origin, relative to the location's level."""
    y, W = cube.y, cube.window_mean
    f = {"level": level, "recent_1": y[li, to] - level}
    for w in (4, 13, 26):
        f[f"recent_{w}"] = W(li, to, w) - level
    f["slope_4"] = W(li, to, 4) - W(li, to - 4, 4)
    for k in (1, 2, 3):
        f[f"year_{k}"] = W(li, to - 52 * (k - 1), 52) - level
    for w in (8, 26):
        past = np.full((len(li), n_seasons), np.nan)
        for k in range(1, n_seasons + 1):
            j = cube.prev_same_week(to, k)
            past[:, k - 1] = np.where(j >= 0, W(li, np.where(j >= 0, j, 0), w), np.nan)
        f[f"anomaly_{w}"] = W(li, to, w) - _row_quantiles(past, (0.5,))[:, 0]
    return f


def _features(
    cube: _Cube,
    li: np.ndarray,
    to: np.ndarray,
    h: np.ndarray,
    *,
    n_seasons: int,
    level_weeks: int,
    pooled: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature table of rows (location index, origin index, horizon) and each row's level."""
    ti = to + h
    y = cube.y
    W = cube.window_mean
    level = W(li, to, level_weeks)
    f = {"horizon": h.astype("float64")}
    for name, idx in (("target", ti), ("origin", to)):
        ang = 2 * np.pi * (np.minimum(cube.week[idx], 52) - 1) / 52
        f[f"{name}_sin1"], f[f"{name}_cos1"] = np.sin(ang), np.cos(ang)
        f[f"{name}_sin2"], f[f"{name}_cos2"] = np.sin(2 * ang), np.cos(2 * ang)
    # same-epiweek climatology of the target week, from seasons observed by the origin
    k_max = n_seasons + int(np.ceil(h.max() / 52)) + 1
    vals = np.full((len(li), k_max), np.nan)
    smooth = np.full((len(li), k_max), np.nan)
    for k in range(1, k_max + 1):
        j = cube.prev_same_week(ti, k)
        ok = (j >= 0) & (j <= to)
        jj = np.where(ok, j, 0)
        vals[:, k - 1] = np.where(ok, y[li, jj], np.nan)
        ok2 = (j >= 0) & (j + 2 <= to)
        smooth[:, k - 1] = np.where(ok2, W(li, np.where(ok2, j + 2, 0), 5), np.nan)
    vals = _first_n_valid(vals, n_seasons)
    smooth = _first_n_valid(smooth, n_seasons)
    cq = _row_quantiles(vals, (0.0, 0.25, 0.5, 0.75, 1.0))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, as meant
        f["clim_median"] = cq[:, 2] - level
        f["clim_mean"] = np.nanmean(vals, 1) - level
        f["clim_q25"] = cq[:, 1] - level
        f["clim_q75"] = cq[:, 3] - level
        f["clim_min"] = cq[:, 0] - level
        f["clim_max"] = cq[:, 4] - level
        f["clim_smooth"] = _row_quantiles(smooth, (0.5,))[:, 0] - level
    f["clim_last"] = _nth_valid(vals, 0) - level
    f["clim_last2"] = _nth_valid(vals, 1) - level
    f["clim_n"] = np.sum(~np.isnan(vals), 1).astype("float64")
    # the current season up to the origin (and, optionally, its mean over all locations)
    own = _origin_features(cube, li, to, level, n_seasons)
    f.update(own)
    if pooled:
        uniq, inv = np.unique(to, return_inverse=True)
        n_loc = len(cube.locations)
        lp = np.tile(np.arange(n_loc), len(uniq))
        tp = np.repeat(uniq, n_loc)
        allf = _origin_features(cube, lp, tp, W(lp, tp, level_weeks), n_seasons)
        for name in _POOLED:
            m = allf[name].reshape(len(uniq), n_loc)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                f[f"all_{name}"] = np.nanmean(m, axis=1)[inv]
    for c in cube.cov:
        now = W(li, to, 4, c)
        f[f"{c}_now"] = now
        f[f"{c}_change13"] = now - W(li, to - 13, 4, c)
    for c, v in cube.static.items():
        f[c] = v[li]
    return pd.DataFrame(f), level


def _row_quantiles(v: np.ndarray, qs) -> np.ndarray:
    """Linear-interpolation quantiles of each row ignoring NaN (NaN for all-NaN rows); fast."""
    s = np.sort(v, axis=1)  # NaN last
    n = np.sum(~np.isnan(v), axis=1)
    out = np.full((v.shape[0], len(qs)), np.nan)
    ok = n > 0
    rows = np.flatnonzero(ok)
    for j, q in enumerate(qs):
        pos = q * (n[ok] - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n[ok] - 1)
        w = pos - lo
        out[rows, j] = s[rows, lo] * (1 - w) + s[rows, hi] * w
    return out


def _first_n_valid(v: np.ndarray, n: int) -> np.ndarray:
    order = np.cumsum(~np.isnan(v), 1)
    return np.where(order <= n, v, np.nan)


def _nth_valid(v: np.ndarray, n: int) -> np.ndarray:
    order = np.cumsum(~np.isnan(v), 1) - 1
    hit = (order == n) & ~np.isnan(v)
    out = np.where(hit, v, 0).sum(1)
    return np.where(hit.any(1), out, np.nan)


# --------------------------------------------------------------------------- forecaster


class LightGBMQuantileForecaster(BaseEstimator):
    """Direct multi-horizon quantile forecaster of weekly counts with LightGBM.

    Parameters
    ----------
    horizons : iterable of int or "season"
        Weeks ahead to forecast (each ≥ 1), or ``"season"``: every week of the
        next season starting at EW``season_start_week`` after the origin (from
        EW25 with the default 41: horizons 16..67, the IMDC sprint protocol).
    quantiles : sequence of float
        Quantile levels; must hold 0.5 (default :data:`sdmkit.forecast.panel.QUANTILES`).
    covariates : sequence of str, optional
        Time-varying panel columns (e.g. ``enso``); summarised at the origin.
    static : sequence of str, optional
        Per-location constant panel columns (e.g. biome shares).
    season_start_week : int
        First epiweek of a season for ``horizons="season"``.
    train_origins : {"auto", "same_week", "all"}
        Training origins: ``"same_week"`` = the origin's epiweek in every
        earlier year (± ``origin_jitter`` weeks); ``"all"`` = every
        ``origin_stride`` weeks; ``"auto"``: same_week for seasons, else all.
    origin_jitter, origin_stride : int
        See ``train_origins``.
    n_seasons : int
        Past seasons in the same-epiweek climatology features.
    level_weeks : int
        Weeks in the per-location level that centres the log1p target.
    min_history : int
        Training origins need at least this many observed weeks before them.
    pooled_features : bool
        Add the mean over all locations of the origin features (recent level,
        slope, last years, anomalies): a shared (national) epidemic signal.
    calibration : {None, "median", "interval", "quantile"}
        Conformal recalibration from backtests at earlier origins, with that
        ``method`` of :func:`sdmkit.forecast.backtest.fit_conformal` (module
        docstring). None: the raw quantile models.
    calibration_seasons : int
        Number of earlier origins: the same epiweek of the previous years for
        season horizons, else ``calibration_stride`` weeks apart.
    calibration_stride : int
        Weeks between calibration origins for non-season horizons.
    calibrate_median : bool
        Whether the conformal step may also shift the median.
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, \
reg_lambda, max_bin
        LightGBM settings (small trees, strong regularisation: few seasons).
    random_state : int
        Seed of LightGBM's bagging.
    n_jobs : int
        LightGBM threads.

    Attributes
    ----------
    models_ : dict
        Quantile level → fitted ``lightgbm.Booster`` (one binned Dataset shared).
    feature_names_ : list of str
    n_train_rows_ : int
    conformal_ : dict or None
        :func:`sdmkit.forecast.backtest.fit_conformal` output.
    origin_ : pandas.Timestamp
        Last date of the fitted panel.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.gbm import LightGBMQuantileForecaster
    >>> panel = make_panel(dengue_panel(n_locations=4, n_weeks=200, random_state=0).panel)
    >>> f = LightGBMQuantileForecaster(horizons=range(1, 5), n_estimators=20).fit(panel)
    >>> fc = f.predict()
    >>> sorted(fc.columns)
    ['date', 'horizon', 'location', 'origin', 'quantile', 'value']
    >>> len(fc) == 4 * 4 * 9
    True
    """

    def __init__(
        self,
        horizons="season",
        quantiles=QUANTILES,
        *,
        covariates=None,
        static=None,
        season_start_week: int = 41,
        train_origins: str = "auto",
        origin_jitter: int = 0,
        origin_stride: int = 1,
        n_seasons: int = 8,
        level_weeks: int = 156,
        min_history: int = 52,
        pooled_features: bool = False,
        calibration=None,
        calibration_seasons: int = 4,
        calibration_stride: int = 13,
        calibrate_median: bool = False,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 63,
        random_state: int = 0,
        n_jobs: int = 1,
    ):
        self.horizons = horizons
        self.quantiles = quantiles
        self.covariates = covariates
        self.static = static
        self.season_start_week = season_start_week
        self.train_origins = train_origins
        self.origin_jitter = origin_jitter
        self.origin_stride = origin_stride
        self.n_seasons = n_seasons
        self.level_weeks = level_weeks
        self.min_history = min_history
        self.pooled_features = pooled_features
        self.calibration = calibration
        self.calibration_seasons = calibration_seasons
        self.calibration_stride = calibration_stride
        self.calibrate_median = calibrate_median
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------- helpers
    def _season(self) -> bool:
        return isinstance(self.horizons, str)

    def _check_params(self) -> tuple[float, ...]:
        if self._season():
            if self.horizons != "season":
                raise ValueError(f"horizons must be ints or 'season', got {self.horizons!r}.")
        else:
            _as_horizons(self.horizons)
        qs = tuple(float(q) for q in self.quantiles)
        if 0.5 not in qs or any(not 0 < q < 1 for q in qs):
            raise ValueError(f"quantiles must lie in (0, 1) and include 0.5, got {qs}.")
        if self.calibration not in (None, "median", "interval", "quantile"):
            raise ValueError(
                f"calibration must be None, 'median', 'interval' or 'quantile', got "
                f"{self.calibration!r}."
            )
        if self.train_origins not in ("auto", "same_week", "all"):
            raise ValueError(
                f"train_origins must be auto/same_week/all, got {self.train_origins!r}."
            )
        return tuple(sorted(qs))

    def _horizons_at(self, cube: _Cube, to: int) -> np.ndarray:
        if self._season():
            return _season_horizons_cube(cube, to, self.season_start_week)
        return _as_horizons(self.horizons)

    def _max_h(self) -> int:
        return 160 if self._season() else int(_as_horizons(self.horizons).max())

    def _train_rows(self, cube: _Cube):
        mode = self.train_origins
        if mode == "auto":
            mode = "same_week" if self._season() else "all"
        li_all, to_all, h_all = [], [], []
        for i in range(len(cube.locations)):
            last = int(cube.last[i])
            if mode == "all":
                origins = np.arange(last - 1, -1, -max(1, int(self.origin_stride)))
            else:
                base = []
                for k in range(1, 200):
                    j = cube.prev_same_week(np.array([last]), k)[0]
                    if j < 0:
                        break
                    base.append(j)
                jit = range(-int(self.origin_jitter), int(self.origin_jitter) + 1)
                origins = np.array([b + d for b in base for d in jit])
            first = np.flatnonzero(~np.isnan(cube.y[i]))
            first = first[0] if len(first) else last
            origins = origins[(origins >= first + self.min_history - 1) & (origins < last)]
            for to in origins:
                h = self._horizons_at(cube, int(to))
                h = h[(to + h <= last)]
                h = h[~np.isnan(cube.y[i, to + h])]
                li_all.append(np.full(len(h), i))
                to_all.append(np.full(len(h), to))
                h_all.append(h)
        if not li_all or sum(len(a) for a in li_all) == 0:
            raise ValidationError(
                "no training rows: every location needs more than min_history="
                f"{self.min_history} weeks plus the horizons before its last week."
            )
        return (
            np.concatenate(li_all).astype(int),
            np.concatenate(to_all).astype(int),
            np.concatenate(h_all).astype(int),
        )

    def _cube(self, panel: pd.DataFrame) -> _Cube:
        cov = list(self.covariates or [])
        st = list(self.static or [])
        missing = [c for c in cov + st if c not in panel.columns]
        if missing:
            raise ValidationError(
                f"covariates/static columns {missing} are not in the panel (it has "
                f"{list(panel.columns)}); join them with join_climate / join_static first."
            )
        return _Cube(panel, cov, st, pad=self._max_h() + 2)

    # ----------------------------------------------------------------- API
    def fit(self, panel: pd.DataFrame, y=None):
        """Fit on every week of ``panel`` (the forecast origin is its last week).

        Parameters
        ----------
        panel : pandas.DataFrame
            A panel from :func:`sdmkit.forecast.panel.make_panel` with ``cases``
            and the ``covariates`` / ``static`` columns.

        Returns
        -------
        self
        """
        import lightgbm as lgb

        qs = self._check_params()
        cube = self._cube(panel)
        li, to, h = self._train_rows(cube)
        X, level = _features(
            cube,
            li,
            to,
            h,
            n_seasons=self.n_seasons,
            level_weeks=self.level_weeks,
            pooled=self.pooled_features,
        )
        z = cube.y[li, to + h] - level
        keep = ~np.isnan(z)
        X, z = X[keep], z[keep]
        self.feature_names_ = list(X.columns)
        params = {
            "objective": "quantile", "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample, "bagging_freq": 1,
            "feature_fraction": self.colsample_bytree, "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin, "seed": self.random_state, "num_threads": self.n_jobs,
            "feature_pre_filter": False, "verbose": -1,
        }  # fmt: skip
        data = lgb.Dataset(X, z, params=params, free_raw_data=False)  # binned once for all levels
        self.models_ = {}
        for q in qs:
            self.models_[q] = lgb.train(
                {**params, "alpha": q}, data, num_boost_round=self.n_estimators
            )
        self.n_train_rows_ = int(len(z))
        self.panel_ = panel
        self.cube_ = cube
        self.origin_ = pd.Timestamp(panel["date"].max())
        self.conformal_ = None
        if self.calibration is not None:
            self.conformal_ = self._fit_conformal(panel, cube)
        return self

    def _calibration_origins(self, cube: _Cube) -> list[pd.Timestamp]:
        last = int(cube.last.max())
        if self._season() or self.train_origins == "same_week":
            idx = [
                cube.prev_same_week(np.array([last]), k)[0]
                for k in range(1, self.calibration_seasons + 1)
            ]
        else:
            idx = [
                last - k * self.calibration_stride for k in range(1, self.calibration_seasons + 1)
            ]
        return [cube.dates[i] for i in idx if i >= 0]

    def _fit_conformal(self, panel: pd.DataFrame, cube: _Cube) -> dict:
        base = clone(self).set_params(calibration=None)
        origins = self._calibration_origins(cube)
        fc = backtest(base, panel, origins, skip_errors=True)
        if fc.empty:
            raise ValidationError(
                "conformal calibration: no calibration forecast could be made; "
                "give more history or fewer calibration_seasons."
            )
        return fit_conformal(fc, method=self.calibration, shift_median=self.calibrate_median)

    def predict(self, horizons=None, origins=None) -> pd.DataFrame:
        """Quantile forecasts from the last week of the fitted panel.

        Parameters
        ----------
        horizons : int, sequence of int, "season" or None
            Default: the ``horizons`` the model was fitted for; otherwise a
            subset of them (an int H means 1..H).
        origins : None or date-like
            Only the fitted panel's last week is allowed (the trees were fitted
            on targets after any earlier week); use
            :func:`sdmkit.forecast.backtest.backtest` for earlier origins.

        Returns
        -------
        pandas.DataFrame
            Tidy: ``location`` (str), ``origin``, ``date`` (datetime64), ``horizon``
            (int64), ``quantile`` (float64), ``value`` (float64 ≥ 0), sorted by
            (location, origin, horizon, quantile); quantiles non-decreasing per
            (location, date) (sorted per row, then conformal shifts re-sorted).
        """
        if not hasattr(self, "models_"):
            raise ValidationError("call fit(panel) before predict().")
        cube = self.cube_
        if origins is not None:
            asked = pd.DatetimeIndex(
                pd.to_datetime(np.atleast_1d(np.asarray(origins, dtype=object)))
            )
            last = pd.DatetimeIndex(cube.dates[cube.last])
            wrong = [d for d in asked if d not in set(last)]
            if wrong:
                raise ValidationError(
                    f"LightGBMQuantileForecaster forecasts only from the last fitted week "
                    f"({_show(sorted({d.date() for d in last}))}); origins {_show([d.date() for d in wrong])} "
                    f"need a refit on data up to them: use sdmkit.forecast.backtest.backtest."
                )
        li, to, h = [], [], []
        for i in range(len(cube.locations)):
            o = int(cube.last[i])
            allowed = self._horizons_at(cube, o)
            if horizons is None or (isinstance(horizons, str) and horizons == self.horizons):
                hh = allowed
            else:
                hh = _as_horizons(horizons)
                extra = np.setdiff1d(hh, allowed)
                if extra.size:
                    raise ValidationError(
                        f"horizons {_show(extra.tolist())} were not fitted (fitted: "
                        f"{int(allowed.min())}..{int(allowed.max())} at {cube.locations[i]}); "
                        f"refit with horizons=…."
                    )
            li.append(np.full(len(hh), i))
            to.append(np.full(len(hh), o))
            h.append(hh)
        li, to, h = (np.concatenate(a).astype(int) for a in (li, to, h))
        X, level = _features(
            cube,
            li,
            to,
            h,
            n_seasons=self.n_seasons,
            level_weeks=self.level_weeks,
            pooled=self.pooled_features,
        )
        qs = sorted(self.models_)
        Z = np.column_stack([self.models_[q].predict(X[self.feature_names_]) for q in qs])
        Z = np.sort(Z, axis=1)  # rearrangement: monotone quantiles per row
        V = np.clip(np.expm1(level[:, None] + Z), 0, None)
        out = quantile_frame(cube.locations[li], cube.dates[to], cube.dates[to + h], h, V, qs)
        if self.conformal_ is not None:
            out = apply_conformal(out, self.conformal_)
        return out.sort_values(["location", "origin", "horizon", "quantile"], ignore_index=True)


# --------------------------------------------------------------------------- calibrated blend


class CalibratedBlend(BaseEstimator):
    """Quantile blend of forecasters with weights and conformal calibration from past backtests.

    At ``fit``, every member is backtested at the ``calibration_seasons``
    earlier origins (the same epiweek of the previous years for season
    horizons, else every ``calibration_stride`` weeks back), each fit on the
    data up to its origin, and scored only on target weeks up to the last
    week of the panel. On those forecasts the blend weights are chosen from
    ``weight_grid`` to minimise the mean log WIS over (location, origin) of the
    recalibrated blend — the geometric-mean WIS that relative WIS uses — and
    the conformal calibration (:func:`sdmkit.forecast.backtest.fit_conformal`)
    is fitted for the chosen weights. The members are then refitted on the
    whole panel. Nothing after the panel's last week is used, so fitting on
    data up to an evaluation origin keeps the evaluation season out of every
    choice.

    Parameters
    ----------
    members : dict
        Name → forecaster (``fit(panel)``, ``predict(horizons=...)``).
    horizons : int, sequence of int or "season"
    weight_grid : float
        Step of the grid of weights on the simplex (0.1: 11 pairs for two members).
    calibration : {"median", "interval", "quantile", None}
        Conformal method (None: weights only).
    calibration_seasons : int
    calibration_stride : int
    blend_scale : {"log1p", "identity"}
        Average quantiles of ``log1p(counts)`` (default) or the counts.
    season_start_week : int

    Attributes
    ----------
    weights_ : dict
        Name → weight.
    conformal_ : dict or None
    selection_ : pandas.DataFrame
        Every candidate weight vector and its mean log WIS on the calibration backtests.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.baselines import ClimatologyQuantiles
    >>> from sdmkit.forecast.gbm import CalibratedBlend, LightGBMQuantileForecaster
    >>> p = make_panel(dengue_panel(n_locations=3, n_weeks=300, random_state=0).panel)
    >>> blend = CalibratedBlend({"gbm": LightGBMQuantileForecaster(n_estimators=20),
    ...                          "clim": ClimatologyQuantiles(n_seasons=3)},
    ...                         horizons=[1, 2], calibration_seasons=2, weight_grid=0.5)
    >>> fc = blend.fit(p).predict()
    >>> sorted(blend.weights_), fc["horizon"].unique().tolist()
    (['clim', 'gbm'], [1, 2])
    """

    def __init__(
        self,
        members,
        *,
        horizons="season",
        weight_grid: float = 0.1,
        calibration="median",
        calibration_seasons: int = 4,
        calibration_stride: int = 13,
        blend_scale: str = "log1p",
        season_start_week: int = 41,
    ):
        self.members = members
        self.horizons = horizons
        self.weight_grid = weight_grid
        self.calibration = calibration
        self.calibration_seasons = calibration_seasons
        self.calibration_stride = calibration_stride
        self.blend_scale = blend_scale
        self.season_start_week = season_start_week

    def _grid(self) -> list[dict]:
        names = list(self.members)
        k = int(round(1 / float(self.weight_grid)))
        out = []
        for combo in itertools.product(range(k + 1), repeat=len(names)):
            if sum(combo) == k:
                out.append({n: c / k for n, c in zip(names, combo, strict=True)})
        return out

    def _origins(self, panel: pd.DataFrame) -> list[pd.Timestamp]:
        last = panel["date"].max()
        if isinstance(self.horizons, str):
            row = panel.loc[panel["date"] == last].iloc[0]
            code = panel[["date", "year", "week"]].drop_duplicates("date")
            out = []
            for k in range(1, self.calibration_seasons + 1):
                hit = code[
                    (code["year"] == row["year"] - k) & (code["week"] == min(int(row["week"]), 52))
                ]
                if len(hit):
                    out.append(pd.Timestamp(hit["date"].iloc[0]))
            return out
        step = pd.Timedelta(weeks=int(self.calibration_stride))
        dates = set(panel["date"])
        return [
            last - k * step
            for k in range(1, self.calibration_seasons + 1)
            if last - k * step in dates
        ]

    def fit(self, panel: pd.DataFrame, y=None):
        """Choose weights and calibration on past backtests, then fit the members on ``panel``."""
        from .backtest import central_levels, score_forecasts, summarize_scores

        if not self.members:
            raise ValueError("CalibratedBlend needs at least one member.")
        _require_panel(panel)
        last = panel["date"].max()
        fcs = {}
        origins = self._origins(panel)
        for name, m in self.members.items():
            fc = backtest(
                m,
                panel,
                origins,
                horizons=self.horizons,
                season_start_week=self.season_start_week,
                skip_errors=True,
            )
            fcs[name] = fc[(fc["date"] <= last) & fc["observed"].notna()]
        keys = ["location", "origin", "date"]
        common = None
        for fc in fcs.values():
            k = fc[keys].drop_duplicates()
            common = k if common is None else common.merge(k, on=keys)
        if common is None or common.empty:
            raise ValidationError(
                "CalibratedBlend: no calibration forecast with an observation; give more "
                "history before the last week or fewer calibration_seasons."
            )
        fcs = {n: fc.merge(common, on=keys) for n, fc in fcs.items()}
        rows = []
        for w in self._grid():
            b = blend_quantiles(fcs, w, scale=self.blend_scale)
            if self.calibration is not None:
                b = apply_conformal(b, fit_conformal(b, method=self.calibration))
            lv = central_levels(b)
            s = summarize_scores(
                score_forecasts(b, levels=lv), by=["location", "origin"], levels=lv
            )
            rows.append(
                {
                    **{f"w_{n}": v for n, v in w.items()},
                    "mean_log_wis": float(np.mean(np.log(np.maximum(s["wis"], 1e-12)))),
                }
            )
        self.selection_ = pd.DataFrame(rows)
        best = int(self.selection_["mean_log_wis"].to_numpy().argmin())
        self.weights_ = {n: float(self.selection_.loc[best, f"w_{n}"]) for n in self.members}
        self.conformal_ = None
        if self.calibration is not None:
            b = blend_quantiles(fcs, self.weights_, scale=self.blend_scale)
            self.conformal_ = fit_conformal(b, method=self.calibration)
        self.fitted_ = {}
        for name, m in self.members.items():
            if self.weights_[name] > 0:
                f = clone(m, safe=False)
                if "horizons" in _get_params(f):
                    f.set_params(horizons=self.horizons)
                self.fitted_[name] = f.fit(panel)
        self.panel_ = panel
        self.origin_ = last
        return self

    def predict(self, horizons=None) -> pd.DataFrame:
        """Blended, recalibrated quantile forecasts from the last fitted week (tidy frame)."""
        if not hasattr(self, "fitted_"):
            raise ValidationError("call fit(panel) before predict().")
        h = self.horizons if horizons is None else horizons
        if isinstance(h, str):
            t_last = int(self.panel_.loc[self.panel_["date"] == self.origin_, "t"].iloc[0])
            h = season_horizons(self.panel_, t_last, season_start_week=self.season_start_week)
        fcs = {n: f.predict(horizons=h) for n, f in self.fitted_.items()}
        out = blend_quantiles(fcs, {n: self.weights_[n] for n in fcs}, scale=self.blend_scale)
        if self.conformal_ is not None:
            out = apply_conformal(out, self.conformal_)
        return out.sort_values(["location", "origin", "horizon", "quantile"], ignore_index=True)


def _get_params(f) -> dict:
    try:
        return f.get_params()
    except AttributeError:
        return {}
