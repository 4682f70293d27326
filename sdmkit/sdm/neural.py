"""Multi-species neural SDM: SINR presence-only losses and a presence–absence head.

:class:`MultiSpeciesSDM` maps features of a place (location embeddings,
covariates, or both concatenated) to one presence probability per species: a
residual MLP trunk (SINR's :class:`~sdmkit.encoders.networks.ResidualFCNet`,
4 blocks of width 256 by default) and a per-species linear head without bias.

Two kinds of training data:

* **presence-only** — ``y`` is one species label per presence record. Absences
  are unknown, so the model is fitted with one of SINR's "assume negative"
  losses (Cole et al. 2023), selected by ``loss=``:

  - ``"an_full"`` — at a presence location every *other* species is assumed
    absent, and every species is assumed absent at a random location; the
    observed species' term is up-weighted by ``pos_weight``;
  - ``"an_ssdl"`` — same species, different location: the observed species is
    assumed absent at one random location;
  - ``"an_slds"`` — same location, different species: one random other species
    is assumed absent at the presence location;
  - ``"an_full_me"``, ``"an_ssdl_me"``, ``"an_slds_me"`` — the "max-entropy"
    variants: each assumed-absent term ``-log(1 - p)`` is replaced by
    ``-H(p)``, minus the Bernoulli entropy, which pushes those predictions
    towards 0.5 (uncertain) instead of 0.

  Random locations (``an_full``, ``an_ssdl`` and their ``_me`` variants) need
  features at random places: pass ``random_features=callable(n, rng)`` (e.g.
  embed :func:`random_lonlat` points, or look covariates up at them) or a
  ``background=`` feature array to :meth:`~MultiSpeciesSDM.fit`.

* **presence–absence** — ``y`` is a sites × species 0/1 matrix (e.g.
  :func:`sdmkit.datasets.geolifeclef.species_matrix` of GeoPlant surveys), fitted
  with a multi-label binary cross-entropy (``loss="pa_bce"``).
  :meth:`~MultiSpeciesSDM.predict_topk` gives the K most likely species per
  site and :meth:`~MultiSpeciesSDM.calibrate_topk` picks K (or one probability
  threshold) on validation surveys to maximise the samples-averaged F1, the
  GeoLifeCLEF metric.

Every term follows SINR: ``p = sigmoid(logit)``, ``-log(p + 1e-5)``, means over
the batch (and over species for ``an_full``). Defaults are SINR's: batch 2048,
Adam with learning rate 5e-4 decayed by 0.98 per epoch, at most 1000 records
per species, ``pos_weight=2048``. SINR's weight was set for tens of thousands
of species; with a handful of species a weight near the number of species
works better.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import ValidationError, ValidationWarning, _show

try:
    import torch
    from torch import Tensor
except ImportError as err:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "sdmkit.sdm.neural needs PyTorch; install it with `pip install 'sdmkit[deep]'`."
    ) from err

__all__ = [
    "LOSSES",
    "DeepMaxent",
    "PRESENCE_ONLY_LOSSES",
    "WAIVED_SKLEARN_CHECKS",
    "MultiSpeciesSDM",
    "an_full_loss",
    "an_slds_loss",
    "an_ssdl_loss",
    "bernoulli_entropy",
    "maxent_loss",
    "neg_log",
    "pa_bce_loss",
    "random_lonlat",
]

PRESENCE_ONLY_LOSSES = ("an_full", "an_ssdl", "an_slds", "an_full_me", "an_ssdl_me", "an_slds_me")
LOSSES = (*PRESENCE_ONLY_LOSSES, "pa_bce")
_NEEDS_RANDOM = ("an_full", "an_ssdl", "an_full_me", "an_ssdl_me")
_EPS = 1e-5

#: scikit-learn estimator checks that :class:`MultiSpeciesSDM` does not pass, and why.
WAIVED_SKLEARN_CHECKS = {
    "check_classifiers_train": (
        "a multi-label presence model: predict_proba gives one independent presence "
        "probability per species (rows do not sum to 1), and the presence-only losses "
        "do not train the argmax species as a multiclass decision, so the check's "
        "training-accuracy bar (0.83) is not a goal."
    ),
    "check_supervised_y_2d": (
        "a 2-d y is a sites x species presence-absence matrix (multi-label), not a "
        "column vector of class labels to be raveled."
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "stochastic mini-batch training: repeating a record changes the batches and the "
        "random negatives, so integer weights are not equivalent to repeated rows."
    ),
}


# =========================================================================== losses


def neg_log(p: Tensor, eps: float = _EPS) -> Tensor:
    """``-log(p + eps)``, SINR's bounded negative log.

    Examples
    --------
    >>> import torch
    >>> round(float(neg_log(torch.tensor(1.0))), 6)
    -1e-05
    """
    return -torch.log(p + eps)


def bernoulli_entropy(p: Tensor, eps: float = _EPS) -> Tensor:
    """Entropy of a Bernoulli(``p``) in nats, ``p·(-log p) + (1-p)·(-log(1-p))``.

    Examples
    --------
    >>> import torch
    >>> round(float(bernoulli_entropy(torch.tensor(0.5))), 4)
    0.6931
    """
    return p * neg_log(p, eps) + (1 - p) * neg_log(1 - p, eps)


def _absent(p: Tensor, max_entropy: bool) -> Tensor:
    """Loss of an assumed absence: ``-log(1 - p)``, or ``-H(p)`` (max-entropy)."""
    return -bernoulli_entropy(1 - p) if max_entropy else neg_log(1 - p)


def _wmean(values: Tensor, weight: Tensor | None) -> Tensor:
    return values.mean() if weight is None else (values * weight).mean()


def an_full_loss(
    logits: Tensor,
    logits_random: Tensor,
    species: Tensor,
    *,
    pos_weight: float = 2048.0,
    max_entropy: bool = False,
    weight: Tensor | None = None,
) -> Tensor:
    """SINR's "assume negative, full" loss (``an_full`` / ``an_full_me``).

    With ``p = sigmoid(logits)`` at the B presence locations and ``q =
    sigmoid(logits_random)`` at B random locations (both (B, S))::

        L = mean_i( mean_j a(p_ij) with a(p_i,s_i) replaced by pos_weight * -log(p_i,s_i) )
            + mean_ij a(q_ij)

    where ``s_i`` is the species of record i and ``a(p) = -log(1 - p)``
    (``max_entropy=False``) or ``-H(p)`` (``True``); ``-log(x)`` is
    ``-log(x + 1e-5)`` throughout, as in SINR.

    Parameters
    ----------
    logits : Tensor (B, S)
        Logits at the presence locations.
    logits_random : Tensor (B', S)
        Logits at random locations.
    species : Tensor (B,), int64
        Species index of each presence record.
    pos_weight : float
        Weight of the observed-species terms.
    max_entropy : bool
        Use the max-entropy variant.
    weight : Tensor (B,), optional
        Per-record weights (mean 1 over the training set) on the presence terms.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> z = torch.zeros(1, 2)  # every probability 0.5
    >>> loss = an_full_loss(z, z, torch.tensor([0]), pos_weight=2.0)
    >>> round(float(loss), 4)  # (2 log 2 + log 2) / 2 + log 2, with log(0.5 + 1e-5)
    1.7328
    """
    p, q = torch.sigmoid(logits), torch.sigmoid(logits_random)
    observed = torch.nn.functional.one_hot(species, p.shape[1]).to(torch.bool)
    per_cell = torch.where(observed, pos_weight * neg_log(p), _absent(p, max_entropy))
    return _wmean(per_cell.mean(dim=1), weight) + _absent(q, max_entropy).mean()


def an_ssdl_loss(
    logit_observed: Tensor,
    logit_random: Tensor,
    *,
    max_entropy: bool = False,
    weight: Tensor | None = None,
) -> Tensor:
    """SINR's "same species, different location" loss (``an_ssdl`` / ``an_ssdl_me``).

    ``L = mean_i w_i (-log p_i) + mean_i w_i a(q_i)`` with ``p_i`` the
    probability of record i's species at its location, ``q_i`` that species'
    probability at a random location, and ``a`` as in :func:`an_full_loss`.

    Parameters
    ----------
    logit_observed, logit_random : Tensor (B,)
        Logits of each record's species at its location / at a random location.
    max_entropy : bool
        Use the max-entropy variant.
    weight : Tensor (B,), optional
        Per-record weights.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> round(float(an_ssdl_loss(torch.zeros(3), torch.zeros(3))), 4)  # 2 log 2
    1.3863
    """
    p, q = torch.sigmoid(logit_observed), torch.sigmoid(logit_random)
    return _wmean(neg_log(p), weight) + _wmean(_absent(q, max_entropy), weight)


def an_slds_loss(
    logit_observed: Tensor,
    logit_other: Tensor,
    *,
    max_entropy: bool = False,
    weight: Tensor | None = None,
) -> Tensor:
    """SINR's "same location, different species" loss (``an_slds`` / ``an_slds_me``).

    ``L = mean_i w_i (-log p_i) + mean_i w_i a(r_i)`` with ``p_i`` the
    probability of record i's species at its location and ``r_i`` the
    probability there of one other species drawn uniformly at random.

    Parameters
    ----------
    logit_observed, logit_other : Tensor (B,)
        Logits of the observed species and of the random other species, both at
        the presence location.
    max_entropy : bool
        Use the max-entropy variant.
    weight : Tensor (B,), optional
        Per-record weights.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> round(float(an_slds_loss(torch.zeros(2), torch.zeros(2), max_entropy=True)), 4)
    0.0
    """
    p, r = torch.sigmoid(logit_observed), torch.sigmoid(logit_other)
    return _wmean(neg_log(p), weight) + _wmean(_absent(r, max_entropy), weight)


def pa_bce_loss(logits: Tensor, targets: Tensor, *, weight: Tensor | None = None) -> Tensor:
    """Multi-label binary cross-entropy for presence–absence surveys.

    ``L = mean_i w_i mean_j BCE(sigmoid(logit_ij), y_ij)`` (computed from
    logits, numerically stable).

    Parameters
    ----------
    logits, targets : Tensor (B, S)
        Logits and 0/1 presence–absence targets.
    weight : Tensor (B,), optional
        Per-site weights.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> round(float(pa_bce_loss(torch.zeros(2, 3), torch.ones(2, 3))), 4)
    0.6931
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, targets.to(logits.dtype), reduction="none"
    )
    return _wmean(bce.mean(dim=1), weight)


def maxent_loss(
    logits: Tensor,
    counts: Tensor,
    domain: Tensor | None = None,
    *,
    species_weight: str = "records",
) -> Tensor:
    """DeepMaxent's normalised Poisson (Maxent) loss (Ryckewaert et al. 2024).

    Each species' records are softmax-classified among the sites of its
    domain: with ``n_s = sum_i c_is`` and ``D_s`` the sites where
    ``domain[:, s]`` is true (all sites when ``domain`` is None)::

        L_s = -(1 / n_s) sum_i c_is f_is + logsumexp_{j in D_s} f_js

    i.e. the negative mean log-likelihood of species s's records under the
    distribution ``softmax_{D_s}(f_s)`` over its domain (Maxent's objective
    without the penalty). Species without records in the batch are left out;
    the others are averaged with weights ``n_s`` (``"records"``: every record
    counts once, the Poisson likelihood of all records, as DeepMaxent) or
    equally (``"equal"``).

    Parameters
    ----------
    logits : Tensor (B, S)
        Log-intensity ``f`` of every species at the B sites.
    counts : Tensor (B, S)
        Number of records of each species at each site (0/1 for point records).
    domain : Tensor (B, S) of bool, optional
        Which sites belong to each species' domain; every site with a record of
        the species must. Default: every site.
    species_weight : {"records", "equal"}
        Weights of the species terms.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> f = torch.tensor([[1.0], [0.0], [0.0]])
    >>> c = torch.tensor([[1.0], [0.0], [0.0]])
    >>> round(float(maxent_loss(f, c)), 4)  # -log(e / (e + 2))
    0.5514
    >>> round(float(maxent_loss(f, c, torch.tensor([[True], [True], [False]]))), 4)
    0.3133
    """
    counts = counts.to(logits.dtype)
    n = counts.sum(0)
    present = n > 0
    if not bool(present.any()):
        return (logits * 0.0).sum()
    z = logits if domain is None else logits.masked_fill(~domain, float("-inf"))
    lse = torch.logsumexp(z, dim=0)
    fit = (counts * logits).sum(0)
    per_species = -fit[present] / n[present] + lse[present]
    if species_weight == "equal":
        return per_species.mean()
    w = n[present]
    return (w * per_species).sum() / w.sum()


# =========================================================================== helpers


def random_lonlat(
    n: int,
    rng=None,
    *,
    bounds: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0),
) -> np.ndarray:
    """Points drawn uniformly by area on the sphere (optionally inside a lon/lat box).

    Longitude is uniform in [west, east]; sin(latitude) is uniform in
    [sin(south), sin(north)], so every square kilometre is equally likely (as
    SINR's "spherical" random locations).

    Parameters
    ----------
    n : int
        Number of points.
    rng : int, numpy.random.Generator or None
        Seed or generator.
    bounds : (west, south, east, north)
        Degrees; default the whole globe.

    Returns
    -------
    numpy.ndarray
        (n, 2) float64, columns (lon, lat) in degrees.

    Examples
    --------
    >>> pts = random_lonlat(1000, 0, bounds=(-10.0, 35.0, 30.0, 70.0))
    >>> pts.shape, bool((pts[:, 0] >= -10).all() and (pts[:, 1] <= 70).all())
    ((1000, 2), True)
    """
    west, south, east, north = map(float, bounds)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError(
            f"bounds must be (west, south, east, north) in degrees with west < east and "
            f"south < north; got {bounds!r}."
        )
    rng = np.random.default_rng(rng)
    lon = rng.uniform(west, east, n)
    s0, s1 = np.sin(np.radians(south)), np.sin(np.radians(north))
    lat = np.degrees(np.arcsin(np.clip(rng.uniform(s0, s1, n), -1.0, 1.0)))
    return np.column_stack([lon, lat])


def _f1_rows(n_true, n_pred, tp) -> np.ndarray:
    denom = np.asarray(n_true + n_pred, dtype=float)
    return np.divide(2.0 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def _topk_indices(proba: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest values per row, in decreasing order (ties: lower index)."""
    k = min(int(k), proba.shape[1])
    order = np.argsort(-proba, axis=1, kind="stable")
    return order[:, :k]


def _resolve_device(device) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {
        "float32": torch.float32,
        "float64": torch.float64,
        "float16": torch.float16,
        "bfloat16": torch.bfloat16,
    }
    if str(dtype) not in table:
        raise ValueError(f"dtype must be one of {sorted(table)} or a torch.dtype; got {dtype!r}.")
    return table[str(dtype)]


def _seed_from(random_state) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if random_state is None:
        return int(np.random.default_rng().integers(2**63 - 1))
    return int(random_state)


def _renormalise(w, keep):
    """Weights of the kept records, rescaled to mean 1 (None stays None)."""
    if w is None:
        return None
    wk = w[keep]
    if wk.sum() <= 0:
        raise ValueError("sample_weight is zero on every record kept for training.")
    return wk / wk.mean()


def _check_numeric_frame(X) -> None:
    if isinstance(X, pd.DataFrame):
        bad = [
            c
            for c in X.columns
            if not pd.api.types.is_numeric_dtype(X[c])
            or isinstance(X[c].dtype, pd.CategoricalDtype)
        ]
        if bad:
            raise ValidationError(
                f"X columns {_show(bad)} are not numeric (categorical or text). One-hot encode "
                f"them first, e.g. pandas.get_dummies(X, columns={bad!r}, dtype=float)."
            )


def _rows_with_nan(a: np.ndarray) -> np.ndarray:
    return np.flatnonzero(~np.isfinite(a).all(axis=1))


def _subsample_per_class(codes: np.ndarray, cap: int | None, rng) -> np.ndarray:
    """Indices keeping at most ``cap`` random records per class (SINR's hard cap), sorted."""
    if cap is None:
        return np.arange(codes.size)
    order = rng.permutation(codes.size)
    rank = np.empty(codes.size, dtype=np.int64)
    # rank of each record among its class in the random order
    sorted_codes = codes[order]
    by_class = np.argsort(sorted_codes, kind="stable")
    counts = np.bincount(sorted_codes)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    rank[order[by_class]] = np.arange(codes.size) - starts
    return np.sort(np.flatnonzero(rank < cap))


# =========================================================================== estimator


class MultiSpeciesSDM(ClassifierMixin, BaseEstimator):
    """Multi-species neural SDM on location embeddings and/or covariates.

    A :class:`~sdmkit.encoders.networks.ResidualFCNet` trunk (``Linear → ReLU →
    n_blocks`` residual blocks of width ``hidden``) feeds a per-species linear
    head without bias; ``sigmoid`` of the head gives one presence probability
    per species. See the module docstring for the losses.

    Parameters
    ----------
    loss : {"auto", "an_full", "an_ssdl", "an_slds", "an_full_me", "an_ssdl_me", \
"an_slds_me", "pa_bce"}
        Training loss. ``"auto"``: ``"pa_bce"`` for a presence–absence matrix
        (2-d ``y``); for presence-only records (1-d ``y``) ``"an_full"`` when
        random locations are available (``random_features`` or ``background=``),
        else ``"an_slds"``, the one presence-only loss that needs none.
    hidden : int
        Width of the residual blocks (SINR: 256).
    n_blocks : int
        Number of residual blocks (SINR: 4).
    dropout : float
        Dropout inside the blocks.
    pos_weight : float
        Weight of the observed species in ``an_full`` (SINR: 2048). Unused by
        the other losses.
    batch_size : int
        Records (or sites) per optimisation step; as many random locations are
        drawn per step.
    lr : float
        Adam learning rate.
    lr_decay : float
        Multiplicative learning-rate decay per epoch (SINR: 0.98).
    weight_decay : float
        Adam weight decay.
    epochs : int
        Passes over the (subsampled) records.
    max_records_per_species : int or None
        Presence-only: keep at most this many random records per species
        (SINR's hard cap, 1000); None keeps all.
    min_records : int
        Presence-only: species with fewer records cannot be modelled.
    on_rare : {"warn", "raise"}
        What to do with species below ``min_records``: drop them (and their
        records) with a :class:`~sdmkit.ValidationWarning` that counts them,
        or raise a :class:`~sdmkit.ValidationError`.
    random_features : callable, optional
        ``random_features(n, rng) -> (n, n_features)`` array: features at ``n``
        random locations (``rng`` is a :class:`numpy.random.Generator`), e.g.
        ``lambda n, rng: encode(random_lonlat(n, rng))``. Used by the losses
        with random locations unless ``background=`` is given to :meth:`fit`.
    standardize : bool
        Centre and scale each feature with the training mean and standard
        deviation (random and background features too).
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, …
    dtype : {"float32", "float64"} or torch.dtype
        Parameter and compute dtype.
    random_state : int, numpy.random.Generator or None
        Seeds initialisation, batching, subsampling and random negatives; same
        seed and device, same model (bitwise on CPU).
    progress : bool or None
        tqdm progress bar over epochs; None shows it only on a terminal.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Species labels, in the column order of :meth:`predict_proba`.
    loss_ : str
        The loss used.
    network_ : torch.nn.Module
        The fitted ResidualFCNet (in eval mode).
    mean_, scale_ : numpy.ndarray
        Standardisation (zeros / ones when ``standardize=False``).
    n_records_ : pandas.Series
        Presence-only: training records per species (before the cap).
    dropped_species_ : list
        Presence-only species dropped for having fewer than ``min_records``.
    loss_curve_ : list of float
        Mean training loss per epoch.
    decision_rule_ : dict
        Presence–absence: how :meth:`predict` turns probabilities into species
        sets — ``{"rule": "threshold", "value": 0.5}`` after fit, or what
        :meth:`calibrate_topk` chose (``"top_k"`` / ``"threshold"``, ``value``,
        validation ``f1``).
    calibration_ : pandas.DataFrame
        After :meth:`calibrate_topk`: columns ``rule``, ``value``, ``f1``.
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    Presence–absence surveys (sites × species 0/1 matrix):

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> Y = (X[:, :3] + rng.normal(size=(300, 3)) > 0.5).astype(int)
    >>> m = MultiSpeciesSDM(hidden=32, n_blocks=1, epochs=30, batch_size=64,
    ...                     random_state=0, device="cpu").fit(X, Y)
    >>> m.loss_, m.predict_proba(X[:2]).shape, m.predict_topk(X[:2], k=2).shape
    ('pa_bce', (2, 3), (2, 2))

    Presence-only records (one species label per record) with background features:

    >>> species = rng.choice(["a", "b", "c"], size=300)
    >>> po = MultiSpeciesSDM(loss="an_full", pos_weight=3.0, hidden=32, n_blocks=1,
    ...                      epochs=5, batch_size=64, random_state=0, device="cpu")
    >>> po.fit(X, species, background=rng.normal(size=(1000, 4))).classes_.tolist()
    ['a', 'b', 'c']
    """

    def __init__(
        self,
        loss: str = "auto",
        *,
        hidden: int = 256,
        n_blocks: int = 4,
        dropout: float = 0.0,
        pos_weight: float = 2048.0,
        batch_size: int = 2048,
        lr: float = 5e-4,
        lr_decay: float = 0.98,
        weight_decay: float = 0.0,
        epochs: int = 10,
        max_records_per_species: int | None = 1000,
        min_records: int = 5,
        on_rare: str = "warn",
        random_features: Callable | None = None,
        standardize: bool = True,
        device="auto",
        dtype="float32",
        random_state=None,
        progress: bool | None = None,
    ):
        self.loss = loss
        self.hidden = hidden
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.pos_weight = pos_weight
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.max_records_per_species = max_records_per_species
        self.min_records = min_records
        self.on_rare = on_rare
        self.random_features = random_features
        self.standardize = standardize
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ sklearn

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = True
        tags.target_tags.two_d_labels = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ fit

    def fit(self, X, y, sample_weight=None, *, background=None):
        """Fit on presence-only records or on a presence–absence matrix.

        Parameters
        ----------
        X : array-like or pandas.DataFrame (n, n_features)
            Numeric features (embeddings ⊕ covariates); no NaN. One-hot encode
            categorical covariates first (e.g. :func:`pandas.get_dummies`).
        y : array-like
            Presence-only: (n,) species label of each presence record.
            Presence–absence: (n, S) 0/1 matrix (a DataFrame's columns become
            ``classes_``).
        sample_weight : array-like (n,), optional
            Per-record (per-site) weights on the presence terms.
        background : array-like (m, n_features), optional
            Features at background / random locations, sampled uniformly with
            replacement as the random negatives (instead of
            ``random_features``).

        Returns
        -------
        self

        Raises
        ------
        ValidationError
            NaN features, labels not 0/1, species below ``min_records`` with
            ``on_rare="raise"``, no random features for a loss that needs them.
        """
        self._check_params()
        _check_numeric_frame(X)
        X = validate_data(self, X, reset=True, ensure_all_finite=False, dtype=np.float64)
        bad = _rows_with_nan(X)
        if bad.size:
            raise ValidationError(
                f"X has NaN or infinite values in rows {_show(bad)}; impute or drop those "
                f"records explicitly before fitting."
            )
        pa = self._is_presence_absence(y)
        loss = self.loss
        if loss == "auto":
            has_random = background is not None or self.random_features is not None
            loss = "pa_bce" if pa else ("an_full" if has_random else "an_slds")
        if pa and loss != "pa_bce":
            raise ValidationError(
                f"loss={loss!r} is a presence-only loss, but y is 2-d (a presence-absence "
                f"matrix). Use loss='pa_bce', or pass one species label per record."
            )
        if not pa and loss == "pa_bce":
            raise ValidationError(
                "loss='pa_bce' needs y as an (n_sites, n_species) 0/1 presence-absence "
                "matrix; got a 1-d y (one species label per record, i.e. presence-only)."
            )
        w = self._check_weight(sample_weight, X.shape[0])
        rng = np.random.default_rng(_seed_from(self.random_state))

        if pa:
            Y, self.classes_ = self._check_pa_matrix(y, X.shape[0])
            keep = np.arange(X.shape[0])
            targets = Y
            self.n_records_ = pd.Series(Y.sum(0), index=self.classes_, name="n_presences")
            self.dropped_species_ = []
        else:
            keep, targets = self._prepare_presence_only(y, X.shape[0], loss, rng)

        self.mean_, self.scale_ = self._standardizer(X[keep])
        bg = None
        if loss in _NEEDS_RANDOM:
            bg = self._check_background(background, X.shape[1])
        self.loss_ = loss
        self._fit_network(X[keep], targets, _renormalise(w, keep), bg, rng, pa)
        self.decision_rule_ = {"rule": "threshold", "value": 0.5, "f1": None} if pa else None
        return self

    def _check_params(self):
        if self.loss not in ("auto", *LOSSES):
            raise ValueError(f"loss must be 'auto' or one of {LOSSES}; got {self.loss!r}.")
        if self.on_rare not in ("warn", "raise"):
            raise ValueError(f"on_rare must be 'warn' or 'raise'; got {self.on_rare!r}.")
        for name in ("batch_size", "epochs", "hidden"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}.")
        if self.max_records_per_species is not None and self.max_records_per_species < 1:
            raise ValueError("max_records_per_species must be >= 1 or None.")
        if self.random_features is not None and not callable(self.random_features):
            raise ValueError("random_features must be a callable (n, rng) -> (n, n_features).")

    @staticmethod
    def _is_presence_absence(y) -> bool:
        if y is None:
            raise ValueError(
                "MultiSpeciesSDM requires y to be passed, but the target y is None: give one "
                "species label per presence record, or a sites x species 0/1 matrix."
            )
        return (y.ndim if hasattr(y, "ndim") else np.asarray(y).ndim) == 2

    @staticmethod
    def _check_weight(sample_weight, n):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64).ravel()
        if w.shape != (n,):
            raise ValueError(f"sample_weight has {w.size} values for {n} rows of X.")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("sample_weight must be finite, >= 0 and not all zero.")
        return w / w.mean()

    def _check_pa_matrix(self, y, n):
        classes = np.asarray(y.columns) if isinstance(y, pd.DataFrame) else None
        Y = np.asarray(y, dtype=np.float64)
        if Y.shape[0] != n:
            raise ValueError(f"y has {Y.shape[0]} rows (sites) but X has {n}.")
        off = np.argwhere(~np.isin(Y, (0.0, 1.0)))
        if off.size:
            raise ValidationError(
                f"A presence-absence y must hold only 0/1; (site, species) cells "
                f"{_show([tuple(map(int, c)) for c in off])} are not (e.g. "
                f"{_show(np.unique(Y[~np.isin(Y, (0.0, 1.0))]))}). For presence-only data pass "
                f"a 1-d y of species labels, one per record."
            )
        if classes is None:
            classes = np.arange(Y.shape[1])
        return Y.astype(np.float32), classes

    def _prepare_presence_only(self, y, n, loss, rng):
        labels = np.asarray(y)
        check_classification_targets(labels)
        if labels.shape != (n,):
            raise ValueError(f"y has shape {labels.shape}; expected ({n},), one label per row.")
        if pd.isna(labels).any():
            rows = np.flatnonzero(pd.isna(labels))
            raise ValidationError(f"y (species labels) is missing in rows {_show(rows)}.")
        classes, codes = np.unique(labels, return_inverse=True)
        counts = np.bincount(codes, minlength=classes.size)
        rare = counts < self.min_records
        if rare.any():
            detail = ", ".join(f"{c.tolist()!r}: {k}" for c, k in zip(classes[rare], counts[rare]))
            msg = (
                f"{int(rare.sum())} of {classes.size} species have fewer than min_records="
                f"{self.min_records} records ({detail if rare.sum() <= 10 else _show(classes[rare])})"
            )
            if self.on_rare == "raise":
                raise ValidationError(
                    msg + ". Drop them, gather more records, or pass on_rare='warn' to drop "
                    "them with a warning."
                )
            if rare.all():
                raise ValidationError(msg + "; no species (class) is left to fit.")
            warnings.warn(
                msg + f"; dropped with their {int(counts[rare].sum())} records.",
                ValidationWarning,
                stacklevel=3,
            )
        self.dropped_species_ = classes[rare].tolist()
        self.n_records_ = pd.Series(counts[~rare], index=classes[~rare], name="n_records")
        kept = ~rare[codes]
        remap = np.cumsum(~rare) - 1
        codes_kept = remap[codes[kept]]
        self.classes_ = classes[~rare]
        if loss.startswith("an_slds") and self.classes_.size < 2:
            raise ValidationError(
                f"loss={loss!r} contrasts each species with another one, but y has only one "
                f"class ({self.classes_[0].tolist()!r}). Use 'an_full' or 'an_ssdl' with random "
                f"locations."
            )
        rows = np.flatnonzero(kept)
        sub = _subsample_per_class(codes_kept, self.max_records_per_species, rng)
        return rows[sub], codes_kept[sub]

    def _standardizer(self, X):
        d = X.shape[1]
        if not self.standardize:
            return np.zeros(d), np.ones(d)
        mean, scale = X.mean(0), X.std(0)
        const = np.flatnonzero(scale <= 1e-12 * np.maximum(1.0, np.abs(mean)))
        if const.size:
            names = getattr(self, "feature_names_in_", None)
            shown = names[const] if names is not None else const
            warnings.warn(
                f"features {_show(shown)} are constant in the training data; they carry no "
                f"information and are only centred.",
                ValidationWarning,
                stacklevel=3,
            )
            scale[const] = 1.0
        return mean, scale

    def _check_background(self, background, d):
        if background is not None:
            bg = np.asarray(background, dtype=np.float64)
            if bg.ndim != 2 or bg.shape[1] != d or bg.shape[0] == 0:
                raise ValidationError(
                    f"background must be a non-empty (m, {d}) feature array like X; got shape "
                    f"{bg.shape}."
                )
            bad = _rows_with_nan(bg)
            if bad.size:
                raise ValidationError(
                    f"background has NaN or infinite values in rows {_show(bad)}; drop them "
                    f"(e.g. points outside the rasters) before fitting."
                )
            return bg
        if self.random_features is None:
            raise ValidationError(
                f"loss={self.loss_ if hasattr(self, 'loss_') else self.loss!r} draws random "
                f"locations as negatives: pass random_features=callable(n, rng) -> (n, {d}) "
                f"to the model or background=<(m, {d}) features> to fit(), or use "
                f"loss='an_slds' which needs neither."
            )
        return None

    def _random_batch(self, n, bg, rng) -> np.ndarray:
        if bg is not None:
            return bg[rng.integers(0, bg.shape[0], n)]
        out = np.asarray(self.random_features(n, rng), dtype=np.float64)
        d = self.n_features_in_
        if out.shape != (n, d):
            raise ValidationError(
                f"random_features({n}, rng) returned shape {out.shape}; expected ({n}, {d}), "
                f"the same features as X."
            )
        bad = _rows_with_nan(out)
        if bad.size:
            raise ValidationError(
                f"random_features returned NaN or infinite values in {bad.size} of {n} rows "
                f"(e.g. random points off the rasters); sample only where features exist."
            )
        return out

    # ------------------------------------------------------------------ training

    def _fit_network(self, X, targets, w, bg, rng, pa):
        from tqdm.auto import trange

        from sdmkit.encoders.networks import ResidualFCNet

        device, dtype = _resolve_device(self.device), _resolve_dtype(self.dtype)
        seed = int(rng.integers(2**63 - 1))
        fork = [device.index or 0] if device.type == "cuda" else []
        n, S = X.shape[0], self.classes_.size
        with torch.random.fork_rng(devices=fork):
            torch.manual_seed(seed)
            net = ResidualFCNet(
                X.shape[1],
                S,
                hidden=int(self.hidden),
                n_blocks=int(self.n_blocks),
                dropout=float(self.dropout),
            )
            net = net.to(device=device, dtype=dtype)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=self.lr_decay)
            Xt = self._to_tensor(X, device, dtype)
            if pa == "maxent":  # (counts, domain mask or None)
                Tt = torch.as_tensor(targets[0], device=device, dtype=dtype)
                Mt = None if targets[1] is None else torch.as_tensor(targets[1], device=device)
            elif pa:
                Tt = torch.as_tensor(targets, device=device, dtype=dtype)
            else:
                Tt = torch.as_tensor(targets, device=device, dtype=torch.long)
            Wt = None if w is None else torch.as_tensor(w, device=device, dtype=dtype)
            gen = torch.Generator(device="cpu").manual_seed(seed)
            bs = n if self.batch_size is None else int(self.batch_size)
            self.loss_curve_ = []
            net.train()
            for _ in trange(
                int(self.epochs), disable=self._no_progress(), desc="epochs", unit="epoch"
            ):
                perm = torch.randperm(n, generator=gen).to(device)
                total = 0.0
                for start in range(0, n, bs):
                    idx = perm[start : start + bs]
                    wb = None if Wt is None else Wt[idx]
                    if pa == "maxent":
                        value = maxent_loss(
                            net(Xt[idx]),
                            Tt[idx],
                            None if Mt is None else Mt[idx],
                            species_weight=self.species_weight,
                        )
                    elif pa:
                        value = pa_bce_loss(net(Xt[idx]), Tt[idx], weight=wb)
                    else:
                        value = self._po_step(
                            net, Xt[idx], Tt[idx], wb, bg, rng, gen, device, dtype, S
                        )
                    opt.zero_grad(set_to_none=True)
                    value.backward()
                    opt.step()
                    total += float(value.detach()) * idx.numel()
                sched.step()
                self.loss_curve_.append(total / n)
        net.eval()
        self.network_ = net

    def _po_step(self, net, xb, sb, wb, bg, rng, gen, device, dtype, S):
        loss = self.loss_
        me = loss.endswith("_me")
        B = xb.shape[0]
        if loss.startswith("an_slds"):
            feats = net(xb, return_features=True)
            other = torch.randint(0, S - 1, (B,), generator=gen).to(device)
            other = other + (other >= sb).long()
            head = net.class_emb.weight
            return an_slds_loss(
                (feats * head[sb]).sum(1), (feats * head[other]).sum(1), max_entropy=me, weight=wb
            )
        xr = self._to_tensor(self._random_batch(B, bg, rng), device, dtype)
        feats = net(torch.cat([xb, xr]), return_features=True)
        f_pos, f_rand = feats[:B], feats[B:]
        if loss.startswith("an_full"):
            return an_full_loss(
                net.class_emb(f_pos),
                net.class_emb(f_rand),
                sb,
                pos_weight=float(self.pos_weight),
                max_entropy=me,
                weight=wb,
            )
        head = net.class_emb.weight[sb]
        return an_ssdl_loss(
            (f_pos * head).sum(1), (f_rand * head).sum(1), max_entropy=me, weight=wb
        )

    def _no_progress(self):
        return None if self.progress is None else not self.progress

    def _to_tensor(self, X, device, dtype) -> Tensor:
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return torch.as_tensor(Z, device=device, dtype=dtype)

    # ------------------------------------------------------------------ predict

    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        _check_numeric_frame(X)
        X = validate_data(self, X, reset=False, ensure_all_finite=False, dtype=np.float64)
        bad = _rows_with_nan(X)
        if bad.size:
            raise ValidationError(
                f"X has NaN or infinite values in rows {_show(bad)}; the model cannot predict "
                f"there. Drop or impute those rows."
            )
        return X

    def predict_logits(self, X) -> np.ndarray:
        """Logits, (n, n_species), columns in ``classes_`` order."""
        return self._logits(self._check_X(X))

    def _logits(self, X: np.ndarray) -> np.ndarray:
        p = next(self.network_.parameters())
        out = []
        with torch.inference_mode():
            for start in range(0, X.shape[0], 16384):
                xb = self._to_tensor(X[start : start + 16384], p.device, p.dtype)
                out.append(self.network_(xb).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.classes_.size))
        return np.concatenate(out).astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Presence probability of every species, (n, n_species) in ``classes_`` order.

        Each column is an independent probability (rows do not sum to 1).
        """
        z = self.predict_logits(X)
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, X) -> np.ndarray:
        """Presence-only fit: the most probable species per row, (n,) labels.

        Presence–absence fit: a 0/1 (n, n_species) matrix from
        ``decision_rule_`` (top-K or probability threshold; see
        :meth:`calibrate_topk`).
        """
        proba = self.predict_proba(X)
        if self.decision_rule_ is None:
            return self.classes_[np.argmax(proba, axis=1)]
        return self._apply_rule(proba, self.decision_rule_["rule"], self.decision_rule_["value"])

    @staticmethod
    def _apply_rule(proba, rule, value) -> np.ndarray:
        out = np.zeros(proba.shape, dtype=np.int64)
        if rule == "top_k":
            np.put_along_axis(out, _topk_indices(proba, value), 1, axis=1)
        else:
            out[proba >= value] = 1
        return out

    def predict_topk(self, X, k: int = 25) -> np.ndarray:
        """The ``k`` most probable species per row, best first.

        Parameters
        ----------
        X : array-like (n, n_features)
        k : int
            Number of species (at most ``len(classes_)``).

        Returns
        -------
        numpy.ndarray
            (n, min(k, n_species)) array of species labels from ``classes_``.
        """
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        return self.classes_[_topk_indices(self.predict_proba(X), int(k))]

    def calibrate_topk(
        self,
        X,
        y,
        *,
        ks: Iterable[int] | None = None,
        thresholds: Iterable[float] | None = None,
        method: str = "auto",
    ):
        """Choose how many species to predict per site, on validation surveys.

        Scores on ``(X, y)`` the samples-averaged F1 (for top-K rules the same
        number as :func:`sdmkit.sdm.metrics.f1_at_k_samples`) of
        every candidate rule — top-K for each K in ``ks``, and "every species
        with probability >= t" for each t in ``thresholds`` (at least the top
        species at each site) — and stores the best as ``decision_rule_``
        (used by :meth:`predict`). Validate on surveys not used for fitting.

        Parameters
        ----------
        X : array-like (n, n_features)
            Validation features.
        y : array-like or pandas.DataFrame (n, n_species_val)
            Validation 0/1 presence-absence matrix. A DataFrame is aligned to
            ``classes_`` by column name; its species unknown to the model count
            as missed presences. An array must have ``classes_`` columns.
        ks : iterable of int, optional
            Candidate K (default 1 … min(100, n_species)).
        thresholds : iterable of float, optional
            Candidate probability thresholds (default 0.01 … 0.99 by 0.01).
        method : {"auto", "top_k", "threshold"}
            Which kind of rule to consider; ``"auto"`` takes the better.

        Returns
        -------
        self
            With ``decision_rule_`` (``rule``, ``value``, ``f1``) and
            ``calibration_`` (every candidate's F1).
        """
        check_is_fitted(self, "network_")
        if self.decision_rule_ is None:
            raise ValidationError(
                "calibrate_topk needs a presence-absence fit (loss='pa_bce'); this model was "
                f"fitted on presence-only records with loss={self.loss_!r}."
            )
        if method not in ("auto", "top_k", "threshold"):
            raise ValueError(f"method must be 'auto', 'top_k' or 'threshold'; got {method!r}.")
        T, extra = self._align_truth(y)
        proba = self.predict_proba(X)
        if proba.shape[0] != T.shape[0]:
            raise ValueError(f"y has {T.shape[0]} rows (sites) but X has {proba.shape[0]}.")
        n_true = T.sum(1) + extra
        S = proba.shape[1]
        rows = []
        if method in ("auto", "top_k"):
            ks = range(1, min(100, S) + 1) if ks is None else ks
            order = _topk_indices(proba, S)
            hits = np.cumsum(np.take_along_axis(T, order, axis=1), axis=1)
            for k in ks:
                k = int(k)
                if not 1 <= k <= S:
                    raise ValueError(f"every K must be in 1..{S} (number of species); got {k}.")
                f1 = _f1_rows(n_true, k, hits[:, k - 1]).mean()
                rows.append(("top_k", k, float(f1)))
        if method in ("auto", "threshold"):
            grid = np.round(np.arange(0.01, 1.0, 0.01), 2) if thresholds is None else thresholds
            top = proba.max(1, keepdims=True)
            for t in grid:
                t = float(t)
                pred = (proba >= t) | (proba >= top)  # always at least the top species
                f1 = _f1_rows(n_true, pred.sum(1), (pred & (T > 0)).sum(1)).mean()
                rows.append(("threshold", t, float(f1)))
        table = pd.DataFrame(rows, columns=["rule", "value", "f1"])
        best = table.iloc[int(np.argmax(table["f1"].to_numpy()))]
        self.calibration_ = table
        value = int(best["value"]) if best["rule"] == "top_k" else float(best["value"])
        self.decision_rule_ = {"rule": str(best["rule"]), "value": value, "f1": float(best["f1"])}
        return self

    def _align_truth(self, y):
        if isinstance(y, pd.DataFrame):
            known = y.columns.isin(self.classes_)
            T = y.reindex(columns=self.classes_, fill_value=0).to_numpy(dtype=np.float64)
            extra = y.loc[:, ~known].to_numpy(dtype=np.float64).sum(1)
        else:
            T = np.asarray(y, dtype=np.float64)
            if T.ndim != 2 or T.shape[1] != self.classes_.size:
                raise ValueError(
                    f"y must be (n_sites, {self.classes_.size}) with columns in classes_ order "
                    f"(or a DataFrame with species columns); got shape {T.shape}."
                )
            extra = np.zeros(T.shape[0])
        if not np.isin(T, (0.0, 1.0)).all() or (extra < 0).any() or (extra % 1 != 0).any():
            raise ValidationError("the validation y must hold only 0/1 presence-absence values.")
        return T, extra


# =========================================================================== DeepMaxent


class DeepMaxent(MultiSpeciesSDM):
    """DeepMaxent: a shared neural trunk trained with Maxent's normalised Poisson loss.

    Ryckewaert et al. (2024, arXiv:2412.19217) fit all species of a region (or
    of a biological group) at once: a shared trunk (here
    :class:`~sdmkit.encoders.networks.ResidualFCNet`, as
    :class:`MultiSpeciesSDM`) and a per-species linear head give a
    log-intensity ``f_s(x)``, and each species' records are softmax-classified
    among the sites of its *domain* ``D_s`` (:func:`maxent_loss`). With a
    linear trunk and ``D_s`` = background ∪ presences this is Maxent's
    objective without the penalty.

    The domain decides the bias correction: the sites of every record of a
    target group (all species of one survey group) make the model a target
    group background fit (the paper's setting); a random background plus the
    species' own presences makes it a classical Maxent fit. Give it as a sites
    × species boolean mask.

    Defaults follow the paper's NCEAS configuration: width 250, Adam with
    learning rate 2e-4, no weight decay, batches of 250 sites, 100 epochs,
    records weighted equally (``species_weight="records"``). The trunk is
    ``Linear → ReLU → n_blocks`` residual blocks (2 layers each); the paper's
    MLP has 2 hidden layers.

    Parameters
    ----------
    hidden : int
        Width of the trunk.
    n_blocks : int
        Residual blocks after the first layer (0: one hidden layer).
    dropout : float
        Dropout inside the blocks.
    batch_size : int or None
        Sites per optimisation step (the softmax runs over the domain sites
        of the batch); None: full batch.
    lr : float
        Adam learning rate.
    lr_decay : float
        Multiplicative learning-rate decay per epoch.
    weight_decay : float
        Adam weight decay.
    epochs : int
        Passes over the sites.
    species_weight : {"records", "equal"}
        How species terms are averaged (see :func:`maxent_loss`).
    standardize : bool
        Centre and scale the features with the training sites' mean and sd.
    device, dtype, random_state, progress
        As :class:`MultiSpeciesSDM`.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Species, the columns of :meth:`predict_proba`.
    log_norm_ : numpy.ndarray (S,)
        ``logsumexp`` of each species' log-intensity over its training domain.
    entropy_ : numpy.ndarray (S,)
        Entropy of each species' fitted distribution over its domain (nats).
    n_records_ : pandas.Series
        Records per species.
    network_, mean_, scale_, loss_curve_
        As :class:`MultiSpeciesSDM`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))                   # features of 400 sites
    >>> counts = np.zeros((400, 2))
    >>> counts[np.argsort(-X[:, 0])[:30], 0] = 1        # species 0 where x0 is high
    >>> counts[np.argsort(X[:, 1])[:30], 1] = 1         # species 1 where x1 is low
    >>> m = DeepMaxent(hidden=16, epochs=20, batch_size=None, lr=1e-2,
    ...                random_state=0, device="cpu", progress=False).fit(X, counts)
    >>> p = m.predict_proba(np.array([[2.0, 0.0, 0.0], [-2.0, 0.0, 0.0]]))
    >>> p.shape, bool(p[0, 0] > p[1, 0])
    ((2, 2), True)
    """

    def __init__(
        self,
        *,
        hidden: int = 250,
        n_blocks: int = 1,
        dropout: float = 0.0,
        batch_size: int | None = 250,
        lr: float = 2e-4,
        lr_decay: float = 1.0,
        weight_decay: float = 0.0,
        epochs: int = 100,
        species_weight: str = "records",
        standardize: bool = True,
        device="auto",
        dtype="float32",
        random_state=None,
        progress: bool | None = None,
    ):
        self.hidden = hidden
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.batch_size = batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.species_weight = species_weight
        self.standardize = standardize
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.progress = progress

    def _check_params(self):
        if self.species_weight not in ("records", "equal"):
            raise ValueError(
                f"species_weight must be 'records' or 'equal'; got {self.species_weight!r}."
            )
        for name in ("epochs", "hidden"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer; got {v!r}.")
        b = self.batch_size
        if b is not None and (int(b) != b or b < 1):
            raise ValueError(f"batch_size must be a positive integer or None; got {b!r}.")

    def fit(self, X, y, *, domain=None):
        """Fit on the sites' features, record counts and (optionally) domains.

        Parameters
        ----------
        X : array-like or pandas.DataFrame (n_sites, n_features)
            Numeric features of every site (presence and background sites); no NaN.
        y : array-like or pandas.DataFrame (n_sites, n_species)
            Number of records of each species at each site (0/1 for point
            records). A DataFrame's columns become ``classes_``.
        domain : array-like (n_sites, n_species) of bool, optional
            ``domain[i, s]``: site i belongs to species s's domain (the sites
            its records are contrasted with). Every site with a record of s
            must belong to it. Default: every site, for every species.

        Returns
        -------
        self

        Raises
        ------
        ValidationError
            NaN features, negative or non-finite counts, a species without
            records, a record outside its species' domain.
        """
        self._check_params()
        _check_numeric_frame(X)
        X = validate_data(self, X, reset=True, ensure_all_finite=False, dtype=np.float64)
        bad = _rows_with_nan(X)
        if bad.size:
            raise ValidationError(
                f"X has NaN or infinite values in rows {_show(bad)}; drop those sites (e.g. "
                f"points outside the rasters) before fitting."
            )
        classes = np.asarray(y.columns) if isinstance(y, pd.DataFrame) else None
        C = np.asarray(y, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] != X.shape[0]:
            raise ValueError(
                f"y must be an (n_sites, n_species) matrix of record counts with one row per "
                f"row of X ({X.shape[0]}); got shape {C.shape}."
            )
        if not np.isfinite(C).all() or (C < 0).any():
            raise ValidationError("y (record counts) must be finite and >= 0.")
        classes = np.arange(C.shape[1]) if classes is None else classes
        n = C.sum(0)
        if (n <= 0).any():
            raise ValidationError(
                f"species {_show(classes[n <= 0])} have no records in y; drop those columns."
            )
        M = None
        if domain is not None:
            M = np.asarray(domain, dtype=bool)
            if M.shape != C.shape:
                raise ValueError(f"domain has shape {M.shape}; expected {C.shape}, as y.")
            outside = np.argwhere((C > 0) & ~M)
            if outside.size:
                raise ValidationError(
                    f"(site, species) cells {_show([tuple(map(int, c)) for c in outside])} hold "
                    f"records but are outside the species' domain; every presence site must "
                    f"belong to its species' domain (e.g. domain = background | (y > 0))."
                )
        self.classes_ = classes
        self.n_records_ = pd.Series(n, index=classes, name="n_records")
        self.dropped_species_ = []
        self.decision_rule_ = None
        self.loss_ = "maxent"
        rng = np.random.default_rng(_seed_from(self.random_state))
        self.mean_, self.scale_ = self._standardizer(X)
        self._fit_network(X, (C.astype(np.float32), M), None, None, rng, "maxent")
        f = self._logits(X)
        inside = np.ones(f.shape, dtype=bool) if M is None else M
        self.log_norm_ = np.logaddexp.reduce(np.where(inside, f, -np.inf), axis=0)
        logp = np.where(inside, f - self.log_norm_, 0.0)
        self.entropy_ = -np.sum(np.exp(logp) * logp * inside, axis=0)
        return self

    def predict_log_density(self, X) -> np.ndarray:
        """Log of each species' normalised density over its training domain, (n, S)."""
        return self.predict_logits(X) - self.log_norm_

    def predict_proba(self, X) -> np.ndarray:
        """Maxent's cloglog output per species, (n, n_species) in ``classes_`` order.

        ``1 - exp(-exp(log_density + entropy))`` (Phillips et al. 2017): a
        0–1 index of relative suitability, monotone in the log-intensity.
        """
        eta = np.minimum(self.predict_log_density(X) + self.entropy_, 50.0)
        return -np.expm1(-np.exp(eta))

    def predict(self, X) -> np.ndarray:
        """The species with the highest cloglog output at each row, (n,) labels."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
