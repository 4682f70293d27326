"""Epidemiological calendar: CDC/MMWR (and SINAN) epiweeks.

Shared by the dengue loaders, the simulators and the forecasters, so it sits
below all of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import ValidationError, _show

__all__ = ["epiweek"]


def epiweek(dates) -> tuple[np.ndarray, np.ndarray]:
    """CDC/MMWR epidemiological (year, week) of dates.

    MMWR weeks run Sunday to Saturday; week 1 of a year is the first such week
    with at least four days in that year (so the week's Wednesday falls in it).
    Years have 52 or 53 weeks; early-January days can belong to the previous
    year's last week and late-December days to the next year's week 1.

    Parameters
    ----------
    dates : date-like or array-like of date-likes
        Anything :func:`pandas.to_datetime` accepts; no missing values.

    Returns
    -------
    year, week : numpy.ndarray of int64
        One entry per date (a scalar input gives arrays of length 1). The usual
        integer code is ``year * 100 + week``.

    Examples
    --------
    >>> from sdmkit import epiweek
    >>> year, week = epiweek(["2015-01-04", "2014-12-28", "2021-01-03"])
    >>> (year * 100 + week).tolist()
    [201501, 201453, 202101]
    """
    idx = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(dates, dtype=object))))
    missing = np.flatnonzero(idx.isna())
    if missing.size:
        raise ValidationError(f"dates has missing values at positions {_show(missing)}.")
    idx = idx.normalize()
    since_sunday = (idx.day_of_week.to_numpy() + 1) % 7  # Monday=0 … Sunday=6 -> Sunday=0
    wednesday = idx - pd.to_timedelta(since_sunday, unit="D") + pd.Timedelta(days=3)
    year = wednesday.year.to_numpy().astype(np.int64)
    week = ((wednesday.day_of_year.to_numpy() - 1) // 7 + 1).astype(np.int64)
    return year, week
