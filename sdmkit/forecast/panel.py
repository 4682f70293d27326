"""Weekly location × week panels: the data model every sdmkit forecaster starts from.

A *panel* here is a tidy :class:`pandas.DataFrame`, one row per location and
week, sorted by ``(location, t)`` with a fresh RangeIndex and these columns:

``location`` (str)
    Location id.
``date`` (datetime64)
    Date the week starts (for CDC/MMWR epiweeks: the Sunday).
``t`` (int64)
    Continuous weekly step index: within a location consecutive rows differ by
    exactly 1, so ``t + h`` is the week ``h`` steps after ``t``. For ordinary
    7-day calendars ``t = (date - 1970-01-04) // 7 days``; for the DengAI
    calendar ``t`` is the DengAI *slot* ``year * 52 + k`` (see
    :func:`dengai_panel`).
``year``, ``week`` (int64)
    Epidemiological year and week: CDC/MMWR epiweeks from
    :func:`sdmkit.epiweek` (52- and 53-week years) for 7-day calendars; the
    calendar year and slot ``k + 1`` (1..52) for DengAI.
``epiweek`` (int64)
    ``year * 100 + week``.
``cases`` (int64)
    The target counts (renamed from whatever ``target=`` named), absent when
    the panel was built with ``target=None``.
covariates
    Any other columns, as given, plus what :func:`join_climate`,
    :func:`join_static` and :func:`join_embeddings` add.

Forecasts are tidy frames with columns ``location``, ``origin`` (last date
used), ``date`` (target date), ``horizon`` (int ≥ 1), ``quantile`` (one of
:data:`QUANTILES` or more) and ``value``; quantiles are monotone per
``(location, origin, date)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._calendar import epiweek
from .._validation import ValidationError, ValidationWarning, _show, check_panel

__all__ = [
    "KEY_COLUMNS",
    "QUANTILES",
    "check_origin",
    "dengai_panel",
    "is_dengai_calendar",
    "join_climate",
    "join_embeddings",
    "join_static",
    "make_panel",
    "quantile_frame",
    "step_calendar",
]

#: Quantile levels every sdmkit forecaster returns (at least): the median and the
#: bounds of the central 50/80/90/95% intervals of the forecasting hubs and sprints.
QUANTILES: tuple[float, ...] = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)

#: Columns that index a panel (never used as covariates).
KEY_COLUMNS: tuple[str, ...] = ("location", "date", "t", "year", "week", "epiweek")

_EPOCH = pd.Timestamp("1970-01-04")  # a Sunday; t = weeks since then for 7-day calendars
_DENGAI_SLOTS = 52


# --------------------------------------------------------------------------- building


def make_panel(
    df: pd.DataFrame,
    *,
    location: str = "location",
    time: str = "date",
    target: str | None = "cases",
    covariates: Sequence[str] | None = None,
    name: str = "panel",
) -> pd.DataFrame:
    """Build a validated weekly panel from a tidy frame with a 7-day calendar.

    Validation goes through :func:`sdmkit.check_panel`: no missing or
    duplicated (location, week), each location's weeks consecutive (exactly 7
    days apart, no gaps), and the target non-negative whole numbers without
    NaN. Epiweeks come from :func:`sdmkit.epiweek` (CDC/MMWR, 53-week years).
    For the DengAI calendar (52 slots a year) use :func:`dengai_panel`.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per location and week.
    location, time : str
        Columns of the location id and of the date starting each week.
    target : str or None
        Column of the counts to forecast, renamed ``cases``; None builds a
        covariate-only panel (e.g. test-period features).
    covariates : sequence of str, optional
        Other columns to keep; default every other column. Input columns called
        ``year``, ``week`` or ``epiweek`` must agree with the computed epiweeks
        (else rename them); a column named ``t`` is not allowed.
    name : str
        How to call the data in error messages.

    Returns
    -------
    pandas.DataFrame
        ``location`` (str), ``date`` (datetime64), ``t``, ``year``, ``week``,
        ``epiweek`` (int64), ``cases`` (int64), then the covariates; sorted by
        (location, t), RangeIndex.

    Raises
    ------
    sdmkit.ValidationError
        Gaps, duplicated weeks, missing ids or dates, negative / NaN /
        fractional counts, unknown columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel
    >>> df = pd.DataFrame({"site": ["a"] * 3,
    ...                    "day": pd.date_range("2020-12-20", periods=3, freq="7D"),
    ...                    "n": [1, 0, 4], "temp": [25.0, 26.1, 24.3]})
    >>> p = make_panel(df, location="site", time="day", target="n")
    >>> p[["location", "t", "epiweek", "cases", "temp"]].values.tolist()
    [['a', 2659, 202052, 1, 25.0], ['a', 2660, 202053, 0, 26.1], ['a', 2661, 202101, 4, 24.3]]
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"{name} must be a pandas.DataFrame, got {type(df).__name__}.")
    keys = [location, time] + ([target] if target is not None else [])
    missing = [c for c in keys if c not in df.columns]
    if missing:
        raise ValidationError(
            f"{name} lacks columns {missing}; it has {list(df.columns)}. Name them with "
            f"location=…, time=…, target=… (target=None for a panel without counts)."
        )
    if covariates is None:
        covariates = [c for c in df.columns if c not in keys]
    covariates = list(covariates)
    unknown = [c for c in covariates if c not in df.columns]
    if unknown:
        raise ValidationError(f"{name}: covariates {unknown} are not columns of the frame.")
    if "t" in covariates:
        raise ValidationError(f"{name}: column 't' is reserved for the week index; rename it.")
    out = df[keys + covariates].copy()
    out = out.rename(columns={location: "location", time: "date"})
    if target is not None:
        out = out.rename(columns={target: "cases"})
    out["date"] = _as_dates(out["date"], name)
    out["location"] = out["location"].astype("str")
    out = check_panel(
        out, location="location", time="date", freq="W",
        counts=["cases"] if target is not None else [], name=name,
    )  # fmt: skip
    if target is not None:
        out["cases"] = out["cases"].astype("int64")
    year, week = epiweek(out["date"]) if len(out) else (np.array([], "int64"),) * 2
    computed = {"year": year, "week": week, "epiweek": year * 100 + week}
    for col, val in computed.items():
        if col in out.columns:
            given = pd.to_numeric(out[col], errors="coerce").to_numpy()
            bad = np.flatnonzero(given != val)
            if bad.size:
                raise ValidationError(
                    f"{name}: column {col!r} disagrees with the CDC/MMWR epiweek of the dates "
                    f"in rows {_show(bad)} (given {_show(given[bad])}, computed "
                    f"{_show(val[bad])}). Rename or drop that column."
                )
            out = out.drop(columns=col)
    out["t"] = ((out["date"] - _EPOCH).dt.days // 7).astype("int64")
    out["year"], out["week"], out["epiweek"] = year, week, year * 100 + week
    return _order(out)


def dengai_panel(frame: pd.DataFrame, *, target: str | None = "total_cases") -> pd.DataFrame:
    """Panel of DengAI data (``load_dengai().train`` or ``.test``) on its own calendar.

    DengAI's weeks are not 7 days apart: each year has 52 slots starting on
    1 January (``week_start_date = 1 Jan + 7k``, k = 0..51) and the last slot of
    a year spans 8–9 days (see :func:`sdmkit.datasets.dengue.load_dengai`).
    Instead of faking dates, the continuous index is the slot:
    ``t = year * 52 + k``, ``week = k + 1`` (1..52, the same every year, so
    seasonal features see a 52-week year) and ``date`` keeps the real
    ``week_start_date``. ``weekofyear`` (ISO, upstream) is kept as a covariate
    but is not a week index.

    Parameters
    ----------
    frame : pandas.DataFrame
        DengAI rows: ``city``, ``year``, ``weekofyear``, ``week_start_date``,
        features, and ``target`` for training data.
    target : str or None
        Count column (renamed ``cases``); None for the test features.

    Returns
    -------
    pandas.DataFrame
        The panel columns of :mod:`sdmkit.forecast.panel` (``location`` = city),
        plus ``weekofyear`` and the 20 features (float64, NaN kept).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_dengai
    >>> from sdmkit.forecast.panel import dengai_panel
    >>> p = dengai_panel(load_dengai().train)  # doctest: +SKIP
    >>> p.groupby("location")["t"].agg(lambda t: t.diff().max()).tolist()  # doctest: +SKIP
    [1.0, 1.0]
    """
    name = "DengAI panel"
    needed = ["city", "year", "week_start_date"] + ([target] if target else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{name}: columns {missing} missing; pass load_dengai().train (or .test with "
            f"target=None)."
        )
    out = frame.rename(columns={"city": "location", "week_start_date": "date"}).copy()
    if target:
        out = out.rename(columns={target: "cases"})
    out["date"] = _as_dates(out["date"], name)
    out["location"] = out["location"].astype("str")
    out = check_panel(
        out, location="location", time="date", freq=None,
        counts=["cases"] if target else [], name=name,
    )  # fmt: skip
    days = (out["date"] - pd.to_datetime(out["year"].astype(str) + "-01-01")).dt.days
    off = out.index[
        (days % 7 != 0) | (days // 7 >= _DENGAI_SLOTS) | (out["date"].dt.year != out["year"])
    ]
    if len(off):
        raise ValidationError(
            f"{name}: week_start_date is not 1 January + 7k days (k = 0..51) of 'year' in rows "
            f"{_show(off)}; this is not the DengAI calendar (use make_panel for 7-day weeks)."
        )
    k = (days // 7).astype("int64")
    out["t"] = (out["year"].astype("int64") * _DENGAI_SLOTS + k).astype("int64")
    out["year"] = out["year"].astype("int64")
    out["week"] = k + 1
    out["epiweek"] = out["year"] * 100 + out["week"]
    check_panel(out, location="location", time="t", freq="Y", name=f"{name} (t = DengAI slot)")
    if target:
        out["cases"] = out["cases"].astype("int64")
    return _order(out)


def _as_dates(values: pd.Series, name: str) -> pd.Series:
    try:
        return pd.to_datetime(values).astype("datetime64[ns]")
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{name}: the time column is not date-like ({err}).") from err


def _order(out: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in ("location", "date", "t", "year", "week", "epiweek", "cases") if c in out]
    out = out[first + [c for c in out.columns if c not in first]]
    return out.sort_values(["location", "t"], kind="stable").reset_index(drop=True)


def _check_is_panel(panel, name: str = "panel") -> None:
    if not isinstance(panel, pd.DataFrame) or any(
        c not in panel for c in ("location", "date", "t")
    ):
        raise ValidationError(
            f"{name} must be a panel built by make_panel or dengai_panel (columns location, "
            f"date, t, …), got {type(panel).__name__}"
            f"{' with columns ' + str(list(panel.columns)) if isinstance(panel, pd.DataFrame) else ''}."
        )


# --------------------------------------------------------------------------- calendar


def is_dengai_calendar(panel: pd.DataFrame) -> bool:
    """Whether ``t`` of ``panel`` counts DengAI slots (52 a year) rather than 7-day weeks.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import is_dengai_calendar, make_panel
    >>> is_dengai_calendar(make_panel(pd.DataFrame({"location": ["a"], "date": ["2021-01-03"],
    ...                                             "cases": [1]})))
    False
    """
    if not len(panel):
        return False
    return bool(((panel["year"] * _DENGAI_SLOTS + panel["week"] - 1) == panel["t"]).all())


def step_calendar(panel: pd.DataFrame, location, t) -> pd.DataFrame:
    """Dates and epiweeks of arbitrary steps ``t`` (also beyond the data) of a panel's calendar.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel (:func:`make_panel` or :func:`dengai_panel`).
    location : array-like of str
        Location of each step (its calendar anchors the dates).
    t : array-like of int
        Step indices.

    Returns
    -------
    pandas.DataFrame
        ``date`` (datetime64), ``year``, ``week`` (int64) and ``weeks_in_year``
        (int64: 52 or 53 for MMWR years, 52 for DengAI), one row per input.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel, step_calendar
    >>> p = make_panel(pd.DataFrame({"location": ["a"], "date": ["2020-12-27"], "cases": [3]}))
    >>> step_calendar(p, ["a", "a"], [2660, 2661])[["year", "week", "weeks_in_year"]].values.tolist()
    [[2020, 53, 53], [2021, 1, 52]]
    """
    t = np.asarray(t, dtype="int64")
    location = np.asarray(location, dtype=object)
    if is_dengai_calendar(panel):
        year = t // _DENGAI_SLOTS
        k = t % _DENGAI_SLOTS
        date = pd.to_datetime(pd.Series(year).astype(str) + "-01-01") + pd.to_timedelta(7 * k, "D")
        return pd.DataFrame(
            {"date": date.to_numpy().astype("datetime64[ns]"), "year": year, "week": k + 1,
             "weeks_in_year": np.full(t.shape, _DENGAI_SLOTS, dtype="int64")}
        )  # fmt: skip
    anchor = panel.groupby("location", sort=False).first()
    unknown = sorted(set(location) - set(anchor.index))
    if unknown:
        raise ValidationError(f"locations {_show(unknown)} are not in the panel.")
    a = anchor.loc[location]
    date = pd.DatetimeIndex(a["date"].to_numpy()) + pd.to_timedelta(
        7 * (t - a["t"].to_numpy()), "D"
    )
    year, week = epiweek(date) if len(date) else (np.array([], "int64"),) * 2
    n_weeks = (
        epiweek(pd.to_datetime(pd.Series(year).astype(str) + "-12-28"))[1] if len(year) else year
    )
    return pd.DataFrame(
        {
            "date": date.to_numpy().astype("datetime64[ns]"),
            "year": year,
            "week": week,
            "weeks_in_year": n_weeks,
        }
    )


def quantile_frame(location, origin, date, horizon, values, quantiles=QUANTILES) -> pd.DataFrame:
    """Assemble the tidy forecast frame from an (n_targets, n_quantiles) array of values.

    Quantile values are made monotone per target (a running maximum over
    increasing levels) and the result is sorted by (location, origin, horizon,
    quantile).

    Parameters
    ----------
    location, origin, date, horizon : array-like, length n_targets
        Keys of each forecast target.
    values : array-like, shape (n_targets, n_quantiles)
        Quantile values, columns in the order of ``quantiles``.
    quantiles : sequence of float
        Levels in (0, 1), increasing.

    Returns
    -------
    pandas.DataFrame
        ``location`` (str), ``origin``, ``date`` (datetime64), ``horizon``
        (int64), ``quantile``, ``value`` (float64); n_targets × n_quantiles rows.

    Examples
    --------
    >>> from sdmkit.forecast.panel import quantile_frame
    >>> f = quantile_frame(["a"], ["2021-01-03"], ["2021-01-10"], [1], [[3.0, 2.0, 5.0]],
    ...                    quantiles=(0.1, 0.5, 0.9))
    >>> f["value"].tolist()
    [3.0, 3.0, 5.0]
    """
    q = np.asarray(quantiles, dtype="float64")
    if q.ndim != 1 or (np.diff(q) <= 0).any() or (q <= 0).any() or (q >= 1).any():
        raise ValueError(f"quantiles must be increasing levels in (0, 1), got {quantiles!r}.")
    v = np.asarray(values, dtype="float64").reshape(-1, q.size)
    v = np.fmax.accumulate(v, axis=1)
    n = v.shape[0]
    out = pd.DataFrame(
        {
            "location": pd.Series(
                np.repeat(np.asarray(location, dtype=object), q.size), dtype="str"
            ),
            "origin": np.repeat(
                pd.to_datetime(np.asarray(origin)).astype("datetime64[ns]"), q.size
            ),
            "date": np.repeat(pd.to_datetime(np.asarray(date)).astype("datetime64[ns]"), q.size),
            "horizon": np.repeat(np.asarray(horizon, dtype="int64"), q.size),
            "quantile": np.tile(q, n),
            "value": v.ravel(),
        }
    )
    return out.sort_values(
        ["location", "origin", "horizon", "quantile"], kind="stable"
    ).reset_index(drop=True)


def check_origin(panel: pd.DataFrame, origin, *, name: str = "origin") -> pd.DataFrame:
    """Resolve forecast origin(s) to each location's step ``t``; an origin beyond the data fails.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel.
    origin : date-like, sequence of date-likes, or None
        Last date used by a forecast. Every origin must be a date of the panel
        for every location (an origin after a location's last week or before
        its first is an error). None: each location's last date.

    Returns
    -------
    pandas.DataFrame
        ``location``, ``origin`` (datetime64), ``t`` (int64): one row per
        location × origin, sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel, check_origin
    >>> p = make_panel(pd.DataFrame({"location": ["a"] * 2,
    ...                              "date": ["2021-01-03", "2021-01-10"], "cases": [3, 1]}))
    >>> check_origin(p, "2021-01-03")["t"].tolist()
    [2661]
    """
    _check_is_panel(panel)
    if origin is None:
        last = panel.groupby("location", sort=True).tail(1)
        return pd.DataFrame(
            {"location": last["location"].to_numpy(), "origin": last["date"].to_numpy(),
             "t": last["t"].to_numpy()}
        )  # fmt: skip
    origins = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(origin, dtype=object))))
    if origins.hasnans:
        raise ValidationError(f"{name} has missing values.")
    locs = np.sort(panel["location"].unique())
    grid = pd.DataFrame(
        {
            "location": np.repeat(locs, len(origins)),
            "origin": np.tile(origins.to_numpy(), len(locs)),
        }
    )
    lookup = panel[["location", "date", "t"]].rename(columns={"date": "origin"})
    out = grid.merge(lookup, on=["location", "origin"], how="left")
    bad = out["t"].isna()
    if bad.any():
        span = panel.groupby("location")["date"].agg(["min", "max"])
        msgs = []
        for loc, o in out.loc[bad, ["location", "origin"]].itertuples(index=False):
            lo, hi = span.loc[loc, "min"], span.loc[loc, "max"]
            why = (
                "beyond the data" if o > hi else "before the data" if o < lo
                else "not one of its week dates"
            )  # fmt: skip
            msgs.append(f"{loc} @ {o.date()} ({why}; data {lo.date()}..{hi.date()})")
        raise ValidationError(
            f"{name}: {int(bad.sum())} location × origin pairs have no data at the origin: "
            f"{_show(msgs)}. A forecast origin must be a week present in the panel (the last "
            f"week whose data the forecast uses); forecast further ahead with a larger horizon."
        )
    out["t"] = out["t"].astype("int64")
    return out.sort_values(["location", "origin"]).reset_index(drop=True)


# --------------------------------------------------------------------------- joins


def join_climate(
    panel: pd.DataFrame,
    climate: pd.DataFrame,
    *,
    on: Sequence[str] = ("location", "date"),
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Left-join time-varying covariates (climate) onto a panel by (location, date).

    Every climate location must be a panel location (else an error names the
    unknown ones — usually a misspelled id). Climate rows for dates outside the
    panel are not used; panel weeks without a climate row get NaN, with a
    :class:`sdmkit.ValidationWarning` counting them. No panel row is dropped.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel.
    climate : pandas.DataFrame
        One row per (location, date).
    on : (str, str)
        Names of the location and date columns in ``climate``.
    columns : sequence of str, optional
        Covariates to join; default every other column of ``climate``.

    Returns
    -------
    pandas.DataFrame
        ``panel`` with the covariate columns added, same rows and order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel, join_climate
    >>> p = make_panel(pd.DataFrame({"location": ["a"] * 2,
    ...                              "date": ["2021-01-03", "2021-01-10"], "cases": [3, 1]}))
    >>> c = pd.DataFrame({"location": ["a"] * 2, "date": ["2021-01-03", "2021-01-10"],
    ...                   "rain": [5.0, 0.0]})
    >>> join_climate(p, c)["rain"].tolist()
    [5.0, 0.0]
    """
    _check_is_panel(panel)
    loc_col, date_col = on
    missing = [c for c in on if c not in climate.columns]
    if missing:
        raise ValidationError(
            f"climate lacks columns {missing}; it has {list(climate.columns)}. Pass on=(location "
            f"column, date column)."
        )
    columns = [c for c in climate.columns if c not in on] if columns is None else list(columns)
    _check_new_columns(panel, climate, columns, "climate")
    c = climate[[loc_col, date_col, *columns]].rename(
        columns={loc_col: "location", date_col: "date"}
    )
    c["location"] = c["location"].astype("str")
    c["date"] = _as_dates(c["date"], "climate")
    c = check_panel(c, location="location", time="date", freq=None, name="climate")
    _check_known_locations(panel, c["location"], "climate")
    out = panel.merge(c, on=["location", "date"], how="left", validate="one_to_one")
    n_missing = int(out[columns].isna().all(axis=1).sum()) if columns else 0
    if n_missing:
        warnings.warn(
            f"join_climate: {n_missing} of {len(out)} panel weeks have no climate row; their "
            f"covariates are NaN.", ValidationWarning, stacklevel=2,
        )  # fmt: skip
    return out


def join_static(
    panel: pd.DataFrame,
    static: pd.DataFrame,
    *,
    location: str = "location",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Join per-location (static) covariates onto every week of a panel.

    ``static`` must have exactly one row per location, for every panel
    location, and no unknown location; errors name the offending ids.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel.
    static : pandas.DataFrame
        One row per location.
    location : str
        Location column of ``static``.
    columns : sequence of str, optional
        Covariates to join; default every other column.

    Returns
    -------
    pandas.DataFrame
        ``panel`` with the static columns added, same rows and order.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.panel import make_panel, join_static
    >>> p = make_panel(pd.DataFrame({"location": ["a", "b"], "date": ["2021-01-03"] * 2,
    ...                              "cases": [3, 1]}))
    >>> join_static(p, pd.DataFrame({"location": ["b", "a"], "pop": [10.0, 20.0]}))["pop"].tolist()
    [20.0, 10.0]
    """
    _check_is_panel(panel)
    if location not in static.columns:
        raise ValidationError(
            f"static lacks the location column {location!r}; it has {list(static.columns)}."
        )
    columns = [c for c in static.columns if c != location] if columns is None else list(columns)
    _check_new_columns(panel, static, columns, "static")
    s = static[[location, *columns]].rename(columns={location: "location"})
    s["location"] = s["location"].astype("str")
    return _join_per_location(panel, s, "static")


def join_embeddings(
    panel: pd.DataFrame,
    embeddings,
    *,
    locations: Sequence[str] | None = None,
    prefix: str = "emb_",
) -> pd.DataFrame:
    """Join a per-location vector (location embedding, centroid, …) onto a panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel.
    embeddings : pandas.DataFrame or array-like
        A frame indexed by location id (e.g. :func:`sdmkit.encoders.products.embed_polygons`
        output with the index set to the ids; its ``n_points`` column, if any, is
        dropped) or with a ``location`` column; or an (n_locations, d) array
        with ``locations`` giving the id of each row.
    locations : sequence of str, optional
        Row ids for an array input.
    prefix : str
        Output columns are ``{prefix}000``, ``{prefix}001``, …

    Returns
    -------
    pandas.DataFrame
        ``panel`` with the embedding columns (float64) added.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sdmkit.forecast.panel import make_panel, join_embeddings
    >>> p = make_panel(pd.DataFrame({"location": ["a", "b"], "date": ["2021-01-03"] * 2,
    ...                              "cases": [3, 1]}))
    >>> join_embeddings(p, np.eye(2), locations=["a", "b"]).filter(like="emb_").values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _check_is_panel(panel)
    if isinstance(embeddings, pd.DataFrame):
        e = embeddings.drop(columns=[c for c in ("n_points", "geometry") if c in embeddings])
        if "location" in e.columns:
            ids = e.pop("location").astype("str").to_numpy()
        else:
            ids = e.index.astype("str").to_numpy()
        values = e.to_numpy(dtype="float64")
    else:
        values = np.asarray(embeddings, dtype="float64")
        if locations is None:
            raise ValidationError(
                "join_embeddings: pass locations=… (one id per row of the array)."
            )
        ids = np.asarray(locations).astype(str)
        if values.ndim != 2 or values.shape[0] != len(ids):
            raise ValidationError(
                f"join_embeddings: embeddings must be (n_locations, d) with one row per id; got "
                f"shape {values.shape} for {len(ids)} locations."
            )
    width = max(3, len(str(values.shape[1] - 1)))
    cols = [f"{prefix}{j:0{width}d}" for j in range(values.shape[1])]
    clash = [c for c in cols if c in panel.columns]
    if clash:
        raise ValidationError(
            f"join_embeddings: panel already has columns {_show(clash)}; pass another prefix=…."
        )
    s = pd.DataFrame(values, columns=cols)
    s.insert(0, "location", pd.Series(ids, dtype="str"))
    return _join_per_location(panel, s, "embeddings")


def _check_new_columns(panel, source, columns, what) -> None:
    missing = [c for c in columns if c not in source.columns]
    if missing:
        raise ValidationError(
            f"{what}: columns {missing} not found; it has {list(source.columns)}."
        )
    clash = [c for c in columns if c in panel.columns]
    if clash:
        raise ValidationError(
            f"{what}: columns {clash} already exist in the panel; rename or drop them first."
        )


def _check_known_locations(panel, locs: pd.Series, what: str) -> None:
    unknown = sorted(set(locs) - set(panel["location"]))
    if unknown:
        raise ValidationError(
            f"{what} has rows for {len(unknown)} location(s) not in the panel: {_show(unknown)} "
            f"(panel locations: {_show(sorted(panel['location'].unique()))}). Fix the ids "
            f"(spelling, codes vs names) or drop those rows explicitly."
        )


def _join_per_location(panel, s: pd.DataFrame, what: str) -> pd.DataFrame:
    dup = s["location"].duplicated(keep=False)
    if dup.any():
        raise ValidationError(
            f"{what} has several rows for locations {_show(sorted(s.loc[dup, 'location'].unique()))}; "
            f"give one row per location."
        )
    _check_known_locations(panel, s["location"], what)
    absent = sorted(set(panel["location"]) - set(s["location"]))
    if absent:
        raise ValidationError(
            f"{what} has no row for panel location(s) {_show(absent)}; give every location a row."
        )
    return panel.merge(s, on="location", how="left", validate="many_to_one")
