"""Region × season crop-yield panels with in-season series aligned to the crop calendar.

The data model of sdmkit's yield-stress forecaster (features:
:mod:`sdmkit.forecast.yield_features`; models: :mod:`sdmkit.forecast.yield_models`;
Fourier network: :mod:`sdmkit.forecast.spectral`).

A :class:`SeasonPanel` holds, for one crop and country:

``yields``
    One row per region and season: ``adm_id`` (str), ``harvest_year`` (int64),
    ``yield`` (float64, t/ha) and whatever else the table had (e.g.
    ``harvest_area``).
``observations``
    The in-season time series, tidy and long: ``adm_id``, ``harvest_year``,
    ``variable`` (str, e.g. ``"ndvi"``), ``date`` (datetime64), ``fraction``
    (float64, position in the season: 0 at the start of season, 1 at its end)
    and ``value`` (float64; NaN where the source had a fill value).
``calendar``
    One row per region: ``adm_id``, ``sos`` and ``eos`` (start / end of season,
    day of year, as in the CY-Bench ``crop_calendar`` tables).
``static``
    Optional per-region covariates (e.g. soil): ``adm_id`` and numeric columns.

Season of harvest year ``Y`` in a region: from day ``sos`` to day ``eos`` of
``Y`` when ``sos < eos``; a season that crosses the new year (``sos > eos``,
e.g. autumn-sown wheat with ``sos`` = 290 and ``eos`` = 200) starts on day
``sos`` of ``Y - 1``. Fractional days are kept. Observations outside a season
are not part of that season (the source table is untouched).

**Lead time / cut-off.** A forecast made at fraction ``f`` of the season (0.25,
0.5, 0.75, 1.0) may use an observation only if its ``fraction <= f`` — the
filter is applied to observations *before* anything is binned, interpolated or
filled, so no value after the cut-off can reach a feature
(:meth:`SeasonPanel.to_array`; tested by corrupting every later value).

**Bad input** (documented handling):

* yields that look like kg/ha (median > 100) are an error unless converted
  explicitly (``yield_units="kg/ha"``); so are single rows or regions above
  100 in a t/ha table (mixed units, listed in the error); negative yields are an error; zero
  yields are kept with a warning (as in :func:`sdmkit.datasets.load_cybench`);
* regions without a crop calendar are an error (the error lists them);
  observations of regions that are not in the calendar are left out with a
  warning that counts them;
* missing seasons (a region-year without yield) are simply absent — nothing is
  imputed; regions with a single season are kept (trends fall back to the
  region mean, see :class:`sdmkit.forecast.yield_features.TrendEstimator`);
* seasons whose series do not reach the cut-off (no observation within
  ``max_gap_days`` before it, or none at all) make :meth:`SeasonPanel.to_array`
  raise, listing them, unless ``on_uncovered="mask"`` (their bins after the
  last observation stay NaN and ``covered`` is False) — see
  :meth:`SeasonPanel.coverage`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import ValidationError, ValidationWarning, _show

__all__ = [
    "SeasonArray",
    "SeasonPanel",
    "season_bounds",
    "season_panel",
    "season_panel_from_cybench",
]

KEYS = ["adm_id", "harvest_year"]


# --------------------------------------------------------------------------- containers


@dataclass(repr=False)
class SeasonArray:
    """In-season series of many region-seasons on one season-fraction grid.

    Attributes
    ----------
    keys : pandas.DataFrame
        ``adm_id`` (str) and ``harvest_year`` (int64), one row per season, in the
        order of the first axis of ``values``.
    values : numpy.ndarray
        Float64, shape ``(n_seasons, n_variables, n_steps)``: the mean of the
        observations falling in each of ``n_steps`` equal bins of the season
        fraction; NaN where no observation (at or before the cut-off) fell.
    variables : tuple of str
    fraction : float
        The cut-off: nothing observed after this fraction of the season is in
        ``values``.
    covered : numpy.ndarray
        Bool, shape ``(n_seasons, n_variables)``: the series reaches the cut-off
        (an observation within ``max_gap_days`` before it).
    """

    keys: pd.DataFrame
    values: np.ndarray
    variables: tuple[str, ...]
    fraction: float
    covered: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of bins along the season."""
        return int(self.values.shape[-1])

    @property
    def available_steps(self) -> int:
        """Number of leading bins that may hold data at this cut-off."""
        return int(np.ceil(self.fraction * self.n_steps - 1e-9))

    def subset(self, rows) -> SeasonArray:
        """The seasons at positions / boolean mask ``rows``.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from sdmkit.forecast.yield_stress import SeasonArray
        >>> a = SeasonArray(pd.DataFrame({"adm_id": ["a", "b"], "harvest_year": [1, 1]}),
        ...                 np.zeros((2, 1, 4)), ("v",), 1.0, np.ones((2, 1), bool))
        >>> a.subset([1]).keys["adm_id"].tolist()
        ['b']
        """
        idx = (
            np.arange(len(self.keys))[np.asarray(rows)]
            if np.asarray(rows).dtype == bool
            else (np.asarray(rows, dtype=int))
        )
        return SeasonArray(
            keys=self.keys.iloc[idx].reset_index(drop=True),
            values=self.values[idx],
            variables=self.variables,
            fraction=self.fraction,
            covered=self.covered[idx],
        )

    def __repr__(self) -> str:
        n, v, t = self.values.shape
        return (
            f"SeasonArray({n} seasons, variables={list(self.variables)}, n_steps={t}, "
            f"fraction={self.fraction:g}, covered={int(self.covered.all(axis=1).sum())}/{n})"
        )


@dataclass(repr=False)
class SeasonPanel:
    """Region × season yields with in-season series aligned to the crop calendar.

    Build one with :func:`season_panel` or :func:`season_panel_from_cybench`;
    see the module docstring for the columns of each table.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import yield_panel
    >>> from sdmkit.forecast.yield_stress import season_panel
    >>> sim = yield_panel(n_regions=3, years=range(2010, 2014), season_days=40, random_state=0)
    >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [234.0] * 3, "eos": [273.0] * 3}
    >>> panel = season_panel(sim.yields, sim.series, cal, variables=["tmax", "ndvi"])
    >>> panel
    SeasonPanel(3 regions, 12 seasons, 2010-2013, variables=['ndvi', 'tmax'], 954 observations)
    >>> panel.to_array(fraction=0.5, n_steps=8).values.shape
    (12, 2, 8)
    """

    yields: pd.DataFrame
    observations: pd.DataFrame
    calendar: pd.DataFrame
    static: pd.DataFrame | None = None
    crop: str | None = None
    country: str | None = None
    meta: dict = field(default_factory=dict)

    # ----------------------------------------------------------------- descriptors
    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the in-season series."""
        return tuple(sorted(self.observations["variable"].unique()))

    @property
    def regions(self) -> np.ndarray:
        """Sorted region ids (``adm_id``) that have yields."""
        return np.sort(self.yields["adm_id"].unique())

    @property
    def years(self) -> np.ndarray:
        """Sorted harvest years that have yields."""
        return np.sort(self.yields["harvest_year"].unique())

    def __repr__(self) -> str:
        y = self.years
        span = f"{y.min()}-{y.max()}" if len(y) else "no years"
        return (
            f"SeasonPanel({len(self.regions)} regions, {len(self.yields)} seasons, {span}, "
            f"variables={list(self.variables)}, {len(self.observations)} observations)"
        )

    # ----------------------------------------------------------------- calendar
    def bounds(self, keys: pd.DataFrame | None = None) -> pd.DataFrame:
        """Start and end date of each season (see :func:`season_bounds`).

        Parameters
        ----------
        keys : pandas.DataFrame, optional
            ``adm_id`` and ``harvest_year`` of the seasons wanted; default the
            seasons of ``yields``.

        Returns
        -------
        pandas.DataFrame
            ``adm_id, harvest_year, start, end`` (datetime64).

        Examples
        --------
        >>> import pandas as pd
        >>> from sdmkit.forecast.yield_stress import season_panel
        >>> y = pd.DataFrame({"adm_id": ["a"], "harvest_year": [2020], "yield": [8.0]})
        >>> p = season_panel(y, None, {"adm_id": ["a"], "sos": [91.0], "eos": [274.0]})
        >>> p.bounds()[["start", "end"]].iloc[0].dt.strftime("%m-%d").tolist()
        ['03-31', '09-30']
        """
        keys = self.yields[KEYS] if keys is None else keys[KEYS]
        return season_bounds(keys, self.calendar)

    def cutoff_dates(self, fraction: float, keys: pd.DataFrame | None = None) -> pd.DataFrame:
        """Date of the cut-off at ``fraction`` of each season.

        Returns
        -------
        pandas.DataFrame
            ``adm_id, harvest_year, cutoff`` (datetime64): ``start + fraction ×
            (end - start)``.

        Examples
        --------
        >>> import pandas as pd
        >>> from sdmkit.forecast.yield_stress import season_panel
        >>> y = pd.DataFrame({"adm_id": ["a"], "harvest_year": [2020], "yield": [8.0]})
        >>> p = season_panel(y, None, {"adm_id": ["a"], "sos": [101.0], "eos": [301.0]})
        >>> str(p.cutoff_dates(0.5)["cutoff"].iloc[0].date())
        '2020-07-19'
        """
        fraction = _check_fraction(fraction)
        b = self.bounds(keys)
        b["cutoff"] = b["start"] + (b["end"] - b["start"]) * fraction
        return b[[*KEYS, "cutoff"]]

    # ----------------------------------------------------------------- series
    def coverage(self, fraction: float = 1.0, *, max_gap_days: float = 20.0) -> pd.DataFrame:
        """How far each season's series reach, and whether they cover the cut-off.

        Parameters
        ----------
        fraction : float
            Cut-off (fraction of the season, in (0, 1]).
        max_gap_days : float
            A series covers the cut-off when its last observation at or before
            the cut-off is at most this many days before it (NDVI composites
            are 8 days apart, FAPAR 10).

        Returns
        -------
        pandas.DataFrame
            One row per season of ``yields`` and variable: ``adm_id,
            harvest_year, variable, n_obs`` (int64, observations up to the
            cut-off), ``last`` (fraction of the last one; NaN if none),
            ``covered`` (bool).

        Examples
        --------
        >>> from sdmkit.datasets.simulate import yield_panel
        >>> from sdmkit.forecast.yield_stress import season_panel
        >>> sim = yield_panel(n_regions=2, years=[2020], season_days=30, random_state=0)
        >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [244.0] * 2, "eos": [274.0] * 2}
        >>> p = season_panel(sim.yields, sim.series, cal, variables=["ndvi"])
        >>> bool(p.coverage(0.5)["covered"].all())
        True
        """
        fraction = _check_fraction(fraction)
        keys = self.yields[KEYS]
        grid = keys.merge(pd.DataFrame({"variable": list(self.variables)}), how="cross")
        obs = self.observations[self.observations["fraction"] <= fraction]
        obs = obs[obs["value"].notna()]
        agg = (
            obs.groupby([*KEYS, "variable"], sort=False)
            .agg(n_obs=("value", "size"), last=("fraction", "max"), last_date=("date", "max"))
            .reset_index()
        )
        out = grid.merge(agg, on=[*KEYS, "variable"], how="left")
        out["n_obs"] = out["n_obs"].fillna(0).astype("int64")
        cut = self.cutoff_dates(fraction, out)
        gap = (cut["cutoff"].to_numpy() - out["last_date"].to_numpy()) / np.timedelta64(1, "D")
        out["covered"] = np.nan_to_num(gap, nan=np.inf) <= max_gap_days
        return out.drop(columns="last_date")

    def to_array(
        self,
        fraction: float = 1.0,
        *,
        n_steps: int = 24,
        variables=None,
        keys: pd.DataFrame | None = None,
        max_gap_days: float = 20.0,
        on_uncovered: str = "raise",
    ) -> SeasonArray:
        """Bin the in-season series onto a season-fraction grid, up to a cut-off.

        Only observations with ``fraction <= fraction`` are used; each of the
        ``n_steps`` equal bins of [0, 1] gets the mean of its observations (NaN
        if none). Bins that start after the cut-off are always NaN. Nothing is
        interpolated or filled here (see
        :func:`sdmkit.forecast.yield_features.fill_series`).

        Parameters
        ----------
        fraction : float
            Cut-off as a fraction of the season, in (0, 1].
        n_steps : int
            Number of bins along the season.
        variables : list of str, optional
            Default all, sorted.
        keys : pandas.DataFrame, optional
            Seasons wanted (``adm_id``, ``harvest_year``); default those of
            ``yields``. Seasons without a yield (e.g. the one to forecast) are
            allowed.
        max_gap_days : float
            See :meth:`coverage`.
        on_uncovered : {"raise", "mask"}
            What to do with seasons whose series do not reach the cut-off:
            raise a :class:`ValidationError` listing them, or keep them (their
            later bins NaN, ``covered`` False).

        Returns
        -------
        SeasonArray

        Raises
        ------
        ValidationError
            Unknown variables, a bad cut-off, or (``on_uncovered="raise"``)
            seasons whose series do not cover the cut-off.

        Examples
        --------
        >>> from sdmkit.datasets.simulate import yield_panel
        >>> from sdmkit.forecast.yield_stress import season_panel
        >>> sim = yield_panel(n_regions=2, years=[2019, 2020], season_days=30, random_state=0)
        >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [244.0] * 2, "eos": [274.0] * 2}
        >>> arr = season_panel(sim.yields, sim.series, cal).to_array(0.25, n_steps=10)
        >>> arr.values.shape, arr.available_steps, bool(np.isnan(arr.values[..., 3:]).all())
        ((4, 3, 10), 3, True)
        """
        fraction = _check_fraction(fraction)
        if int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
        if on_uncovered not in ("raise", "mask"):
            raise ValueError(f"on_uncovered must be 'raise' or 'mask', got {on_uncovered!r}.")
        have = self.variables
        variables = list(have) if variables is None else list(variables)
        unknown = [v for v in variables if v not in have]
        if unknown:
            raise ValidationError(f"Variables {unknown} are not in the panel; it has {list(have)}.")
        keys = (self.yields[KEYS] if keys is None else _as_keys(keys)).reset_index(drop=True)
        n, nv, nt = len(keys), len(variables), int(n_steps)
        values = np.full((n, nv, nt), np.nan)
        obs = self.observations
        obs = obs[(obs["fraction"] <= fraction) & obs["variable"].isin(variables)]
        obs = obs[obs["value"].notna()]
        row = _row_index(keys, obs)
        ok = row >= 0
        obs, row = obs[ok], row[ok]
        var = pd.Index(variables).get_indexer(obs["variable"])
        step = np.minimum((obs["fraction"].to_numpy() * nt).astype(np.int64), nt - 1)
        flat = (row * nv + var) * nt + step
        sums = np.bincount(flat, weights=obs["value"].to_numpy(), minlength=n * nv * nt)
        cnts = np.bincount(flat, minlength=n * nv * nt)
        with np.errstate(invalid="ignore"):
            values = np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan).reshape(n, nv, nt)
        # coverage: last observation date per (season, variable) vs the cut-off date
        last = np.full((n, nv), np.datetime64("NaT"), dtype="datetime64[ns]")
        if len(obs):
            lf = (
                pd.DataFrame({"r": row, "v": var, "d": obs["date"].to_numpy()})
                .groupby(["r", "v"])["d"]
                .max()
            )
            last[lf.index.get_level_values(0), lf.index.get_level_values(1)] = lf.to_numpy()
        cut = self.cutoff_dates(fraction, keys)["cutoff"].to_numpy()
        gap = (cut[:, None] - last) / np.timedelta64(1, "D")
        covered = np.nan_to_num(gap, nan=np.inf) <= max_gap_days
        if on_uncovered == "raise" and not covered.all():
            bad = np.flatnonzero(~covered.all(axis=1))
            what = [
                (
                    keys.at[i, "adm_id"],
                    int(keys.at[i, "harvest_year"]),
                    [variables[j] for j in np.flatnonzero(~covered[i])],
                )
                for i in bad
            ]
            raise ValidationError(
                f"{len(bad)} of {n} seasons have series that do not reach the cut-off at "
                f"{fraction:g} of the season (no observation within {max_gap_days:g} days "
                f"before it), e.g. (adm_id, harvest_year, variables) {_show(what)}. Drop "
                f"those seasons (see SeasonPanel.coverage), forecast at an earlier cut-off, "
                f"or pass on_uncovered='mask' to keep them with their later bins empty."
            )
        return SeasonArray(
            keys=keys,
            values=values,
            variables=tuple(variables),
            fraction=fraction,
            covered=covered,
        )

    def select(self, keys: pd.DataFrame) -> SeasonPanel:
        """The panel restricted to some seasons (yields only; series are kept).

        Examples
        --------
        >>> import pandas as pd
        >>> from sdmkit.forecast.yield_stress import season_panel
        >>> y = pd.DataFrame({"adm_id": ["a", "a"], "harvest_year": [2019, 2020],
        ...                   "yield": [8.0, 9.0]})
        >>> p = season_panel(y, None, {"adm_id": ["a"], "sos": [91.0], "eos": [274.0]})
        >>> len(p.select(y.iloc[[1]]).yields)
        1
        """
        k = _as_keys(keys)
        y = self.yields.merge(k, on=KEYS, how="inner")
        return SeasonPanel(
            yields=y,
            observations=self.observations,
            calendar=self.calendar,
            static=self.static,
            crop=self.crop,
            country=self.country,
            meta=dict(self.meta),
        )


# --------------------------------------------------------------------------- builders


def season_bounds(keys: pd.DataFrame, calendar) -> pd.DataFrame:
    """Start and end dates of seasons from a per-region crop calendar.

    Parameters
    ----------
    keys : pandas.DataFrame
        ``adm_id`` and ``harvest_year`` of the seasons.
    calendar : pandas.DataFrame or dict
        ``adm_id``, ``sos`` and ``eos`` (day of year, 1-366, fractional days
        allowed). A season crossing the new year (``sos > eos``) starts in
        ``harvest_year - 1``.

    Returns
    -------
    pandas.DataFrame
        ``adm_id, harvest_year, start, end`` (datetime64), in the order of ``keys``.

    Raises
    ------
    ValidationError
        Regions of ``keys`` without a calendar row.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_stress import season_bounds
    >>> k = pd.DataFrame({"adm_id": ["w"], "harvest_year": [2020]})
    >>> b = season_bounds(k, {"adm_id": ["w"], "sos": [289.0], "eos": [196.0]})
    >>> str(b["start"].iloc[0].date()), str(b["end"].iloc[0].date())
    ('2019-10-16', '2020-07-14')
    """
    cal = _check_calendar(calendar)
    keys = _as_keys(keys).reset_index(drop=True)
    c = keys.merge(cal, on="adm_id", how="left")
    missing = c.loc[c["sos"].isna(), "adm_id"].unique()
    if len(missing):
        raise ValidationError(
            f"No crop calendar (sos/eos) for regions {_show(missing)}. Add a calendar row "
            f"per region (adm_id, sos, eos as day of year) or drop those regions."
        )
    year = c["harvest_year"].to_numpy()
    sos, eos = c["sos"].to_numpy(float), c["eos"].to_numpy(float)
    start_year = np.where(sos > eos, year - 1, year)
    jan1 = lambda y: pd.to_datetime(pd.Series(y).astype(str) + "-01-01")  # noqa: E731
    start = jan1(start_year) + pd.to_timedelta(sos - 1.0, unit="D")
    end = jan1(year) + pd.to_timedelta(eos - 1.0, unit="D")
    return pd.DataFrame(
        {
            "adm_id": keys["adm_id"],
            "harvest_year": keys["harvest_year"],
            "start": start.to_numpy(),
            "end": end.to_numpy(),
        }
    )


def season_panel(
    yields: pd.DataFrame,
    series,
    calendar,
    *,
    variables=None,
    static: pd.DataFrame | None = None,
    yield_units: str = "t/ha",
    crop: str | None = None,
    country: str | None = None,
) -> SeasonPanel:
    """Build a validated :class:`SeasonPanel` from yields, series and a crop calendar.

    Parameters
    ----------
    yields : pandas.DataFrame
        ``adm_id``, ``harvest_year`` and ``yield`` (one row per region and
        season; more columns are kept).
    series : pandas.DataFrame, dict of DataFrame, or None
        In-season time series, tidy: either one frame with ``adm_id``, ``date``
        and one column per variable (``variables`` names them; default every
        numeric column but ``harvest_year``), or ``{name: frame}`` where each
        frame has ``adm_id``, ``date`` and a column ``name`` (the CY-Bench
        ``ndvi`` / ``fpar`` tables). None for a panel without series.
    calendar : pandas.DataFrame or dict
        ``adm_id``, ``sos``, ``eos`` (day of year).
    variables : list of str, optional
        Variables to take from a single ``series`` frame.
    static : pandas.DataFrame, optional
        Per-region covariates: ``adm_id`` and numeric columns (others dropped).
    yield_units : {"t/ha", "kg/ha"}
        Unit of ``yield``. Yields are checked by magnitude: a median above 100
        is kg/ha, an error unless ``"kg/ha"`` asks for the conversion to t/ha.
    crop, country : str, optional
        Labels.

    Returns
    -------
    SeasonPanel

    Raises
    ------
    ValidationError
        Missing columns, duplicated seasons, negative yields, kg/ha yields
        passed as t/ha, regions without a calendar, unparsable dates or
        non-numeric values.

    Warns
    -----
    ValidationWarning
        Zero yields (kept); observations of regions without a calendar (left out).

    Examples
    --------
    >>> from sdmkit.datasets.simulate import yield_panel
    >>> from sdmkit.forecast.yield_stress import season_panel
    >>> sim = yield_panel(n_regions=2, years=[2019, 2020], season_days=30, random_state=0)
    >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [244.0] * 2, "eos": [274.0] * 2}
    >>> p = season_panel(sim.yields, sim.series, cal)
    >>> p.variables, round(float(p.observations["fraction"].max()), 3)
    (('ndvi', 'prec', 'tmax'), 1.0)
    """
    from ..datasets.cybench import _check_yield, _typed_yield

    if yield_units not in ("t/ha", "kg/ha"):
        raise ValueError(f"yield_units must be 't/ha' or 'kg/ha', got {yield_units!r}.")
    if not isinstance(yields, pd.DataFrame):
        raise ValidationError(f"yields must be a pandas.DataFrame, got {type(yields).__name__}.")
    name = "yields" if country is None else f"yields {crop}/{country}"
    y = _typed_yield(yields.reset_index(drop=True), name=name, extra_str=())
    y = _check_yield(y, name=name, units=yield_units)
    cal = _check_calendar(calendar)
    no_cal = sorted(set(y["adm_id"]) - set(cal["adm_id"]))
    if no_cal:
        raise ValidationError(
            f"Regions {_show(no_cal)} have yields but no crop calendar (sos/eos). Add them to "
            f"the calendar or drop their yields."
        )
    long = _series_long(series, variables)
    obs = _align(long, cal)
    st = None
    if static is not None:
        st = _check_static(static, y)
    return SeasonPanel(
        yields=y,
        observations=obs,
        calendar=cal,
        static=st,
        crop=crop,
        country=country,
        meta={"yield_units_in": yield_units},
    )


def season_panel_from_cybench(tables, *, series=("ndvi", "fpar")) -> SeasonPanel:
    """Build a :class:`SeasonPanel` from the CY-Bench long tables of one crop and country.

    Parameters
    ----------
    tables : sdmkit.datasets.cybench.CYBenchTables
        From :func:`sdmkit.datasets.load_cybench` (any country laid out like
        the NL sample).
    series : sequence of str
        Which of the series tables to use (those that are None are skipped).

    Returns
    -------
    SeasonPanel
        Static covariates: the numeric columns of the soil table.

    Raises
    ------
    ValidationError
        The tables have no crop calendar.

    Examples
    --------
    >>> from sdmkit.datasets import load_cybench
    >>> from sdmkit.forecast.yield_stress import season_panel_from_cybench
    >>> panel = season_panel_from_cybench(load_cybench("wheat", "NL"))  # doctest: +SKIP
    >>> panel.variables  # doctest: +SKIP
    ('fpar', 'ndvi')
    """
    if tables.crop_calendar is None:
        raise ValidationError(
            f"CY-Bench {tables.crop}/{tables.country} has no crop_calendar table; it is needed "
            f"to align the in-season series. Add crop_calendar_{tables.crop}_{tables.country}.csv "
            f"(crop_name, adm_id, sos, eos)."
        )
    frames = {s: getattr(tables, s) for s in series if getattr(tables, s, None) is not None}
    return season_panel(
        tables.yield_,
        frames or None,
        tables.crop_calendar,
        static=tables.soil,
        crop=tables.crop,
        country=tables.country,
    )


# --------------------------------------------------------------------------- helpers


def _check_fraction(fraction) -> float:
    f = float(fraction)
    if not 0.0 < f <= 1.0:
        raise ValidationError(
            f"The cut-off must be a fraction of the season in (0, 1], got {fraction!r} "
            f"(e.g. 0.25, 0.5, 0.75 or 1.0)."
        )
    return f


def _as_keys(keys) -> pd.DataFrame:
    if not isinstance(keys, pd.DataFrame) or any(c not in keys.columns for c in KEYS):
        raise ValidationError("keys must be a DataFrame with columns adm_id and harvest_year.")
    k = keys[KEYS].copy()
    k["adm_id"] = k["adm_id"].astype("str")
    k["harvest_year"] = k["harvest_year"].astype("int64")
    return k


def _row_index(keys: pd.DataFrame, obs: pd.DataFrame) -> np.ndarray:
    idx = pd.MultiIndex.from_frame(keys[KEYS])
    return idx.get_indexer(pd.MultiIndex.from_frame(obs[KEYS]))


def _check_calendar(calendar) -> pd.DataFrame:
    cal = pd.DataFrame(calendar)
    missing = [c for c in ("adm_id", "sos", "eos") if c not in cal.columns]
    if missing:
        raise ValidationError(
            f"The crop calendar lacks columns {missing}; it has {list(cal.columns)}. It needs "
            f"adm_id, sos and eos (start / end of season as day of year)."
        )
    cal = cal[["adm_id", "sos", "eos"]].copy()
    cal["adm_id"] = cal["adm_id"].astype("str")
    for col in ("sos", "eos"):
        v = pd.to_numeric(cal[col], errors="coerce")
        bad = cal.index[v.isna() | (v < 1) | (v > 367)]
        if len(bad):
            raise ValidationError(
                f"Crop calendar column {col!r} must be a day of year in [1, 366]; rows "
                f"{_show(bad)} have {_show(cal.loc[bad, col])} (regions "
                f"{_show(cal.loc[bad, 'adm_id'])})."
            )
        cal[col] = v.astype("float64")
    same = cal.index[cal["sos"] == cal["eos"]]
    if len(same):
        raise ValidationError(
            f"Crop calendar rows {_show(same)} (regions {_show(cal.loc[same, 'adm_id'])}) have "
            f"sos == eos: a season of zero length."
        )
    dup = cal.index[cal["adm_id"].duplicated(keep=False)]
    if len(dup):
        raise ValidationError(
            f"Crop calendar has several rows for regions {_show(cal.loc[dup, 'adm_id'].unique())} "
            f"(rows {_show(dup)}); keep one row per region."
        )
    return cal.sort_values("adm_id", kind="stable").reset_index(drop=True)


def _series_long(series, variables) -> pd.DataFrame:
    cols = ["adm_id", "date", "variable", "value"]
    if series is None:
        return pd.DataFrame(
            {
                "adm_id": pd.Series([], dtype="str"),
                "date": pd.Series([], dtype="datetime64[ns]"),
                "variable": pd.Series([], dtype="str"),
                "value": pd.Series([], dtype="float64"),
            }
        )
    if isinstance(series, pd.DataFrame):
        if variables is None:
            variables = [
                c
                for c in series.columns
                if c not in ("adm_id", "date", "harvest_year", "crop_name")
                and pd.api.types.is_numeric_dtype(series[c])
            ]
        frames = {v: series[["adm_id", "date", v]] for v in _present(series, variables)}
    elif isinstance(series, dict):
        frames = {}
        for name, frame in series.items():
            if variables is not None and name not in variables:
                continue
            frames[name] = frame[["adm_id", "date", *_present(frame, [name])]]
    else:
        raise ValidationError(
            f"series must be a DataFrame, a dict of DataFrames or None, got {type(series).__name__}."
        )
    parts = []
    for name, frame in frames.items():
        _present(frame, ["adm_id", "date"])
        f = pd.DataFrame(
            {
                "adm_id": frame["adm_id"].astype("str"),
                "date": frame["date"],
                "variable": name,
                "value": frame[name],
            }
        )
        if not pd.api.types.is_datetime64_any_dtype(f["date"]):
            d = pd.to_datetime(f["date"], errors="coerce")
            bad = f.index[d.isna()]
            if len(bad):
                raise ValidationError(
                    f"series {name!r}: dates in rows {_show(bad)} could not be parsed: "
                    f"{_show(f.loc[bad, 'date'])}."
                )
            f["date"] = d
        v = pd.to_numeric(f["value"], errors="coerce")
        bad = f.index[v.isna() & f["value"].notna()]
        if len(bad):
            raise ValidationError(
                f"series {name!r}: non-numeric values in rows {_show(bad)}: "
                f"{_show(f.loc[bad, 'value'])}."
            )
        f["value"] = v.astype("float64")
        f["date"] = f["date"].astype("datetime64[ns]")
        parts.append(f)
    return pd.concat(parts, ignore_index=True)[cols] if parts else _series_long(None, None)


def _present(frame: pd.DataFrame, columns) -> list:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"A series table lacks columns {missing}; it has {list(frame.columns)}. Each needs "
            f"adm_id, date and the value column named after the variable."
        )
    return list(columns)


def _align(long: pd.DataFrame, cal: pd.DataFrame) -> pd.DataFrame:
    """Attach each observation to the season(s) whose window contains it."""
    out_cols = ["adm_id", "harvest_year", "variable", "date", "fraction", "value"]
    no_cal = ~long["adm_id"].isin(cal["adm_id"])
    if no_cal.any():
        warnings.warn(
            f"{int(no_cal.sum())} observations belong to regions without a crop calendar "
            f"({_show(long.loc[no_cal, 'adm_id'].unique())}); they are left out of the panel.",
            ValidationWarning,
            stacklevel=3,
        )
        long = long[~no_cal]
    if long.empty:
        empty = long.assign(
            harvest_year=pd.Series([], dtype="int64"), fraction=pd.Series([], dtype="float64")
        )
        return empty[out_cols].reset_index(drop=True)
    year = long["date"].dt.year.to_numpy()
    parts = []
    # an observation can belong to the season harvested this year or next year
    for hy in (year, year + 1):
        keys = pd.DataFrame({"adm_id": long["adm_id"].to_numpy(), "harvest_year": hy})
        b = season_bounds(keys, cal)
        d = long["date"].to_numpy()
        inside = (d >= b["start"].to_numpy()) & (d <= b["end"].to_numpy())
        length = (b["end"] - b["start"]).to_numpy() / np.timedelta64(1, "D")
        frac = ((d - b["start"].to_numpy()) / np.timedelta64(1, "D")) / length
        part = long.assign(harvest_year=hy, fraction=frac)[inside]
        parts.append(part)
    obs = pd.concat(parts, ignore_index=True)[out_cols]
    obs["harvest_year"] = obs["harvest_year"].astype("int64")
    obs["fraction"] = obs["fraction"].astype("float64")
    return obs.sort_values(
        ["adm_id", "harvest_year", "variable", "date"], kind="stable"
    ).reset_index(drop=True)


def _check_static(static, yields: pd.DataFrame) -> pd.DataFrame:
    st = pd.DataFrame(static).copy()
    if "adm_id" not in st.columns:
        raise ValidationError(f"static has no adm_id column; it has {list(st.columns)}.")
    st["adm_id"] = st["adm_id"].astype("str")
    dup = st.index[st["adm_id"].duplicated(keep=False)]
    if len(dup):
        raise ValidationError(
            f"static has several rows for regions {_show(st.loc[dup, 'adm_id'].unique())}; "
            f"keep one row per region."
        )
    num = [c for c in st.columns if c != "adm_id" and pd.api.types.is_numeric_dtype(st[c])]
    st = st[["adm_id", *num]].astype({c: "float64" for c in num})
    return st.sort_values("adm_id", kind="stable").reset_index(drop=True)
