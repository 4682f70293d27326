"""Rolling-origin backtests, interval/quantile conversion, scoring and conformal recalibration.

Backtest
    :func:`backtest` refits a forecaster at each origin on the panel cut at
    that origin (rows with ``date <= origin`` only: the forecaster cannot see
    later data) and stacks the forecasts, with the observed count joined.
Conversion
    :func:`to_interval_frame` turns the tidy quantile frame (``location``,
    ``origin``, ``date``, ``horizon``, ``quantile``, ``value``) into the
    sprint's columns ``pred``, ``lower_50`` … ``upper_95``;
    :func:`from_interval_frame` goes back.
Scores
    :func:`score_forecasts`: per forecast row the absolute error of the median,
    WIS (:func:`sdmkit.forecast.scoring.wis`, median + 50/80/90/95% intervals),
    CRPS, log score and interval coverage; :func:`summarize_scores` averages
    them per group; :func:`pool_relative_wis` is the sprint's relative WIS
    against the median of a pool of models.

    *CRPS from quantiles* (no samples or density is given, so it is an
    approximation, documented here): ``CRPS = 2 ∫ pinball_τ(y, F⁻¹(τ)) dτ`` with
    ``F⁻¹`` interpolated linearly between the forecast quantiles on a 0.005
    grid of τ and held at the outermost quantiles beyond them (the tails carry
    the outermost values as point masses). With only the 9 sprint levels this
    is close to, but not the same as, WIS (which is the same integral over 9
    levels only).

    *Log score from quantiles*: minus the log density at the observation of the
    distribution whose quantile function is piecewise linear in ``log1p`` space
    between the forecast quantiles (tied quantiles pulled at least one count
    apart), with exponential tails beyond the outer ones (each tail keeps its
    probability mass; its rate continues the density of the adjacent
    segment). The density is transformed back to counts (Jacobian
    ``1/(1+y)``): lower is better, and it is a continuous score for counts (a
    density, not a probability mass), always finite.
Conformal recalibration
    :func:`fit_conformal` / :func:`apply_conformal`: split-conformal offsets on
    the log1p scale estimated on backtest forecasts whose targets precede the
    evaluation period — around the median (absolute residuals; Lei et al.
    2018), per central interval (symmetric CQR; Romano et al. 2019) or per
    quantile (one-sided). :func:`blend_quantiles` averages quantile forecasts
    of several models (Vincentisation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._validation import ValidationError, _show
from .panel import check_origin, step_calendar
from .scoring import wis

__all__ = [
    "LEVELS",
    "apply_conformal",
    "attach_observed",
    "backtest",
    "blend_quantiles",
    "central_levels",
    "crps_from_quantiles",
    "fit_conformal",
    "from_interval_frame",
    "log_score_from_quantiles",
    "pool_relative_wis",
    "season_horizons",
    "score_forecasts",
    "summarize_scores",
    "to_interval_frame",
]

#: Central interval levels (percent) of the sprint's forecast columns.
LEVELS: tuple[int, ...] = (50, 80, 90, 95)

_KEYS = ["location", "origin", "date", "horizon"]
_FORECAST_COLUMNS = ["location", "origin", "date", "horizon", "quantile", "value"]


def _wide(fc: pd.DataFrame, levels: Sequence[float]) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per forecast (keys + extra columns of its first row) and its values per level."""
    codes = fc.groupby(_KEYS, sort=True, observed=True).ngroup().to_numpy()
    n = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n, -1)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    extra = [c for c in fc.columns if c not in _FORECAST_COLUMNS]
    head = fc.iloc[first][_KEYS + extra].reset_index(drop=True)
    Q = np.full((n, len(levels)), np.nan)
    q = fc["quantile"].to_numpy(dtype="float64")
    v = fc["value"].to_numpy(dtype="float64")
    for j, lv in enumerate(levels):
        hit = np.isclose(q, lv, atol=1e-9)
        Q[codes[hit], j] = v[hit]
    return head, Q


def central_levels(fc: pd.DataFrame) -> tuple[int, ...]:
    """Central interval levels (percent) that the quantile levels of ``fc`` can form.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import central_levels
    >>> central_levels(pd.DataFrame({"quantile": [0.05, 0.25, 0.5, 0.75, 0.95]}))
    (50, 90)
    """
    q = np.unique(fc["quantile"].to_numpy(dtype="float64"))
    out = [int(round(100 * (1 - 2 * t))) for t in q[q < 0.5] if np.isclose(q, 1 - t).any()]
    return tuple(sorted(out))


def _check_forecasts(fc: pd.DataFrame, name: str = "forecasts") -> None:
    if not isinstance(fc, pd.DataFrame):
        raise ValidationError(f"{name} must be a DataFrame, got {type(fc).__name__}.")
    missing = [c for c in _FORECAST_COLUMNS if c not in fc.columns]
    if missing:
        raise ValidationError(
            f"{name} lacks columns {missing}; a tidy quantile forecast has "
            f"{_FORECAST_COLUMNS} (it has {list(fc.columns)})."
        )


def _level_of(q: float, have: np.ndarray) -> float:
    hit = have[np.isclose(have, q, atol=1e-9)]
    if not len(hit):
        raise ValidationError(
            f"quantile level {q:g} is missing; forecasts hold levels {_show(have.tolist())}."
        )
    return float(hit[0])


# --------------------------------------------------------------------------- horizons


def season_horizons(
    panel: pd.DataFrame, origin_t: int, *, season_start_week: int = 41
) -> np.ndarray:
    """Horizons from an origin to every week of the next season (EW``season_start_week`` on).

    The next season starts at the first week numbered ``season_start_week``
    strictly after the origin and runs to the week before the following
    season start (52 or 53 weeks).

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel (its calendar continues past its end).
    origin_t : int
        Step ``t`` of the origin.
    season_start_week : int

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.backtest import season_horizons
    >>> p = make_panel(pd.DataFrame({"location": "a", "cases": 1,
    ...                              "date": pd.date_range("2022-01-02", "2022-06-19", freq="7D")}))
    >>> h = season_horizons(p, int(p["t"].max()))  # origin EW25 2022 -> EW41 2022..EW40 2023
    >>> int(h[0]), int(h[-1]), len(h)
    (16, 67, 52)
    """
    anchor = panel.loc[panel["t"] == origin_t, "location"]
    anchor = str(anchor.iloc[0]) if len(anchor) else str(panel["location"].iloc[0])
    cal = step_calendar(panel, [anchor] * 160, np.arange(origin_t + 1, origin_t + 161))
    starts = np.flatnonzero(cal["week"].to_numpy() == season_start_week)
    if len(starts) < 2:
        raise ValidationError(f"no week {season_start_week} within 160 weeks of the origin.")
    return (np.arange(starts[0], starts[1]) + 1).astype("int64")


# --------------------------------------------------------------------------- backtest


def backtest(
    forecaster,
    panel: pd.DataFrame,
    origins,
    horizons=None,
    *,
    season_start_week: int = 41,
    skip_errors: bool = False,
) -> pd.DataFrame:
    """Rolling-origin evaluation: refit at each origin on data up to it, forecast, stack.

    Parameters
    ----------
    forecaster : estimator
        Has ``fit(panel)`` and ``predict(horizons=...)`` returning the tidy
        quantile frame from the last week of the panel it was fitted on (e.g.
        :class:`sdmkit.forecast.gbm.LightGBMQuantileForecaster`,
        :class:`sdmkit.forecast.baselines.ClimatologyQuantiles`). It is cloned
        (``sklearn.base.clone``, deep copy for non-estimators) at every origin
        and fitted on the panel's rows up to the origin only.
    panel : pandas.DataFrame
        A panel (:func:`sdmkit.forecast.panel.make_panel`).
    origins : date-like or sequence of date-likes
        Forecast origins (the last week each fit may use); every one must be
        a week of every location (else a ValidationError names the pairs).
    horizons : int, iterable of int or "season", optional
        Weeks ahead (an int H means 1..H); ``"season"``: every week of the next
        season from EW``season_start_week`` (see
        :func:`season_horizons`). Forecasters with a
        ``horizons`` parameter get it through ``set_params`` before fitting;
        every forecaster is then asked ``predict(horizons=...)`` (the season's
        weeks resolved at each origin). None: ``predict()`` with its defaults.
    season_start_week : int
        First epiweek of a season for ``horizons="season"``.
    skip_errors : bool
        Skip origins whose fit raises a ValidationError (e.g. too little
        history) instead of raising.

    Returns
    -------
    pandas.DataFrame
        The stacked forecasts (``location``, ``origin``, ``date``, ``horizon``,
        ``quantile``, ``value``) plus ``observed`` (float64; NaN where the target
        week is not in the panel).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.gbm import LightGBMQuantileForecaster
    >>> from sdmkit.forecast.backtest import backtest
    >>> panel = make_panel(dengue_panel(n_locations=3, n_weeks=160, random_state=0).panel)
    >>> fc = backtest(LightGBMQuantileForecaster(n_estimators=10), panel,
    ...               origins=panel["date"].unique()[[120, 130]], horizons=[1, 2])
    >>> fc.groupby("origin").size().tolist()
    [54, 54]
    """
    if "cases" not in panel.columns or "date" not in panel.columns:
        raise ValidationError(
            f"panel needs 'date' and 'cases' columns; it has {list(panel.columns)}."
        )
    resolved = check_origin(panel, origins)
    out = []
    for origin in pd.DatetimeIndex(resolved["origin"].unique()).sort_values():
        past = panel[panel["date"] <= origin].reset_index(drop=True)
        f = clone(forecaster, safe=False)
        h = horizons
        if isinstance(horizons, str):
            if horizons != "season":
                raise ValueError(f"horizons must be ints or 'season', got {horizons!r}.")
            t_origin = int(past.loc[past["date"] == origin, "t"].iloc[0])
            h = season_horizons(past, t_origin, season_start_week=season_start_week)
        try:
            if horizons is not None and "horizons" in _params(f):
                f.set_params(horizons=horizons)
            f.fit(past)
            fc = f.predict() if h is None else f.predict(horizons=h)
        except ValidationError:
            if skip_errors:
                continue
            raise
        _check_forecasts(fc)
        late = fc["origin"] != origin
        if late.any():
            raise ValidationError(
                f"the forecaster returned origins {_show(fc.loc[late, 'origin'].unique())} for a "
                f"fit on data up to {origin.date()}; it must forecast from the panel's last week."
            )
        out.append(fc)
    if not out:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(
                    [*_FORECAST_COLUMNS, "observed"],
                    [
                        "str",
                        "datetime64[ns]",
                        "datetime64[ns]",
                        "int64",
                        "float64",
                        "float64",
                        "float64",
                    ],
                    strict=True,
                )
            }
        )
    fc = pd.concat(out, ignore_index=True)
    return attach_observed(fc, panel)


def _params(f) -> dict:
    try:
        return f.get_params()
    except AttributeError:
        return {}


def attach_observed(
    fc: pd.DataFrame, panel: pd.DataFrame, *, target: str = "cases"
) -> pd.DataFrame:
    """Add the observed ``target`` of each forecast's (location, date) as ``observed``.

    Parameters
    ----------
    fc : pandas.DataFrame
        Tidy forecasts (an existing ``observed`` column is replaced).
    panel : pandas.DataFrame
        Panel with ``location``, ``date`` and ``target``.
    target : str

    Returns
    -------
    pandas.DataFrame
        ``fc`` with ``observed`` (float64; NaN for weeks not in the panel).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import attach_observed
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.to_datetime(["2020-01-12", "2020-01-19"]), "horizon": [1, 2],
    ...                    "quantile": 0.5, "value": 3.0})
    >>> p = pd.DataFrame({"location": ["a"], "date": [pd.Timestamp("2020-01-12")], "cases": [4]})
    >>> attach_observed(fc, p)["observed"].tolist()
    [4.0, nan]
    """
    obs = panel[["location", "date", target]].rename(columns={target: "observed"})
    obs = obs.astype({"location": "str", "observed": "float64"})
    fc = fc.drop(columns=[c for c in ("observed",) if c in fc.columns])
    fc = fc.astype({"location": "str"})
    obs["date"] = obs["date"].astype(fc["date"].dtype)
    return fc.merge(obs, on=["location", "date"], how="left", validate="many_to_one")


def _with_observed(fc: pd.DataFrame, panel: pd.DataFrame | None, who: str) -> pd.DataFrame:
    """``fc`` itself when it has ``observed``, else with ``panel``'s cases joined."""
    if "observed" in fc.columns:
        return fc
    if panel is None:
        raise ValidationError(
            f"{who}: the forecasts have no 'observed' column; pass panel=… to join the "
            f"observed cases (or add the column with attach_observed)."
        )
    return attach_observed(fc, panel)


# --------------------------------------------------------------------------- conversion


def to_interval_frame(fc: pd.DataFrame, levels: Sequence[int] = LEVELS) -> pd.DataFrame:
    """Tidy quantile forecasts → one row per forecast with ``pred`` and interval bounds.

    Parameters
    ----------
    fc : pandas.DataFrame
        Tidy quantile frame; must hold 0.5 and ``(1 ± level/100)/2`` for every
        level. Extra columns constant within a forecast (``observed``,
        ``model``, …) are kept.
    levels : sequence of int
        Central interval levels in percent.

    Returns
    -------
    pandas.DataFrame
        ``location``, ``origin``, ``date``, ``horizon``, the kept columns,
        ``pred`` and ``lower_<L>`` / ``upper_<L>`` (float64) for each level.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import to_interval_frame
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.Timestamp("2020-01-12"), "horizon": 1,
    ...                    "quantile": [0.05, 0.5, 0.95], "value": [1.0, 4.0, 9.0]})
    >>> to_interval_frame(fc, levels=[90])[["pred", "lower_90", "upper_90"]].values.tolist()
    [[4.0, 1.0, 9.0]]
    """
    _check_forecasts(fc)
    have = np.unique(fc["quantile"].to_numpy(dtype="float64"))
    names = {_level_of(0.5, have): "pred"}
    for lv in levels:
        a = 1 - lv / 100
        names[_level_of(a / 2, have)] = f"lower_{lv}"
        names[_level_of(1 - a / 2, have)] = f"upper_{lv}"
    head, Q = _wide(fc, list(names))
    wide = head.copy()
    for j, name in enumerate(names.values()):
        wide[name] = Q[:, j]
    cols = ["pred"] + [f"{s}_{lv}" for lv in levels for s in ("lower", "upper")]
    return wide[list(head.columns) + cols]


def from_interval_frame(
    frame: pd.DataFrame, levels: Sequence[int] = LEVELS, *, origin=None
) -> pd.DataFrame:
    """Sprint columns (``pred``, ``lower_<L>``, ``upper_<L>``) → tidy quantile frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``location``, ``date``, ``pred`` and the bounds; ``origin`` and
        ``horizon`` are taken from the frame when present, else ``origin`` must
        be given (the horizon is then counted in weeks from it).
    levels : sequence of int
    origin : date-like, optional

    Returns
    -------
    pandas.DataFrame
        Tidy quantile frame (plus any other columns of ``frame``), sorted by
        (location, origin, date, quantile).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import from_interval_frame
    >>> w = pd.DataFrame({"location": ["a"], "date": [pd.Timestamp("2020-01-12")],
    ...                   "pred": [4.0], "lower_90": [1.0], "upper_90": [9.0]})
    >>> from_interval_frame(w, levels=[90], origin="2020-01-05")["value"].tolist()
    [1.0, 4.0, 9.0]
    """
    bounds = {"pred": 0.5}
    for lv in levels:
        a = round(1 - lv / 100, 10)
        bounds[f"lower_{lv}"] = round(a / 2, 10)
        bounds[f"upper_{lv}"] = round(1 - a / 2, 10)
    missing = [c for c in ["location", "date", *bounds] if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"interval frame lacks columns {missing}; it has {list(frame.columns)}."
        )
    f = frame.copy()
    if "origin" not in f.columns:
        if origin is None:
            raise ValidationError("the interval frame has no 'origin' column; pass origin=….")
        f["origin"] = pd.Timestamp(origin)
    f["origin"] = pd.to_datetime(f["origin"]).astype(f["date"].dtype)
    if "horizon" not in f.columns:
        f["horizon"] = ((f["date"] - f["origin"]).dt.days // 7).astype("int64")
    extra = [c for c in f.columns if c not in [*_KEYS, *bounds]]
    long = f.melt(
        id_vars=_KEYS + extra, value_vars=list(bounds), var_name="_col", value_name="value"
    )
    long["quantile"] = long.pop("_col").map(bounds).astype("float64")
    long["value"] = long["value"].astype("float64")
    cols = _FORECAST_COLUMNS + extra
    return long[cols].sort_values(["location", "origin", "date", "quantile"], ignore_index=True)


# --------------------------------------------------------------------------- scores


def score_forecasts(
    fc: pd.DataFrame, panel: pd.DataFrame | None = None, *, levels: Sequence[int] = LEVELS
) -> pd.DataFrame:
    """Score every forecast (one row per location × origin × date).

    Parameters
    ----------
    fc : pandas.DataFrame
        Tidy quantile forecasts with an ``observed`` column, or without one and
        a ``panel`` to take ``cases`` from.
    panel : pandas.DataFrame, optional
    levels : sequence of int
        Interval levels of WIS and coverage.

    Returns
    -------
    pandas.DataFrame
        The interval frame of :func:`to_interval_frame` with ``observed`` and
        ``ae`` (|y − median|), ``wis``, ``crps``, ``log_score`` and
        ``cover_<L>`` (bool) for each level (see the module docstring for CRPS
        and the log score). Rows without an observation are dropped (and
        counted in ``attrs["n_unobserved"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import score_forecasts
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.Timestamp("2020-01-12"), "horizon": 1,
    ...                    "quantile": [0.05, 0.5, 0.95], "value": [1.0, 4.0, 9.0],
    ...                    "observed": 6.0})
    >>> s = score_forecasts(fc, levels=[90])
    >>> float(s["ae"].iloc[0]), bool(s["cover_90"].iloc[0])
    (2.0, True)
    """
    _check_forecasts(fc)
    fc = _with_observed(fc, panel, "score_forecasts")
    wide = to_interval_frame(fc, levels)
    n_un = int(wide["observed"].isna().sum())
    keep = wide["observed"].notna().to_numpy()
    wide = wide[keep].reset_index(drop=True)
    y = wide["observed"].to_numpy()
    intervals = {lv: (wide[f"lower_{lv}"], wide[f"upper_{lv}"]) for lv in levels}
    wide["ae"] = np.abs(y - wide["pred"].to_numpy())
    wide["wis"] = wis(y, wide["pred"], intervals)
    for lv in levels:
        wide[f"cover_{lv}"] = (y >= wide[f"lower_{lv}"]) & (y <= wide[f"upper_{lv}"])
    # CRPS / log score use every quantile level of the forecast
    taus = np.unique(fc["quantile"].to_numpy(dtype="float64"))
    _, Q = _wide(fc, taus)
    Q = Q[keep]
    wide["crps"] = crps_from_quantiles(y, Q, taus)
    wide["log_score"] = log_score_from_quantiles(y, Q, taus)
    wide.attrs["n_unobserved"] = n_un
    return wide


def crps_from_quantiles(y, Q: np.ndarray, taus) -> np.ndarray:
    """CRPS approximated from quantiles (see the module docstring); one value per row.

    Parameters
    ----------
    y : array-like, shape (n,)
        Observations.
    Q : array-like, shape (n, k)
        Forecast quantiles, columns in the order of ``taus``.
    taus : array-like, shape (k,)
        Increasing quantile levels.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> from sdmkit.forecast.backtest import crps_from_quantiles
    >>> crps_from_quantiles([13.0], [[10.0, 10.0, 10.0]], [0.1, 0.5, 0.9]).round(6).tolist()
    [3.0]
    """
    y = np.asarray(y, dtype="float64")
    Q = np.sort(np.asarray(Q, dtype="float64"), axis=1)
    taus = np.asarray(taus, dtype="float64")
    grid = np.arange(0.0025, 1, 0.005)
    Qg = np.column_stack([_interp_rows(Q, taus, g) for g in grid])
    diff = y[:, None] - Qg
    pin = np.maximum(grid * diff, (grid - 1) * diff)
    return 2 * pin.mean(axis=1)


def _interp_rows(Q, taus, g):
    if g <= taus[0]:
        return Q[:, 0]
    if g >= taus[-1]:
        return Q[:, -1]
    j = np.searchsorted(taus, g) - 1
    w = (g - taus[j]) / (taus[j + 1] - taus[j])
    return Q[:, j] * (1 - w) + Q[:, j + 1] * w


def log_score_from_quantiles(y, Q: np.ndarray, taus) -> np.ndarray:
    """Negative log density at ``y`` of the quantile-interpolated distribution (module docstring).

    Tied quantiles (common at zero counts) are pulled apart to at least one
    count, so every forecast has a finite density everywhere; the tails are
    exponential on the log1p scale and their log density is computed in
    closed form (no underflow to an infinite score).

    Parameters
    ----------
    y : array-like, shape (n,)
        Observed counts.
    Q : array-like, shape (n, k)
        Forecast quantiles, columns in the order of ``taus``.
    taus : array-like, shape (k,)
        Increasing quantile levels.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> from sdmkit.forecast.backtest import log_score_from_quantiles
    >>> s = log_score_from_quantiles([50.0, 900.0], [[20.0, 50.0, 120.0]] * 2, [0.1, 0.5, 0.9])
    >>> bool(s[0] < s[1])
    True
    """
    y = np.asarray(y, dtype="float64")
    L = np.log1p(np.sort(np.clip(np.asarray(Q, dtype="float64"), 0, None), axis=1))
    taus = np.asarray(taus, dtype="float64")
    z = np.log1p(np.clip(y, 0, None))
    n, k = L.shape
    for j in range(1, k):  # at least one count between consecutive quantiles
        one_count = np.log1p(np.expm1(L[:, j - 1]) + 1) - L[:, j - 1]
        L[:, j] = np.maximum(L[:, j], L[:, j - 1] + one_count)
    logd = np.full(n, np.nan)
    for j in range(k - 1):
        inside = (z >= L[:, j]) & (z < L[:, j + 1]) & np.isnan(logd)
        logd = np.where(inside, np.log(taus[j + 1] - taus[j]) - np.log(L[:, j + 1] - L[:, j]), logd)
    lo_rate = (taus[1] - taus[0]) / (L[:, 1] - L[:, 0]) / taus[0]
    hi_rate = (taus[-1] - taus[-2]) / (L[:, -1] - L[:, -2]) / (1 - taus[-1])
    below = np.isnan(logd) & (z < L[:, 0])
    above = np.isnan(logd) & (z >= L[:, -1])
    logd = np.where(below, np.log(taus[0] * lo_rate) - lo_rate * (L[:, 0] - z), logd)
    logd = np.where(above, np.log((1 - taus[-1]) * hi_rate) - hi_rate * (z - L[:, -1]), logd)
    return -(logd - np.log1p(y))


def summarize_scores(
    scores: pd.DataFrame, by: Sequence[str] = ("location", "origin"), levels: Sequence[int] = LEVELS
) -> pd.DataFrame:
    """Mean scores per group of :func:`score_forecasts` rows.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`score_forecasts`.
    by : sequence of str
        Grouping columns (e.g. ``("location", "origin")``, ``("model",)``).
    levels : sequence of int
        Interval levels whose coverage to report.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``n`` (forecasts), ``mae``, ``wis``, ``crps``,
        ``log_score`` and ``coverage_<L>`` (share of observations inside).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import score_forecasts, summarize_scores
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.Timestamp("2020-01-12"), "horizon": 1,
    ...                    "quantile": [0.05, 0.5, 0.95], "value": [1.0, 4.0, 9.0],
    ...                    "observed": 12.0})
    >>> summarize_scores(score_forecasts(fc, levels=[90]), by=["location"], levels=[90])[
    ...     ["n", "mae", "coverage_90"]].values.tolist()
    [[1.0, 8.0, 0.0]]
    """
    agg = {
        "n": ("wis", "size"),
        "mae": ("ae", "mean"),
        "wis": ("wis", "mean"),
        "crps": ("crps", "mean"),
        "log_score": ("log_score", "mean"),
    }
    agg |= {f"coverage_{lv}": (f"cover_{lv}", "mean") for lv in levels}
    return scores.groupby(list(by), observed=True).agg(**agg).reset_index()


def pool_relative_wis(
    scores: pd.DataFrame,
    model,
    pool: pd.DataFrame,
    *,
    unit: Sequence[str] = ("location", "test"),
    model_col: str = "model",
    score: str = "wis",
) -> float:
    """Geometric mean over units of WIS(model) / median WIS of ``pool`` ∪ {model}.

    The sprint convention: for each unit (state × validation test), the
    reference is the median of the pool's WIS and the scored model's WIS
    (the model is added to the pool even when already in it, so every model
    faces a pool of the same size).

    Parameters
    ----------
    scores : pandas.DataFrame
        Rows (model, unit…, score) holding the scored model.
    model
        Value of ``model_col`` to score.
    pool : pandas.DataFrame
        Same layout: the pool's scores (e.g. the 18 sprint submissions).
    unit : sequence of str
    model_col, score : str

    Returns
    -------
    float

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import pool_relative_wis
    >>> pool = pd.DataFrame({"model": ["p", "q"], "location": "a", "test": "1", "wis": [1.0, 3.0]})
    >>> me = pd.DataFrame({"model": ["m"], "location": "a", "test": "1", "wis": [1.0]})
    >>> pool_relative_wis(me, "m", pool)  # median of {1, 3, 1} is 1
    1.0
    """
    unit = list(unit)
    mine = scores[scores[model_col] == model].set_index(unit)[score]
    if mine.empty:
        raise ValidationError(f"no scores for model {model!r}.")
    ratios = []
    grouped = {
        k if isinstance(k, tuple) else (k,): g[score].to_numpy()
        for k, g in pool.groupby(unit, observed=True)
    }
    for key, s in mine.items():
        key = key if isinstance(key, tuple) else (key,)
        ref = np.median(np.append(grouped.get(key, np.array([])), s))
        ratios.append(s / ref)
    return float(np.exp(np.mean(np.log(ratios))))


# --------------------------------------------------------------------------- conformal, blends


def fit_conformal(
    fc: pd.DataFrame,
    panel: pd.DataFrame | None = None,
    *,
    method: str = "median",
    scale: str = "log1p",
    shift_median: bool = False,
) -> dict:
    """Split-conformal recalibration of quantile forecasts, fitted on backtest forecasts.

    All scores are on the ``scale`` (``log1p``: relative errors, so one
    calibration serves small and large locations; or ``identity``). With
    ``n`` calibration forecasts, a "level-L" empirical quantile uses the
    split-conformal finite-sample level ``⌈(n+1)L⌉/n`` (capped at 1).

    ``method="median"``
        Absolute-residual split conformal around the median (Lei et al. 2018):
        the central ``L`` interval becomes ``median ± d_L`` with ``d_L`` the
        level-L quantile of ``|g(y) − g(median)|``. The forecaster's own
        interval widths are discarded; intervals are symmetric on the scale.
    ``method="interval"``
        Conformalised quantile regression (Romano et al. 2019), symmetric
        form: per central interval ``[l, u]`` of level L, the score
        ``max(g(l) − g(y), g(y) − g(u))`` and its level-L quantile ``d_L``;
        the interval becomes ``[l − d_L, u + d_L]`` (``d_L < 0`` narrows it).
    ``method="quantile"``
        One-sided per quantile: level τ is shifted by the empirical τ-quantile
        of ``g(y) − g(q_τ)`` (asymmetric; follows recent biases).

    The median is shifted only with ``shift_median=True`` (by the median of
    ``g(y) − g(median)``). Use forecasts whose target weeks precede the
    evaluation period: that is what makes the result honest.

    Parameters
    ----------
    fc : pandas.DataFrame
        Tidy forecasts with ``observed`` (or a ``panel`` to join it); must hold
        the median and, for "median"/"interval", pairs of levels ``τ, 1 − τ``.
    panel : pandas.DataFrame, optional
    method : {"median", "interval", "quantile"}
    scale : {"log1p", "identity"}
    shift_median : bool

    Returns
    -------
    dict
        ``method``, ``scale``, ``n`` and ``offsets`` (quantile level → offset on
        the scale; for "median" relative to the median, else to the level's own
        value); pass it to :func:`apply_conformal`.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import fit_conformal
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.date_range("2020-01-12", periods=4, freq="7D").repeat(3),
    ...                    "horizon": 1, "quantile": [0.1, 0.5, 0.9] * 4, "value": 10.0,
    ...                    "observed": [10.0] * 6 + [30.0] * 3 + [5.0] * 3})
    >>> fit_conformal(fc, method="median", scale="identity")["offsets"]
    {0.1: -20.0, 0.5: 0.0, 0.9: 20.0}
    """
    _check_forecasts(fc)
    if method not in ("median", "interval", "quantile"):
        raise ValueError(f"method must be 'median', 'interval' or 'quantile', got {method!r}.")
    fc = _with_observed(fc, panel, "fit_conformal")
    g = _scale(scale)[0]
    fc = fc[fc["observed"].notna() & fc["value"].notna()]
    if fc.empty:
        raise ValidationError("fit_conformal: no forecast has an observation to calibrate on.")
    taus = np.unique(fc["quantile"].to_numpy(dtype="float64"))
    head, Q = _wide(fc, taus)
    ok = ~np.isnan(Q).any(axis=1)
    y, Q = g(head["observed"].to_numpy(dtype="float64"))[ok], g(Q[ok])
    n = len(y)
    j_med = int(np.flatnonzero(np.isclose(taus, 0.5))[0]) if np.isclose(taus, 0.5).any() else None
    if j_med is None and (method == "median" or shift_median):
        raise ValidationError("fit_conformal: the forecasts have no median (0.5) level.")

    def level(L: float) -> float:
        return float(min(1.0, np.ceil((n + 1) * L) / n))

    offsets: dict[float, float] = {}
    for j, tau in enumerate(taus):
        tau = float(round(tau, 10))
        if np.isclose(tau, 0.5):
            med_shift = np.quantile(y - Q[:, j], 0.5) if shift_median else 0.0
            offsets[tau] = float(med_shift)
            continue
        if method == "quantile":
            lv = level(tau) if tau > 0.5 else max(0.0, np.floor((n + 1) * tau) / n)
            offsets[tau] = float(np.quantile(y - Q[:, j], lv, method="inverted_cdf"))
            continue
        partner = np.flatnonzero(np.isclose(taus, 1 - tau))
        if not partner.size:
            raise ValidationError(
                f"fit_conformal({method!r}): level {tau:g} has no partner "
                f"{1 - tau:g} to form a central interval."
            )
        lo, hi = (j, int(partner[0])) if tau < 0.5 else (int(partner[0]), j)
        L = 1 - 2 * min(tau, 1 - tau)
        if method == "median":
            d = np.quantile(np.abs(y - Q[:, j_med]), level(L), method="inverted_cdf")
        else:
            d = np.quantile(np.maximum(Q[:, lo] - y, y - Q[:, hi]), level(L), method="inverted_cdf")
        offsets[tau] = float(-d if tau < 0.5 else d)
    return {"method": method, "scale": scale, "n": int(n), "offsets": offsets}


def apply_conformal(fc: pd.DataFrame, calibration: Mapping) -> pd.DataFrame:
    """Apply :func:`fit_conformal`'s offsets and re-sort the quantiles of each forecast.

    Parameters
    ----------
    fc : pandas.DataFrame
        Tidy quantile forecasts (same levels as the calibration forecasts).
    calibration : dict
        Output of :func:`fit_conformal`.

    Returns
    -------
    pandas.DataFrame
        Same rows (sorted by location, origin, date, horizon, quantile);
        ``value`` recalibrated (back-transformed and clipped at 0 on the log1p
        scale) and non-decreasing in ``quantile`` within each forecast.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import apply_conformal
    >>> fc = pd.DataFrame({"location": "a", "origin": pd.Timestamp("2020-01-05"),
    ...                    "date": pd.Timestamp("2020-01-12"), "horizon": 1,
    ...                    "quantile": [0.1, 0.5, 0.9], "value": [8.0, 10.0, 11.0]})
    >>> cal = {"method": "median", "scale": "identity", "offsets": {0.1: -5.0, 0.5: 0.0, 0.9: 5.0}}
    >>> apply_conformal(fc, cal)["value"].tolist()
    [5.0, 10.0, 15.0]
    """
    _check_forecasts(fc)
    method = calibration.get("method", "quantile")
    scale = calibration.get("scale", "log1p")
    g, ginv = _scale(scale)
    offsets = calibration["offsets"]
    out = fc.sort_values([*_KEYS, "quantile"], ignore_index=True)
    q = out["quantile"].to_numpy(dtype="float64")
    known = np.array(sorted(offsets))
    unknown = [float(x) for x in np.unique(q) if not np.isclose(known, x, atol=1e-9).any()]
    if unknown:
        raise ValidationError(
            f"apply_conformal: no offset for levels {_show(unknown)} "
            f"(calibrated levels {_show(known.tolist())})."
        )
    d = np.zeros(len(out))
    for lv in known:
        d[np.isclose(q, lv, atol=1e-9)] = offsets[lv]
    v = g(out["value"].to_numpy(dtype="float64"))
    if method == "median":
        head, Q = _wide(out, [0.5])
        codes = out.groupby(_KEYS, sort=True, observed=True).ngroup().to_numpy()
        med = g(Q[:, 0])[codes] + offsets.get(0.5, 0.0)
        new = np.where(np.isclose(q, 0.5), med, med + d)
    else:
        new = v + d
    v = ginv(new)
    if scale == "log1p":
        v = np.clip(v, 0, None)
    out["value"] = v
    return _sort_quantiles(out)


def _sort_quantiles(fc: pd.DataFrame) -> pd.DataFrame:
    fc = fc.sort_values([*_KEYS, "quantile"], ignore_index=True)
    codes = fc.groupby(_KEYS, sort=False, observed=True).ngroup().to_numpy()
    v = fc["value"].to_numpy()
    order = np.lexsort((v, codes))
    fc["value"] = v[order]
    return fc


def _scale(name: str):
    if name == "log1p":
        return (lambda x: np.log1p(np.clip(x, 0, None))), np.expm1
    if name == "identity":
        return (lambda x: x), (lambda x: x)
    raise ValueError(f"scale must be 'log1p' or 'identity', got {name!r}.")


def blend_quantiles(
    forecasts: Mapping[str, pd.DataFrame], weights: Mapping[str, float], *, scale: str = "identity"
) -> pd.DataFrame:
    """Weighted quantile average (Vincentisation) of several models' forecasts.

    Parameters
    ----------
    forecasts : dict
        Model name → tidy quantile frame (same locations, origins, dates, levels).
    weights : dict
        Model name → weight ≥ 0 (normalised to sum 1).
    scale : {"identity", "log1p"}
        Average the quantiles themselves or their log1p (a geometric-type mean).

    Returns
    -------
    pandas.DataFrame
        Tidy quantile frame (plus ``observed`` when the inputs had it).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.backtest import blend_quantiles
    >>> a = pd.DataFrame({"location": "x", "origin": pd.Timestamp("2020-01-05"),
    ...                   "date": pd.Timestamp("2020-01-12"), "horizon": 1,
    ...                   "quantile": [0.5], "value": [2.0]})
    >>> blend_quantiles({"a": a, "b": a.assign(value=4.0)}, {"a": 0.5, "b": 0.5})["value"].tolist()
    [3.0]
    """
    names = [n for n in weights if weights[n] > 0]
    if not names:
        raise ValueError("blend_quantiles: give at least one positive weight.")
    unknown = [n for n in names if n not in forecasts]
    if unknown:
        raise ValueError(f"blend_quantiles: no forecasts for {unknown}.")
    total = sum(weights[n] for n in names)
    g, ginv = _scale(scale)
    keys = [*_KEYS, "quantile"]
    merged = None
    for n in names:
        f = forecasts[n]
        _check_forecasts(f, f"forecasts[{n!r}]")
        f = f[[*keys, "value"] + (["observed"] if "observed" in f.columns else [])].copy()
        f["quantile"] = f["quantile"].round(10)
        f[n] = g(f.pop("value").to_numpy(dtype="float64")) * (weights[n] / total)
        if merged is None:
            merged = f
        else:
            f = f.drop(columns=[c for c in ("observed",) if c in f.columns])
            merged = merged.merge(f, on=keys, how="outer", validate="one_to_one")
    miss = merged[names].isna().any(axis=1)
    if miss.any():
        raise ValidationError(
            f"blend_quantiles: {int(miss.sum())} (location, origin, date, quantile) rows are "
            f"missing from some models, e.g. {_show(merged.loc[miss, keys].head(3).values.tolist())}."
        )
    merged["value"] = ginv(merged[names].sum(axis=1).to_numpy())
    merged = merged.drop(columns=names)
    cols = _FORECAST_COLUMNS + (["observed"] if "observed" in merged.columns else [])
    return _sort_quantiles(merged[cols])
