"""Forecast features from a weekly panel, computed from data up to the forecast origin only.

One row per (location, origin, horizon): the origin is the last week whose data
is used, the target week is ``horizon`` steps later. Features:

* ``log1p_cases_lag{l}`` — ``log1p(cases)`` ``l`` weeks before the origin
  (``lag0`` is the origin week itself), l = 0..``case_lags``-1;
* ``log1p_cases_mean{w}`` — ``log1p`` of the mean count of the ``w`` weeks
  ending at the origin (NaN until ``w`` weeks exist);
* ``{var}_lag{l}`` — a climate covariate ``l`` weeks before the origin
  (default l = 0..12) and ``{var}_mean{w}`` — its mean over the ``w`` weeks
  ending at the origin (NaNs skipped);
* ``horizon``; ``week_of_year`` of the TARGET week and Fourier terms
  ``sin{k}``, ``cos{k}`` (k = 1..K) of ``2π (week - 1) / weeks_in_year`` of the
  target week (MMWR 52/53-week years; 52 slots for DengAI);
* ``trend`` — years from 2000-01-01 to the target date (depends on nothing but
  the calendar);
* static covariates and ``emb_*`` embedding columns, taken at the origin row.

Every feature uses only rows with ``t <= origin``: lags and trailing windows are
shifts within each location of a continuous panel (see
:mod:`sdmkit.forecast.panel`), and the target-date features come from the
calendar alone. ``target`` (the count at the target week, NaN when it is not in
the panel) is the label, never a feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._validation import ValidationError
from .panel import _check_is_panel, check_origin, step_calendar

__all__ = ["FEATURE_KEYS", "feature_columns", "make_features"]

#: Columns of :func:`make_features` output that identify a row or hold the label.
FEATURE_KEYS: tuple[str, ...] = ("location", "origin", "date", "t_origin", "t", "target")

_TREND_REF = pd.Timestamp("2000-01-01")


def make_features(
    panel: pd.DataFrame,
    origins=None,
    horizons: int | Sequence[int] = 1,
    *,
    case_lags: int = 8,
    case_windows: Sequence[int] = (4, 8),
    climate: Sequence[str] = (),
    climate_lags: Sequence[int] = tuple(range(13)),
    climate_windows: Sequence[int] = (4, 8, 12),
    fourier: int = 3,
    trend: bool = True,
    static: Sequence[str] = (),
    embeddings: bool = True,
) -> pd.DataFrame:
    """Feature table for direct multi-horizon forecasting, without peeking past the origin.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`~sdmkit.forecast.panel.make_panel` or
        :func:`~sdmkit.forecast.panel.dengai_panel` (with or without ``cases``;
        case features are skipped without it).
    origins : date-like, sequence of date-likes, "last" or None
        Forecast origins (dates present in the panel for every location; an
        origin beyond the data is an error, see
        :func:`~sdmkit.forecast.panel.check_origin`). None: every week of the
        panel is an origin (a training table); ``"last"``: each location's last week.
    horizons : int or sequence of int
        An int H means 1..H; or explicit steps ahead (each ≥ 1).
    case_lags : int
        Number of case lags (0..case_lags-1 weeks before the origin); 0 for none.
    case_windows : sequence of int
        Trailing windows (weeks) of mean counts.
    climate : sequence of str
        Time-varying covariate columns to lag and average.
    climate_lags, climate_windows : sequence of int
        Lags (≥ 0) and trailing-window lengths (≥ 1) for ``climate``.
    fourier : int
        Number of harmonics K of the target week of year (0 for none).
    trend : bool
        Add ``trend`` (years since 2000 of the target date).
    static : sequence of str
        Per-location columns to copy (value at the origin row).
    embeddings : bool
        Copy the ``emb_*`` columns added by
        :func:`~sdmkit.forecast.panel.join_embeddings`.

    Returns
    -------
    pandas.DataFrame
        Sorted by (location, origin, horizon): ``location`` (str), ``origin``
        (datetime64, the origin week's date), ``date`` (datetime64, the target
        week's date), ``horizon`` (int64), ``t_origin``, ``t`` (int64 steps),
        ``target`` (float64 count at the target week, NaN if not in the panel)
        and the feature columns (float64; NaN where history is too short).
        ``horizon`` is both a key and a feature; :func:`feature_columns` lists
        the features.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.panel import make_panel
    >>> from sdmkit.forecast.features import make_features, feature_columns
    >>> sim = dengue_panel(n_locations=2, n_weeks=30, random_state=0)
    >>> p = make_panel(sim.panel.drop(columns="epiweek"))
    >>> X = make_features(p, origins="2015-03-29", horizons=4, climate=["temperature"])
    >>> X.shape[0], X["horizon"].tolist()[:4]
    (8, [1, 2, 3, 4])
    >>> "temperature_lag12" in feature_columns(X)
    True
    """
    _check_is_panel(panel)
    horizons = _as_horizons(horizons)
    climate, static = list(climate), list(static)
    for what, cols in (("climate", climate), ("static", static)):
        missing = [c for c in cols if c not in panel.columns]
        if missing:
            raise ValidationError(
                f"make_features: {what} columns {missing} are not in the panel; join them first "
                f"(join_climate / join_static)."
            )
    if any(int(v) < 0 for v in climate_lags) or any(
        int(w) < 1 for w in (*case_windows, *climate_windows)
    ):
        raise ValueError("lags must be >= 0 and windows >= 1.")
    p = panel.sort_values(["location", "t"], kind="stable").reset_index(drop=True)
    feats: dict[str, pd.Series] = {}
    if "cases" in p.columns:
        logc = np.log1p(p["cases"].astype("float64"))
        for lag in range(int(case_lags)):
            feats[f"log1p_cases_lag{lag}"] = logc.groupby(p["location"]).shift(lag)
        cases = p["cases"].astype("float64")
        for w in case_windows:
            roll = cases.groupby(p["location"]).rolling(int(w), min_periods=int(w)).mean()
            feats[f"log1p_cases_mean{w}"] = np.log1p(roll.reset_index(level=0, drop=True))
    for var in climate:
        x = pd.to_numeric(p[var], errors="coerce").astype("float64")
        g = x.groupby(p["location"])
        for lag in climate_lags:
            feats[f"{var}_lag{int(lag)}"] = g.shift(int(lag))
        for w in climate_windows:
            roll = g.rolling(int(w), min_periods=1).mean()
            feats[f"{var}_mean{w}"] = roll.reset_index(level=0, drop=True)
    for col in static:
        feats[col] = p[col]
    if embeddings:
        for col in [c for c in p.columns if c.startswith("emb_")]:
            feats[col] = p[col].astype("float64")
    base = pd.DataFrame(feats, index=p.index)

    if origins is None:
        o = p[["location", "date", "t"]].rename(columns={"date": "origin"})
    elif isinstance(origins, str) and origins == "last":
        o = check_origin(p, None)
    else:
        o = check_origin(p, origins)
    row = pd.Series(p.index, index=pd.MultiIndex.from_frame(p[["location", "t"]]))
    at = row.reindex(pd.MultiIndex.from_frame(o[["location", "t"]])).to_numpy()
    n_h = len(horizons)
    at = np.repeat(at, n_h)
    out = pd.DataFrame(
        {
            "location": np.repeat(o["location"].to_numpy(), n_h),
            "origin": np.repeat(o["origin"].to_numpy(), n_h),
            "horizon": np.tile(horizons, len(o)),
            "t_origin": np.repeat(o["t"].to_numpy(), n_h),
        }
    )
    out["t"] = out["t_origin"] + out["horizon"]
    cal = step_calendar(p, out["location"].to_numpy(), out["t"].to_numpy())
    out.insert(2, "date", cal["date"].to_numpy())
    if "cases" in p.columns:
        cases = pd.Series(p["cases"].to_numpy(dtype="float64"), index=row.index)
        out["target"] = cases.reindex(pd.MultiIndex.from_frame(out[["location", "t"]])).to_numpy()
    else:
        out["target"] = np.nan
    out["location"] = out["location"].astype("str")
    extra = {"week_of_year": cal["week"].to_numpy(dtype="float64")}
    phase = 2 * np.pi * (cal["week"].to_numpy() - 1) / cal["weeks_in_year"].to_numpy()
    for k in range(1, int(fourier) + 1):
        extra[f"sin{k}"] = np.sin(k * phase)
        extra[f"cos{k}"] = np.cos(k * phase)
    if trend:
        extra["trend"] = (pd.DatetimeIndex(cal["date"]) - _TREND_REF).days.to_numpy() / 365.25
    out = pd.concat([out, pd.DataFrame(extra), base.iloc[at].reset_index(drop=True)], axis=1)
    return out.sort_values(["location", "origin", "horizon"], kind="stable").reset_index(drop=True)


def feature_columns(features: pd.DataFrame) -> list[str]:
    """The feature columns of a :func:`make_features` table (``horizon`` included).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.features import feature_columns
    >>> feature_columns(pd.DataFrame(columns=["location", "origin", "date", "horizon", "t",
    ...                                       "t_origin", "target", "sin1"]))
    ['horizon', 'sin1']
    """
    return [c for c in features.columns if c not in FEATURE_KEYS]


def _as_horizons(horizons) -> np.ndarray:
    if np.ndim(horizons) == 0:
        h = int(horizons)
        if h < 1 or h != horizons:
            raise ValueError(
                f"horizons must be an int >= 1 or a sequence of them, got {horizons!r}."
            )
        return np.arange(1, h + 1, dtype="int64")
    arr = np.asarray(horizons)
    if arr.size == 0 or (arr < 1).any() or (arr != np.round(arr)).any():
        raise ValueError(f"horizons must be integers >= 1, got {horizons!r}.")
    return np.unique(arr.astype("int64"))
