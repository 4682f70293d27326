"""PyMC hierarchical negative-binomial forecaster: model structure, bad input, fits, forecasts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sdmkit import ValidationError
from sdmkit.datasets.simulate import dengue_panel
from sdmkit.forecast.bayes import (
    BayesianNegBinomialForecaster,
    ConvergenceError,
    ConvergenceWarning,
    _project_latent,
)
from sdmkit.forecast.graph import bym2_scaling_factor
from sdmkit.forecast.panel import QUANTILES

pytest.importorskip("pymc")


def two_component_graph() -> sp.csr_matrix:
    """7 nodes: a 4-node ring, a 2-node pair, one island (node 6)."""
    A = np.zeros((7, 7))
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5)]:
        A[a, b] = A[b, a] = 1
    return sp.csr_matrix(A)


@pytest.fixture(scope="module")
def small():
    return dengue_panel(two_component_graph(), n_weeks=30, random_state=3)


def quick(**kw) -> BayesianNegBinomialForecaster:
    params = dict(climate={"temperature": 2}, sampler="pymc", draws=40, tune=40, chains=2,
                  cores=1, on_bad_fit="ignore", random_state=0)  # fmt: skip
    params.update(kw)
    return BayesianNegBinomialForecaster(**params)


def lattice_with_island() -> sp.csr_matrix:
    """A 4 × 5 lattice whose corner node 19 has lost its edges: 19 connected nodes + 1 island."""
    path = lambda n: sp.diags([np.ones(n - 1), np.ones(n - 1)], [1, -1])  # noqa: E731
    A = (sp.kron(path(4), sp.identity(5)) + sp.kron(sp.identity(4), path(5))).tolil()
    A[19, :] = 0
    A[:, 19] = 0
    return A.tocsr()


@pytest.fixture(scope="module")
def sim20():
    return dengue_panel(lattice_with_island(), n_weeks=52, spatial_sd=0.8, random_state=7)


@pytest.fixture(scope="module")
def fitted(sim20):
    """The one real fit of the file: nutpie, BYM2, 20 locations × 52 weeks."""
    pytest.importorskip("nutpie")
    m = BayesianNegBinomialForecaster(
        spatial="bym2", adjacency=sim20.adjacency, climate={"temperature": 4}, n_harmonics=1,
        draws=1500, tune=500, chains=2, on_bad_fit="ignore", random_state=1,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(sim20.panel)


# --------------------------------------------------------------------------- model structure


def compile_on_values(model, outputs):
    import pytensor

    single = not isinstance(outputs, list)
    outs = model.replace_rvs_by_values([outputs] if single else outputs)
    fn = pytensor.function(model.value_vars, outs[0] if single else outs,
                           on_unused_input="ignore", mode="FAST_COMPILE")  # fmt: skip
    return lambda point: fn(**{v.name: point[v.name] for v in model.value_vars})


def point_with(model, **values):
    point = model.initial_point()
    point.update(values)
    return point


def zero_sum_map(x, comp):
    """numpy twin of bayes._zero_sum_field: free coordinates -> per-component zero-sum field."""
    phi = np.zeros(comp.size)
    k = 0
    for c in np.unique(comp):
        idx = np.flatnonzero(comp == c)
        n = idx.size
        xc = x[k : k + n - 1]
        k += n - 1
        s = xc.sum()
        phi[idx[:-1]] = xc - s / (np.sqrt(n) + n)
        phi[idx[-1]] = -s / np.sqrt(n)
    return phi


@pytest.mark.parametrize("constraint", ["hard", "soft"])
def test_noncentered_icar_density_and_sum_to_zero_per_component(small, constraint):
    m = quick(
        spatial="bym2", adjacency=small.adjacency, constraint=constraint,
        parameterization="noncentered",
    )  # fmt: skip
    model = m.build_model(small.panel)
    assert m.parameterization_ == "noncentered"
    assert model.coords["graph_node"] == tuple(f"loc_{i:02d}" for i in range(6))  # not the island
    rng = np.random.default_rng(1)
    comp = np.array([0, 0, 0, 0, 1, 1])
    if constraint == "hard":
        x = rng.normal(size=4)  # 6 graph nodes - 2 components
        phi = zero_sum_map(x, comp)
        values = {"phi_free": x}
        assert np.sum(phi**2) == pytest.approx(np.sum(x**2))  # an isometry
        assert phi[:4].sum() == pytest.approx(0.0, abs=1e-12)
        assert phi[4:].sum() == pytest.approx(0.0, abs=1e-12)
    else:
        phi = rng.normal(size=6)
        values = {"phi_raw": phi}
    point = point_with(model, rho_logodds__=0.0, sigma_area_log__=0.0, **values)
    pot = compile_on_values(model, model["icar_pairwise"])
    A = two_component_graph().toarray()[:6, :6]
    Q = np.diag(A.sum(1)) - A
    assert float(pot(point)) == pytest.approx(-0.5 * phi @ Q @ phi)
    if constraint == "soft":
        soft = compile_on_values(model, model["icar_soft_sum"])
        sums = np.array([phi[:4].sum() / (0.001 * 4), phi[4:].sum() / (0.001 * 2)])
        assert float(soft(point)) == pytest.approx(-0.5 * np.sum(sums**2))

    det = compile_on_values(
        model,
        [model["spatial_structured"], model["spatial_unstructured"], model["location_effect"]],
    )
    structured, unstructured, total = det(point)
    s = bym2_scaling_factor(two_component_graph())
    assert structured[6] == 0.0  # the island: unstructured only
    assert structured[:6] == pytest.approx(np.sqrt(0.5) * phi / np.sqrt(s[:6]))  # σ = 1, ρ = 0.5
    theta = point["theta"]
    assert unstructured[:6] == pytest.approx(np.sqrt(0.5) * theta[:6])
    assert unstructured[6] == pytest.approx(theta[6])  # island: full variance, σ θ
    assert total == pytest.approx(structured + unstructured)


def bym2_covariance(A, sigma, rho):
    """Dense BYM2 covariance σ²((1 − ρ) I + ρ Q⁺ / s) per component; singletons σ²."""
    A = np.asarray(A)
    cov = np.zeros(A.shape)
    s = bym2_scaling_factor(A)
    n_comp, labels = __import__("scipy.sparse.csgraph", fromlist=["x"]).connected_components(A)
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        if idx.size == 1:
            cov[idx, idx] = sigma**2
            continue
        Ac = A[np.ix_(idx, idx)]
        Qplus = np.linalg.pinv(np.diag(Ac.sum(1)) - Ac)
        cov[np.ix_(idx, idx)] = sigma**2 * ((1 - rho) * np.eye(idx.size) + rho * Qplus / s[idx[0]])
    return cov


def test_centered_bym2_has_exactly_the_bym2_prior(small):
    import pymc as pm

    m = quick(spatial="bym2", adjacency=small.adjacency)
    model = m.build_model(small.panel)
    assert m.parameterization_ == "centered"  # auto, small graph
    assert model.named_vars_to_dims["area_spectral"] == ("icar_mode",)
    # sampled: the largest component's level, then the other component's and the island's
    assert model.coords["area_block"] == ("component:loc_04", "loc_06")
    assert {"level", "intercept_z", "area_level"} <= {v.name for v in model.free_RVs}
    assert "intercept" in {v.name for v in model.deterministics}
    fixed = pm.do(model, {"sigma_area": 0.8, "rho": 0.7})
    draws = pm.draw(
        [fixed["location_effect"], fixed["spatial_structured"], fixed["intercept"]],
        draws=20000, random_seed=1, mode="FAST_COMPILE",
    )  # fmt: skip
    total, structured, intercept = draws
    expected = bym2_covariance(two_component_graph().toarray(), 0.8, 0.7)
    assert np.cov(total.T) == pytest.approx(expected, abs=0.03)
    # the intercept keeps its N(log rate, 2) prior, independent of the area effects
    assert intercept.mean() == pytest.approx(m._data.log_rate, abs=0.06)
    assert intercept.std() == pytest.approx(2.0, rel=0.03)
    cross = np.cov(np.column_stack([intercept, total]).T)[0, 1:]
    assert np.abs(cross).max() < 0.06
    assert structured[:, 6] == pytest.approx(0.0)
    assert structured[:, :4].sum(1) == pytest.approx(0.0, abs=1e-9)  # sum to zero per component
    assert structured[:, 4:6].sum(1) == pytest.approx(0.0, abs=1e-9)
    # the structured part is the conditional mean: its covariance is Σ_s Σ⁻¹ Σ_s on the graph
    s = bym2_scaling_factor(two_component_graph())
    A4 = two_component_graph().toarray()[:4, :4]
    sig_s = 0.64 * 0.7 * np.linalg.pinv(np.diag(A4.sum(1)) - A4) / s[0]
    target = sig_s @ np.linalg.pinv(expected[:4, :4]) @ sig_s
    assert np.cov(structured[:, :4].T) == pytest.approx(target, abs=0.03)


@pytest.mark.parametrize("spatial", [None, "bym2"])
def test_centered_area_without_graph_components(small, spatial):
    """No graph (iid) or a graph of islands only: every location is its own centred block."""
    import pymc as pm

    islands = sp.csr_matrix((7, 7))
    m = quick(spatial=spatial, adjacency=islands if spatial else None)
    model = m.build_model(small.panel)
    assert m.parameterization_ == "centered"
    assert model.coords["area_block"] == tuple(f"loc_{i:02d}" for i in range(7))
    assert "level" not in model.named_vars and "area_spectral" not in model.named_vars
    assert "intercept" in {v.name for v in model.free_RVs}
    scale = "sigma_iid" if spatial is None else "sigma_area"
    fixed = pm.do(model, {scale: 0.6} | ({"rho": 0.5} if spatial else {}))
    total, intercept = pm.draw([fixed["location_effect"], fixed["intercept"]], draws=20000,
                               random_seed=3, mode="FAST_COMPILE")  # fmt: skip
    assert np.cov(total.T) == pytest.approx(0.36 * np.eye(7), abs=0.02)  # islands: σ² each
    assert intercept.std() == pytest.approx(2.0, rel=0.03)
    if spatial:
        assert m.scaling_factor_ == pytest.approx(np.ones(7))


def test_latent_projection():
    """AR(1): temporal_sd is the marginal sd; RW1: a random walk from the origin."""
    rng = np.random.default_rng(0)
    S = 200_000
    state = np.full((2, S), -0.2)
    phi, sd = np.full(S, 0.8), np.full(S, 0.4)
    z = _project_latent(state, 3, rng, sd=sd, phi=phi)
    assert z.shape == (2, 3, S)
    h = np.arange(1, 4)
    assert z.mean(axis=2)[0] == pytest.approx(0.8**h * -0.2, abs=0.005)
    assert z.var(axis=2)[0] == pytest.approx(0.16 * (1 - 0.8 ** (2 * h)), rel=0.02)
    walk = _project_latent(state, 3, rng, sd=sd)
    assert walk.mean(axis=2)[1] == pytest.approx(np.full(3, -0.2), abs=0.005)
    assert walk.var(axis=2)[1] == pytest.approx(0.16 * h, rel=0.02)


@pytest.mark.parametrize("temporal", ["ar1", "rw1"])
def test_forecast_adds_back_the_removed_level_and_season(small, temporal):
    """Forecasts continue the WHOLE series (latent + removed part), then remove the removed
    part's continuation — i.e. the forecast of the unprojected model."""
    from sdmkit.forecast.bayes import _temporal_basis

    m = quick(temporal=temporal, climate=None)
    m.build_model(small.panel)
    times = m._data.times  # fitted weeks
    rng = np.random.default_rng(5)
    x = rng.normal(size=(len(times), 1, 3)).cumsum(axis=0)  # any whole series, 3 "draws"
    B = _temporal_basis(times, m.n_harmonics)
    removed = np.einsum("bt,tgs->bgs", np.linalg.pinv(B), x)
    latent = x - np.einsum("tb,bgs->tgs", B, removed)
    assert np.abs(np.einsum("tb,tgs->bgs", B, latent)).max() < 1e-9  # ⟂ level and season
    phi = np.array([0.5, 0.9, 0.99])
    post = {"temporal": latent, "temporal_removed": removed, "temporal_phi": phi,
            "temporal_sd": np.zeros(3)}  # fmt: skip
    dates = pd.DatetimeIndex([times[-1] + pd.Timedelta(weeks=k) for k in (1, 2, 3)])
    z = m._temporal_ahead(post.__getitem__, dates, rng)  # sd = 0: the deterministic part
    ahead = np.einsum("hb,bgs->ghs", _temporal_basis(dates, m.n_harmonics), removed)
    if temporal == "ar1":
        whole = phi ** np.arange(1, 4)[:, None] * x[-1, 0]  # φ^h x_T
    else:
        whole = np.repeat(x[-1], 3, axis=0)  # x_T
    assert z[0] == pytest.approx(whole - ahead[0])


@pytest.mark.parametrize("temporal", ["ar1", "rw1"])
def test_latent_temporal_prior(small, temporal):
    """The whole series (latent + removed part) has the AR(1) / RW1 prior; the latent term is
    orthogonal to the level and the seasonal harmonics over the fitted weeks."""
    import pymc as pm

    from sdmkit.forecast.bayes import _temporal_basis

    m = quick(temporal=temporal, climate=None)
    model = m.build_model(small.panel)
    assert model.coords["temporal_basis"] == ("level", "cos1", "sin1", "cos2", "sin2")
    fixed = pm.do(model, {"temporal_sd": 0.5, "temporal_phi": 0.8} if temporal == "ar1"
                  else {"temporal_sd": 0.5})  # fmt: skip
    latent, removed = pm.draw([fixed["temporal"], fixed["temporal_removed"]], draws=20000,
                              random_seed=2, mode="FAST_COMPILE")  # fmt: skip
    B = _temporal_basis(m._data.times, m.n_harmonics)
    assert np.abs(np.einsum("tb,ntg->nbg", B, latent)).max() < 1e-9
    x = (latent + np.einsum("tb,nbg->ntg", B, removed))[..., 0]
    t = np.arange(x.shape[1])
    if temporal == "ar1":  # stationary, marginal sd 0.5: cov(x_t, x_s) = sd² φ^|t - s|
        expected = 0.25 * 0.8 ** np.abs(np.subtract.outer(t, t))
    else:  # random walk from 0: cov(x_t, x_s) = sd² min(t, s)
        expected = 0.25 * np.minimum.outer(t, t)
    assert np.cov(x.T)[:6, :6] == pytest.approx(expected[:6, :6], abs=0.02)
    assert np.cov(x.T)[-3:, -3:] == pytest.approx(expected[-3:, -3:], rel=0.05, abs=0.02)


def test_model_has_named_dims(small):
    model = quick(spatial="icar", adjacency=small.adjacency, temporal="rw1").build_model(
        small.panel
    )
    assert set(model.coords) >= {"location", "fourier", "feature", "time", "obs", "graph_node"}
    assert model.coords["feature"] == ("temperature_lag2",)
    assert model.coords["fourier"] == ("cos1", "sin1", "cos2", "sin2")
    assert len(model.coords["time"]) == 28  # 30 weeks minus 2 warm-up weeks (the lag)
    assert model.named_vars_to_dims["temporal"] == ("time", "temporal_group")
    assert {"sigma_icar", "sigma_iid"} <= set(model.named_vars)


def test_temporal_groups(small):
    p = small.panel.assign(state=np.where(small.panel["location"] < "loc_03", "A", "B"))
    m = quick(temporal_groups="state", population=None)
    model = m.build_model(p)
    assert model.coords["temporal_group"] == ("A", "B")
    assert m._data.group_of_loc.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert m._data.log_pop.max() == 0.0  # population=None: no offset
    p.loc[5, "state"] = "C"
    with pytest.raises(ValidationError, match=r"constant within a location.*\[loc_00\]"):
        quick(temporal_groups="state").build_model(p)
    per_location = quick(temporal_groups="location").build_model(small.panel)
    assert len(per_location.coords["temporal_group"]) == 7


def test_no_peeking_past_the_origin(small):
    origin = small.panel["date"].iloc[20]
    changed = small.panel.copy()
    after = changed["date"] > origin
    changed.loc[after, "cases"] = 10**6
    changed.loc[after, "temperature"] = 99.0
    m1, m2 = quick(), quick()
    m1.build_model(small.panel, origin=origin)
    m2.build_model(changed, origin=origin)
    assert m1._data.origin == origin
    assert np.array_equal(m1._data.y, m2._data.y)
    assert np.array_equal(m1._data.X, m2._data.X)
    assert m1._data.times.max() == origin


# --------------------------------------------------------------------------- bad input


def test_adjacency_that_does_not_match_the_locations(small):
    A = sp.csr_matrix(np.ones((6, 6)) - np.eye(6))
    with pytest.raises(ValidationError, match="7 locations vs 6 graph nodes"):
        quick(spatial="bym2", adjacency=A).build_model(small.panel)
    labels = [f"loc_{i:02d}" for i in range(6)] + ["elsewhere"]
    with pytest.raises(ValidationError, match=r"without a node: \[loc_06\]"):
        quick(spatial="icar", adjacency=small.adjacency, adjacency_locations=labels).build_model(
            small.panel
        )
    # a labelled graph in another order is aligned to the locations, not misread
    m0 = quick(spatial="bym2", adjacency=small.adjacency)
    m0.build_model(small.panel)
    perm = np.array([6, 4, 0, 2, 5, 1, 3])
    shuffled = small.adjacency.toarray()[np.ix_(perm, perm)]
    m1 = quick(spatial="bym2", adjacency=shuffled,
               adjacency_locations=[f"loc_{i:02d}" for i in perm])  # fmt: skip
    model = m1.build_model(small.panel)
    assert np.array_equal(m1.scaling_factor_, m0.scaling_factor_)
    assert model.coords["graph_node"] == tuple(f"loc_{i:02d}" for i in range(6))
    assert model.coords["area_block"] == ("component:loc_04", "loc_06")


def test_bad_panels(small):
    p = small.panel
    with pytest.raises(ValidationError, match="beyond the data"):
        quick().build_model(p, origin=p["date"].max() + pd.Timedelta(weeks=1))
    with pytest.raises(ValidationError, match="lacks columns.*population=None"):
        quick().build_model(p.drop(columns="population"))
    bad = p.copy()
    bad.loc[3, "temperature"] = np.nan
    with pytest.raises(ValidationError, match=r"'temperature' is missing.*rows \[3\]"):
        quick().build_model(bad)
    bad = p.copy()
    bad.loc[5, "cases"] = -1
    with pytest.raises(ValidationError, match="negative"):
        quick().build_model(bad)
    with pytest.raises(ValidationError, match=r"\(location, date\)"):
        quick().build_model(pd.concat([p, p.iloc[[0]]]))
    with pytest.raises(ValidationError, match="consecutive|gap|continuous"):
        quick().build_model(p.drop(index=10))
    with pytest.raises(ValidationError, match="same week"):
        quick().build_model(p.drop(index=p.index[-1]))
    bad = p.copy()
    bad.loc[0, "population"] = 0
    with pytest.raises(ValidationError, match=r"population.*rows \[0\]"):
        quick().build_model(bad)
    shuffled = p.sample(frac=1.0, random_state=0)  # rows named by the caller's labels
    shuffled.loc[17, "temperature"] = np.nan
    with pytest.raises(ValidationError, match=r"rows \[17\]"):
        quick().build_model(shuffled)
    # NaN after the origin is never read
    late = p.copy()
    late.loc[late["date"] == late["date"].max(), "temperature"] = np.nan
    quick().build_model(late, origin=late["date"].max() - pd.Timedelta(weeks=1))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"spatial": "car"}, "spatial"),
        ({"spatial": "bym2"}, "adjacency"),
        ({"temporal": "ar2"}, "temporal"),
        ({"constraint": "none"}, "constraint"),
        ({"sampler": "stan"}, "sampler"),
        ({"on_bad_fit": "shrug"}, "on_bad_fit"),
        ({"draws": 0}, "draws"),
        ({"n_harmonics": -1}, "n_harmonics"),
        ({"parameterization": "mixed"}, "parameterization"),
        ({"parameterization": "centered", "constraint": "soft"}, "hard"),
    ],
)
def test_bad_parameters(small, kw, match):
    with pytest.raises(ValueError, match=match):
        quick(**kw).build_model(small.panel)


def test_sklearn_conventions():
    from sklearn.base import clone

    m = quick(spatial="bym2", adjacency=two_component_graph())
    c = clone(m)
    assert c.get_params()["spatial"] == "bym2" and c is not m
    assert "bym2" in repr(m)


def test_unfitted():
    with pytest.raises(RuntimeError, match="not fitted"):
        quick().predict()


# --------------------------------------------------------------------------- fits and forecasts


@pytest.mark.slow  # shares the module's one nutpie fit (~30-60 s with compilation)
def test_bym2_recovers_the_spatial_effect_on_a_20_node_graph(fitted, sim20):
    d = fitted.diagnostics_
    assert d["sampler"] == "nutpie"
    # converged by the fit's own thresholds: r_hat <= 1.01 over every free variable and
    # deterministic (the intercept included), no divergence, bulk and tail ESS >= 100
    assert d["ok"] and d["max_r_hat"] <= 1.01 and d["n_divergences"] == 0, d
    se = fitted.spatial_effects()
    truth = sim20.truth["spatial_effect"]
    connected = np.arange(19)
    corr = np.corrcoef(se["spatial_structured"].iloc[connected], truth[connected])[0, 1]
    assert corr > 0.8  # 0.84 seen
    assert np.corrcoef(se["location_effect"], truth)[0, 1] > 0.85  # 0.92 seen
    # the island has no structured part, and a scale of 1
    assert se["spatial_structured"].iloc[19] == 0.0 and se["scaling_factor"].iloc[19] == 1.0
    assert np.allclose(
        se["scaling_factor"].iloc[:19], bym2_scaling_factor(lattice_with_island())[0]
    )


@pytest.mark.slow  # shares the module's one nutpie fit (~30-60 s with compilation)
def test_fitted_model_reports_diagnostics_and_named_idata(fitted):
    d = fitted.diagnostics_
    assert {"max_r_hat", "min_ess_bulk", "min_ess_tail", "n_divergences", "ok", "problems",
            "sampler", "fit_seconds"} <= set(d)  # fmt: skip
    assert d["draws"] == 1500 and d["chains"] == 2 and isinstance(d["n_divergences"], int)
    assert {"intercept", "level", "location_effect", "temporal_phi"} <= set(d["variables"])
    post = fitted.idata_.posterior
    assert post["location_effect"].dims == ("chain", "draw", "location")
    assert list(post["location"].values) == [f"loc_{i:02d}" for i in range(20)]
    assert post["seasonal_coef"].dims == ("chain", "draw", "location", "fourier")
    assert post["area_spectral"].dims == ("chain", "draw", "icar_mode")
    assert "cases" in fitted.idata_.observed_data
    se = fitted.spatial_effects()
    assert list(se.columns[:4]) == ["location", "location_effect", "location_effect_sd",
                                    "spatial_structured"]  # fmt: skip


@pytest.mark.slow  # shares the module's one nutpie fit (~30-60 s with compilation)
def test_predict_quantiles_tidy_and_monotone(fitted, sim20):
    fc = fitted.predict(horizons=3)
    assert list(fc.columns) == ["location", "origin", "date", "horizon", "quantile", "value"]
    assert len(fc) == 20 * 3 * len(QUANTILES)
    assert fc["horizon"].dtype == np.int64 and fc["quantile"].dtype == np.float64
    assert str(fc["location"].dtype) in ("str", "string", "object")
    origin = sim20.panel["date"].max()
    assert (fc["origin"] == origin).all()
    assert ((fc["date"] - fc["origin"]) == pd.to_timedelta(7 * fc["horizon"], unit="D")).all()
    for _, g in fc.groupby(["location", "date"]):
        assert np.all(np.diff(g.sort_values("quantile")["value"].to_numpy()) >= 0)
    again = fitted.predict(horizons=3)
    pd.testing.assert_frame_equal(fc, again)  # seeded
    some = fitted.predict(horizons=[3, 1])
    assert sorted(some["horizon"].unique()) == [1, 3]
    assert some.loc[some["horizon"] == 3, "date"].eq(origin + pd.Timedelta(weeks=3)).all()
    # the forecast median follows the true mean of the last weeks, location by location
    last = sim20.panel.groupby("location")["cases"].apply(lambda c: c.iloc[-4:].mean())
    med = fc[(fc["quantile"] == 0.5) & (fc["horizon"] == 1)].set_index("location")["value"]
    assert np.corrcoef(np.log1p(med), np.log1p(last.loc[med.index]))[0, 1] > 0.8


@pytest.mark.slow  # shares the module's one nutpie fit (~30-60 s with compilation)
def test_predict_samples_and_future_covariates(fitted, sim20):
    s = fitted.predict(horizons=2, n_samples=25, return_samples=True)
    assert len(s) == 20 * 2 * 25 and s["sample"].max() == 24
    assert (s["value"] >= 0).all() and (s["value"] == np.round(s["value"])).all()
    # lag 4: horizons 1-4 use observed temperatures; horizons 5-6 need future values
    origin = sim20.panel["date"].max()
    d = fitted._data
    dates = pd.DatetimeIndex([origin + pd.Timedelta(weeks=h) for h in range(1, 7)])
    clim = fitted._future_covariates(dates, None)
    hot = pd.DataFrame({"location": np.repeat(d.locations, 6), "date": np.tile(dates, 20),
                        "temperature": 60.0})  # fmt: skip
    given = fitted._future_covariates(dates, hot)
    assert np.array_equal(clim[:, :4], given[:, :4])  # observed weeks win over `future`
    assert np.all(given[:, 4:] > clim[:, 4:] + 5)
    obs = sim20.panel.set_index(["location", "date"])["temperature"]
    loc0 = d.locations[0]
    expected = obs[(loc0, origin - pd.Timedelta(weeks=3))] - d.loc_mean["temperature"][loc0]
    assert clim[0, 0, 0] == pytest.approx(expected / d.col_sd["temperature"])
    # climatology. Training = 52 weeks from 2015-01-04 (MMWR 2015 weeks 1-52). Horizon 5
    # reads 2016-01-03 = MMWR 2016 week 1: the location's week-1 temperature (2015-01-04),
    # horizon 6 its week-2 temperature; a week never seen falls back to the location mean.
    sd, mean0 = d.col_sd["temperature"], d.loc_mean["temperature"][loc0]
    for i, day in ((4, "2015-01-04"), (5, "2015-01-11")):
        assert clim[0, i, 0] == pytest.approx((obs[(loc0, pd.Timestamp(day))] - mean0) / sd)
    full = d.clim["temperature"]
    try:
        d.clim["temperature"] = full.drop((loc0, 1))
        assert fitted._future_covariates(dates, None)[0, 4, 0] == pytest.approx(0.0)
    finally:
        d.clim["temperature"] = full
    hotter = fitted.predict(horizons=6, future=hot)
    base = fitted.predict(horizons=6)
    q = (hotter["quantile"] == 0.5) & (hotter["horizon"] == 6)
    assert hotter.loc[q, "value"].sum() > base.loc[q, "value"].sum()  # climate effect > 0


@pytest.mark.slow  # shares the module's one nutpie fit (~30-60 s with compilation)
def test_future_covariates_for_unknown_locations(fitted, sim20):
    origin = sim20.panel["date"].max()
    future = pd.DataFrame({"location": ["nowhere"], "date": [origin + pd.Timedelta(weeks=3)],
                           "temperature": [25.0]})  # fmt: skip
    with pytest.raises(ValidationError, match=r"not fitted on: \[nowhere\]"):
        fitted.predict(horizons=3, future=future)
    with pytest.raises(ValueError, match="horizons"):
        fitted.predict(horizons=0)
    with pytest.raises(ValueError, match="horizons"):
        fitted.predict(horizons="season")
    with pytest.raises(ValueError, match="quantiles"):
        fitted.predict(quantiles=[0.5, 1.0])


def test_diagnostics_cover_free_and_deterministic_variables(small):
    """r_hat/ESS over every free variable AND the deterministics (intercept, area effects…);
    entries fixed by construction (the island's structured effect) are skipped, not NaN."""
    import arviz as az
    import pymc as pm

    m = quick(spatial="bym2", adjacency=small.adjacency, max_r_hat=1.05, min_ess=50)
    model = m.build_model(small.panel)
    names = [v.name for v in model.free_RVs + model.deterministics]
    prior = pm.draw([model[k] for k in names], draws=400, random_seed=4, mode="FAST_COMPILE")
    post = {k: v.reshape(2, 200, *v.shape[1:]) for k, v in zip(names, prior)}
    stats = {"diverging": np.zeros((2, 200), bool)}
    d = m._diagnose(az.from_dict(posterior=post, sample_stats=stats), model, "test", 0.0)
    assert set(d["variables"]) == set(names) and "intercept" in d["variables"]
    assert d["ok"], d  # independent prior draws: converged; the island's 0 is no NaN
    post["intercept"][1] += 5.0  # chains disagree on a deterministic only
    d = m._diagnose(az.from_dict(posterior=post, sample_stats=stats), model, "test", 0.0)
    assert not d["ok"] and d["worst_r_hat"] == "intercept" and d["max_r_hat"] > 1.5


def test_bad_fit_fails_loudly_and_nutpie_falls_back(small, monkeypatch):
    nutpie = pytest.importorskip("nutpie")

    def broken(*args, **kwargs):
        raise RuntimeError("simulated nutpie failure")

    monkeypatch.setattr(nutpie, "compile_pymc_model", broken)
    # a minimal model (intercept + iid area effects) keeps PyMC's compilation short
    m = quick(
        sampler="nutpie", draws=5, tune=5, on_bad_fit="raise", climate=None, n_harmonics=0,
        temporal=None,
    )  # fmt: skip
    with pytest.warns(RuntimeWarning, match="falling back"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ConvergenceError, match="did not converge"):
            m.fit(small.panel)
    assert m.diagnostics_["sampler"] == "pymc" and not m.diagnostics_["ok"]
    assert any("r_hat" in p or "ESS" in p for p in m.diagnostics_["problems"])
    assert hasattr(m, "idata_") and m.diagnostics_["draws"] == 5  # inspectable after the error
    m.on_bad_fit = "warn"
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        m._check_convergence()
    m.on_bad_fit = "ignore"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m._check_convergence()
