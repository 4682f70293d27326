"""Downstream probes of location embeddings (SatCLIP-style evaluation).

A good location embedding makes environmental variables predictable by a
*simple* model. A probe fits a linear model (ridge regression, or a ridge
classifier for classes) from embeddings to a target and scores it on held-out
places, with two holdouts:

* ``"random"`` — points shuffled into folds: rewards interpolation, and any
  encoder that can memorise location does well;
* ``"spatial"`` — whole spatial blocks held out (:class:`SpatialBlockKFold`):
  the test places are far from every training place, which is what an
  embedding must handle to help in unsurveyed regions.

The ridge penalty is chosen on the training folds only: by leave-one-out for
the random holdout, and by leave-one-BLOCK-out (same block grid) for the
spatial holdout, so that the penalty is tuned for the kind of prediction it is
scored on. Both are exact and computed from one eigendecomposition per fold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import ValidationError
from ..model_selection import SpatialBlockKFold, block_ids
from .products import as_embedding_function

__all__ = ["probe", "probe_table", "raster_probe_targets"]


ALPHAS = np.logspace(-3, 4, 15)


class _RidgeLOO:
    """Standardise + ridge, penalty by efficient leave-one-out, for several targets at once.

    The same model as scikit-learn's ``make_pipeline(StandardScaler(), RidgeCV(alphas))``
    (and ``RidgeClassifierCV`` for classes: ±1 one-hot targets, arg-max prediction,
    one penalty for all classes), but the decomposition of the training design is done
    once and shared by every target and every penalty: ``X'X`` (or ``XX'`` when there
    are fewer rows than columns) is diagonalised once, after which each penalty costs
    O(n × rank). The leave-one-out residual of row i is ``(y_i - ŷ_i) / (1 - h_ii)``
    with ``h_ii`` the diagonal of the hat matrix (intercept included), and the penalty
    with the smallest mean squared leave-one-out residual wins, as in ``RidgeCV``.
    """

    def __init__(self, x: np.ndarray, alphas=ALPHAS):
        from scipy.linalg import eigh

        self.alphas = np.asarray(alphas, dtype=float)
        self.mean_ = x.mean(axis=0)
        var = x.var(axis=0)
        # constant columns (e.g. the l = 0 harmonic) are left unscaled, with
        # StandardScaler's tolerance for a variance that is only rounding noise
        eps = np.finfo(np.float64).eps
        const = var <= len(x) * eps * var + (len(x) * self.mean_ * eps) ** 2
        self.scale_ = np.where(const, 1.0, np.sqrt(var))
        z = (x - self.mean_) / self.scale_
        self.n = len(z)
        if self.n > z.shape[1]:  # covariance: z'z = V diag(lam) V', A = z V
            lam, v = eigh(z.T @ z)
            self._a, self._v = z @ v, v
        else:  # Gram: zz' = Q diag(lam) Q'
            lam, q = eigh(z @ z.T)
            self._v, self._q, self._z = None, q, z
        self._lam = np.clip(lam, 0.0, None)
        self._basis2 = (self._a if self._v is not None else self._q) ** 2

    def _hat(self, alpha: float):
        """(weights of the basis columns, diag of the centred hat matrix) for ``alpha``."""
        lam = self._lam
        w = 1.0 / (lam + alpha) if self._v is not None else lam / (lam + alpha)
        return w, self._basis2 @ w

    def fit(self, y: np.ndarray, groups=None):
        """Fit every column of ``y`` (n, k); returns (coef (p, k), intercept (k,), alpha).

        ``groups`` (one label per row): choose the penalty by leave-one-GROUP-out
        instead of leave-one-out — exact for ridge as well, from the same
        decomposition: the residuals of group g left out are
        ``(I - H_gg)^-1 (y_g - ŷ_g)``.
        """
        y = np.asarray(y, dtype=float)
        y = y[:, None] if y.ndim == 1 else y
        ym = y.mean(axis=0)
        yc = y - ym
        basis = self._a if self._v is not None else self._q
        bty = basis.T @ yc
        inverses = None
        if groups is not None:
            inverses = self._group_inverses(np.asarray(groups))
        best = (np.inf, None)
        self.cv_errors_ = np.empty(len(self.alphas))
        for i, alpha in enumerate(self.alphas):
            w, h = self._hat(alpha)
            resid = yc - basis @ (w[:, None] * bty)
            if inverses is None:
                err = float(np.mean((resid / (1.0 - h - 1.0 / self.n)[:, None]) ** 2))
            else:
                err = sum(float(np.sum((inv @ resid[rows]) ** 2)) for rows, inv in inverses[i])
                err /= resid.size
            self.cv_errors_[i] = err
            if err < best[0]:
                best = (err, alpha)
        alpha = best[1]
        if self._v is not None:
            coef = self._v @ (bty / (self._lam + alpha)[:, None])
        else:
            coef = self._z.T @ (self._q @ (bty / (self._lam + alpha)[:, None]))
        return coef, ym, alpha

    def _group_inverses(self, groups: np.ndarray):
        """Per penalty, ``[(rows (k, m), (I - H_gg)^-1 (k, m, m)), …]`` for the k groups of
        each size m (batched; cached, as every target of a fold shares them)."""
        cached = getattr(self, "_inverses", None)
        if cached is not None and np.array_equal(cached[0], groups):
            return cached[1]
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
        starts = np.r_[0, np.cumsum(counts)]
        members = [order[starts[g] : starts[g + 1]] for g in range(len(counts))]
        basis = self._a if self._v is not None else self._q
        buckets = []
        for m in np.unique(counts):
            rows = np.stack([members[g] for g in np.flatnonzero(counts == m)])  # (k, m)
            buckets.append((rows, basis[rows]))  # (k, m, r)
        out = []
        for alpha in self.alphas:
            w, _ = self._hat(alpha)
            per = []
            for rows, b in buckets:
                m = rows.shape[1]
                lhs = np.eye(m) - (b * w) @ b.transpose(0, 2, 1) - 1.0 / self.n
                try:
                    inv = np.linalg.inv(lhs)
                except np.linalg.LinAlgError:  # only if one group holds every row
                    inv = np.linalg.pinv(lhs)
                per.append((rows, inv))
            out.append(per)
        self._inverses = (groups.copy(), out)
        return out

    def predict(self, x: np.ndarray, coef, intercept) -> np.ndarray:
        return ((x - self.mean_) / self.scale_) @ coef + intercept


def _folds(n: int, lonlat, split: str, block_size: float, n_splits: int, random_state):
    """(folds, groups): the outer folds, and for the spatial split each row's block."""
    from sklearn.model_selection import KFold

    if split == "random":
        cv = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        return list(cv.split(np.zeros(n))), None
    if split == "spatial":
        cv = SpatialBlockKFold(n_splits=n_splits, block_size=block_size, random_state=random_state)
        return (
            list(cv.split(np.zeros(n), groups=lonlat)),
            block_ids(lonlat[:, 0], lonlat[:, 1], block_size),
        )
    raise ValueError(f"split must be 'random' or 'spatial', got {split!r}.")


def _scores(x, targets: dict, folds, groups=None) -> dict:
    """Per target: fold scores of the ridge probe (R² or accuracy).

    ``groups``: spatial block of every row; the penalty is then chosen by
    leave-one-block-out within the training folds (else leave-one-out).
    """
    from sklearn.metrics import accuracy_score, r2_score

    out = {name: [] for name in targets}
    for train, test in folds:
        ridge = _RidgeLOO(x[train])
        inner = None if groups is None else groups[train]
        for name, (y, task) in targets.items():
            if task == "regression":
                coef, icpt, _ = ridge.fit(y[train], inner)
                pred = ridge.predict(x[test], coef, icpt)[:, 0]
                out[name].append(r2_score(y[test], pred))
            else:
                classes, codes = np.unique(y[train], return_inverse=True)
                onehot = -np.ones((len(codes), len(classes)))
                onehot[np.arange(len(codes)), codes] = 1.0
                coef, icpt, _ = ridge.fit(onehot, inner)
                pred = classes[np.argmax(ridge.predict(x[test], coef, icpt), axis=1)]
                out[name].append(accuracy_score(y[test], pred))
    return out


def _check_inputs(x, targets: dict, ll):
    for name, (y, task) in targets.items():
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
        if not (len(x) == len(y) == len(ll)):
            raise ValidationError(
                f"features, target {name!r} and lonlat must have the same length, got "
                f"{len(x)}, {len(y)}, {len(ll)}."
            )
    finite = np.isfinite(x).all(axis=1)
    for y, task in targets.values():
        if task == "regression":
            finite &= np.isfinite(np.asarray(y, dtype=float))
    if not finite.all():
        raise ValidationError(
            f"{int((~finite).sum())} rows have NaN features or targets (e.g. rows "
            f"{np.flatnonzero(~finite)[:8].tolist()}); drop them before probing."
        )


def probe(
    features,
    target,
    lonlat,
    *,
    task: str = "regression",
    split: str = "spatial",
    block_size: float = 5.0,
    n_splits: int = 5,
    random_state=0,
) -> dict:
    """Cross-validated linear probe from features to a target.

    The probe standardises the features and fits ridge regression (a ridge
    classifier on ±1 one-hot classes for ``task="classification"``), the penalty
    chosen among 15 values from 1e-3 to 1e4 on the training folds — by
    leave-one-out (``split="random"``: scikit-learn's ``StandardScaler`` +
    ``RidgeCV`` / ``RidgeClassifierCV``) or by leave-one-block-out over the same
    ``block_size`` blocks (``split="spatial"``), both exact and computed from one
    eigendecomposition per fold.

    Parameters
    ----------
    features : ndarray (n, d)
        Embeddings (or any features) of the n places.
    target : array-like (n,)
        Continuous values (``task="regression"``, scored by R²) or class labels
        (``task="classification"``, scored by accuracy).
    lonlat : ndarray (n, 2)
        The places, (lon, lat) degrees; used for spatial blocks.
    split : {"spatial", "random"}
    block_size : float
        Side of the spatial blocks in degrees.

    Returns
    -------
    dict
        ``score`` (mean over folds), ``score_sd``, ``fold_scores``, ``metric``.

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.encoders.evaluate import probe
    >>> rng = np.random.default_rng(0)
    >>> ll = rng.uniform(-50, 50, size=(400, 2))
    >>> round(probe(ll, 2 * ll[:, 1] + 1, ll, split="random")["score"], 3)
    1.0
    """
    x = np.asarray(features, dtype="float64")
    y = np.asarray(target)
    ll = np.asarray(lonlat, dtype="float64")
    targets = {"target": (y, task)}
    _check_inputs(x, targets, ll)
    folds, groups = _folds(len(x), ll, split, block_size, n_splits, random_state)
    scores = _scores(x, targets, folds, groups)["target"]
    return {
        "score": float(np.mean(scores)),
        "score_sd": float(np.std(scores)),
        "fold_scores": [float(s) for s in scores],
        "metric": "r2" if task == "regression" else "accuracy",
    }


def raster_probe_targets(raster, bands: dict[str, str], *, n: int | None = None, random_state=0):
    """Probe data from a raster: cell centres (lon, lat) and the chosen bands.

    Parameters
    ----------
    raster : xarray.DataArray
        ``(band, y, x)`` in EPSG:4326.
    bands : dict
        Band name → ``"regression"`` or ``"classification"``.
    n : int, optional
        Sample this many cells (where all chosen bands are valid); default all.

    Returns
    -------
    lonlat : ndarray (n, 2)
    targets : dict
        Band name → (values, task).
    """
    from .._validation import check_raster

    r = check_raster(raster)
    if r.rio.crs is None or not r.rio.crs.is_geographic:
        raise ValidationError("raster_probe_targets needs a lon/lat raster (EPSG:4326).")
    sub = r.sel(band=list(bands)).to_numpy()
    ok = np.isfinite(sub).all(axis=0)
    rows, cols = np.nonzero(ok)
    if n is not None and n < len(rows):
        pick = np.random.default_rng(random_state).choice(len(rows), n, replace=False)
        rows, cols = rows[pick], cols[pick]
    lonlat = np.column_stack([r["x"].to_numpy()[cols], r["y"].to_numpy()[rows]])
    targets = {}
    for i, (band, task) in enumerate(bands.items()):
        values = sub[i, rows, cols]
        targets[band] = (values.astype(int) if task == "classification" else values, task)
    return lonlat, targets


def probe_table(
    encoders: dict,
    lonlat,
    targets: dict,
    *,
    splits=("random", "spatial"),
    block_size: float = 5.0,
    n_splits: int = 5,
    random_state=0,
) -> pd.DataFrame:
    """Probe several encoders on several targets and holdouts; one row per combination.

    Parameters
    ----------
    encoders : dict
        Name → encoder (anything :func:`as_embedding_function` accepts).
    lonlat : ndarray (n, 2)
    targets : dict
        Name → (values, task), e.g. from :func:`raster_probe_targets`.

    Returns
    -------
    pandas.DataFrame
        Columns ``encoder, target, split, metric, score, score_sd, n_features``.
    """
    ll = np.asarray(lonlat, dtype="float64")
    targets = {k: (np.asarray(v), task) for k, (v, task) in targets.items()}
    folds = {
        split: _folds(len(ll), ll, split, block_size, n_splits, random_state) for split in splits
    }
    rows = []
    for name, enc in encoders.items():
        feats = np.asarray(as_embedding_function(enc)(ll), dtype="float64")
        _check_inputs(feats, targets, ll)
        for split in splits:
            scores = _scores(feats, targets, *folds[split])
            for target, (_, task) in targets.items():
                s = scores[target]
                rows.append(
                    {
                        "encoder": name,
                        "target": target,
                        "split": split,
                        "metric": "r2" if task == "regression" else "accuracy",
                        "score": float(np.mean(s)),
                        "score_sd": float(np.std(s)),
                        "n_features": feats.shape[1],
                    }
                )
    return pd.DataFrame(rows)
