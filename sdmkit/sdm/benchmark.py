"""The presence-only → presence–absence evaluation protocol (Valavi et al. 2022).

A model is fitted on presence-only records plus background points and
evaluated on independent presence–absence surveys; AUC and COR are averaged
over species. :func:`evaluate_po_pa` is the protocol for one species and works
on any data; :func:`disdat_tasks` and :func:`run_disdat` apply it to the disdat
benchmark with two background choices:

* ``"random"`` — the region's 10,000 random background points, as published;
* ``"target_group"`` — the presence-only records of the *other* species of the
  same region and biological group (Phillips et al. 2009), which share the
  focal species' sampling bias. This choice is fixed before looking at any test
  result.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import ValidationError

__all__ = ["SpeciesTask", "disdat_tasks", "evaluate_po_pa", "run_disdat", "summarize"]

TRACKS = ("random", "target_group")


def _xy(frame, features):
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(f"columns {missing} are missing; available: {list(frame.columns)}")
    return frame[list(features)]


def evaluate_po_pa(model, train_po, background, test, *, features, occ: str = "occ") -> dict:
    """Fit ``model`` on presences + background; score it on presence–absence data.

    Parameters
    ----------
    model : estimator
        scikit-learn style binary classifier (``fit``, ``predict_proba``); it is
        fitted in place.
    train_po : DataFrame
        Presence-only records with the ``features`` columns.
    background : DataFrame
        Background points with the ``features`` columns.
    test : DataFrame
        Survey sites with the ``features`` columns and a 0/1 ``occ`` column.
    features : list of str
        Predictor columns.

    Returns
    -------
    dict
        ``auc``, ``cor`` (point-biserial correlation), ``fit_seconds``,
        ``n_presence``, ``n_background``, ``n_test``, ``n_test_presence``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sdmkit.sdm.benchmark import evaluate_po_pa
    >>> rng = np.random.default_rng(0)
    >>> po = pd.DataFrame({"t": rng.normal(1, 1, 50)})
    >>> bg = pd.DataFrame({"t": rng.normal(0, 1, 500)})
    >>> test = pd.DataFrame({"t": np.r_[rng.normal(1, 1, 50), rng.normal(0, 1, 50)],
    ...                      "occ": np.r_[np.ones(50), np.zeros(50)].astype(int)})
    >>> res = evaluate_po_pa(LogisticRegression(), po, bg, test, features=["t"])
    >>> res["auc"] > 0.6
    True
    """
    from sklearn.metrics import roc_auc_score

    X = pd.concat([_xy(train_po, features), _xy(background, features)], ignore_index=True)
    y = np.r_[np.ones(len(train_po), int), np.zeros(len(background), int)]
    y_test = test[occ].to_numpy().astype(int)
    if len(np.unique(y_test)) < 2:
        raise ValidationError(
            f"the test data hold only {'presences' if y_test.all() else 'absences'}; AUC needs "
            f"both."
        )
    t = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - t
    score = model.predict_proba(_xy(test, features))[:, 1]
    cor = float(np.corrcoef(y_test, score)[0, 1]) if np.std(score) > 0 else 0.0
    return {
        "auc": float(roc_auc_score(y_test, score)),
        "cor": cor,
        "fit_seconds": fit_seconds,
        "n_presence": len(train_po),
        "n_background": len(background),
        "n_test": len(y_test),
        "n_test_presence": int(y_test.sum()),
    }


@dataclass
class SpeciesTask:
    """One species of one disdat region, ready for :func:`evaluate_po_pa`."""

    region: str
    species: str
    group: str
    track: str
    features: list
    train_po: pd.DataFrame
    background: pd.DataFrame
    test: pd.DataFrame


def disdat_tasks(data, track: str = "random") -> Iterator[SpeciesTask]:
    """Yield one :class:`SpeciesTask` per species of a loaded disdat region.

    Parameters
    ----------
    data : sdmkit.datasets.DisdatRegion
    track : {"random", "target_group"}
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, got {track!r}.")
    po = pd.DataFrame(data.train_po.drop(columns="geometry"))
    bg = pd.DataFrame(data.train_bg.drop(columns="geometry"))
    for spid in data.species:
        sp_po, sp_pa = data.species_data(spid)
        group = data.species_group[spid]
        if track == "random":
            background = bg
        else:
            background = po[(po["group"] == group) & (po["spid"] != spid)]
        yield SpeciesTask(
            region=data.region,
            species=spid,
            group=group,
            track=track,
            features=list(data.predictors),
            train_po=pd.DataFrame(sp_po.drop(columns="geometry")),
            background=background,
            test=pd.DataFrame(sp_pa.drop(columns="geometry")),
        )


def run_disdat(
    models: dict[str, Callable[[], object]],
    regions=None,
    tracks=TRACKS,
    *,
    n_jobs: int = 1,
    progress=None,
) -> pd.DataFrame:
    """Run every model on every species of the disdat regions, for each track.

    Parameters
    ----------
    models : dict
        Name → zero-argument factory returning a fresh estimator.
    regions : list of str, optional
        Default: all six.
    tracks : sequence of {"random", "target_group"}
    n_jobs : int
        Species evaluated in parallel (joblib).

    Returns
    -------
    pandas.DataFrame
        One row per (track, region, species, model) with the fields of
        :func:`evaluate_po_pa`.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from ..datasets import DISDAT_REGIONS, load_disdat

    regions = DISDAT_REGIONS if regions is None else regions
    tasks = [
        t
        for r in regions
        for data in [load_disdat(r)]
        for tr in tracks
        for t in disdat_tasks(data, tr)
    ]

    def one(task: SpeciesTask, name: str):
        row = {"track": task.track, "region": task.region, "species": task.species,
               "group": task.group, "model": name}
        try:
            res = evaluate_po_pa(models[name](), task.train_po, task.background, task.test,
                                 features=task.features)
        except ValidationError as err:  # e.g. a species with too few records for a model
            return {**row, "auc": np.nan, "cor": np.nan, "fit_seconds": 0.0,
                    "n_presence": len(task.train_po), "error": str(err)[:300]}
        return {**row, **res, "error": ""}

    jobs = [(t, m) for t in tasks for m in models]
    it = tqdm(jobs, disable=progress is False, desc="disdat", mininterval=5)
    rows = Parallel(n_jobs=n_jobs)(delayed(one)(t, m) for t, m in it)
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame) -> dict:
    """Nest a :func:`run_disdat` table as ``tracks.<track>.models.<model>.{auc_mean, …}``.

    Means are over species (as Valavi et al. 2022): ``auc_mean``/``cor_mean``
    over all species a model could be fitted to (``n_failed`` / ``failed`` list the
    others, e.g. species with fewer records than the model accepts), ``*_by_region`` per region; ``fit_seconds`` is the total
    fitting time of the model over all species of the track.
    """
    out: dict = {"tracks": {}}
    for track, t in results.groupby("track"):
        models = {}
        for model, m in t.groupby("model"):
            models[model] = {
                "auc_mean": round(float(m["auc"].mean()), 4),
                "cor_mean": round(float(m["cor"].mean()), 4),
                "auc_by_region": {
                    r: round(float(v), 4) for r, v in m.groupby("region")["auc"].mean().items()
                },
                "cor_by_region": {
                    r: round(float(v), 4) for r, v in m.groupby("region")["cor"].mean().items()
                },
                "fit_seconds": round(float(m["fit_seconds"].sum()), 2),
                "n_species": int(m["species"].nunique()),
                "n_failed": int(m["auc"].isna().sum()),
                "failed": sorted(m.loc[m["auc"].isna(), "species"].astype(str)),
            }
        out["tracks"][track] = {"models": models}
    return out
