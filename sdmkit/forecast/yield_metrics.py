"""Skill of yield forecasts: NRMSE, R², the shortfall event, Brier score and reliability.

* :func:`nrmse` — RMSE in % of the mean observed yield (CY-Bench's NRMSE);
* :func:`r2` — coefficient of determination;
* :func:`shortfall_event` — did the yield fall short of the trend by more than
  a threshold: ``yield < (1 − threshold) × trend``;
* :func:`brier_score`, :func:`reliability_table` — calibration of shortfall
  probabilities (the data of a reliability diagram);
* :func:`brier_skill_score` — Brier skill against a reference probability
  (e.g. the event's frequency in the training seasons);
* :func:`brier_decomposition` — Murphy's reliability / resolution /
  uncertainty terms over probability bins;
* :func:`plot_reliability` — the reliability diagram itself (matplotlib).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import ValidationError, _show

__all__ = [
    "brier_decomposition",
    "brier_score",
    "brier_skill_score",
    "nrmse",
    "plot_reliability",
    "r2",
    "reliability_table",
    "shortfall_event",
]


def _pair(y, p, what: str):
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValidationError(f"{what}: y has {y.size} values, the prediction {p.size}.")
    bad = np.flatnonzero(~np.isfinite(y) | ~np.isfinite(p))
    if bad.size:
        raise ValidationError(
            f"{what}: NaN or infinite values at positions {_show(bad)}. Drop those seasons "
            f"(and say so) before scoring."
        )
    if y.size == 0:
        raise ValidationError(f"{what}: nothing to score.")
    return y, p


def nrmse(y, pred) -> float:
    """Root mean squared error in percent of the mean observed value (CY-Bench's NRMSE).

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import nrmse
    >>> nrmse([10.0, 10.0], [9.0, 11.0])
    10.0
    """
    y, p = _pair(y, pred, "nrmse")
    return float(100.0 * np.sqrt(np.mean((y - p) ** 2)) / np.mean(y))


def r2(y, pred) -> float:
    """Coefficient of determination ``1 − SSE / SST``.

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import r2
    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    y, p = _pair(y, pred, "r2")
    sst = float(np.sum((y - y.mean()) ** 2))
    return float(1.0 - np.sum((y - p) ** 2) / sst) if sst > 0 else float("nan")


def shortfall_event(y, trend, threshold: float = 0.1) -> np.ndarray:
    """Whether each yield fell short of its trend yield by more than ``threshold``.

    Parameters
    ----------
    y, trend : array-like
        Observed and trend (expected) yields.
    threshold : float
        Relative shortfall, e.g. 0.1 for ``y < 0.9 × trend``.

    Returns
    -------
    numpy.ndarray
        Bool.

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import shortfall_event
    >>> shortfall_event([8.0, 9.5], [10.0, 10.0]).tolist()
    [True, False]
    """
    y, t = _pair(y, trend, "shortfall_event")
    if not 0 < threshold < 1:
        raise ValidationError(f"threshold must be in (0, 1), got {threshold!r}.")
    return y < (1.0 - threshold) * t


def _probs(event, prob, what):
    e, p = _pair(np.asarray(event, dtype=float), prob, what)
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValidationError(f"{what}: the event must be 0/1 (or bool).")
    bad = np.flatnonzero((p < 0) | (p > 1))
    if bad.size:
        raise ValidationError(
            f"{what}: probabilities must be in [0, 1]; positions {_show(bad)} hold {_show(p[bad])}."
        )
    return e, p


def brier_score(event, prob) -> float:
    """Mean squared difference between the probability and the 0/1 outcome.

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import brier_score
    >>> brier_score([1, 0], [0.8, 0.4])
    0.1
    """
    e, p = _probs(event, prob, "brier_score")
    return float(np.mean((p - e) ** 2))


def reliability_table(event, prob, n_bins: int = 10) -> pd.DataFrame:
    """Reliability-diagram data: observed frequency against mean forecast probability.

    Parameters
    ----------
    event : array-like of bool or 0/1
    prob : array-like
        Forecast probabilities of the event.
    n_bins : int
        Equal-width probability bins on [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin`` (int64), ``lower``, ``upper`` (bin
        edges), ``prob_mean`` (mean forecast probability), ``freq`` (observed
        frequency of the event), ``count`` (int64).

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import reliability_table
    >>> reliability_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)[["freq", "count"]].to_numpy().tolist()
    [[0.0, 2.0], [1.0, 2.0]]
    """
    e, p = _probs(event, prob, "reliability_table")
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValidationError(f"n_bins must be a positive integer, got {n_bins!r}.")
    edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, int(n_bins) - 1)
    df = pd.DataFrame({"bin": b, "p": p, "e": e})
    g = df.groupby("bin").agg(prob_mean=("p", "mean"), freq=("e", "mean"), count=("e", "size"))
    g = g.reset_index()
    g["lower"] = edges[g["bin"]]
    g["upper"] = edges[g["bin"] + 1]
    g["bin"] = g["bin"].astype("int64")
    g["count"] = g["count"].astype("int64")
    return g[["bin", "lower", "upper", "prob_mean", "freq", "count"]]


def brier_skill_score(event, prob, reference) -> float:
    """Brier skill ``1 − BS(prob) / BS(reference)``: 0 = no better than the reference.

    Parameters
    ----------
    event : array-like of bool or 0/1
    prob : array-like
        Forecast probabilities.
    reference : float or array-like
        Reference probabilities, e.g. the event's frequency in the *training*
        seasons (climatology; a scalar is used for every row).

    Returns
    -------
    float
        NaN when the reference Brier score is 0.

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import brier_skill_score
    >>> round(brier_skill_score([1, 0, 0, 0], [0.7, 0.1, 0.1, 0.2], 0.25), 3)
    0.8
    """
    e, p = _probs(event, prob, "brier_skill_score")
    ref = np.broadcast_to(np.asarray(reference, dtype=float), e.shape)
    _, r = _probs(e, ref, "brier_skill_score (reference)")
    bs_ref = float(np.mean((r - e) ** 2))
    return float(1.0 - np.mean((p - e) ** 2) / bs_ref) if bs_ref > 0 else float("nan")


def brier_decomposition(event, prob, n_bins: int = 10) -> dict:
    """Murphy's decomposition of the Brier score over probability bins.

    ``BS ≈ reliability − resolution + uncertainty``: *reliability* (lower is
    better) is the count-weighted squared gap between the mean forecast and
    the observed frequency of each bin (the distance to the diagonal of the
    reliability diagram); *resolution* (higher is better) the spread of the
    bins' frequencies around the overall frequency; *uncertainty* ``ō (1 − ō)``.
    The identity is exact when the probabilities within a bin are equal.

    Parameters
    ----------
    event : array-like of bool or 0/1
    prob : array-like
    n_bins : int
        Equal-width bins, as :func:`reliability_table`.

    Returns
    -------
    dict
        ``brier``, ``reliability``, ``resolution``, ``uncertainty`` (floats)
        and ``base_rate`` (observed frequency).

    Examples
    --------
    >>> from sdmkit.forecast.yield_metrics import brier_decomposition
    >>> d = brier_decomposition([0, 0, 1, 1], [0.2, 0.2, 0.8, 0.8], n_bins=5)
    >>> {k: round(v, 3) for k, v in d.items()}
    {'brier': 0.04, 'reliability': 0.04, 'resolution': 0.25, 'uncertainty': 0.25, 'base_rate': 0.5}
    """
    t = reliability_table(event, prob, n_bins=n_bins)
    e, p = _probs(event, prob, "brier_decomposition")
    n = float(len(e))
    o = float(e.mean())
    w = t["count"].to_numpy(float) / n
    return {
        "brier": float(np.mean((p - e) ** 2)),
        "reliability": float(np.sum(w * (t["prob_mean"] - t["freq"]) ** 2)),
        "resolution": float(np.sum(w * (t["freq"] - o) ** 2)),
        "uncertainty": o * (1.0 - o),
        "base_rate": o,
    }


def plot_reliability(
    event,
    prob,
    *,
    n_bins: int = 10,
    ax=None,
    label: str | None = None,
    color=None,
    marker: str = "o",
):
    """Reliability diagram: observed frequency of the event against forecast probability.

    One point per non-empty probability bin of :func:`reliability_table`, at
    (mean forecast probability, observed frequency), its area proportional to
    the number of forecasts in the bin; the diagonal is perfect calibration.
    The legend entry carries the :func:`brier_score`. Call it again on the same
    ``ax`` to compare models.

    Parameters
    ----------
    event : array-like of bool or 0/1
        Whether the event happened (e.g. :func:`shortfall_event`).
    prob : array-like
        Forecast probabilities of the event, in [0, 1].
    n_bins : int
        Equal-width probability bins on [0, 1].
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new 4.5 × 4.5 in figure).
    label : str, optional
        Legend label; `` (Brier 0.123)`` is appended.
    color, marker
        Matplotlib style of the curve.

    Returns
    -------
    matplotlib.axes.Axes
        The curve is the last line of ``ax.get_lines()`` (x: mean forecast
        probability, y: observed frequency of each bin).

    Raises
    ------
    ValidationError
        As :func:`reliability_table`: NaN, probabilities outside [0, 1], an
        event that is not 0/1, or lengths that differ.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.forecast.yield_metrics import plot_reliability
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> ax = plot_reliability(rng.uniform(size=500) < p, p, n_bins=5, label="calibrated")
    >>> ax.get_legend_handles_labels()[1][-1].startswith("calibrated (Brier 0.1")
    True
    """
    import matplotlib.pyplot as plt

    table = reliability_table(event, prob, n_bins=n_bins)
    bs = brier_score(event, prob)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    if not any(getattr(line, "_sdmkit_diagonal", False) for line in ax.get_lines()):
        (diag,) = ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
        diag._sdmkit_diagonal = True
    text = f"Brier {bs:.3f}" if label is None else f"{label} (Brier {bs:.3f})"
    (line,) = ax.plot(table["prob_mean"], table["freq"], color=color, lw=1.2, label=text)
    area = 200.0 * table["count"].to_numpy() / max(int(table["count"].max()), 1)
    ax.scatter(
        table["prob_mean"],
        table["freq"],
        s=np.maximum(area, 8.0),
        color=line.get_color(),
        marker=marker,
        edgecolor="k",
        linewidth=0.4,
        zorder=3,
    )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("forecast probability")
    ax.set_ylabel("observed frequency")
    ax.legend(loc="upper left", fontsize="small")
    return ax
