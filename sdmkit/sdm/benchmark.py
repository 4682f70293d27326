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
    "ENSEMBLE_RULES",
    "VALAVI_COVARIATES",
    "MultiSpeciesUnit",
    "SpeciesTask",
    "disdat_tasks",
    "disdat_units",
    "ensemble_score",
    "evaluate_po_pa",
    "fit_unit",
    "run_disdat",
    "summarize",
]

#: How an ensemble combines its members' predictions (see :func:`ensemble_score`).
ENSEMBLE_RULES = ("rank", "prob", "z")

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


def ensemble_score(predictions, rule: str = "rank") -> np.ndarray:
    """Combine members' predictions at the same sites into one ensemble score.

    Parameters
    ----------
    predictions : sequence of array-like (n,)
        Each member's prediction at the n sites (``predict_proba[:, 1]``, a
        0–1 scale for every sdmkit model).
    rule : {"rank", "prob", "z"}
        ``"rank"``: mean of the rank-normalised predictions (rank / n), as
        :class:`~sdmkit.sdm.models.Ensemble` with ``normalize="rank"``;
        ``"prob"``: mean of the predictions themselves (their common 0–1
        scale); ``"z"``: mean of the predictions standardised to mean 0 and
        sd 1 over the n sites (a constant prediction contributes 0).

    Returns
    -------
    numpy.ndarray
        (n,) scores.

    Examples
    --------
    >>> from sdmkit.sdm.benchmark import ensemble_score
    >>> ensemble_score([[0.1, 0.9, 0.5], [0.2, 0.3, 0.4]], "prob").round(2).tolist()
    [0.15, 0.6, 0.45]
    >>> ensemble_score([[0.1, 0.9, 0.5], [0.2, 0.3, 0.4]], "rank").round(2).tolist()
    [0.33, 0.83, 0.83]
    """
    from scipy.stats import rankdata

    P = np.asarray([np.asarray(p, dtype=float) for p in predictions])
    if P.ndim != 2 or P.shape[0] == 0:
        raise ValueError(
            f"predictions must be a non-empty list of equal-length 1-d arrays; got shape {P.shape}."
        )
    if rule == "rank":
        return np.mean([rankdata(p) / P.shape[1] for p in P], axis=0)
    if rule == "prob":
        return P.mean(0)
    if rule == "z":
        sd = P.std(1, keepdims=True)
        Z = np.divide(P - P.mean(1, keepdims=True), sd, out=np.zeros_like(P), where=sd > 0)
        return Z.mean(0)
    raise ValueError(f"rule must be one of {ENSEMBLE_RULES}; got {rule!r}.")


def _ensemble_spec(spec, track: str | None = None) -> tuple[list, str]:
    """(members, rule) of an ensemble given as a list (rank mean) or a dict.

    A dict is ``{"members": [...], "rule": r}`` or ``{"by_track": {track:
    {"members": ..., "rule": ...}}}`` (one rule per track; with ``track=None``
    the union of the members of every track).
    """
    if isinstance(spec, dict) and "by_track" in spec:
        if track is None:
            members = [m for t in spec["by_track"].values() for m in t["members"]]
            return list(dict.fromkeys(members)), "rank"
        return _ensemble_spec(spec["by_track"][track])
    if isinstance(spec, dict):
        return list(spec["members"]), spec.get("rule", "rank")
    return list(spec), "rank"


@dataclass
class MultiSpeciesUnit:
    """The sites, record counts and domains one multi-species model is fitted on.

    ``sites`` holds one row per distinct presence location (records at the same
    x, y pooled into counts, as DeepMaxent's grid cells) and, on the
    ``random`` track, one row per background point; ``counts`` is sites ×
    species; ``domain`` (None: every site) marks each species' domain;
    ``tests`` maps each species to its presence–absence sites. ``X`` and
    ``X_tests`` are the design matrices (categorical covariates one-hot encoded
    over the unit's sites and test sites together).
    """

    region: str
    track: str
    group: str | None
    species: list
    features: list
    sites: pd.DataFrame
    counts: np.ndarray
    domain: np.ndarray | None
    tests: dict
    X: pd.DataFrame
    X_tests: dict


def _one_hot(frames: list, features) -> list:
    """Design matrices of several frames, categorical columns one-hot over all of them."""
    X = pd.concat([_xy(f, features) for f in frames], ignore_index=True)
    cat = [
        c
        for c in features
        if not pd.api.types.is_numeric_dtype(X[c]) or isinstance(X[c].dtype, pd.CategoricalDtype)
    ]
    if cat:
        X = pd.get_dummies(X.astype({c: str for c in cat}), columns=cat, dtype=float)
    X = X.astype(float)
    out, start = [], 0
    for f in frames:
        out.append(X.iloc[start : start + len(f)].reset_index(drop=True))
        start += len(f)
    return out


def _pool_sites(po: pd.DataFrame, species: list, features) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per distinct (x, y) of the records, with a sites × species count matrix."""
    key = po["x"].astype(str) + "_" + po["y"].astype(str)
    codes, uniq = pd.factorize(key)
    first = np.unique(codes, return_index=True)[1]
    sites = po.iloc[first][["x", "y", *features]].reset_index(drop=True)
    col = pd.Index(species).get_indexer(po["spid"])
    counts = np.zeros((len(uniq), len(species)), dtype=np.float32)
    np.add.at(counts, (codes[col >= 0], col[col >= 0]), 1.0)
    return sites, counts


def make_unit(region, track, group, species, features, po, background, tests) -> MultiSpeciesUnit:
    """Build a :class:`MultiSpeciesUnit` from records ``po`` (columns spid, x, y, features).

    ``background`` (random track) adds one site per row to every species'
    domain; each species' domain also holds its own presence sites, never
    another species' (None: target-group track, every site in every domain).
    """
    sites, counts = _pool_sites(po, species, features)
    domain = None
    if background is not None:
        bg = background[["x", "y", *features]].reset_index(drop=True)
        domain = np.vstack([np.ones((len(bg), len(species)), bool), counts > 0])
        counts = np.vstack([np.zeros((len(bg), len(species)), np.float32), counts])
        sites = pd.concat([bg, sites], ignore_index=True)
    keys = list(tests)
    designs = _one_hot([sites, *(tests[k] for k in keys)], features)
    return MultiSpeciesUnit(
        region=region,
        track=track,
        group=group,
        species=list(species),
        features=list(features),
        sites=sites,
        counts=counts,
        domain=domain,
        tests=tests,
        X=designs[0],
        X_tests=dict(zip(keys, designs[1:])),
    )


def disdat_units(data, track: str = "random", covariates: str = "valavi") -> list:
    """The :class:`MultiSpeciesUnit` s of a loaded disdat region for one track.

    ``random``: one unit per region — the 10,000 random background points
    plus every species' presence sites; species s's domain is the background
    plus its own presence sites (other species' presences are not in it, so
    no target-group information enters this track). ``target_group``: one
    unit per biological group — the presence sites of the group's records,
    every site in every species' domain (the group's target-group background
    plus the species' presences, as in :func:`disdat_tasks`).

    Examples
    --------
    >>> from sdmkit.datasets import load_disdat
    >>> from sdmkit.sdm.benchmark import disdat_units
    >>> [u.group for u in disdat_units(load_disdat("AWT"), "target_group")]  # doctest: +SKIP
    ['bird', 'plant']
    """
    if track not in TRACKS:
        raise ValueError(f"track must be one of {TRACKS}, got {track!r}.")
    tasks = list(disdat_tasks(data, track, covariates=covariates))
    features = tasks[0].features
    po = pd.DataFrame(data.train_po.drop(columns="geometry"))
    tests = {t.species: t.test for t in tasks}
    if track == "random":
        bg = pd.DataFrame(data.train_bg.drop(columns="geometry"))
        species = [t.species for t in tasks]
        return [make_unit(data.region, track, None, species, features, po, bg, tests)]
    units = []
    for group in sorted({t.group for t in tasks}):
        species = [t.species for t in tasks if t.group == group]
        units.append(
            make_unit(
                data.region,
                track,
                group,
                species,
                features,
                po[po["group"] == group],
                None,
                {s: tests[s] for s in species},
            )
        )
    return units


def fit_unit(
    unit: MultiSpeciesUnit, factory, X_pred: dict | None = None
) -> tuple[dict, float, float]:
    """Fit a multi-species model on a unit; predict each species at its sites.

    Parameters
    ----------
    unit : MultiSpeciesUnit
    factory : callable
        Returns a fresh estimator with ``fit(X, counts, domain=...)`` and a
        ``predict_proba`` giving one column per species (e.g.
        :class:`~sdmkit.sdm.neural.DeepMaxent`).
    X_pred : dict, optional
        Species → design matrix to predict; default ``unit.X_tests``.

    Returns
    -------
    scores : dict
        Species → (n,) prediction.
    wall, cpu : float
        Fit time in seconds.
    """
    import warnings

    from threadpoolctl import threadpool_limits

    X_pred = unit.X_tests if X_pred is None else X_pred
    model = factory()
    with threadpool_limits(1), warnings.catch_warnings():
        # e.g. a one-hot level absent from a group's sites: constant, only centred
        warnings.simplefilter("ignore")
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:  # pragma: no cover
            pass
        t, c = time.perf_counter(), time.process_time()
        model.fit(unit.X, unit.counts, domain=unit.domain)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        scores = {}
        for k, sp in enumerate(unit.species):
            if sp in X_pred and len(X_pred[sp]):
                scores[sp] = model.predict_proba(X_pred[sp])[:, k]
    return scores, wall, cpu


def _fit_unit_safe(unit, name, factory):
    """:func:`fit_unit` that reports a ValidationError instead of raising it."""
    try:
        scores, wall, cpu = fit_unit(unit, factory)
    except ValidationError as err:
        return {}, 0.0, 0.0, f"{name}: {err}"
    return scores, wall, cpu, ""


def _task_cost(task: SpeciesTask) -> float:
    """A rough relative cost, to start the slow tasks first (better load balance)."""
    return len(task.background) + 4.0 * len(task.train_po)


def _run_task(
    task: SpeciesTask, models: dict, ensembles: dict, coords, precomputed: dict | None = None
) -> list[dict]:
    """Fit every model on one species, score it, and score the ensembles of their predictions.

    ``precomputed`` maps a multi-species model's name to this species' test
    prediction and its share of the model's fit time, ``(score, wall, cpu)``,
    or to an error message.
    """
    import warnings

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
    for name, value in (precomputed or {}).items():
        row = {**base, "model": name}
        if one_class:
            rows.append({**row, **failed, "error": "test data hold one class only"})
            continue
        if not isinstance(value, tuple):
            rows.append({**row, **failed, "error": str(value)[:300]})
            continue
        scores[name] = value
        rows.append(
            {
                **row,
                "auc": float(roc_auc_score(y_test, value[0])),
                "cor": _cor(y_test, value[0]),
                "fit_seconds": value[1],
                "fit_cpu_seconds": value[2],
                "error": "",
            }
        )
    for name, spec in ensembles.items():
        members, rule = _ensemble_spec(spec, task.track)
        row = {**base, "model": name}
        missing = [m for m in members if m not in scores]
        if missing:
            rows.append({**row, **failed, "error": f"members {missing} could not be fitted"})
            continue
        q = ensemble_score([scores[m][0] for m in members], rule)
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
    cpu = (
        time.process_time()
        - c0
        + sum(v[2] for v in (precomputed or {}).values() if isinstance(v, tuple))
    )
    for row in rows:
        row["task_cpu_seconds"] = cpu
        row["worker"] = os.getpid()
    return rows


def run_disdat(
    models: dict[str, Callable[[], object]],
    regions=None,
    tracks=TRACKS,
    *,
    ensembles: dict | None = None,
    multi_models: dict[str, Callable[[], object]] | None = None,
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
        Name → list of model names (the mean of the members' rank-normalised
        test predictions), or → ``{"members": [...], "rule": r}`` with ``r``
        a rule of :func:`ensemble_score`. Their fit times add up. A species
        where a member failed has no ensemble score.
    multi_models : dict, optional
        Name → factory of a multi-species model (``fit(X, counts,
        domain=...)``, e.g. :class:`~sdmkit.sdm.neural.DeepMaxent`), fitted
        once per :func:`disdat_units` unit (region on the random track,
        region × group on the target-group track); each species' test
        predictions are scored like a single-species model's and can be
        ensemble members. A species' fit time is its share (1 / number of
        species) of the unit's.
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
    multi_models = dict(multi_models or {})
    known = set(models) | set(multi_models)
    unknown = {m for spec in ensembles.values() for m in _ensemble_spec(spec)[0]} - known
    if unknown:
        raise ValueError(f"ensemble members {sorted(unknown)} are not among the models.")
    regions = DISDAT_REGIONS if regions is None else regions
    tasks, units = [], []
    for r in regions:
        data = load_disdat(r)
        for tr in tracks:
            tasks += list(disdat_tasks(data, tr, covariates=covariates))
            if multi_models:
                units += disdat_units(data, tr, covariates=covariates)
    pre: dict = {}
    if multi_models:
        units.sort(key=lambda u: -u.counts.shape[0])
        fitted = Parallel(n_jobs=n_jobs)(
            delayed(_fit_unit_safe)(u, name, f) for u in units for name, f in multi_models.items()
        )
        for (u, name), (scores, wall, cpu, err) in zip(
            [(u, name) for u in units for name in multi_models], fitted
        ):
            share = len(u.species)
            for sp in u.species:
                key = (u.track, u.region, sp)
                if sp in scores:
                    value = (scores[sp], wall / share, cpu / share)
                else:
                    value = err or "no prediction"
                pre.setdefault(key, {})[name] = value
    tasks.sort(key=_task_cost, reverse=True)  # longest first: the two workers finish together
    jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run_task)(t, models, ensembles, coords, pre.get((t.track, t.region, t.species)))
        for t in tasks
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
