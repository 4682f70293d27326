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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import ValidationError
from ..model_selection import SpatialBlockKFold
from .products import as_embedding_function

__all__ = ["probe", "probe_table", "raster_probe_targets"]


def _model(task: str, random_state):
    # Ridge for both tasks: closed-form solutions with the penalty chosen by efficient
    # leave-one-out, so a probe on 1,600 features stays seconds, where an iterative
    # multinomial logistic regression takes minutes.
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    alphas = np.logspace(-3, 4, 15)
    if task == "regression":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=alphas))
    if task == "classification":
        return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=alphas))
    raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")


def probe(features, target, lonlat, *, task: str = "regression", split: str = "spatial",
          block_size: float = 5.0, n_splits: int = 5, random_state=0) -> dict:
    """Cross-validated linear probe from features to a target.

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
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import KFold

    x = np.asarray(features, dtype="float64")
    y = np.asarray(target)
    ll = np.asarray(lonlat, dtype="float64")
    if not (len(x) == len(y) == len(ll)):
        raise ValidationError(
            f"features, target and lonlat must have the same length, got {len(x)}, {len(y)}, "
            f"{len(ll)}."
        )
    finite = np.isfinite(x).all(axis=1)
    if task == "regression":
        finite &= np.isfinite(y.astype(float))
    if not finite.all():
        raise ValidationError(
            f"{int((~finite).sum())} rows have NaN features or targets (e.g. rows "
            f"{np.flatnonzero(~finite)[:8].tolist()}); drop them before probing."
        )
    if split == "random":
        cv = KFold(n_splits=n_splits, shuffle=True, random_state=random_state)
        folds = cv.split(x)
    elif split == "spatial":
        cv = SpatialBlockKFold(n_splits=n_splits, block_size=block_size,
                               random_state=random_state)
        folds = cv.split(x, groups=ll)
    else:
        raise ValueError(f"split must be 'random' or 'spatial', got {split!r}.")
    scores = []
    for train, test in folds:
        model = _model(task, random_state).fit(x[train], y[train])
        pred = model.predict(x[test])
        scores.append(r2_score(y[test], pred) if task == "regression"
                      else accuracy_score(y[test], pred))
    return {"score": float(np.mean(scores)), "score_sd": float(np.std(scores)),
            "fold_scores": [float(s) for s in scores],
            "metric": "r2" if task == "regression" else "accuracy"}


def raster_probe_targets(raster, bands: dict[str, str], *, n: int | None = None,
                         random_state=0):
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


def probe_table(encoders: dict, lonlat, targets: dict, *, splits=("random", "spatial"),
                block_size: float = 5.0, n_splits: int = 5, random_state=0) -> pd.DataFrame:
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
    rows = []
    for name, enc in encoders.items():
        feats = as_embedding_function(enc)(np.asarray(lonlat, dtype="float64"))
        for target, (values, task) in targets.items():
            for split in splits:
                res = probe(feats, values, lonlat, task=task, split=split,
                            block_size=block_size, n_splits=n_splits,
                            random_state=random_state)
                rows.append({"encoder": name, "target": target, "split": split,
                             "metric": res["metric"], "score": res["score"],
                             "score_sd": res["score_sd"], "n_features": feats.shape[1]})
    return pd.DataFrame(rows)
