"""Evaluation metrics for species distribution models.

Binary metrics take ``y`` (1 presence, 0 absence or background) and a
continuous ``score`` (any monotone suitability: probability, cloglog, raw) as
1-D arrays and return a float. Inputs are checked: mismatched shapes, NaN or
infinite values, labels other than 0/1 and a ``y`` with one class only are
:class:`~sdmkit.ValidationError` s that name the offending positions.

* :func:`roc_auc`, :func:`pr_auc` (average precision), :func:`cor`
  (point-biserial correlation, as in Valavi et al. 2022);
* :func:`boyce_index` — continuous Boyce index (Hirzel et al. 2006) for
  presence-only evaluation;
* :func:`tss`, :func:`max_tss` — true skill statistic (Allouche et al. 2006);
* :func:`omission_rate` — omission of test presences at the minimum-training-
  presence or 10th-percentile training threshold (as ENMeval);
* :func:`calibration_curve` — reliability table (wraps scikit-learn);
* :func:`f1_at_k_samples`, :func:`micro_f1` — multi-species metrics
  (GeoLifeCLEF / GeoPlant);
* :func:`evaluate` — all binary metrics in one dict.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._validation import ValidationError, ValidationWarning, _show

__all__ = [
    "boyce_index",
    "calibration_curve",
    "cor",
    "evaluate",
    "f1_at_k_samples",
    "max_tss",
    "micro_f1",
    "omission_rate",
    "pr_auc",
    "roc_auc",
    "tss",
]


# --------------------------------------------------------------------------- checks


def _as_1d(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{name} must be numeric, got {type(values).__name__}.") from err
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-D (one value per point), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValidationError(f"{name} is empty.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValidationError(
            f"{name} has NaN or infinite values at positions {_show(bad)}. Drop those points "
            f"(and the matching labels) explicitly, or fix the predictions."
        )
    return arr


def _labels(y, name: str = "y") -> np.ndarray:
    arr = _as_1d(y, name)
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        raise ValidationError(
            f"{name} must hold 0/1 labels (1 presence, 0 absence/background); positions "
            f"{_show(bad)} hold {_show(arr[bad])}."
        )
    return arr.astype(np.int64)


def _binary(y, score, *, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    y = _labels(y)
    s = _as_1d(score, "score")
    if y.shape != s.shape:
        raise ValidationError(
            f"y and score must have the same length, got {y.size} labels and {s.size} scores."
        )
    if need_both and (y.min() == y.max()):
        raise ValidationError(
            f"y holds only class {int(y[0])} ({y.size} points); this metric needs both "
            f"presences (1) and absences/background (0)."
        )
    return y, s


# --------------------------------------------------------------------------- binary


def roc_auc(y, score) -> float:
    """Area under the ROC curve.

    Ties in ``score`` count one half (Mann-Whitney), as in scikit-learn and
    R's ``dismo::evaluate``.

    Parameters
    ----------
    y : array-like of shape (n,)
        1 presence, 0 absence or background.
    score : array-like of shape (n,)
        Predicted suitability; only its ranking matters.

    Returns
    -------
    float

    Examples
    --------
    >>> from sdmkit.sdm.metrics import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    from sklearn.metrics import roc_auc_score

    y, s = _binary(y, score)
    return float(roc_auc_score(y, s))


def pr_auc(y, score) -> float:
    """Area under the precision-recall curve, as average precision.

    ``sum_k (R_k - R_{k-1}) P_k`` over thresholds (scikit-learn's
    ``average_precision_score``; no trapezoidal interpolation). Its baseline
    is the prevalence of ``y``, not 0.5.

    Examples
    --------
    >>> from sdmkit.sdm.metrics import pr_auc
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    from sklearn.metrics import average_precision_score

    y, s = _binary(y, score)
    return float(average_precision_score(y, s))


def cor(y, score) -> float:
    """Point-biserial correlation: Pearson correlation of the 0/1 labels with the score.

    The "COR" of Elith et al. (2006) and Valavi et al. (2022). Unlike AUC it
    depends on the scale of the score, not only its ranking. A constant score
    has no correlation: NaN with a :class:`~sdmkit.ValidationWarning`.

    Examples
    --------
    >>> from sdmkit.sdm.metrics import cor
    >>> round(cor([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0]), 6)
    1.0
    """
    y, s = _binary(y, score)
    if np.ptp(s) == 0:
        warnings.warn(
            "cor: the score is constant, so its correlation with y is undefined; returning NaN.",
            ValidationWarning,
            stacklevel=2,
        )
        return float("nan")
    return float(np.corrcoef(y.astype(float), s)[0, 1])


def tss(y, score, threshold: float) -> float:
    """True skill statistic at a threshold: sensitivity + specificity - 1.

    A point is predicted present when ``score >= threshold``.

    Examples
    --------
    >>> from sdmkit.sdm.metrics import tss
    >>> tss([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.3)
    0.5
    """
    y, s = _binary(y, score)
    if not np.isfinite(threshold):
        raise ValidationError(f"threshold must be a finite number, got {threshold!r}.")
    pred = s >= threshold
    sens = pred[y == 1].mean()
    spec = (~pred[y == 0]).mean()
    return float(sens + spec - 1.0)


def max_tss(y, score) -> tuple[float, float]:
    """Maximum TSS over all thresholds and the threshold that reaches it.

    Candidate thresholds are the distinct score values (predicted present when
    ``score >= threshold``). On ties of TSS the highest threshold wins, so
    ``tss(y, score, threshold)`` reproduces the value.

    Returns
    -------
    (value, threshold) : (float, float)

    Examples
    --------
    >>> from sdmkit.sdm.metrics import max_tss
    >>> max_tss([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    (0.5, 0.8)
    """
    from sklearn.metrics import roc_curve

    y, s = _binary(y, score)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    keep = np.isfinite(thr)  # the first threshold is +inf (nothing predicted present)
    values = (tpr - fpr)[keep]
    best = int(np.argmax(values))  # thresholds decrease: argmax picks the highest on ties
    return float(values[best]), float(thr[keep][best])


def boyce_index(
    score_presence,
    score_background,
    n_bins: int = 101,
    window: float = 0.1,
    *,
    rm_duplicate: bool = True,
    drop_zeros: bool = False,
    return_curve: bool = False,
):
    """Continuous Boyce index (Hirzel et al. 2006), a presence-only evaluation metric.

    A window of width ``window × range`` slides over the score range in
    ``n_bins`` equally spaced steps. In each window the predicted-to-expected
    ratio is ``F = P / E`` with ``P`` the fraction of presences and ``E`` the
    fraction of background (or all study-area) scores in the window. The index
    is the Spearman correlation between ``F`` and the window position: near 1
    when presences are increasingly over-represented at higher suitability,
    around 0 for a random model, negative for a counter-productive one.

    Conventions (those of ``ecospat::ecospat.boyce`` with a moving window,
    ``nclass=0``, ``res=100``, ``window.w="default"``; choices noted):

    * the range is that of ``score_background`` together with
      ``score_presence`` (ecospat uses the study-area scores only, which
      usually contain the presences; enmSdmX ``evalContBoyce`` uses both);
    * windows are closed intervals ``[lo, lo + width]``; the last one ends at
      the maximum, so every score falls in at least one window;
    * windows with no background score (``E = 0``) are undefined and left out;
      windows with ``F = 0`` (no presence) are kept unless ``drop_zeros`` (the
      enmSdmX default is to drop them);
    * ``rm_duplicate`` (ecospat's default) removes a value of ``F`` equal to
      the next one, so flat runs of the curve do not inflate the correlation;
      the last window is always kept;
    * fewer than 2 defined windows, or a constant ``F``, gives NaN with a
      :class:`~sdmkit.ValidationWarning`.

    Parameters
    ----------
    score_presence : array-like of shape (n_p,)
        Scores at (test) presences.
    score_background : array-like of shape (n_b,)
        Scores at background points or at every cell of the study area.
    n_bins : int
        Number of window positions (ecospat's ``res + 1``).
    window : float
        Window width as a fraction of the score range, in (0, 1).
    rm_duplicate, drop_zeros : bool
        See above.
    return_curve : bool
        Also return the curve as a DataFrame with ``lower``, ``upper``,
        ``centre`` (floats), ``n_presence``, ``n_background`` (int64),
        ``ratio`` (float, NaN where undefined) and ``used`` (bool).

    Returns
    -------
    float, or (float, pandas.DataFrame) when ``return_curve``

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.metrics import boyce_index
    >>> rng = np.random.default_rng(0)
    >>> background = rng.uniform(0, 1, 5000)
    >>> presence = rng.beta(4, 1, 300)  # presences favour high scores
    >>> boyce_index(presence, background) > 0.9
    True
    """
    p = _as_1d(score_presence, "score_presence")
    b = _as_1d(score_background, "score_background")
    if int(n_bins) != n_bins or n_bins < 2:
        raise ValidationError(f"n_bins must be an integer >= 2, got {n_bins!r}.")
    if not 0 < window < 1:
        raise ValidationError(
            f"window must be a fraction of the score range in (0, 1), got {window!r}."
        )
    lo_all = min(p.min(), b.min())
    hi_all = max(p.max(), b.max())
    if hi_all == lo_all:
        raise ValidationError(
            f"All scores equal {lo_all}; the Boyce index needs a score range to slide a window over."
        )
    width = window * (hi_all - lo_all)
    lower = np.linspace(lo_all, hi_all - width, int(n_bins))
    upper = lower + width
    upper[-1] = hi_all  # guard against rounding: the last window holds the maximum
    ps, bs = np.sort(p), np.sort(b)

    def count(sorted_values):
        return np.searchsorted(sorted_values, upper, side="right") - np.searchsorted(
            sorted_values, lower, side="left"
        )

    n_p, n_b = count(ps), count(bs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n_b > 0, (n_p / p.size) / (n_b / b.size), np.nan)
    used = np.isfinite(ratio)
    if drop_zeros:
        used &= ratio != 0
    idx = np.flatnonzero(used)
    if rm_duplicate and idx.size > 1:
        f = ratio[idx]
        keep = np.append(f[:-1] != f[1:], True)
        idx = idx[keep]
        used = np.zeros_like(used)
        used[idx] = True
    value = float("nan")
    if idx.size >= 2 and np.ptp(ratio[idx]) > 0:
        from scipy.stats import spearmanr

        value = float(spearmanr(lower[idx], ratio[idx]).statistic)
    else:
        warnings.warn(
            f"boyce_index: only {idx.size} usable window(s) with a non-constant P/E ratio; the "
            f"index is undefined (NaN). Use more background points or a wider window.",
            ValidationWarning,
            stacklevel=2,
        )
    if not return_curve:
        return value
    curve = pd.DataFrame(
        {
            "lower": lower,
            "upper": upper,
            "centre": (lower + upper) / 2,
            "n_presence": n_p.astype("int64"),
            "n_background": n_b.astype("int64"),
            "ratio": ratio,
            "used": used,
        }
    )
    return value, curve


def omission_rate(
    score_test_presence, score_train_presence, rule: str = "mtp", *, return_threshold: bool = False
):
    """Fraction of test presences predicted absent at a training-presence threshold.

    Thresholds (as ENMeval's ``or.mtp`` and ``or.10p``):

    * ``"mtp"`` — minimum training presence: the lowest training score;
    * ``"p10"`` — 10th percentile: the score that leaves out the lowest 10 % of
      training presences, i.e. the ``m``-th highest training score with
      ``m = ceil(0.9 n)`` (``floor(0.9 n)`` when ``n < 10``).

    A test presence is omitted when its score is strictly below the threshold.

    Parameters
    ----------
    score_test_presence : array-like of shape (n_test,)
    score_train_presence : array-like of shape (n_train,)
    rule : {"mtp", "p10"}
    return_threshold : bool
        Also return the threshold.

    Returns
    -------
    float, or (float, float) when ``return_threshold``

    Examples
    --------
    >>> from sdmkit.sdm.metrics import omission_rate
    >>> omission_rate([0.05, 0.3, 0.6, 0.9], [0.2, 0.4, 0.5], rule="mtp")
    0.25
    """
    test = _as_1d(score_test_presence, "score_test_presence")
    train = _as_1d(score_train_presence, "score_train_presence")
    if rule == "mtp":
        thr = float(train.min())
    elif rule == "p10":
        n = train.size
        m = int(np.floor(0.9 * n)) if n < 10 else int(np.ceil(0.9 * n))
        m = max(m, 1)
        thr = float(np.sort(train)[::-1][m - 1])
    else:
        raise ValidationError(f"rule must be 'mtp' or 'p10', got {rule!r}.")
    value = float((test < thr).mean())
    return (value, thr) if return_threshold else value


def calibration_curve(y, prob, n_bins: int = 10, *, strategy: str = "uniform") -> pd.DataFrame:
    """Reliability table: observed frequency of presence against mean predicted probability.

    Wraps :func:`sklearn.calibration.calibration_curve` and adds the count of
    points per bin. Only meaningful for probabilities of presence (e.g. on
    presence–absence test data); presence–background "probabilities" depend
    on the number of background points.

    Parameters
    ----------
    y : array-like of shape (n,)
        0/1 labels.
    prob : array-like of shape (n,)
        Predicted probabilities in [0, 1].
    n_bins : int
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1] or bins with equal numbers of points.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin`` (int64, 0-based), ``prob_pred``
        (mean predicted probability), ``prob_true`` (fraction of presences),
        ``count`` (int64).

    Examples
    --------
    >>> from sdmkit.sdm.metrics import calibration_curve
    >>> calibration_curve([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)["prob_true"].tolist()
    [0.0, 1.0]
    """
    from sklearn.calibration import calibration_curve as _sk_curve

    y, p = _binary(y, prob, need_both=False)
    bad = np.flatnonzero((p < 0) | (p > 1))
    if bad.size:
        raise ValidationError(
            f"prob must be probabilities in [0, 1]; positions {_show(bad)} hold {_show(p[bad])}. "
            f"Use a model's probability output (e.g. cloglog), not raw scores."
        )
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValidationError(f"n_bins must be a positive integer, got {n_bins!r}.")
    prob_true, prob_pred = _sk_curve(y, p, n_bins=int(n_bins), strategy=strategy)
    # same bin edges as scikit-learn, to count points per bin
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, int(n_bins) + 1))
    else:
        edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, minlength=int(n_bins))
    nonzero = np.flatnonzero(counts)
    return pd.DataFrame(
        {
            "bin": nonzero.astype("int64"),
            "prob_pred": prob_pred,
            "prob_true": prob_true,
            "count": counts[nonzero].astype("int64"),
        }
    )


# --------------------------------------------------------------------------- multi-species


def _matrix(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValidationError(f"{name} must be numeric, got {type(values).__name__}.") from err
    if arr.ndim != 2:
        raise ValidationError(f"{name} must be 2-D (n samples × S species), got shape {arr.shape}.")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        raise ValidationError(
            f"{name} has NaN or infinite values at (row, column) {_show(map(tuple, bad.tolist()))}."
        )
    return arr


def _binary_matrix(values, name: str) -> np.ndarray:
    arr = _matrix(values, name)
    bad = np.argwhere((arr != 0) & (arr != 1))
    if len(bad):
        raise ValidationError(
            f"{name} must hold 0/1 values; (row, column) {_show(map(tuple, bad.tolist()))} do not."
        )
    return arr.astype(bool)


def f1_at_k_samples(y_true, scores, k: int = 25) -> float:
    """Samples-averaged F1 of the top-``k`` predicted species (GeoLifeCLEF / GeoPlant 2024).

    For each sample (survey) the predicted set is the ``k`` species with the
    highest score; ``F1 = 2 |pred ∩ true| / (|pred| + |true|)``; the metric is
    the mean over samples. A sample with no true species scores 0. Ties at
    the ``k``-th place go to the lower column index (stable sort).

    Parameters
    ----------
    y_true : array-like of shape (n, S)
        0/1 presence of each species in each sample.
    scores : array-like of shape (n, S)
        Predicted scores.
    k : int
        Size of the predicted set, ``1 <= k <= S``.

    Returns
    -------
    float

    Examples
    --------
    >>> from sdmkit.sdm.metrics import f1_at_k_samples
    >>> y = [[1, 1, 0, 0], [0, 0, 0, 1]]
    >>> s = [[0.9, 0.1, 0.8, 0.0], [0.0, 0.1, 0.2, 0.3]]
    >>> f1_at_k_samples(y, s, k=2)  # sample 1: 2·1/(2+2); sample 2: 2·1/(2+1)
    0.5833333333333333
    """
    t = _binary_matrix(y_true, "y_true")
    s = _matrix(scores, "scores")
    if t.shape != s.shape:
        raise ValidationError(
            f"y_true and scores must have the same shape, got {t.shape} and {s.shape}."
        )
    n, n_species = s.shape
    if int(k) != k or not 1 <= k <= n_species:
        raise ValidationError(
            f"k must be an integer in [1, {n_species}] (the number of species), got {k!r}."
        )
    top = np.argsort(-s, axis=1, kind="stable")[:, : int(k)]
    hits = np.take_along_axis(t, top, axis=1).sum(axis=1)
    f1 = 2.0 * hits / (int(k) + t.sum(axis=1))
    return float(f1.mean())


def micro_f1(y_true, y_pred) -> float:
    """Micro-averaged F1 over all (sample, species) pairs: ``2 TP / (2 TP + FP + FN)``.

    Equals ``sklearn.metrics.f1_score(..., average="micro")``; 0 when there is
    no positive in either matrix.

    Examples
    --------
    >>> from sdmkit.sdm.metrics import micro_f1
    >>> micro_f1([[1, 0], [1, 1]], [[1, 1], [0, 1]])
    0.6666666666666666
    """
    t = _binary_matrix(y_true, "y_true")
    p = _binary_matrix(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValidationError(
            f"y_true and y_pred must have the same shape, got {t.shape} and {p.shape}."
        )
    tp = float((t & p).sum())
    denom = 2 * tp + float((~t & p).sum()) + float((t & ~p).sum())
    return 2 * tp / denom if denom else 0.0


# --------------------------------------------------------------------------- all at once


def evaluate(y, score, *, threshold: float | None = None, boyce_kwargs: dict | None = None) -> dict:
    """All binary metrics for one set of predictions.

    Parameters
    ----------
    y : array-like of shape (n,)
        1 presence, 0 absence or background.
    score : array-like of shape (n,)
    threshold : float, optional
        Also report ``tss`` at this threshold.
    boyce_kwargs : dict, optional
        Passed to :func:`boyce_index`, which compares the presences' scores
        with the scores of all ``n`` points (the evaluation points stand for
        the study area, as ecospat's ``fit``).

    Returns
    -------
    dict
        ``n_presence``, ``n_absence`` (int), ``prevalence``, ``roc_auc``,
        ``pr_auc``, ``cor``, ``boyce``, ``max_tss``, ``max_tss_threshold``
        (floats) and ``tss`` when ``threshold`` is given.

    Examples
    --------
    >>> from sdmkit.sdm.metrics import evaluate
    >>> m = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["roc_auc"], m["max_tss"]
    (0.75, 0.5)
    """
    y, s = _binary(y, score)
    best, thr = max_tss(y, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        boyce = boyce_index(s[y == 1], s, **(boyce_kwargs or {})) if np.ptp(s) > 0 else float("nan")
    out = {
        "n_presence": int(y.sum()),
        "n_absence": int((y == 0).sum()),
        "prevalence": float(y.mean()),
        "roc_auc": roc_auc(y, s),
        "pr_auc": pr_auc(y, s),
        "cor": cor(y, s),
        "boyce": boyce,
        "max_tss": best,
        "max_tss_threshold": thr,
    }
    if threshold is not None:
        out["tss"] = tss(y, s, threshold)
    return out
