"""Features for yield forecasting: robust per-region trends, anomalies, season aggregates.

* :class:`TrendEstimator` — each region's expected (trend) yield for a season
  from that region's *other* (by default: earlier) seasons, robust to short
  and gappy series;
* :func:`yield_history` — a region × year yield table from CY-Bench designed
  feature rows (their own yields plus the ``yield-1`` … ``yield-5`` lags);
* :class:`Climatology` — anomalies of tabular features against each region's
  own mean, learned on training seasons only;
* :class:`SeasonFeatures` — features of in-season series
  (:class:`~sdmkit.forecast.yield_stress.SeasonArray`) up to a cut-off:
  period aggregates, anomalies vs each region's climatology (training seasons
  only), cumulative and last values, and low-order Fourier coefficients
  (:func:`fourier_features`);
* :func:`designed_features_at` — which CY-Bench designed features (weather by
  crop-calendar period ``p0`` … ``p4``) are known at a lead time.

Nothing here looks past a cut-off: series features only see the bins a
:class:`~sdmkit.forecast.yield_stress.SeasonArray` holds (built from
observations at or before the cut-off), gaps are filled forwards within the
season, and bins after the cut-off are never filled.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pandas as pd

from .._validation import ValidationError, ValidationWarning, _show

__all__ = [
    "Climatology",
    "SeasonFeatures",
    "TrendEstimator",
    "cybench_design",
    "designed_features_at",
    "fill_series",
    "fourier_features",
    "period_of",
    "yield_history",
]

KEYS = ["adm_id", "harvest_year"]


# =========================================================================== trend


def _theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx != 0
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0


def _ols_slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    den = float(xc @ xc)
    return float(xc @ (y - y.mean()) / den) if den > 0 else 0.0


def _huber_mean(v: np.ndarray, w: np.ndarray, c: float = 1.5) -> float:
    mu = float(np.average(v, weights=w))
    r = v - mu
    s = 1.4826 * float(np.median(np.abs(r - np.median(r)))) + 1e-9
    w2 = w * np.clip(c * s / np.maximum(np.abs(r), 1e-12), 0.0, 1.0)
    return float(np.average(v, weights=w2))


class TrendEstimator:
    """Per-region trend yield, robust to short series (shrunken slope, robust level).

    For a target season ``(r, t)`` the history is region ``r``'s yields of
    the fitted table in years ``< t`` (``causal=True``, what a forecaster knows
    before the season) or in every other year (``causal=False``, e.g. for
    leave-one-year-out), limited to the ``window`` years closest to ``t``. Then

    * no history: the mean yield of all regions (counted in ``n_fallback_``);
    * fewer than ``min_years`` years: the region's mean (no trend);
    * otherwise the region's slope ``s_r`` (Theil–Sen or OLS) is shrunk towards
      the pooled slope ``s_0`` (the median of the regional slopes, or
      ``slope_prior``): ``s = n / (n + shrinkage) · s_r + shrinkage / (n +
      shrinkage) · s_0`` (``n`` = years of history), and the trend is a robust
      level of the history moved to year ``t`` along that slope:
      ``level_j(y_j + s (t − year_j))`` with weights ``decay ** |t − year_j|``
      (``level`` = median, Huber mean or mean).

    ``shrinkage=0, decay=1, level="median", method="theil-sen"`` is the
    Theil–Sen line; ``method="ols", level="mean", shrinkage=0`` the OLS line
    (CY-Bench's trend baseline fits OLS on 5-10 previous years); large
    ``shrinkage`` with ``decay < 1`` a pooled slope with an exponentially
    weighted regional level.

    Parameters
    ----------
    method : {"theil-sen", "ols"}
        Regional slope estimator.
    min_years : int
        Fewer years of history than this: region mean, no trend.
    window : int or None
        Use at most this many years of history (the closest to ``t``).
    shrinkage : float
        Prior strength of the pooled slope, in years (0: none; ``inf``: the
        pooled slope only).
    decay : float in (0, 1]
        Weight of a year ``k`` years away from ``t`` is ``decay ** k``.
    level : {"median", "huber", "mean"}
    slope_prior : float, optional
        Pooled slope (t/ha/year); default the median of the regional slopes
        of regions with at least ``min_years`` years.
    causal : bool
        History only from years before the target (default) or all other years.

    Attributes
    ----------
    pooled_slope_ : float
    n_fallback_ : int
        Targets of the last :meth:`predict` whose region had no history.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_features import TrendEstimator
    >>> hist = pd.DataFrame({"adm_id": "a", "harvest_year": range(2000, 2010),
    ...                      "yield": [8.0 + 0.1 * k for k in range(10)]})
    >>> te = TrendEstimator(min_years=5).fit(hist)
    >>> target = pd.DataFrame({"adm_id": ["a", "a"], "harvest_year": [2010, 2003]})
    >>> te.predict(target).round(2).tolist()   # 2003 has 3 earlier years: their mean
    [9.0, 8.1]
    """

    def __init__(
        self,
        method: str = "theil-sen",
        *,
        min_years: int = 5,
        window: int | None = None,
        shrinkage: float = 0.0,
        decay: float = 1.0,
        level: str = "median",
        slope_prior: float | None = None,
        causal: bool = True,
    ):
        self.method = method
        self.min_years = min_years
        self.window = window
        self.shrinkage = shrinkage
        self.decay = decay
        self.level = level
        self.slope_prior = slope_prior
        self.causal = causal

    #: Names of the ``__init__`` parameters (TrendModel passes them through).
    _PARAMS = tuple(inspect.signature(__init__).parameters)[1:]

    def get_params(self) -> dict:
        """Parameters, as passed to ``__init__``."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def fit(self, history: pd.DataFrame) -> TrendEstimator:
        """Store the yield history (``adm_id``, ``harvest_year``, ``yield``).

        Returns
        -------
        self
        """
        if self.method not in ("theil-sen", "ols"):
            raise ValueError(f"method must be 'theil-sen' or 'ols', got {self.method!r}.")
        if self.level not in ("median", "huber", "mean"):
            raise ValueError(f"level must be 'median', 'huber' or 'mean', got {self.level!r}.")
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {self.decay!r}.")
        if int(self.min_years) != self.min_years or self.min_years < 2:
            raise ValueError(f"min_years must be an integer >= 2, got {self.min_years!r}.")
        h = _history_frame(history)
        self.history_ = {
            a: (g["harvest_year"].to_numpy(float), g["yield"].to_numpy(float))
            for a, g in h.groupby("adm_id", sort=True)
        }
        self.global_mean_ = float(h["yield"].mean()) if len(h) else np.nan
        if self.slope_prior is not None:
            self.pooled_slope_ = float(self.slope_prior)
        else:
            slopes = [
                self._slope(x, y) for x, y in self.history_.values() if len(x) >= self.min_years
            ]
            self.pooled_slope_ = float(np.median(slopes)) if slopes else 0.0
        return self

    def _slope(self, x, y) -> float:
        return _theil_sen_slope(x, y) if self.method == "theil-sen" else _ols_slope(x, y)

    def predict(self, keys: pd.DataFrame, recent: pd.DataFrame | None = None) -> np.ndarray:
        """Trend yield of each target season.

        Parameters
        ----------
        keys : pandas.DataFrame
            ``adm_id`` and ``harvest_year`` of the targets.
        recent : pandas.DataFrame, optional
            Yields known at forecast time that the fitted history may lack, in
            CY-Bench's layout: columns ``yield-1`` … ``yield-k``, row-aligned
            with ``keys`` (``yield-j`` is taken as the yield of year ``t - j``;
            it replaces the history's value for that year).

        Returns
        -------
        numpy.ndarray
            Float64, one trend yield per row of ``keys``.
        """
        keys = keys.reset_index(drop=True)
        lags = None
        if recent is not None:
            cols = sorted(
                (c for c in recent.columns if re.fullmatch(r"yield-\d+", str(c))),
                key=lambda c: int(c.split("-")[1]),
            )
            lags = recent[cols].to_numpy(float)
            offs = np.array([int(c.split("-")[1]) for c in cols], dtype=float)
        out = np.empty(len(keys))
        self.n_fallback_ = 0
        no_history = []
        empty = (np.zeros(0), np.zeros(0))
        for i, (a, t) in enumerate(zip(keys["adm_id"].astype(str), keys["harvest_year"])):
            x, y = self.history_.get(a, empty)
            sel = x < t if self.causal else x != t
            x, y = x[sel], y[sel]
            if lags is not None:
                ok = np.isfinite(lags[i])
                lx = t - offs[ok]
                keep = ~np.isin(x, lx)
                x, y = np.r_[x[keep], lx], np.r_[y[keep], lags[i][ok]]
            if len(x) == 0:
                no_history.append((a, int(t)))
            out[i] = self._one(x, y, float(t))
        if no_history:
            warnings.warn(
                f"TrendEstimator: {len(no_history)} target seasons have no yield history in "
                f"their region (e.g. (adm_id, harvest_year) {_show(no_history)}); their trend "
                f"is the mean yield of all regions ({self.global_mean_:.3g}).",
                ValidationWarning,
                stacklevel=2,
            )
        return out

    def _one(self, x: np.ndarray, y: np.ndarray, t: float) -> float:
        if len(x) == 0:
            self.n_fallback_ += 1
            return self.global_mean_
        if self.window is not None and len(x) > self.window:
            order = np.argsort(np.abs(t - x), kind="stable")[: int(self.window)]
            x, y = x[order], y[order]
        if len(x) < self.min_years:
            return float(y.mean())
        n = len(x)
        if np.isinf(self.shrinkage):
            s = self.pooled_slope_
        else:
            w = n / (n + self.shrinkage)
            s = w * self._slope(x, y) + (1 - w) * self.pooled_slope_
        v = y + s * (t - x)
        wts = self.decay ** np.abs(t - x)
        if self.level == "mean":
            return float(np.average(v, weights=wts))
        if self.level == "huber":
            return _huber_mean(v, wts)
        return _weighted_median(v, wts)


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(v)
    cw = np.cumsum(w[o])
    return float(v[o][np.searchsorted(cw, 0.5 * cw[-1])])


def _history_frame(history: pd.DataFrame) -> pd.DataFrame:
    need = ["adm_id", "harvest_year", "yield"]
    missing = [c for c in need if c not in history.columns]
    if missing:
        raise ValidationError(
            f"The yield history lacks columns {missing}; it has {list(history.columns)}."
        )
    h = history[need].dropna(subset=["yield"]).copy()
    h["adm_id"] = h["adm_id"].astype("str")
    dup = h.duplicated(["adm_id", "harvest_year"], keep=False)
    if dup.any():
        raise ValidationError(
            f"The yield history has several yields for the same (adm_id, harvest_year), e.g. "
            f"{_show(map(tuple, h.loc[dup, ['adm_id', 'harvest_year']].drop_duplicates().to_numpy()))}."
        )
    return h.sort_values(["adm_id", "harvest_year"], kind="stable")


def yield_history(frame: pd.DataFrame, *, max_lag: int = 5) -> pd.DataFrame:
    """Region × year yields from CY-Bench designed-feature rows and their yield lags.

    Each row's own ``yield`` (exact year) comes first; ``yield-j`` fills year
    ``harvest_year - j`` where no row gives it. Caveat of the source: the lags
    are the previous *reported* yields, so a county with a gap in the official
    statistics has lags that are older than ``j`` years; the years assigned
    here are then approximate (this is how the trend uses them too).

    Parameters
    ----------
    frame : pandas.DataFrame
        ``adm_id``, ``harvest_year``, ``yield`` and ``yield-1`` … columns (e.g.
        :func:`sdmkit.datasets.load_cybench_us_maize`).
    max_lag : int
        Use lags up to this one.

    Returns
    -------
    pandas.DataFrame
        ``adm_id`` (str), ``harvest_year`` (int64), ``yield`` (float64),
        ``source`` (str: ``"row"`` or ``"lag<j>"``), sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_features import yield_history
    >>> f = pd.DataFrame({"adm_id": ["a"], "harvest_year": [2010], "yield": [9.0],
    ...                   "yield-1": [8.5], "yield-2": [8.0]})
    >>> yield_history(f)[["harvest_year", "yield", "source"]].to_numpy().tolist()
    [[2008, 8.0, 'lag2'], [2009, 8.5, 'lag1'], [2010, 9.0, 'row']]
    """
    parts = []
    if "yield" in frame.columns:
        parts.append(frame[["adm_id", "harvest_year", "yield"]].assign(source="row", _p=0))
    for j in range(1, max_lag + 1):
        c = f"yield-{j}"
        if c in frame.columns:
            d = frame[["adm_id", "harvest_year", c]].rename(columns={c: "yield"})
            d = d.assign(harvest_year=d["harvest_year"] - j, source=f"lag{j}", _p=j)
            parts.append(d)
    if not parts:
        raise ValidationError("frame has neither a yield column nor yield-<j> lag columns.")
    h = pd.concat(parts, ignore_index=True).dropna(subset=["yield"])
    h = h.sort_values(["adm_id", "harvest_year", "_p"], kind="stable")
    h = h.drop_duplicates(["adm_id", "harvest_year"], keep="first").drop(columns="_p")
    h["adm_id"] = h["adm_id"].astype("str")
    h["harvest_year"] = h["harvest_year"].astype("int64")
    h["source"] = h["source"].astype("str")
    return h.reset_index(drop=True)


# =========================================================================== anomalies


class Climatology:
    """Anomalies of features against each region's own mean over training seasons.

    ``fit`` learns, per region, the mean (and sd) of each column over the rows
    it is given — pass training seasons only; ``transform`` returns
    ``value - region mean`` (``kind="difference"``) or that divided by the
    region's sd (``kind="z"``). A region mean is shrunk towards the mean of all
    regions with weight ``shrinkage / (n + shrinkage)`` (``n`` = training
    seasons of the region); a region never seen in training gets the mean of
    all regions (counted in ``n_unseen_``).

    Parameters
    ----------
    columns : list of str
        Columns to turn into anomalies.
    kind : {"difference", "z"}
    shrinkage : float
        Prior weight of the all-region mean, in seasons.
    prefix : str
        Anomaly columns are named ``prefix + column``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_features import Climatology
    >>> train = pd.DataFrame({"adm_id": ["a", "a", "b", "b"], "t": [10.0, 12.0, 20.0, 22.0]})
    >>> clim = Climatology(["t"]).fit(train)
    >>> clim.transform(pd.DataFrame({"adm_id": ["a", "b"], "t": [13.0, 19.0]}))["a_t"].tolist()
    [2.0, -2.0]
    """

    def __init__(
        self, columns, *, kind: str = "difference", shrinkage: float = 0.0, prefix: str = "a_"
    ):
        self.columns = list(columns)
        self.kind = kind
        self.shrinkage = shrinkage
        self.prefix = prefix

    def fit(self, frame: pd.DataFrame) -> Climatology:
        """Learn per-region means (and sds) from training rows.

        Returns
        -------
        self
        """
        if self.kind not in ("difference", "z"):
            raise ValueError(f"kind must be 'difference' or 'z', got {self.kind!r}.")
        _need(frame, ["adm_id", *self.columns], "Climatology.fit")
        g = frame.groupby(frame["adm_id"].astype(str))[self.columns]
        n = g.count()
        self.global_mean_ = frame[self.columns].mean()
        self.global_sd_ = frame[self.columns].std()
        k = float(self.shrinkage)
        self.mean_ = (g.sum() + k * self.global_mean_) / (n + k).where(n + k > 0)
        sd = g.std()
        self.sd_ = sd.where(sd > 0).fillna(self.global_sd_)
        return self

    def transform(self, frame: pd.DataFrame, columns=None) -> pd.DataFrame:
        """Anomaly columns (float64), same index as ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
        columns : list of str, optional
            A subset of the fitted columns (default all).

        Returns
        -------
        pandas.DataFrame
            ``prefix + column`` for each column.
        """
        cols = self.columns if columns is None else list(columns)
        unknown = [c for c in cols if c not in self.columns]
        if unknown:
            raise ValidationError(f"Climatology was not fitted on columns {unknown}.")
        _need(frame, ["adm_id", *cols], "Climatology.transform")
        ids = frame["adm_id"].astype(str)
        mu = self.mean_[cols].reindex(ids)
        self.n_unseen_ = int(mu.isna().all(axis=1).sum()) if cols else 0
        mu = mu.fillna(self.global_mean_[cols])
        a = frame[cols].to_numpy(float) - mu.to_numpy(float)
        if self.kind == "z":
            sd = self.sd_[cols].reindex(ids).fillna(self.global_sd_[cols]).to_numpy(float)
            a = a / sd
        return pd.DataFrame(a, index=frame.index, columns=[self.prefix + c for c in cols])


def _need(frame, cols, where):
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{where}: columns {missing} not found; it has {list(frame.columns)}."
        )


# =========================================================================== US designed features


def period_of(column: str) -> int | None:
    """Crop-calendar period ``k`` of a CY-Bench designed weather feature (``...p<k>``), else None.

    Examples
    --------
    >>> from sdmkit.forecast.yield_features import period_of
    >>> period_of("avgTAVGp3"), period_of("Z+PRECp1"), period_of("SM_WHC")
    (3, 1, None)
    """
    m = re.fullmatch(r"(?:avg|Z[-+])[A-Z0-9]+p(\d)", str(column))
    return int(m.group(1)) if m else None


def designed_features_at(columns, fraction: float, *, n_periods: int = 5) -> list[str]:
    """The CY-Bench designed features known at a lead time.

    CY-Bench splits each county's crop calendar into ``n_periods`` successive
    periods ``p0`` … ``p4``; taking them as equal fifths of the season, period
    ``k`` is complete at fraction ``(k + 1) / 5``. A feature of period ``k`` is
    known at ``fraction`` when ``(k + 1) / n_periods <= fraction``; features
    without a period (soil, yield lags, trend) are always known. Mapping used
    for the lead-time curve: 0.25 → p0; 0.5 → p0-p1; 0.75 → p0-p2 (incl.
    FAPAR p2); 1.0 → p0-p4.

    Parameters
    ----------
    columns : iterable of str
    fraction : float
        In (0, 1].
    n_periods : int

    Returns
    -------
    list of str
        The known columns, in the order given.

    Examples
    --------
    >>> from sdmkit.forecast.yield_features import designed_features_at
    >>> designed_features_at(["avgTAVGp0", "avgTAVGp1", "Z-CWBp3", "SM_WHC"], 0.5)
    ['avgTAVGp0', 'avgTAVGp1', 'SM_WHC']
    """
    f = float(fraction)
    if not 0 < f <= 1:
        raise ValidationError(f"fraction must be in (0, 1], got {fraction!r}.")
    out = []
    for c in columns:
        k = period_of(c)
        if k is None or (k + 1) / n_periods <= f + 1e-9:
            out.append(c)
    return out


def cybench_design(
    frame: pd.DataFrame,
    *,
    trend: TrendEstimator,
    climatology: Climatology | None = None,
    fraction: float = 1.0,
    raw: bool = True,
    state: bool = True,
) -> pd.DataFrame:
    """Design frame from CY-Bench designed-feature rows (e.g. US county maize).

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of :func:`sdmkit.datasets.load_cybench_us_maize`.
    trend : TrendEstimator
        Fitted (e.g. on :func:`yield_history` of the training rows); the row's
        own ``yield-1`` … lags are passed as recent yields.
    climatology : Climatology, optional
        Fitted on the *training* rows' weather/FAPAR columns; adds ``a_<col>``
        anomalies of the columns known at ``fraction``.
    fraction : float
        Lead time: only features of crop-calendar periods complete by then
        (:func:`designed_features_at`).
    raw : bool
        Keep the raw weather/FAPAR/soil values.
    state : bool
        Add ``state`` (category), the part of ``adm_id`` before the first ``_``.

    Returns
    -------
    pandas.DataFrame
        ``adm_id``, ``harvest_year``, ``trend``, ``lag1_dev`` (last year's
        yield minus the trend), then the features; row-aligned with ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.yield_features import TrendEstimator, cybench_design, yield_history
    >>> f = pd.DataFrame({"adm_id": ["IA_X"] * 2, "harvest_year": [2010, 2011],
    ...                   "avgTAVGp0": [10.0, 12.0], "avgTAVGp4": [20.0, 21.0],
    ...                   "yield-1": [9.0, 9.5], "yield": [9.5, 10.0]})
    >>> te = TrendEstimator(min_years=2).fit(yield_history(f))
    >>> list(cybench_design(f, trend=te, fraction=0.5).columns)
    ['adm_id', 'harvest_year', 'trend', 'lag1_dev', 'avgTAVGp0', 'state']
    """
    from ..datasets.cybench import cybench_feature_groups

    f = frame.reset_index(drop=True)
    g = cybench_feature_groups(f.columns)
    dynamic = designed_features_at(g["weather"] + g["fpar"], fraction)
    lags = [c for c in f.columns if re.fullmatch(r"yield-\d+", str(c))]
    X = f[KEYS].copy()
    X["adm_id"] = X["adm_id"].astype("str")
    X["trend"] = trend.predict(X, recent=f[lags] if lags else None)
    X["lag1_dev"] = f["yield-1"].to_numpy(float) - X["trend"] if "yield-1" in f else np.nan
    if raw:
        X = pd.concat([X, f[dynamic + g["soil"]].astype(float)], axis=1)
    if climatology is not None:
        known = [c for c in dynamic if c in climatology.columns]
        X = pd.concat([X, climatology.transform(f, known)], axis=1)
    if state:
        X["state"] = X["adm_id"].str.split("_").str[0].astype("category")
    return X


# =========================================================================== in-season series


def fill_series(values: np.ndarray, available_steps: int) -> np.ndarray:
    """Fill gaps of binned series forwards (then backwards) within the available bins.

    Only bins ``< available_steps`` (at or before the cut-off) are filled, and
    only from other bins in that range; bins after the cut-off stay NaN, and a
    series with no value at all stays NaN.

    Parameters
    ----------
    values : numpy.ndarray
        ``(..., n_steps)``.
    available_steps : int

    Returns
    -------
    numpy.ndarray
        A filled copy.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.yield_features import fill_series
    >>> fill_series(np.array([np.nan, 1.0, np.nan, 3.0, np.nan, np.nan]), 5).tolist()
    [1.0, 1.0, 1.0, 3.0, 3.0, nan]
    """
    v = np.array(values, dtype=float, copy=True)
    k = int(available_steps)
    if k <= 0:
        return v
    a = v[..., :k]
    # forward fill
    idx = np.where(np.isfinite(a), np.arange(k), -1)
    np.maximum.accumulate(idx, axis=-1, out=idx)
    ff = np.take_along_axis(a, np.maximum(idx, 0), axis=-1)
    ff = np.where(idx >= 0, ff, np.nan)
    # backward fill what is left at the start
    first = np.argmax(np.isfinite(a), axis=-1)[..., None]
    bf = np.take_along_axis(a, first, axis=-1)
    v[..., :k] = np.where(np.isfinite(ff), ff, bf)
    return v


def fourier_features(x: np.ndarray, n_modes: int = 3) -> np.ndarray:
    """Low-order Fourier coefficients of series along the last axis.

    ``rfft(x) / n`` for modes ``0 … n_modes - 1``, as real and imaginary
    parts (mode 0's imaginary part, always 0, is left out). NaN must be
    filled first (:func:`fill_series`; e.g. anomalies with 0 after the cut-off).

    Parameters
    ----------
    x : numpy.ndarray
        ``(..., n_steps)``.
    n_modes : int

    Returns
    -------
    numpy.ndarray
        ``(..., 2 * n_modes - 1)``: ``[re0, re1, im1, re2, im2, …]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.yield_features import fourier_features
    >>> t = np.arange(8)
    >>> (fourier_features(2.0 + np.cos(2 * np.pi * t / 8), 2).round(3) + 0.0).tolist()
    [2.0, 0.5, 0.0]
    """
    x = np.asarray(x, dtype=float)
    if not np.isfinite(x).all():
        raise ValidationError("fourier_features needs finite values; fill the series first.")
    n = x.shape[-1]
    m = int(min(n_modes, n // 2 + 1))
    c = np.fft.rfft(x, axis=-1)[..., :m] / n
    parts = [c[..., :1].real]
    for k in range(1, m):
        parts += [c[..., k : k + 1].real, c[..., k : k + 1].imag]
    return np.concatenate(parts, axis=-1)


class SeasonFeatures:
    """Tabular features of in-season series up to a cut-off.

    ``fit`` (on the training seasons' :class:`SeasonArray` only) learns each
    region's climatology: the mean of every (variable, bin) over its training
    seasons (shrunk towards the all-region mean with weight ``shrinkage``;
    the all-region mean alone for regions not seen). ``transform`` returns,
    per variable ``v`` and with the series filled forwards within the season
    (:func:`fill_series`) and anomalies ``= value − climatology`` (0 after the
    cut-off):

    * ``v_p<k>`` and ``v_ap<k>``: mean value and mean anomaly in period ``k``
      (``n_periods`` equal periods; only periods that start before the
      cut-off);
    * ``v_cum``: mean anomaly up to the cut-off; ``v_last``: anomaly of the
      last bin before it; ``v_max``: the largest value so far;
    * ``v_f<j>``: Fourier coefficients of the anomaly series
      (:func:`fourier_features`, ``n_modes``);
    * with ``year_means=True``, ``year_<anomaly feature>``: its mean over the
      seasons of the same harvest year in the array transformed (all regions'
      series up to the same cut-off — a national signal, less noisy than one
      region's).

    Parameters
    ----------
    n_periods : int
    n_modes : int
        0 for no Fourier features.
    shrinkage : float
        Prior weight (seasons) of the all-region climatology.
    year_means : bool
        Add the per-year means of the anomaly features.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import yield_panel
    >>> from sdmkit.forecast.yield_stress import season_panel
    >>> from sdmkit.forecast.yield_features import SeasonFeatures
    >>> sim = yield_panel(n_regions=3, years=range(2010, 2015), season_days=40, random_state=0)
    >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [234.0] * 3, "eos": [273.0] * 3}
    >>> arr = season_panel(sim.yields, sim.series, cal, variables=["ndvi"]).to_array(0.5, n_steps=8)
    >>> X = SeasonFeatures(n_periods=4, n_modes=2).fit(arr).transform(arr)
    >>> list(X.columns)
    ['adm_id', 'harvest_year', 'ndvi_p0', 'ndvi_ap0', 'ndvi_p1', 'ndvi_ap1', 'ndvi_cum', 'ndvi_last', 'ndvi_max', 'ndvi_f0', 'ndvi_f1', 'ndvi_f2']
    """

    def __init__(
        self,
        *,
        n_periods: int = 5,
        n_modes: int = 3,
        shrinkage: float = 1.0,
        year_means: bool = False,
    ):
        self.n_periods = n_periods
        self.n_modes = n_modes
        self.shrinkage = shrinkage
        self.year_means = year_means

    def fit(self, arr) -> SeasonFeatures:
        """Learn the per-region climatology from training seasons.

        Returns
        -------
        self
        """
        v = fill_series(arr.values, arr.available_steps)
        self.variables_ = tuple(arr.variables)
        self.n_steps_ = arr.n_steps
        ids = arr.keys["adm_id"].astype(str).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins after the cut-off
            g = np.nanmean(v, axis=0) if len(v) else np.full(v.shape[1:], np.nan)
        self.global_ = np.nan_to_num(g)
        clim = {}
        k = float(self.shrinkage)
        for a in np.unique(ids):
            sub = v[ids == a]
            n = np.isfinite(sub).sum(axis=0)
            s = np.nansum(sub, axis=0)
            clim[a] = (s + k * self.global_) / np.maximum(n + k, 1e-12)
            clim[a] = np.where(n + k > 0, clim[a], self.global_)
        self.climatology_ = clim
        return self

    def climatology(self, ids) -> np.ndarray:
        """Climatology ``(n, n_variables, n_steps)`` of regions ``ids``."""
        return (
            np.stack([self.climatology_.get(str(a), self.global_) for a in ids])
            if len(ids)
            else np.zeros((0, *self.global_.shape))
        )

    def anomalies(self, arr) -> np.ndarray:
        """Filled series minus each region's climatology; NaN after the cut-off.

        Returns
        -------
        numpy.ndarray
            Same shape as ``arr.values``.
        """
        self._check(arr)
        k = arr.available_steps
        anom = fill_series(arr.values, k) - self.climatology(arr.keys["adm_id"].astype(str))
        anom[..., k:] = np.nan
        return anom

    def _check(self, arr) -> None:
        if tuple(arr.variables) != self.variables_ or arr.n_steps != self.n_steps_:
            raise ValidationError(
                f"SeasonFeatures was fitted on variables {list(self.variables_)} with "
                f"{self.n_steps_} steps; got {list(arr.variables)} with {arr.n_steps}."
            )

    def transform(self, arr) -> pd.DataFrame:
        """Features of each season of ``arr`` (one row per season, keys as index columns).

        Returns
        -------
        pandas.DataFrame
            ``adm_id``, ``harvest_year`` and the float64 features, row-aligned
            with ``arr.keys``.
        """
        self._check(arr)
        k = arr.available_steps
        v = fill_series(arr.values, k)
        clim = self.climatology(arr.keys["adm_id"].astype(str).to_numpy())
        anom = v - clim
        anom[..., k:] = 0.0
        nt = arr.n_steps
        edges = np.linspace(0, nt, self.n_periods + 1)
        cols: dict[str, np.ndarray] = {}
        for j, name in enumerate(arr.variables):
            x, a = v[:, j, :], anom[:, j, :]
            for p in range(self.n_periods):
                lo, hi = int(np.floor(edges[p])), int(np.ceil(edges[p + 1]))
                if lo >= k:
                    break
                hi = min(hi, k)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    cols[f"{name}_p{p}"] = np.nanmean(x[:, lo:hi], axis=1)
                    cols[f"{name}_ap{p}"] = np.nanmean(a[:, lo:hi], axis=1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                cols[f"{name}_cum"] = np.nanmean(a[:, :k], axis=1)
                cols[f"{name}_last"] = a[:, k - 1] if k > 0 else np.full(len(a), np.nan)
                cols[f"{name}_max"] = np.nanmax(x[:, :k], axis=1)
            if self.n_modes:
                f = fourier_features(np.nan_to_num(a), self.n_modes)
                for i in range(f.shape[1]):
                    cols[f"{name}_f{i}"] = f[:, i]
        out = pd.DataFrame(cols)
        if self.year_means:
            anom = [c for c in out.columns if re.search(r"_(ap\d+|cum|last|f\d+)$", c)]
            yrs = arr.keys["harvest_year"].to_numpy()
            means = out[anom].groupby(yrs).transform("mean")
            out = pd.concat([out, means.add_prefix("year_")], axis=1)
        return pd.concat([arr.keys.reset_index(drop=True), out], axis=1)
