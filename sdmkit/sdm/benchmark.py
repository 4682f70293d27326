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

Covariates: by default each region uses the subset of weakly correlated
covariates in Valavi et al. (2022)'s modelling code (:data:`VALAVI_COVARIATES`),
a choice taken from the publication; ``covariates="all"`` uses every predictor
of the disdat files.

Models whose ``fit`` takes ``coords`` (e.g. :class:`~sdmkit.sdm.tuning.SpatialTuner`,
which tunes by spatial cross-validation *inside the training data*) are given
the x, y coordinates of the presence and background rows. The ensembles of
:func:`run_disdat` are computed from their members' test predictions (mean of
the rank-normalised predictions, exactly what
:class:`~sdmkit.sdm.models.Ensemble` with ``normalize="rank"`` returns), so
each member is fitted once.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import ValidationError

__all__ = [
    "VALAVI_COVARIATES",
    "SpeciesTask",
    "disdat_tasks",
    "evaluate_po_pa",
    "run_disdat",
    "summarize",
]

TRACKS = ("random", "target_group")

#: Covariates of each region in Valavi et al. (2022)'s modelling code: weakly
#: correlated subsets of the disdat predictors.
VALAVI_COVARIATES = {
    "AWT": ["bc04", "bc05", "bc06", "bc12", "bc15", "slope", "topo", "tri"],
    "CAN": ["alt", "asp2", "ontprec", "ontslp", "onttemp", "ontveg", "watdist"],
    "NSW": [
        "cti",
        "disturb",
        "mi",
        "rainann",
        "raindq",
        "rugged",
        "soildepth",
        "soilfert",
        "solrad",
        "tempann",
        "topo",
        "vegsys",
    ],
    "NZ": [
        "age",
        "deficit",
        "hillshade",
        "mas",
        "mat",
        "r2pet",
        "slope",
        "sseas",
        "toxicats",
        "tseas",
        "vpd",
    ],
    "SA": ["sabio12", "sabio15", "sabio17", "sabio18", "sabio2", "sabio4", "sabio5", "sabio6"],
    "SWI": [
        "bcc",
        "calc",
        "ccc",
        "ddeg",
        "nutri",
        "pday",
        "precyy",
        "sfroyy",
        "slope",
        "sradyy",
        "swb",
        "topo",
    ],
}


def _xy(frame, features):
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValidationError(f"columns {missing} are missing; available: {list(frame.columns)}")
    return frame[list(features)]


def _takes_coords(model) -> bool:
    try:
        return "coords" in inspect.signature(model.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return False


def _cor(y, score) -> float:
    return float(np.corrcoef(y, score)[0, 1]) if np.std(score) > 0 else 0.0


def _fit_predict(model, train_po, background, test, features, coords):
    """Fit on presences + background, predict the test sites: (score, wall s, cpu s)."""
    X = pd.concat([_xy(train_po, features), _xy(background, features)], ignore_index=True)
    y = np.r_[np.ones(len(train_po), int), np.zeros(len(background), int)]
    kw = {}
    if coords is not None and _takes_coords(model):
        kw["coords"] = np.vstack(
            [_xy(train_po, coords).to_numpy(float), _xy(background, coords).to_numpy(float)]
        )
    t, c = time.perf_counter(), time.process_time()
    model.fit(X, y, **kw)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return model.predict_proba(_xy(test, features))[:, 1], wall, cpu


def evaluate_po_pa(
    model, train_po, background, test, *, features, occ: str = "occ", coords=None
) -> dict:
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
    occ : str
        Name of the 0/1 column of ``test``.
    coords : (str, str), optional
        Names of the x and y columns of ``train_po`` and ``background``. Given,
        and if ``model.fit`` takes a ``coords`` argument (spatial tuning on the
        training data), the (n, 2) coordinates of the training rows are passed.

    Returns
    -------
    dict
        ``auc``, ``cor`` (point-biserial correlation), ``fit_seconds`` (wall),
        ``fit_cpu_seconds``, ``n_presence``, ``n_background``, ``n_test``,
        ``n_test_presence``.

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

    y_test = test[occ].to_numpy().astype(int)
    if len(np.unique(y_test)) < 2:
        raise ValidationError(
            f"the test data hold only {'presences' if y_test.all() else 'absences'}; AUC needs "
            f"both."
        )
    score, wall, cpu = _fit_predict(model, train_po, background, test, features, coords)
    return {
        "auc": float(roc_auc_score(y_test, score)),
        "cor": _cor(y_test, score),
        "fit_seconds": wall,
        "fit_cpu_seconds": cpu,
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


def disdat_tasks(data, track: str = "random", covariates: str = "valavi") -> Iterator[SpeciesTask]:
    """Yield one :class:`SpeciesTask` per species of a loaded disdat region.

    Parameters
    ----------
    data : sdmkit.datasets.DisdatRegion
    track : {"random", "target_group"}
    covariates : {"valavi", "all"}
        ``"valavi"``: the region's :data:`VALAVI_COVARIATES`; ``"all"``: every
        predictor.

    Examples
    --------
    >>> from sdmkit.datasets import load_disdat
    >>> from sdmkit.sdm.benchmark import disdat_tasks
    >>> task = next(disdat_tasks(load_disdat("SA"), "target_group"))  # doctest: +SKIP
    >>> task.features[:2], len(task.background) > 0  # doctest: +SKIP
    (['sabio12', 'sabio15'], True)
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, got {track!r}.")
    if covariates == "valavi":
        features = list(VALAVI_COVARIATES[data.region])
    elif covariates == "all":
        features = list(data.predictors)
    else:
        raise ValueError(f"covariates must be 'valavi' or 'all', got {covariates!r}.")
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
            features=features,
            train_po=pd.DataFrame(sp_po.drop(columns="geometry")),
            background=background,
            test=pd.DataFrame(sp_pa.drop(columns="geometry")),
        )


def _task_cost(task: SpeciesTask) -> float:
    """A rough relative cost, to start the slow tasks first (better load balance)."""
    return len(task.background) + 4.0 * len(task.train_po)


def _run_task(task: SpeciesTask, models: dict, ensembles: dict, coords) -> list[dict]:
    """Fit every model on one species, score it, and score the ensembles of their predictions."""
    import warnings

    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    c0 = time.process_time()
    y_test = task.test["occ"].to_numpy().astype(int)
    base = {
        "track": task.track,
        "region": task.region,
        "species": task.species,
        "group": task.group,
        "n_presence": len(task.train_po),
        "n_background": len(task.background),
        "n_test": len(y_test),
        "n_test_presence": int(y_test.sum()),
    }
    failed = {"auc": np.nan, "cor": np.nan, "fit_seconds": 0.0, "fit_cpu_seconds": 0.0}
    rows, scores = [], {}
    one_class = len(np.unique(y_test)) < 2
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        for name, factory in models.items():
            row = {**base, "model": name}
            if one_class:
                rows.append({**row, **failed, "error": "test data hold one class only"})
                continue
            model = factory()
            try:
                score, wall, cpu = _fit_predict(
                    model, task.train_po, task.background, task.test, task.features, coords
                )
            except ValidationError as err:  # e.g. a species with too few records for a model
                rows.append({**row, **failed, "error": str(err)[:300]})
                continue
            scores[name] = (score, wall, cpu)
            extra = {}
            if hasattr(model, "best_params_"):
                extra["best_params"] = str(model.best_params_)
            rows.append(
                {
                    **row,
                    "auc": float(roc_auc_score(y_test, score)),
                    "cor": _cor(y_test, score),
                    "fit_seconds": wall,
                    "fit_cpu_seconds": cpu,
                    "error": "",
                    **extra,
                }
            )
    for name, members in ensembles.items():
        row = {**base, "model": name}
        missing = [m for m in members if m not in scores]
        if missing:
            rows.append({**row, **failed, "error": f"members {missing} could not be fitted"})
            continue
        q = np.mean([rankdata(scores[m][0]) / len(y_test) for m in members], axis=0)
        rows.append(
            {
                **row,
                "auc": float(roc_auc_score(y_test, q)),
                "cor": _cor(y_test, q),
                "fit_seconds": sum(scores[m][1] for m in members),
                "fit_cpu_seconds": sum(scores[m][2] for m in members),
                "error": "",
            }
        )
    cpu = time.process_time() - c0
    for row in rows:
        row["task_cpu_seconds"] = cpu
        row["worker"] = os.getpid()
    return rows


def run_disdat(
    models: dict[str, Callable[[], object]],
    regions=None,
    tracks=TRACKS,
    *,
    ensembles: dict[str, list[str]] | None = None,
    covariates: str = "valavi",
    coords=("x", "y"),
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
    ensembles : dict, optional
        Name → list of model names: the mean of the members' rank-normalised
        test predictions (their fit times add up). A species where a member
        failed has no ensemble score.
    covariates : {"valavi", "all"}
        See :func:`disdat_tasks`.
    coords : (str, str) or None
        x, y columns passed to models whose ``fit`` takes ``coords``.
    n_jobs : int
        Species evaluated in parallel (joblib processes; each fits its models
        one after the other with one thread).

    Returns
    -------
    pandas.DataFrame
        One row per (track, region, species, model) with the fields of
        :func:`evaluate_po_pa`, ``error`` (why a model could not be fitted),
        ``best_params`` for tuned models, and ``task_cpu_seconds`` (CPU time of
        the whole species task, models and ensembles together).

    Examples
    --------
    >>> from sdmkit.sdm.benchmark import run_disdat
    >>> from sdmkit.sdm.models import GLM
    >>> table = run_disdat({"glm": GLM}, regions=["SA"], tracks=["random"])  # doctest: +SKIP
    >>> round(table["auc"].mean(), 2)  # doctest: +SKIP
    0.8
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from ..datasets import DISDAT_REGIONS, load_disdat

    ensembles = dict(ensembles or {})
    unknown = {m for members in ensembles.values() for m in members} - set(models)
    if unknown:
        raise ValueError(f"ensemble members {sorted(unknown)} are not among the models.")
    regions = DISDAT_REGIONS if regions is None else regions
    tasks = [
        t
        for r in regions
        for data in [load_disdat(r)]
        for tr in tracks
        for t in disdat_tasks(data, tr, covariates=covariates)
    ]
    tasks.sort(key=_task_cost, reverse=True)  # longest first: the two workers finish together
    jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run_task)(t, models, ensembles, coords) for t in tasks
    )
    rows = []
    for part in tqdm(
        jobs, total=len(tasks), disable=progress is False, desc="disdat", mininterval=5
    ):
        rows.extend(part)
    order = {
        (t.track, t.region, t.species): k
        for k, t in enumerate(sorted(tasks, key=lambda t: (t.track, t.region, t.species)))
    }
    table = pd.DataFrame(rows)
    key = table[["track", "region", "species"]].apply(tuple, axis=1).map(order)
    return (
        table.assign(_k=key).sort_values(["_k", "model"]).drop(columns="_k").reset_index(drop=True)
    )


def summarize(results: pd.DataFrame) -> dict:
    """Nest a :func:`run_disdat` table as ``tracks.<track>.models.<model>.{auc_mean, …}``.

    Means are over species (as Valavi et al. 2022): ``auc_mean``/``cor_mean``
    over all species a model could be fitted to (``n_failed`` / ``failed`` list
    the others, e.g. species with fewer records than the model accepts),
    ``*_by_region`` per region (means over the region's species);
    ``fit_seconds`` is the total wall-clock fitting time of the model over all
    species of the track and ``fit_cpu_seconds`` its CPU time (an ensemble's
    are its members' sums). ``auc_mean_common``/``cor_mean_common`` average over
    the species that every model of the track could be fitted to, so models
    compare on one set.
    """
    out: dict = {"tracks": {}}
    for track, t in results.groupby("track"):
        ok = t.pivot_table(index="species", columns="model", values="auc", aggfunc="first")
        common = ok.index[ok.notna().all(axis=1)]
        models = {}
        for model, m in t.groupby("model"):
            mc = m[m["species"].isin(common)]
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
                "auc_mean_common": round(float(mc["auc"].mean()), 4),
                "cor_mean_common": round(float(mc["cor"].mean()), 4),
                "n_species": int(m["species"].nunique()),
                "n_failed": int(m["auc"].isna().sum()),
                "failed": sorted(m.loc[m["auc"].isna(), "species"].astype(str)),
            }
            if "fit_cpu_seconds" in m:
                models[model]["fit_cpu_seconds"] = round(float(m["fit_cpu_seconds"].sum()), 2)
        out["tracks"][track] = {"models": models, "n_species_common": int(len(common))}
    return out
