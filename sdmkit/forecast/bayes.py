"""Bayesian hierarchical negative-binomial forecaster (PyMC) with ICAR / BYM2 spatial effects.

The model, for location ``i`` and week ``t`` (Lowe et al.'s dengue models,
written for PyMC)::

    cases[i, t] ~ NegBin(mean = mu[i, t], alpha)
    log mu[i, t] = log(population[i, t]) + intercept + area[i]
                   + Σ_k (gamma_k + delta[i, k]) f_k(t)          # seasonality
                   + Σ_j (beta_j + b[i, j]) x_j[i, t - lag_j]    # climate
                   + z[g(i), t]                                  # AR(1) / RW1

* ``area`` — the location effect, partially pooled, with ``spatial=``:
  ``None``: ``σ_u θ`` (iid); ``"icar"``: ``σ_u θ + σ_s φ / sqrt(s)`` (BYM with a
  scaled ICAR ``φ``); ``"bym2"``: ``σ (sqrt(ρ / s) φ + sqrt(1 − ρ) θ)``
  (Riebler et al. 2016), ``θ ~ N(0, 1)``, ``s`` the scaling factor of the
  node's connected component (:func:`sdmkit.forecast.graph.bym2_scaling_factor`).
  ``φ`` is an ICAR over the adjacency graph with a sum-to-zero constraint per
  connected component: ``constraint="hard"`` builds it from ``n_c − 1`` free
  coordinates per component through an isometry onto the sum-to-zero subspace
  (the map behind ``pm.ZeroSumNormal``) and ``"soft"`` adds
  ``sum(φ_c) ~ N(0, 0.001 n_c)`` as ``pm.ICAR`` does. Singletons (islands) have
  no ICAR: their area effect is the unstructured part only (``σ θ`` under
  BYM2, ``σ_u θ`` under ICAR).
  ``parameterization="noncentered"`` samples ``θ`` and ``φ`` as written above
  (sparse; any graph size). ``"centered"`` samples the area effect itself in
  the ICAR eigenbasis of each component — the same prior, exactly, but far
  better mixing when every location has many weeks of data (the usual case):
  the non-centred form then ties ``σ``, ``ρ`` and all ``θ``, ``φ`` together.
  It needs a dense ``n × n`` eigenbasis, so ``"auto"`` (default) takes it up
  to 3,000 locations with the hard constraint. Under ``"centered"``,
  ``spatial_structured`` is the conditional mean of the structured part given
  the area effect (same posterior mean, smaller spread), and the intercept is
  not sampled directly: the data see only each component's (and island's)
  level ``intercept + mean area effect``, and intercept and component means
  would trade off along a narrow ridge closed only by the prior (r_hat 1.07 on
  the intercept in a 20-node test). The level of the largest component
  (``level``) and those of the other components and islands (``area_level``,
  centred on the intercept) are sampled instead and ``intercept`` is derived
  (non-centred given ``level``): the same prior, exactly. Without a graph,
  every location is such a block (``area_level ~ N(intercept, σ_u)``).
* seasonality — ``n_harmonics`` Fourier pairs ``cos/sin(2π k τ)`` of the week's
  position in the year ``τ = dayofyear / 365.25`` (no special case for 53-week
  MMWR years), global coefficients plus per-location deviations with a shared
  scale per term (non-centred).
* climate — each ``(column, lag)`` of ``climate=`` becomes a covariate: the
  column ``lag`` weeks earlier in the same location, centred on that
  location's training mean and divided by the training sd of the column (so
  its coefficient is per 1 sd of within-location variation). Global slope plus
  partially pooled per-location slopes. The first ``max(lag)`` weeks of each
  location only provide lagged values (they are not in the likelihood;
  ``n_warmup_weeks_`` says how many).
* temporal — a latent AR(1) (stationary, ``0 < φ < 1``, ``temporal_sd`` its
  marginal sd, so innovations have sd ``temporal_sd · sqrt(1 − φ²)`` and
  nothing blows up as ``φ → 1``) or random walk (RW1, starting at 0, step sd
  ``temporal_sd``) per ``temporal_groups`` value (one series shared by all
  locations when None; ``temporal_groups="location"`` gives one per
  location). Non-centred; the AR(1) uses a dense ``T × T`` matrix (memory
  ``O(T²)``, fine for a few years of weeks). The series' least-squares fit on
  the constant and the seasonal harmonics over the fitted weeks is removed
  (INLA's ``constr=TRUE`` and ``extraconstr``, as a projection; kept in
  ``temporal_removed``, dims ``temporal_basis × temporal_group``): otherwise a
  slow AR (``φ → 1``) or a walk takes over the level and the seasonal cycle,
  trading off with the intercept and the seasonal coefficients, and NUTS
  mixes slowly and diverges (divergences at ``φ ≈ 0.95`` with a large
  ``temporal_sd`` and the seasonal coefficients in their tails, in a 20-node
  test). With one series this is a reparameterisation (intercept and
  seasonal coefficients absorb the removed part); with several groups, a
  constraint on each group's series. Forecasts project the whole series from
  the origin and remove that part's continuation over the forecast weeks.

Priors (on standardised covariates): intercept ``N(log(Σ cases / Σ population), 2)``;
``gamma, beta ~ N(0, 1)``; per-location scales ``HalfNormal(0.5)``; area
scales ``HalfNormal(1)``, ``ρ ~ Beta(1, 1)``; latent ``σ ~ HalfNormal(0.5)``,
``φ ~ Beta(1, 1)``; ``1 / sqrt(alpha) ~ HalfNormal(1)``.

Forecasts come from posterior draws (numpy; no re-compilation): the latent
series is projected ahead (AR: ``φ^h z_T`` plus its innovations; RW1: ``z_T``
plus a random walk), counts are drawn from the negative binomial, and
quantiles taken per location and date (tidy frame of
:mod:`sdmkit.forecast.panel`). Climate values for future weeks come from
``future=`` (a frame with ``location``, ``date`` and the climate columns) or,
where it has none, from the location's climatology (mean over the training
weeks with the same MMWR week number; the location's mean if that week never
occurred); values at or before the origin are always the observed ones.

Sampling uses nutpie (``sampler="nutpie"``) and falls back to PyMC's NUTS with
a warning when nutpie is missing or fails. After sampling, ArviZ diagnostics
of every free variable and every deterministic (``intercept``, area effects,
coefficients, the latent series; entries fixed by construction, such as an
island's structured effect, are skipped) — ``r_hat``, bulk/tail ESS,
divergences — are stored in
``diagnostics_``; a fit with ``r_hat > max_r_hat``, more than
``max_divergences`` divergences or ``ESS < min_ess`` raises
:class:`ConvergenceError` (``on_bad_fit="raise"``, the default; the fitted
attributes are set first so the trace can be inspected) or warns
(``on_bad_fit="warn"``).
"""

from __future__ import annotations

import os
import time as _time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .._calendar import epiweek
from .._validation import ValidationError, _show, check_panel
from .graph import align_adjacency, bym2_scaling_factor, connected_components, graph_edges
from .panel import QUANTILES

__all__ = ["BayesianNegBinomialForecaster", "ConvergenceError", "ConvergenceWarning"]

_SPATIAL = (None, "icar", "bym2")
_TEMPORAL = (None, "ar1", "rw1")
_SOFT_SUM_SD = 0.001  # pm.ICAR's default zero_sum_stdev
_INTERCEPT_SD = 2.0
# parameterization="auto": centred (dense eigenbasis) up to this many locations
_CENTERED_MAX = 3000


class ConvergenceError(RuntimeError):
    """MCMC diagnostics failed (r_hat, ESS or divergences); see ``diagnostics_``."""


class ConvergenceWarning(UserWarning):
    """MCMC diagnostics failed but ``on_bad_fit="warn"`` asked only for a warning."""


# =========================================================================== data preparation


def _fourier(dates: pd.DatetimeIndex | pd.Series, n_harmonics: int) -> np.ndarray:
    tau = pd.DatetimeIndex(dates).day_of_year.to_numpy() / 365.25
    cols = []
    for k in range(1, n_harmonics + 1):
        cols += [np.cos(2 * np.pi * k * tau), np.sin(2 * np.pi * k * tau)]
    return np.column_stack(cols) if cols else np.zeros((len(tau), 0))


def _climate_spec(climate) -> list[tuple[str, int]]:
    if climate is None:
        return []
    if isinstance(climate, str):
        climate = [climate]
    items = climate.items() if isinstance(climate, Mapping) else ((c, 0) for c in climate)
    spec = []
    for col, lags in items:
        for lag in np.atleast_1d(lags):
            if int(lag) != lag or lag < 0:
                raise ValidationError(
                    f"climate lag for {col!r} must be an integer >= 0, got {lag!r}."
                )
            spec.append((str(col), int(lag)))
    if len(set(spec)) != len(spec):
        raise ValidationError(f"climate has repeated (column, lag) pairs: {spec}.")
    return spec


def _horizon_steps(horizons) -> np.ndarray:
    """int H -> 1..H; a sequence -> its sorted unique steps (each an integer >= 1)."""
    if isinstance(horizons, str):
        raise ValueError(f"horizons must be an int or a sequence of ints, got {horizons!r}.")
    h = np.atleast_1d(np.asarray(horizons))
    if h.size == 0 or h.dtype.kind not in "iuf" or np.any(h != np.round(h)) or np.any(h < 1):
        raise ValueError(f"horizons must be integers >= 1, got {horizons!r}.")
    h = h.astype(np.int64)
    return np.arange(1, h[0] + 1) if np.ndim(horizons) == 0 else np.unique(h)


def _temporal_basis(dates, n_harmonics: int) -> np.ndarray:
    """(T, 1 + 2K): the constant and the Fourier harmonics the latent term is kept orthogonal to."""
    F = _fourier(dates, n_harmonics)
    return np.column_stack([np.ones(len(F)), F])


def _project_latent(state, H: int, rng, *, sd, phi=None) -> np.ndarray:
    """Whole (unprojected) latent series ``H`` weeks past the origin, per group and draw.

    ``state`` (G, S): the series at the origin. AR(1) (``phi`` given, ``sd`` its
    marginal sd): ``x ← φ x + sd sqrt(1 − φ²) ε``; RW1 (``phi`` None, ``sd`` the
    step sd): ``x ← x + sd ε``. Returns (G, H, S).
    """
    G, S = state.shape
    if phi is None:
        phi, innov = np.ones(S), np.asarray(sd)
    else:
        phi = np.asarray(phi)
        innov = np.asarray(sd) * np.sqrt(1.0 - phi**2)
    z = np.empty((G, H, S))
    for h in range(H):
        state = phi * state + innov * rng.standard_normal((G, S))
        z[:, h] = state
    return z


class _Data:
    """Arrays the model needs, built from a validated panel (training rows only)."""

    def __init__(self, est: BayesianNegBinomialForecaster, panel: pd.DataFrame, origin):
        loc, tcol, y = est.location, est.time, est.target
        needed = [loc, tcol, y]
        if est.population is not None:
            needed.append(est.population)
        spec = _climate_spec(est.climate)
        cols = sorted({c for c, _ in spec})
        extra = [est.temporal_groups] if est.temporal_groups not in (None, loc) else []
        missing = [c for c in needed + cols + extra if c not in panel.columns]
        if missing:
            hint = (
                " (population=None fits rates without an offset)"
                if est.population in missing else ""
            )  # fmt: skip
            raise ValidationError(
                f"panel lacks columns {missing}{hint}; it has {list(panel.columns)}."
            )
        df = panel[list(dict.fromkeys(needed + cols + extra))].copy()
        df[loc] = df[loc].astype("str")
        df[tcol] = pd.to_datetime(df[tcol])
        if origin is not None:
            origin = pd.Timestamp(origin)
            last = df.groupby(loc)[tcol].max()
            late = last.index[last < origin]
            if len(late):
                raise ValidationError(
                    f"origin {origin.date()} is beyond the data of locations {_show(late)} (their "
                    f"last week: {_show(last[late].dt.date)}). The origin is the last week used; "
                    f"forecast further ahead with a larger horizon instead."
                )
            df = df[df[tcol] <= origin]
        # value checks on the caller's row labels, before check_panel re-indexes
        if est.population is not None:
            pop = pd.to_numeric(df[est.population], errors="coerce")
            bad = df.index[~(pop > 0)]
            if len(bad):
                raise ValidationError(
                    f"population must be positive and not NaN; rows {_show(bad)} are not "
                    f"(values {_show(df.loc[bad, est.population])})."
                )
            df[est.population] = pop.astype(float)
        for c in cols:
            v = pd.to_numeric(df[c], errors="coerce")
            bad = df.index[v.isna()]
            if len(bad):
                raise ValidationError(
                    f"climate column {c!r} is missing/non-numeric in rows {_show(bad)}; fill or "
                    f"drop those weeks (the model needs every lagged value)."
                )
            df[c] = v.astype(float)
        df = check_panel(df, location=loc, time=tcol, freq="W", counts=[y])
        last = df.groupby(loc)[tcol].max()
        if last.nunique() != 1:
            raise ValidationError(
                f"all locations must end on the same week (the forecast origin); last weeks "
                f"differ: {_show([f'{k}: {v.date()}' for k, v in last.items()])}. Pass origin=… "
                f"or trim the panel."
            )
        self.origin = pd.Timestamp(last.iloc[0])
        self.locations = np.array(sorted(df[loc].unique()), dtype=object)
        n_loc = len(self.locations)
        li = pd.Index(self.locations).get_indexer(df[loc])
        if est.population is not None:
            log_pop = np.log(df[est.population].to_numpy(float))
        else:
            log_pop = np.zeros(len(df))

        # lagged, per-location centred climate covariates
        self.spec = spec
        self.features = [f"{c}_lag{lag}" for c, lag in spec]
        self.loc_mean, self.col_sd, self.clim = {}, {}, {}
        X = np.zeros((len(df), len(spec)))
        g = df.groupby(loc, sort=False)
        for c in cols:
            self.loc_mean[c] = df.groupby(loc)[c].mean()
            sd = float(df[c].sub(df[loc].map(self.loc_mean[c])).std())
            self.col_sd[c] = sd if sd > 0 else 1.0
            wk = epiweek(df[tcol])[1]
            self.clim[c] = df.assign(_wk=wk).groupby([loc, "_wk"])[c].mean()
        for j, (c, lag) in enumerate(spec):
            X[:, j] = (g[c].shift(lag) - df[loc].map(self.loc_mean[c])).to_numpy() / self.col_sd[c]
        max_lag = max((lag for _, lag in spec), default=0)
        self.n_warmup_weeks = max_lag
        keep = g.cumcount().to_numpy() >= max_lag
        if not keep.any() or pd.Series(keep).groupby(li).sum().min() == 0:
            raise ValidationError(
                f"every location needs more than max lag = {max_lag} weeks of data; some have "
                f"{int(g.size().min())}."
            )
        self.panel = df  # training rows incl. warm-up (lag sources)
        rows = np.flatnonzero(keep)
        dates = pd.DatetimeIndex(df[tcol].to_numpy()[rows])
        self.start = dates.min()
        self.time_index = ((dates - self.start).days // 7).to_numpy()
        self.n_time = int(self.time_index.max()) + 1
        self.times = pd.date_range(self.start, periods=self.n_time, freq="7D")
        self.y = df[y].to_numpy(np.int64)[rows]
        self.log_pop = log_pop[rows]
        self.loc_index = li[rows]
        self.X = X[rows]
        self.F = _fourier(dates, est.n_harmonics)
        if est.temporal_groups in (None,):
            self.groups = np.array(["all"], dtype=object)
            self.group_of_loc = np.zeros(n_loc, dtype=np.int64)
        else:
            gcol = est.temporal_groups
            per_loc = df.groupby(loc)[gcol].agg(lambda s: s.astype(str).unique().tolist())
            multi = per_loc.index[per_loc.map(len) > 1]
            if len(multi):
                raise ValidationError(
                    f"temporal_groups column {gcol!r} must be constant within a location; "
                    f"locations {_show(multi)} have several values."
                )
            labels = per_loc.map(lambda v: v[0]).reindex(self.locations)
            self.groups = np.array(sorted(labels.unique()), dtype=object)
            self.group_of_loc = pd.Index(self.groups).get_indexer(labels).astype(np.int64)
        self.last_log_pop = pd.Series(log_pop).groupby(li).last().to_numpy()
        self.log_rate = float(np.log((self.y.sum() + 1.0) / np.exp(self.log_pop).sum()))


def _zero_sum_field(pm, pt, comp: np.ndarray, n_c: np.ndarray):
    """A field summing to zero within each component, from free coordinates (hard constraint).

    Component ``c`` (``n`` nodes) gets ``n - 1`` free values ``x``; with ``s = Σx``
    and ``k = s / (√n + n)`` its nodes are ``x - k`` and, for the last node,
    ``-s / √n``. The map is an isometry onto the sum-to-zero subspace (the
    Householder-type map behind ``pm.ZeroSumNormal``), so the ICAR density keeps
    its geometry and no free direction is left unconstrained.
    """
    last = np.array([np.flatnonzero(comp == c)[-1] for c in range(n_c.size)])
    free = np.setdiff1d(np.arange(comp.size), last)
    pm.modelcontext(None).add_coord("icar_free", np.arange(free.size))
    x = pm.Flat("phi_free", dims="icar_free")
    s = pt.inc_subtensor(pt.zeros(n_c.size)[comp[free]], x)
    k = s / (np.sqrt(n_c) + n_c)
    phi = pt.zeros(comp.size)
    phi = pt.set_subtensor(phi[free], x - k[comp[free]])
    phi = pt.set_subtensor(phi[last], -s / np.sqrt(n_c))
    return phi


class _Graph:
    """Adjacency aligned with the locations, its components, edges and BYM2 scales."""

    def __init__(self, adjacency, locations, adjacency_locations):
        self.W = align_adjacency(adjacency, locations, adjacency_locations)
        self.scale = bym2_scaling_factor(self.W)
        _, comp = connected_components(self.W)
        self.comp = comp
        sizes = np.bincount(comp)
        self.in_graph = np.flatnonzero(sizes[comp] >= 2)  # nodes of components with >= 2 nodes
        self.singletons = np.flatnonzero(sizes[comp] == 1)
        pos = -np.ones(len(locations), dtype=np.int64)
        pos[self.in_graph] = np.arange(self.in_graph.size)
        e1, e2 = graph_edges(self.W)
        self.e1, self.e2 = pos[e1], pos[e2]
        self.gcomp = pd.factorize(comp[self.in_graph])[0]  # component of each graph node
        self.n_c = np.bincount(self.gcomp).astype(float) if self.in_graph.size else np.zeros(0)

    def spectrum(self):
        """Per component: ICAR eigenvectors (minus the constant one) and eigenvalues."""
        n = self.W.shape[0]
        cols, lams, scales, consts = [], [], [], []
        for c in range(self.n_c.size):
            idx = self.in_graph[self.gcomp == c]
            Wc = self.W[idx][:, idx].toarray()
            lam, V = np.linalg.eigh(np.diag(Wc.sum(axis=1)) - Wc)
            U = np.zeros((n, idx.size - 1))
            U[idx] = V[:, 1:]  # drop the null (constant) eigenvector
            cols.append(U)
            lams.append(lam[1:])
            scales.append(np.full(idx.size - 1, self.scale[idx[0]]))
            u = np.zeros(n)
            u[idx] = 1.0 / np.sqrt(idx.size)
            consts.append(u)
        U = np.hstack(cols) if cols else np.zeros((n, 0))
        C = np.column_stack(consts) if consts else np.zeros((n, 0))
        lam = np.concatenate(lams) if lams else np.zeros(0)
        sc = np.concatenate(scales) if scales else np.zeros(0)
        return U, lam, sc, C


def _area_noncentered(pm, pt, spatial, constraint, g, n_loc):
    """Area effect from standard-normal θ and a unit ICAR φ (the textbook BYM2)."""
    theta = pm.Normal("theta", 0.0, 1.0, dims="location")
    if spatial is None:
        sigma_u = pm.HalfNormal("sigma_iid", 1.0)
        return pt.zeros(n_loc), sigma_u * theta
    in_graph = g.in_graph
    if in_graph.size:
        if constraint == "hard":
            phi = _zero_sum_field(pm, pt, g.gcomp, g.n_c)
        else:
            phi = pm.Flat("phi_raw", dims="graph_node")
            sums = pt.inc_subtensor(pt.zeros(g.n_c.size)[g.gcomp], phi)
            pm.Potential("icar_soft_sum", -0.5 * pt.sum((sums / (_SOFT_SUM_SD * g.n_c)) ** 2))
        pm.Potential("icar_pairwise", -0.5 * pt.sum((phi[g.e1] - phi[g.e2]) ** 2))
        phi_scaled = pt.set_subtensor(pt.zeros(n_loc)[in_graph], phi / np.sqrt(g.scale[in_graph]))
    else:
        phi_scaled = pt.zeros(n_loc)
    if spatial == "bym2":
        sigma = pm.HalfNormal("sigma_area", 1.0)
        rho = pm.Beta("rho", 1.0, 1.0)
        graph_node = np.zeros(n_loc)
        graph_node[in_graph] = 1.0
        w_theta = pt.switch(graph_node > 0, pt.sqrt(1.0 - rho), 1.0)  # singletons: σ θ
        return sigma * pt.sqrt(rho) * phi_scaled, sigma * w_theta * theta
    sigma_u = pm.HalfNormal("sigma_iid", 1.0)
    sigma_s = pm.HalfNormal("sigma_icar", 1.0)
    return sigma_s * phi_scaled, sigma_u * theta


def _area_centered(pm, pt, spatial, g, n_loc, locations, mu0: float, prior_sd: float):
    """The same prior, centred: the area effect itself, in the ICAR eigenbasis.

    ``b = U y + o``: ``U`` holds the ICAR eigenvectors of each component
    (constant one dropped), ``y_k ~ N(0, d_k)`` with BYM2 variance
    ``d_k = σ² ((1 − ρ) + ρ / (s λ_k))`` (ICAR: ``σ_u² + σ_s² / (s λ_k)``),
    centred. ``o`` is constant on each *block* (a connected component, or a
    singleton): the block's mean offset, ``N(0, v)`` with ``v = σ² (1 − ρ) / n_c``
    for a component of ``n_c`` nodes (ICAR: ``σ_u² / n_c``) and ``σ²`` for a
    singleton (ICAR and iid: ``σ_u²``). The covariance is exactly the BYM2 one
    and the sum-to-zero constraint is hard.

    The likelihood only sees the block *levels* ``intercept + o``, so those are
    sampled rather than intercept and offsets (which trade off along a ridge
    the prior alone closes, ≈ ``sqrt(v)`` wide, and NUTS mixes slowly along it):
    the largest component's level ``L ~ N(mu0, sqrt(prior_sd² + v))``, then
    ``intercept = mu0 + w (L − mu0) + sqrt(w v) z`` with ``w = prior_sd² /
    (prior_sd² + v)`` and ``z ~ N(0, 1)`` (exactly ``intercept ~ N(mu0,
    prior_sd)``, ``o ~ N(0, v)``), and every other block level (``area_level``)
    ``~ N(intercept, sqrt(v))``, centred. Without a component (no graph, or only
    singletons) ``intercept ~ N(mu0, prior_sd)`` and every location is a block.

    ``spatial_structured`` is the conditional mean of the structured part given
    ``b`` (Rao–Blackwellised: same posterior mean, smaller posterior spread than
    a sampled component). Returns ``intercept, structured, unstructured,
    intercept + b``.
    """
    model = pm.modelcontext(None)
    locations = np.asarray(locations)
    if spatial is None:
        U, lam, sc = np.zeros((n_loc, 0)), np.zeros(0), np.zeros(0)
        n_c, comp_nodes, singles = np.zeros(0), [], np.arange(n_loc)
        sigma_u = pm.HalfNormal("sigma_iid", 1.0)
        single_sd = sigma_u
    else:
        U, lam, sc, _ = g.spectrum()
        n_c = g.n_c
        comp_nodes = [g.in_graph[g.gcomp == c] for c in range(n_c.size)]
        singles = g.singletons
        if spatial == "bym2":
            sigma = pm.HalfNormal("sigma_area", 1.0)
            rho = pm.Beta("rho", 1.0, 1.0)
            struct_var = sigma**2 * rho / (sc * lam)
            iid_var = sigma**2 * (1.0 - rho)
            single_sd = sigma
        else:
            sigma_u = pm.HalfNormal("sigma_iid", 1.0)
            sigma_s = pm.HalfNormal("sigma_icar", 1.0)
            struct_var = sigma_s**2 / (sc * lam)
            iid_var = sigma_u**2
            single_sd = sigma_u
    area = pt.zeros(n_loc)
    structured = pt.zeros(n_loc)
    if lam.size:
        model.add_coord("icar_mode", np.arange(lam.size))
        y = pm.Normal("area_spectral", 0.0, pt.sqrt(struct_var + iid_var), dims="icar_mode")
        area = pt.dot(U, y)
        structured = pt.dot(U, y * struct_var / (struct_var + iid_var))
    # blocks: the reference (largest) component first, then other components, then singletons
    block_of_node = np.zeros(n_loc, dtype=np.int64)
    if n_c.size:
        ref = int(np.argmax(n_c))
        others = [c for c in range(n_c.size) if c != ref]
        comp_var = iid_var / n_c  # per-node variance of a component's mean offset
        v_ref = comp_var[ref]
        level = pm.Normal("level", mu0, pt.sqrt(prior_sd**2 + v_ref))
        w = prior_sd**2 / (prior_sd**2 + v_ref)
        z = pm.Normal("intercept_z", 0.0, 1.0)
        intercept = pm.Deterministic("intercept", mu0 + w * (level - mu0) + pt.sqrt(w * v_ref) * z)
        block_of_node[comp_nodes[ref]] = 0
        for k, c in enumerate(others, start=1):
            block_of_node[comp_nodes[c]] = k
        labels = [f"component:{locations[comp_nodes[c][0]]}" for c in others]
        sds = [pt.sqrt(comp_var[others])] if others else []
    else:
        intercept = pm.Normal("intercept", mu0, prior_sd)
        level, labels, sds = None, [], []
    block_of_node[singles] = len(labels) + np.arange(singles.size) + (level is not None)
    labels += list(locations[singles])
    if singles.size:
        sds.append(pt.ones(singles.size) * single_sd)
    levels = [pt.reshape(level, (1,))] if level is not None else []
    if labels:
        model.add_coord("area_block", labels)
        sd = pt.concatenate(sds) if len(sds) > 1 else sds[0]
        levels.append(pm.Normal("area_level", intercept, sd, dims="area_block"))
    node_level = (pt.concatenate(levels) if len(levels) > 1 else levels[0])[block_of_node]
    linear = node_level + area
    return intercept, structured, linear - intercept - structured, linear


# =========================================================================== the estimator


class BayesianNegBinomialForecaster(BaseEstimator):
    """Hierarchical negative-binomial dengue forecaster with ICAR / BYM2 area effects (PyMC).

    See the module docstring for the model, priors and how future covariates
    are filled.

    Parameters
    ----------
    location, time, target : str
        Panel columns: location id, week start date (7-day steps), counts.
    population : str or None
        Column of the population (offset ``log(population)``); None: no offset.
    climate : mapping, sequence of str, or None
        ``{"temperature": 4, "rainfall": [2, 8]}`` — columns and lags (weeks);
        a list of columns means lag 0.
    n_harmonics : int
        Fourier pairs of the seasonal term (0 switches it off).
    temporal : {"ar1", "rw1", None}
        Latent temporal term.
    temporal_groups : str or None
        Column grouping locations that share one latent series (e.g. a state
        column, or ``"location"`` for one per location); None: one series.
    spatial : {None, "icar", "bym2"}
        Area effect (see the module docstring); needs ``adjacency``.
    adjacency : sparse matrix, array or DataFrame, optional
        Symmetric 0/1 neighbour matrix (:func:`sdmkit.forecast.graph.align_adjacency`).
    adjacency_locations : sequence, optional
        Location id of each adjacency row; default the DataFrame's index or
        the sorted location ids.
    constraint : {"hard", "soft"}
        Sum-to-zero constraint of the ICAR, per connected component.
    parameterization : {"auto", "centered", "noncentered"}
        How the area effect is sampled (module docstring); ``"auto"``:
        centred up to 3,000 locations with ``constraint="hard"``.
    sampler : {"nutpie", "pymc"}
        NUTS implementation; ``"nutpie"`` falls back to PyMC with a warning.
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, number of chains.
    cores : int or None
        Chains run in parallel (default: ``min(chains, os.cpu_count())``).
    target_accept : float
        NUTS target acceptance rate.
    sampler_kwargs : mapping, optional
        Extra keyword arguments for ``nutpie.sample`` (e.g.
        ``{"low_rank_modified_mass_matrix": True}``); not passed to the PyMC
        fallback.
    max_r_hat, max_divergences, min_ess : float, int, float or None
        Convergence thresholds (``min_ess`` on bulk and tail ESS; None skips).
    on_bad_fit : {"raise", "warn", "ignore"}
        What a failed diagnostic does.
    random_state : int or None
        Seed of the sampler and of the forecast draws.
    progressbar : bool
        Show the sampler's progress.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        Posterior with dims ``location``, ``fourier``, ``feature``, ``time``,
        ``temporal_group``, ``temporal_basis``, ``graph_node``, ``obs`` (and
        ``icar_mode``, ``area_block`` when centred); deterministics
        ``location_effect`` (area effect), ``spatial_structured``,
        ``spatial_unstructured``, ``seasonal_coef``, ``climate_coef``,
        ``temporal``, ``temporal_removed`` and, when centred with a graph,
        ``intercept``.
    diagnostics_ : dict
        ``max_r_hat``, ``min_ess_bulk``, ``min_ess_tail``, ``n_divergences``,
        ``worst_r_hat`` (variable), ``ok`` (bool), ``problems`` (list of str),
        ``sampler`` (what actually ran), ``fit_seconds``, ``draws``, ``chains``,
        ``variables`` (those diagnosed: free variables and deterministics).
    locations_ : numpy.ndarray of str
    origin_ : pandas.Timestamp
        Last week used.
    scaling_factor_ : numpy.ndarray or None
        BYM2 scaling factor per location (1 for singletons).
    parameterization_ : str
        ``"centered"`` or ``"noncentered"``, what ``"auto"`` chose.
    n_warmup_weeks_ : int
        Weeks per location used only as lag sources.
    model_ : pymc.Model

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> from sdmkit.forecast.bayes import BayesianNegBinomialForecaster
    >>> sim = dengue_panel(n_locations=10, n_weeks=60, random_state=0)
    >>> m = BayesianNegBinomialForecaster(spatial="bym2", adjacency=sim.adjacency,
    ...                                   climate={"temperature": 4}, draws=300, tune=300)
    >>> fc = m.fit(sim.panel).predict(horizons=4)  # doctest: +SKIP
    >>> sorted(fc.columns)  # doctest: +SKIP
    ['date', 'horizon', 'location', 'origin', 'quantile', 'value']
    """

    def __init__(
        self,
        *,
        location: str = "location",
        time: str = "date",
        target: str = "cases",
        population: str | None = "population",
        climate: Mapping[str, int | Sequence[int]] | Sequence[str] | None = None,
        n_harmonics: int = 2,
        temporal: str | None = "ar1",
        temporal_groups: str | None = None,
        spatial: str | None = None,
        adjacency=None,
        adjacency_locations: Sequence | None = None,
        constraint: str = "hard",
        parameterization: str = "auto",
        sampler: str = "nutpie",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        cores: int | None = None,
        target_accept: float = 0.9,
        sampler_kwargs: Mapping | None = None,
        max_r_hat: float = 1.01,
        max_divergences: int = 0,
        min_ess: float | None = 100.0,
        on_bad_fit: str = "raise",
        random_state: int | None = None,
        progressbar: bool = False,
    ):
        self.location = location
        self.time = time
        self.target = target
        self.population = population
        self.climate = climate
        self.n_harmonics = n_harmonics
        self.temporal = temporal
        self.temporal_groups = temporal_groups
        self.spatial = spatial
        self.adjacency = adjacency
        self.adjacency_locations = adjacency_locations
        self.constraint = constraint
        self.parameterization = parameterization
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.cores = cores
        self.target_accept = target_accept
        self.sampler_kwargs = sampler_kwargs
        self.max_r_hat = max_r_hat
        self.max_divergences = max_divergences
        self.min_ess = min_ess
        self.on_bad_fit = on_bad_fit
        self.random_state = random_state
        self.progressbar = progressbar

    # ------------------------------------------------------------------ checks

    def _check_params(self) -> None:
        if self.spatial not in _SPATIAL:
            raise ValueError(f"spatial must be one of {_SPATIAL}, got {self.spatial!r}.")
        if self.temporal not in _TEMPORAL:
            raise ValueError(f"temporal must be one of {_TEMPORAL}, got {self.temporal!r}.")
        if self.constraint not in ("hard", "soft"):
            raise ValueError(f"constraint must be 'hard' or 'soft', got {self.constraint!r}.")
        if self.parameterization not in ("auto", "centered", "noncentered"):
            raise ValueError(
                f"parameterization must be 'auto', 'centered' or 'noncentered', got "
                f"{self.parameterization!r}."
            )
        if self.parameterization == "centered" and self.constraint == "soft":
            raise ValueError(
                "parameterization='centered' has a hard sum-to-zero constraint; "
                "use constraint='hard' or parameterization='noncentered'."
            )
        if self.sampler not in ("nutpie", "pymc"):
            raise ValueError(f"sampler must be 'nutpie' or 'pymc', got {self.sampler!r}.")
        if self.on_bad_fit not in ("raise", "warn", "ignore"):
            raise ValueError(
                f"on_bad_fit must be 'raise', 'warn' or 'ignore', got {self.on_bad_fit!r}."
            )
        if self.spatial is not None and self.adjacency is None:
            raise ValueError(f"spatial={self.spatial!r} needs adjacency=… (an n × n 0/1 matrix).")
        if int(self.n_harmonics) != self.n_harmonics or self.n_harmonics < 0:
            raise ValueError(f"n_harmonics must be an integer >= 0, got {self.n_harmonics!r}.")
        for name in ("draws", "tune", "chains"):
            v = getattr(self, name)
            if int(v) != v or v < (0 if name == "tune" else 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}.")

    # ------------------------------------------------------------------ model

    def build_model(self, panel: pd.DataFrame, origin=None):
        """Build (without sampling) the PyMC model for ``panel`` (rows up to ``origin``).

        Returns
        -------
        pymc.Model
            Also stored, with the prepared arrays, for :meth:`fit`.

        Examples
        --------
        >>> from sdmkit.datasets.simulate import dengue_panel
        >>> from sdmkit.forecast.bayes import BayesianNegBinomialForecaster
        >>> sim = dengue_panel(n_locations=4, n_weeks=20, random_state=0)
        >>> m = BayesianNegBinomialForecaster(spatial="bym2", adjacency=sim.adjacency)
        >>> model = m.build_model(sim.panel)
        >>> m.parameterization_, model.named_vars_to_dims["location_effect"]
        ('centered', ('location',))
        """
        import pymc as pm
        import pytensor.tensor as pt

        self._check_params()
        d = _Data(self, panel, origin)
        n_loc, n_t = len(d.locations), d.n_time
        g = _Graph(self.adjacency, d.locations, self.adjacency_locations) if self.spatial else None
        param = self._parameterization(n_loc)
        fourier = [f"{f}{k}" for k in range(1, self.n_harmonics + 1) for f in ("cos", "sin")]
        coords = {
            "location": d.locations,
            "fourier": fourier,
            "feature": d.features,
            "time": d.times,
            "temporal_group": d.groups,
            "temporal_basis": ["level", *fourier],
            "graph_node": d.locations[g.in_graph] if g is not None else [],
            "obs": np.arange(len(d.y)),
        }
        li, ti = d.loc_index, d.time_index
        with pm.Model(coords=coords) as model:
            # ---- intercept and area effects
            if param == "centered":
                intercept, structured, unstructured, linear = _area_centered(
                    pm, pt, self.spatial, g, n_loc, d.locations, d.log_rate, _INTERCEPT_SD
                )
            else:
                intercept = pm.Normal("intercept", mu=d.log_rate, sigma=_INTERCEPT_SD)
                structured, unstructured = _area_noncentered(
                    pm, pt, self.spatial, self.constraint, g, n_loc
                )
                linear = intercept + structured + unstructured
            pm.Deterministic("spatial_structured", structured, dims="location")
            pm.Deterministic("spatial_unstructured", unstructured, dims="location")
            pm.Deterministic("location_effect", structured + unstructured, dims="location")
            eta = d.log_pop + linear[li]  # = log_pop + intercept + location_effect

            # ---- seasonality
            if fourier:
                gamma = pm.Normal("season", 0.0, 1.0, dims="fourier")
                tau_s = pm.HalfNormal("season_sd", 0.5, dims="fourier")
                z_s = pm.Normal("season_z", 0.0, 1.0, dims=("location", "fourier"))
                coef = pm.Deterministic(
                    "seasonal_coef", gamma + tau_s * z_s, dims=("location", "fourier")
                )
                eta = eta + pt.sum(coef[li] * d.F, axis=1)

            # ---- climate
            if d.features:
                beta = pm.Normal("climate", 0.0, 1.0, dims="feature")
                tau_c = pm.HalfNormal("climate_sd", 0.5, dims="feature")
                z_c = pm.Normal("climate_z", 0.0, 1.0, dims=("location", "feature"))
                bcoef = pm.Deterministic(
                    "climate_coef", beta + tau_c * z_c, dims=("location", "feature")
                )
                eta = eta + pt.sum(bcoef[li] * d.X, axis=1)

            # ---- latent temporal term
            if self.temporal is not None:
                sig_t = pm.HalfNormal("temporal_sd", 0.5)
                z_t = pm.Normal("temporal_z", 0.0, 1.0, dims=("time", "temporal_group"))
                if self.temporal == "ar1":
                    # stationary AR(1) with MARGINAL sd sig_t: x_0 = sig_t z_0,
                    # x_t = phi x_{t-1} + sig_t sqrt(1 - phi²) z_t — bounded as phi -> 1
                    ar = pm.Beta("temporal_phi", 1.0, 1.0)
                    lag = np.subtract.outer(np.arange(n_t), np.arange(n_t))
                    Phi = pt.switch(lag >= 0, ar ** np.maximum(lag, 0), 0.0)
                    innov = pt.sqrt(1.0 - ar**2)
                    first = pt.concatenate([pt.ones(1), pt.repeat(innov, n_t - 1)])
                    raw = sig_t * pt.dot(Phi, z_t * first[:, None])
                else:  # random walk from 0
                    raw = sig_t * pt.cumsum(pt.set_subtensor(z_t[0], 0.0), axis=0)
                # the part of the series in the span of the level and the seasonal harmonics
                # over the fitted weeks is removed (kept in temporal_removed; forecasts add
                # it back): intercept and seasonal coefficients carry it, not the latent term
                basis = _temporal_basis(d.times, self.n_harmonics)
                removed = pm.Deterministic(
                    "temporal_removed", pt.dot(np.linalg.pinv(basis), raw),
                    dims=("temporal_basis", "temporal_group"),
                )  # fmt: skip
                latent = raw - pt.dot(basis, removed)
                latent = pm.Deterministic("temporal", latent, dims=("time", "temporal_group"))
                eta = eta + latent[ti, d.group_of_loc[li]]

            inv_sqrt = pm.HalfNormal("inv_sqrt_dispersion", 1.0)
            alpha = pm.Deterministic("dispersion", 1.0 / inv_sqrt**2)
            pm.NegativeBinomial("cases", mu=pt.exp(eta), alpha=alpha, observed=d.y, dims="obs")
        self.model_ = model
        self._data = d
        self.scaling_factor_ = g.scale if g is not None else None
        self.parameterization_ = param
        return model

    def _parameterization(self, n_loc: int) -> str:
        if self.parameterization != "auto":
            return self.parameterization
        if self.constraint == "soft" or n_loc > _CENTERED_MAX:
            return "noncentered"
        return "centered"

    # ------------------------------------------------------------------ fit

    def _sample(self, model):
        import pymc as pm

        cores = self.cores or min(self.chains, os.cpu_count() or 1)
        common = dict(
            draws=self.draws, tune=self.tune, chains=self.chains, target_accept=self.target_accept,
            random_seed=self.random_state, progressbar=self.progressbar, model=model,
        )  # fmt: skip
        if self.sampler == "nutpie":
            try:
                import nutpie  # noqa: F401

                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*idata_kwargs.*")
                    idata = pm.sample(
                        nuts_sampler="nutpie",
                        nuts_sampler_kwargs={"cores": cores, **(self.sampler_kwargs or {})},
                        **common,
                    )
                return idata, "nutpie"
            except Exception as err:  # noqa: BLE001 - any nutpie failure falls back
                warnings.warn(
                    f"nutpie unavailable or failed ({type(err).__name__}: {err}); falling back "
                    f"to PyMC's NUTS sampler.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        idata = pm.sample(
            nuts_sampler="pymc", cores=cores, compute_convergence_checks=False, **common
        )
        return idata, "pymc"

    def fit(self, panel: pd.DataFrame, y=None, *, origin=None) -> BayesianNegBinomialForecaster:
        """Sample the posterior from the panel's rows up to ``origin`` (default: all).

        Parameters
        ----------
        panel : pandas.DataFrame
            Tidy weekly panel (validated with :func:`sdmkit.check_panel`):
            the location, time, target, population, climate (and
            ``temporal_groups``) columns. Every location must end on the same
            week (the forecast origin).
        y : None
            Ignored (scikit-learn signature); the counts are the ``target`` column.
        origin : date-like, optional
            Last week to use; rows after it are ignored, so the fit never sees
            data past the origin. An origin after a location's data is an error.

        Returns
        -------
        self

        Raises
        ------
        ConvergenceError
            Diagnostics failed and ``on_bad_fit="raise"`` (attributes are set).

        Examples
        --------
        >>> from sdmkit.datasets.simulate import dengue_panel
        >>> from sdmkit.forecast.bayes import BayesianNegBinomialForecaster
        >>> sim = dengue_panel(n_locations=5, n_weeks=40, random_state=0)
        >>> m = BayesianNegBinomialForecaster(draws=200, tune=200, random_state=0)
        >>> m.fit(sim.panel).diagnostics_["ok"]  # doctest: +SKIP
        True
        """
        model = self.build_model(panel, origin)
        d = self._data
        t0 = _time.perf_counter()
        idata, used = self._sample(model)
        seconds = _time.perf_counter() - t0
        self.idata_ = idata
        self.locations_ = d.locations
        self.origin_ = d.origin
        self.n_warmup_weeks_ = d.n_warmup_weeks
        self.fit_seconds_ = seconds
        self.diagnostics_ = self._diagnose(idata, model, used, seconds)
        self._check_convergence()
        return self

    def _check_convergence(self) -> None:
        """Apply ``on_bad_fit`` to ``diagnostics_``: raise, warn or stay quiet."""
        if self.diagnostics_["ok"] or self.on_bad_fit == "ignore":
            return
        msg = (
            f"BayesianNegBinomialForecaster: MCMC did not converge: "
            f"{'; '.join(self.diagnostics_['problems'])}. Increase draws/tune (now "
            f"{self.draws}/{self.tune}), target_accept (now {self.target_accept}) or "
            f"simplify the model; inspect .idata_ and .diagnostics_."
        )
        if self.on_bad_fit == "raise":
            raise ConvergenceError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)

    def _diagnose(self, idata, model, used: str, seconds: float) -> dict:
        import arviz as az

        post = idata.posterior
        free = [rv.name for rv in model.free_RVs if rv.name in post]
        # deterministics too (intercept, area effects, coefficients, the latent series):
        # what is reported must have converged, whatever the sampled coordinates
        dets = [v.name for v in model.deterministics if v.name in post]
        names = free + dets
        # entries fixed by construction (e.g. an island's structured effect, 0) have no r_hat
        fixed = {
            k: (post[k].max(("chain", "draw")) == post[k].min(("chain", "draw"))).to_numpy()
            for k in dets
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rhat = az.rhat(idata, var_names=names)
            ess_b = az.ess(idata, var_names=names, method="bulk")
            ess_t = az.ess(idata, var_names=names, method="tail")

        def worst(ds, largest: bool):
            """Worst value over all variables and the variable's name; NaN counts as worst."""
            bad = np.inf if largest else -np.inf
            vals = {}
            for k, v in ds.data_vars.items():
                a = np.asarray(v.values, float)
                if k in fixed:
                    a = a[~fixed[k]]
                if a.size:
                    a = np.nan_to_num(a, nan=bad)
                    vals[k] = float(a.max() if largest else a.min())
            if not vals:
                return np.nan, None
            k = (max if largest else min)(vals, key=vals.get)
            return vals[k], k

        max_rhat, worst_rhat = worst(rhat, largest=True)
        min_bulk, worst_bulk = worst(ess_b, largest=False)
        min_tail, worst_tail = worst(ess_t, largest=False)
        div = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
        problems = []
        if not max_rhat <= self.max_r_hat:
            problems.append(f"max r_hat {max_rhat:.3f} > {self.max_r_hat} ({worst_rhat})")
        if div > self.max_divergences:
            problems.append(f"{div} divergences > {self.max_divergences}")
        if self.min_ess is not None:
            if not min_bulk >= self.min_ess:
                problems.append(f"min bulk ESS {min_bulk:.0f} < {self.min_ess:g} ({worst_bulk})")
            if not min_tail >= self.min_ess:
                problems.append(f"min tail ESS {min_tail:.0f} < {self.min_ess:g} ({worst_tail})")
        return {
            "ok": not problems,
            "problems": problems,
            "max_r_hat": max_rhat,
            "worst_r_hat": worst_rhat,
            "min_ess_bulk": min_bulk,
            "min_ess_tail": min_tail,
            "n_divergences": div,
            "sampler": used,
            "fit_seconds": seconds,
            "draws": int(idata.posterior.sizes["draw"]),
            "chains": int(idata.posterior.sizes["chain"]),
            "variables": names,
        }

    # ------------------------------------------------------------------ results

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise RuntimeError(
                "This BayesianNegBinomialForecaster is not fitted; call fit() first."
            )

    def spatial_effects(self) -> pd.DataFrame:
        """Posterior means and sds of the area effects, one row per location.

        Returns
        -------
        pandas.DataFrame
            ``location`` (str); ``location_effect``, ``spatial_structured``,
            ``spatial_unstructured`` (posterior means, log scale) and their
            ``*_sd``; ``scaling_factor`` (float, NaN without a graph).

        Examples
        --------
        >>> m.spatial_effects().head()  # doctest: +SKIP
        """
        self._check_fitted()
        post = self.idata_.posterior
        out = pd.DataFrame({"location": pd.Series(self.locations_, dtype="str")})
        for v in ("location_effect", "spatial_structured", "spatial_unstructured"):
            out[v] = post[v].mean(("chain", "draw")).to_numpy()
            out[f"{v}_sd"] = post[v].std(("chain", "draw")).to_numpy()
        scale = self.scaling_factor_
        out["scaling_factor"] = scale if scale is not None else np.nan
        return out

    def _future_covariates(self, dates: pd.DatetimeIndex, future) -> np.ndarray:
        """(n_loc, H, n_feature) standardised lagged covariates for forecast dates."""
        d, loc, tcol = self._data, self.location, self.time
        n_loc, H = len(d.locations), len(dates)
        X = np.zeros((n_loc, H, len(d.spec)))
        if not d.spec:
            return X
        fut = None
        if future is not None:
            if not isinstance(future, pd.DataFrame):
                raise ValidationError(f"future must be a DataFrame, got {type(future).__name__}.")
            missing = [c for c in (loc, tcol) if c not in future.columns]
            if missing:
                raise ValidationError(
                    f"future lacks columns {missing}; it has {list(future.columns)}."
                )
            fut = future.copy()
            fut[loc] = fut[loc].astype("str")
            fut[tcol] = pd.to_datetime(fut[tcol])
            unknown = sorted(set(fut[loc]) - set(d.locations))
            if unknown:
                raise ValidationError(
                    f"future has covariates for locations the model was not fitted on: "
                    f"{_show(unknown)}. Drop them or refit with those locations."
                )
            fut = fut[fut[tcol] > d.origin]
            dup = fut.duplicated([loc, tcol], keep=False)
            if dup.any():
                raise ValidationError(
                    f"future has repeated (location, date) rows: {_show(fut.index[dup])}."
                )
            fut = fut.set_index([loc, tcol])
        hist = d.panel.set_index([loc, tcol])
        for j, (c, lag) in enumerate(d.spec):
            src = dates - pd.Timedelta(weeks=lag)
            for i, name in enumerate(d.locations):
                vals = np.full(H, np.nan)
                past = src <= d.origin
                if past.any():
                    idx = pd.MultiIndex.from_arrays([[name] * int(past.sum()), src[past]])
                    vals[past] = hist[c].reindex(idx).to_numpy()
                if (~past).any() and fut is not None and c in fut.columns:
                    idx = pd.MultiIndex.from_arrays([[name] * int((~past).sum()), src[~past]])
                    vals[~past] = pd.to_numeric(fut[c].reindex(idx), errors="coerce").to_numpy()
                gap = np.isnan(vals) & ~past
                if gap.any():  # climatology of that MMWR week, else the location mean
                    wk = epiweek(pd.Series(src[gap]))[1]
                    clim = d.clim[c]
                    keys = pd.MultiIndex.from_arrays([[name] * int(gap.sum()), wk])
                    v = clim.reindex(keys).to_numpy()
                    vals[gap] = np.where(np.isnan(v), d.loc_mean[c][name], v)
                X[i, :, j] = (vals - d.loc_mean[c][name]) / d.col_sd[c]
        return X

    def _temporal_ahead(self, draw, dates: pd.DatetimeIndex, rng) -> np.ndarray:
        """(G, H, S) latent term at ``dates`` (weeks after the origin) from posterior draws.

        The fit removed the series' level + seasonal part over the fitted weeks
        (``temporal_removed``, carried by the intercept and seasonal
        coefficients): the whole series is projected from the origin, and that
        part's continuation over ``dates`` removed again.
        """
        removed = draw("temporal_removed")  # (1 + 2K, G, S)
        at_origin = _temporal_basis(self._data.times[-1:], self.n_harmonics)[0]  # (1 + 2K,)
        ahead = _temporal_basis(dates, self.n_harmonics)  # (H, 1 + 2K)
        state = draw("temporal")[-1] + np.einsum("b,bgs->gs", at_origin, removed)
        phi = draw("temporal_phi") if self.temporal == "ar1" else None
        z = _project_latent(state, len(dates), rng, sd=draw("temporal_sd"), phi=phi)
        return z - np.einsum("hb,bgs->ghs", ahead, removed)

    def predict(
        self,
        horizons: int | Sequence[int] = 4,
        future: pd.DataFrame | None = None,
        *,
        quantiles: Sequence[float] = QUANTILES,
        n_samples: int | None = None,
        return_samples: bool = False,
    ) -> pd.DataFrame:
        """Forecast ``horizons`` weeks after the origin (the last fitted week) from the posterior.

        Parameters
        ----------
        horizons : int or sequence of int
            H means 1..H; or explicit steps ahead (>= 1).
        future : pandas.DataFrame, optional
            Climate for weeks after the origin: ``location``, ``date`` and the
            climate columns (and ``population`` if it changes); rows at or
            before the origin are ignored (observed values are used there).
            Missing values fall back to the climatology (module docstring).
        quantiles : sequence of float
            Levels returned (default :data:`sdmkit.forecast.panel.QUANTILES`).
        n_samples : int, optional
            Posterior draws used (default all ``chains × draws``).
        return_samples : bool
            Return the predictive samples instead of quantiles.

        Returns
        -------
        pandas.DataFrame
            ``location`` (str), ``origin``, ``date`` (datetime64), ``horizon``
            (int64), ``quantile`` (float64), ``value`` (float64); quantiles
            monotone per (location, date). With ``return_samples``: ``sample``
            (int64) instead of ``quantile`` and integer-valued ``value``.

        Examples
        --------
        >>> m.predict(horizons=2).head()  # doctest: +SKIP
        """
        self._check_fitted()
        steps = _horizon_steps(horizons)
        q = np.asarray(quantiles, dtype=float)
        if q.size == 0 or np.any((q <= 0) | (q >= 1)):
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {list(q)}.")
        H, d = int(steps.max()), self._data
        rng = np.random.default_rng(self.random_state)
        post = self.idata_.posterior.stack(sample=("chain", "draw"))
        S_all = post.sizes["sample"]
        S = S_all if n_samples is None else min(int(n_samples), S_all)
        pick = np.sort(rng.choice(S_all, size=S, replace=False)) if S < S_all else np.arange(S)

        def draw(name):
            return post[name].transpose(..., "sample").to_numpy()[..., pick]

        dates = pd.DatetimeIndex([d.origin + pd.Timedelta(weeks=h) for h in range(1, H + 1)])
        n_loc = len(d.locations)
        eta = draw("intercept")[None, None, :] + draw("location_effect")[:, None, :]
        log_pop = np.repeat(d.last_log_pop[:, None], H, axis=1)
        if future is not None and self.population is not None and self.population in future:
            f = future.copy()
            f[self.location] = f[self.location].astype("str")
            f = f.set_index([self.location, pd.to_datetime(f[self.time])])[self.population]
            for i, name in enumerate(d.locations):
                idx = pd.MultiIndex.from_arrays([[name] * H, dates])
                v = pd.to_numeric(f.reindex(idx), errors="coerce").to_numpy()
                log_pop[i] = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), log_pop[i])
        eta = eta + log_pop[:, :, None]
        if self.n_harmonics:
            F = _fourier(dates, self.n_harmonics)  # (H, K)
            eta = eta + np.einsum("hk,iks->ihs", F, draw("seasonal_coef"))
        if d.spec:
            X = self._future_covariates(dates, future)  # (n_loc, H, J)
            eta = eta + np.einsum("ihj,ijs->ihs", X, draw("climate_coef"))
        if self.temporal is not None:
            eta = eta + self._temporal_ahead(draw, dates, rng)[d.group_of_loc]
        mu = np.exp(np.clip(eta, -50, 50))
        alpha = draw("dispersion")[None, None, :]
        counts = rng.negative_binomial(alpha, alpha / (alpha + mu)).astype(np.int64)

        counts = counts[:, steps - 1]
        dates, H = dates[steps - 1], steps.size
        horizons = steps
        if return_samples:
            return pd.DataFrame({
                "location": pd.Series(np.repeat(d.locations, H * S), dtype="str"),
                "origin": np.full(n_loc * H * S, d.origin.to_datetime64()),
                "date": np.tile(np.repeat(dates.to_numpy(), S), n_loc),
                "horizon": np.tile(np.repeat(horizons, S), n_loc).astype(np.int64),
                "sample": np.tile(np.arange(S), n_loc * H).astype(np.int64),
                "value": counts.ravel().astype(np.float64),
            })  # fmt: skip
        qv = np.quantile(counts, q, axis=2)  # (Q, n_loc, H)
        qv = np.maximum.accumulate(qv[np.argsort(q)], axis=0)[np.argsort(np.argsort(q))]
        nq = q.size
        return pd.DataFrame({
            "location": pd.Series(np.repeat(d.locations, H * nq), dtype="str"),
            "origin": np.full(n_loc * H * nq, d.origin.to_datetime64()),
            "date": np.tile(np.repeat(dates.to_numpy(), nq), n_loc),
            "horizon": np.tile(np.repeat(horizons, nq), n_loc).astype(np.int64),
            "quantile": np.tile(q, n_loc * H).astype(np.float64),
            "value": qv.transpose(1, 2, 0).ravel().astype(np.float64),
        })  # fmt: skip
