"""Tests for sdmkit.datasets.simulate: simulators with known truth (all synthetic, fast)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import scipy.sparse as sp
import xarray as xr
from scipy.special import expit

from sdmkit import epiweek
from sdmkit._validation import ValidationError, check_panel, check_points
from sdmkit.datasets.simulate import (
    DenguePanel,
    VirtualSpecies,
    YieldPanel,
    dengue_panel,
    virtual_species,
    yield_panel,
)

# --------------------------------------------------------------------------- fixtures


def _make_raster(ny: int = 40, nx: int = 50, seed: int = 0) -> xr.DataArray:
    """Three smooth-ish bands over a lon/lat box, NaN in the north-west corner."""
    rng = np.random.default_rng(seed)
    y = np.linspace(-2.1, -9.9, ny)  # north-up: y decreasing, 0.2° cells
    x = np.linspace(-59.9, -50.1, nx)
    X, Y = np.meshgrid(x, y)
    temp = 25 + 0.8 * (Y + 6) + rng.normal(0, 0.3, (ny, nx))
    prec = 1500 + 400 * np.sin(X / 2) + 300 * np.cos(Y)
    elev = rng.normal(0, 1, (ny, nx)).cumsum(0).cumsum(1) / 20
    data = np.stack([temp, prec, elev])
    data[:, :5, :5] = np.nan
    data[2, 10, 10] = np.nan  # a hole in one band only
    return xr.DataArray(
        data,
        dims=("band", "y", "x"),
        coords={"band": ["temp", "prec", "elev"], "y": y, "x": x},
    ).rio.write_crs("EPSG:4326")


@pytest.fixture(scope="module")
def raster() -> xr.DataArray:
    return _make_raster()


@pytest.fixture(scope="module")
def species(raster) -> VirtualSpecies:
    return virtual_species(
        raster, prevalence=0.3, n_presence_absence=1000, n_presence_only=400, random_state=0
    )


@pytest.fixture(scope="module")
def dengue() -> DenguePanel:
    return dengue_panel(random_state=0)


@pytest.fixture(scope="module")
def crops() -> YieldPanel:
    return yield_panel(random_state=0)


def _at(da: xr.DataArray, gdf) -> np.ndarray:
    return da.to_numpy()[gdf["row"].to_numpy(), gdf["col"].to_numpy()]


# --------------------------------------------------------------------------- virtual species


def test_virtual_species_structure(species, raster):
    valid = np.isfinite(raster.to_numpy()).all(axis=0)
    assert species.source == "simulated"
    assert "SIMULATED" in repr(species)
    for da in (species.suitability, species.probability, species.bias):
        assert isinstance(da, xr.DataArray)
        assert da.dims == ("y", "x")
        assert da.rio.crs == raster.rio.crs
        np.testing.assert_array_equal(np.isfinite(da.to_numpy()), valid)
        assert da.attrs["source"] == "simulated"
    s = species.suitability.to_numpy()[valid]
    assert (s > 0).all() and (s <= 1).all()
    assert set(species.response) == {"temp", "prec", "elev"}
    for gdf, n in ((species.presence_absence, 1000), (species.presence_only, 400)):
        assert isinstance(gdf, gpd.GeoDataFrame)
        assert len(gdf) == n
        assert gdf.crs == raster.rio.crs
        assert list(gdf.columns) == ["occ", "row", "col", "geometry"]
        assert gdf["occ"].dtype == np.int64
        check_points(gdf, raster)
        # every point lies on a valid cell, jittered inside it (not on the centre)
        assert valid[gdf["row"], gdf["col"]].all()
        dx = np.abs(gdf.geometry.x.to_numpy() - raster.x.to_numpy()[gdf["col"]])
        dy = np.abs(gdf.geometry.y.to_numpy() - raster.y.to_numpy()[gdf["row"]])
        assert (dx <= 0.1 + 1e-9).all() and (dy <= 0.1 + 1e-9).all()
        assert dx.std() > 0.01 and dy.std() > 0.01
    assert set(species.presence_absence["occ"].unique()) == {0, 1}
    assert (species.presence_only["occ"] == 1).all()
    # survey cells are distinct
    pa = species.presence_absence
    assert not pa.duplicated(["row", "col"]).any()
    with pytest.raises(AttributeError):
        species.intercept = 0.0  # frozen


def test_response_dict_reproduces_suitability_and_probability(species, raster):
    log_s = sum(
        -0.5 * ((raster.sel(band=b).to_numpy() - r["optimum"]) / r["tolerance"]) ** 2
        for b, r in species.response.items()
    )
    np.testing.assert_allclose(species.suitability.to_numpy(), np.exp(log_s), rtol=1e-10)
    np.testing.assert_allclose(
        species.probability.to_numpy(), expit(species.intercept + log_s), rtol=1e-10
    )


@pytest.mark.parametrize("prevalence", [0.1, 0.3, 0.6])
def test_prevalence_is_hit(raster, prevalence):
    vs = virtual_species(
        raster, prevalence=prevalence, n_presence_absence=1500, n_presence_only=0, random_state=3
    )
    assert float(vs.probability.mean()) == pytest.approx(prevalence, abs=1e-8)
    realised = vs.presence_absence["occ"].mean()
    assert realised == pytest.approx(prevalence, abs=0.05)
    # occurrences fall where the true probability is high
    occ = vs.presence_absence["occ"].to_numpy()
    p = _at(vs.probability, vs.presence_absence)
    assert p[occ == 1].mean() > 1.5 * p[occ == 0].mean()


def test_presence_only_records_carry_the_sampling_bias(species, raster):
    # Unbiased presences are the presence–absence presences (uniform cells, occ == 1) or,
    # in expectation, cells weighted by the true probability. Presence-only records must sit
    # at clearly higher sampling effort than both. (Versus *all* random cells the comparison
    # depends on where the species lives relative to the "city", so it is not an invariant.)
    pa = species.presence_absence
    b_po = _at(species.bias, species.presence_only).mean()
    b_pa_presences = _at(species.bias, pa[pa["occ"] == 1]).mean()
    p = species.probability.to_numpy()
    b = species.bias.to_numpy()
    ok = np.isfinite(p)
    b_unbiased = (b * p)[ok].sum() / p[ok].sum()
    assert b_pa_presences == pytest.approx(b_unbiased, rel=0.2)
    assert b_po > 1.3 * b_unbiased
    assert b_po > 1.3 * b_pa_presences
    # presence-only records are also where the species is likely
    assert _at(species.probability, species.presence_only).mean() > float(
        species.probability.mean()
    )
    # bias_strength=0 removes the bias: back to the probability-weighted mean
    flat = virtual_species(
        raster, n_presence_absence=10, n_presence_only=2000, bias_strength=0, random_state=0
    )
    p0, b0 = flat.probability.to_numpy(), flat.bias.to_numpy()
    expected = (b0 * p0)[ok].sum() / p0[ok].sum()
    assert _at(flat.bias, flat.presence_only).mean() == pytest.approx(expected, abs=0.02)


def test_custom_bias_surface(raster):
    bias = (raster.x - raster.x.min()) / (raster.x.max() - raster.x.min())
    bias = (bias * xr.ones_like(raster.isel(band=0, drop=True))).transpose("x", "y") ** 3
    bias = bias.rio.write_crs(4326)  # (x, y) order on purpose: it is normalised
    vs = virtual_species(raster, n_presence_absence=300, n_presence_only=500, bias=bias,
                         random_state=1)  # fmt: skip
    valid = np.isfinite(raster.to_numpy()).all(axis=0)
    np.testing.assert_allclose(vs.bias.to_numpy()[valid], bias.to_numpy().T[valid])
    assert vs.presence_only.geometry.x.mean() > vs.presence_absence.geometry.x.mean() + 1.0


def test_bad_bias_raises(raster):
    good = xr.ones_like(raster.isel(band=0, drop=True)).rio.write_crs(4326)
    with pytest.raises(ValidationError, match="grid"):
        virtual_species(raster, bias=good.isel(x=slice(1, None)), random_state=0)
    with pytest.raises(ValidationError, match=">= 0"):
        virtual_species(raster, bias=good - 2, random_state=0)
    with pytest.raises(ValidationError, match="CRS"):
        virtual_species(raster, bias=good.rio.write_crs(3857), random_state=0)
    with pytest.raises(ValidationError, match="bands"):
        virtual_species(raster, bias=raster.isel(band=[0, 1]), random_state=0)


def test_virtual_species_bad_inputs(raster):
    no_crs = xr.DataArray(raster.to_numpy(), dims=raster.dims, coords=raster.coords)
    no_crs = no_crs.drop_vars("spatial_ref", errors="ignore")
    with pytest.raises(ValidationError, match="no CRS"):
        virtual_species(no_crs, random_state=0)
    with pytest.raises(ValueError, match="prevalence"):
        virtual_species(raster, prevalence=1.0)
    with pytest.raises(ValueError, match="exceeds"):
        virtual_species(raster, n_presence_absence=10_000)
    empty = raster.copy(data=np.full(raster.shape, np.nan))
    with pytest.raises(ValidationError, match="no valid cell"):
        virtual_species(empty)


def test_logistic_regression_recovers_the_niche(raster):
    from sklearn.linear_model import LogisticRegression

    vs = virtual_species(raster, n_presence_absence=1500, n_presence_only=0, random_state=2)
    vals = raster.to_numpy()
    pa = vs.presence_absence
    z = (vals - np.nanmean(vals, axis=(1, 2), keepdims=True)) / np.nanstd(
        vals, axis=(1, 2), keepdims=True
    )

    def design(rows, cols):
        v = z[:, rows, cols].T
        return np.column_stack([v, v**2])

    model = LogisticRegression(C=1e4, max_iter=5000)
    model.fit(design(pa["row"], pa["col"]), pa["occ"])
    rows, cols = np.nonzero(np.isfinite(vals).all(axis=0))
    fitted = model.predict_proba(design(rows, cols))[:, 1]
    truth = vs.probability.to_numpy()[rows, cols]
    assert np.corrcoef(fitted, truth)[0, 1] > 0.9


def test_virtual_species_seeds(raster):
    kw = {"n_presence_absence": 50, "n_presence_only": 30}
    a = virtual_species(raster, random_state=7, **kw)
    b = virtual_species(raster, random_state=7, **kw)
    c = virtual_species(raster, random_state=8, **kw)
    g = virtual_species(raster, random_state=np.random.default_rng(7), **kw)
    for other in (b, g):
        xr.testing.assert_identical(a.probability, other.probability)
        xr.testing.assert_identical(a.bias, other.bias)
        pd.testing.assert_frame_equal(a.presence_absence, other.presence_absence)
        pd.testing.assert_frame_equal(a.presence_only, other.presence_only)
        assert a.response == other.response
    assert a.response != c.response
    assert not a.presence_only.geometry.equals(c.presence_only.geometry)


# --------------------------------------------------------------------------- epiweeks


@pytest.mark.parametrize(
    ("date", "year", "week"),
    [
        ("2015-01-04", 2015, 1),
        ("2015-01-03", 2014, 53),
        ("2014-12-28", 2014, 53),
        ("2021-01-03", 2021, 1),
        ("2021-01-02", 2020, 53),
        ("2020-12-27", 2020, 53),
        ("2016-01-03", 2016, 1),
        ("2016-01-02", 2015, 52),
        ("2019-12-29", 2020, 1),  # late-December day in next year's week 1
        ("2020-01-01", 2020, 1),
        ("2018-12-31", 2019, 1),
        ("2017-01-01", 2017, 1),
        ("2017-06-15", 2017, 24),
    ],
)
def test_epiweek_known_dates(date, year, week):
    y, w = epiweek(date)
    assert (y.tolist(), w.tolist()) == ([year], [week])
    assert y.dtype == np.int64 and w.dtype == np.int64


def test_epiweek_sequence_and_53_week_years():
    sundays = pd.date_range("2010-01-03", "2030-12-29", freq="7D")
    year, week = epiweek(sundays)
    # the helper agrees for every day of the week
    for shift in range(1, 7):
        y2, w2 = epiweek(sundays + pd.Timedelta(days=shift))
        np.testing.assert_array_equal(y2, year)
        np.testing.assert_array_equal(w2, week)
    step_same = (np.diff(year) == 0) & (np.diff(week) == 1)
    step_new = (np.diff(year) == 1) & (week[1:] == 1)
    assert (step_same | step_new).all()
    last = pd.Series(week).groupby(year).max().loc[2010:2030]
    assert set(last[last == 53].index) == {2014, 2020, 2025}
    assert set(last.unique()) == {52, 53}


def test_epiweek_missing_raises():
    with pytest.raises(ValidationError, match="positions"):
        epiweek(["2020-01-05", None])


# --------------------------------------------------------------------------- dengue panel


def test_dengue_structure(dengue):
    p = dengue.panel
    assert dengue.source == "simulated"
    assert "SIMULATED" in repr(dengue)
    assert list(p.columns) == [
        "location", "date", "epiweek", "cases", "population", "temperature", "rainfall"
    ]  # fmt: skip
    assert len(p) == 20 * 260
    checked = check_panel(p, location="location", time="date", freq="W", counts=["cases"])
    pd.testing.assert_frame_equal(checked, p)
    assert pd.api.types.is_string_dtype(p["location"])
    assert pd.api.types.is_datetime64_any_dtype(p["date"])
    for col in ("epiweek", "cases", "population"):
        assert p[col].dtype == np.int64
    assert (p["date"].dt.day_of_week == 6).all()  # Sundays
    assert p["date"].min() == pd.Timestamp("2015-01-04")
    y, w = epiweek(p["date"])
    np.testing.assert_array_equal(p["epiweek"], y * 100 + w)
    assert p["epiweek"].iloc[0] == 201501
    assert (p.groupby("location")["population"].nunique() == 1).all()
    assert (p["rainfall"] >= 0).all()
    assert p["temperature"].between(10, 40).all()
    A = dengue.adjacency
    assert sp.issparse(A) and A.format == "csr" and A.shape == (20, 20)
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0
    t = dengue.truth
    for key in ("spatial_effect", "intercepts", "peak_week", "unstructured_effect"):
        assert np.shape(t[key]) == (20,)
    for key in ("mu", "temperature_anomaly_rows", "ar_rows"):
        assert np.shape(t[key]) == (len(p),)
    assert t["climate_effect"] == 0.3 and t["climate_lag"] == 4 and t["dispersion"] == 5.0
    assert t["coordinates"].shape == (20, 2)
    # truth arrays are row-aligned with the panel
    np.testing.assert_allclose(
        p["temperature"].to_numpy() - t["temperature_anomaly_rows"],
        np.repeat(p.groupby("location")["temperature"].mean().to_numpy(), 260),
        atol=4.5,
    )


def _seasonal_anomaly(p: pd.DataFrame, n_loc: int) -> np.ndarray:
    """Temperature minus a per-location annual harmonic fit (what a user would do)."""
    tau = p["date"].dt.day_of_year.to_numpy() / 365.25
    harm = np.column_stack([np.ones(len(p)), np.cos(2 * np.pi * tau), np.sin(2 * np.pi * tau)])
    temp = p["temperature"].to_numpy()
    out = np.empty(len(p))
    T = len(p) // n_loc
    for i in range(n_loc):
        s = slice(i * T, (i + 1) * T)
        coef, *_ = np.linalg.lstsq(harm[s], temp[s], rcond=None)
        out[s] = temp[s] - harm[s] @ coef
    return out


def test_glm_recovers_the_lagged_climate_effect(dengue):
    from sklearn.linear_model import PoissonRegressor

    p, n_loc, max_lag = dengue.panel, 20, 8
    T = len(p) // n_loc
    anom = _seasonal_anomaly(p, n_loc).reshape(n_loc, T)
    assert np.corrcoef(anom.ravel(), dengue.truth["temperature_anomaly_rows"])[0, 1] > 0.95
    lags = np.stack([anom[:, max_lag - lag : T - lag] for lag in range(max_lag + 1)], axis=-1)
    keep = np.zeros((n_loc, T), bool)
    keep[:, max_lag:] = True
    keep = keep.ravel()
    tau = p["date"].dt.day_of_year.to_numpy() / 365.25
    loc = pd.get_dummies(p["location"]).to_numpy(float)
    X = np.column_stack(
        [loc, loc * np.cos(2 * np.pi * tau)[:, None], loc * np.sin(2 * np.pi * tau)[:, None]]
    )[keep]
    X = np.column_stack([X, lags.reshape(-1, max_lag + 1)])
    model = PoissonRegressor(alpha=1e-8, fit_intercept=False, solver="newton-cholesky",
                             max_iter=1000).fit(X, p["cases"].to_numpy()[keep])  # fmt: skip
    coef = model.coef_[-(max_lag + 1) :]
    assert np.argmax(coef) == 4
    assert coef[4] == pytest.approx(0.3, abs=0.08)
    assert np.abs(np.delete(coef, 4)).max() < 0.1


def test_spatial_effect_matches_log_rate_residual(dengue):
    p = dengue.panel
    g = p.groupby("location")
    log_rate = np.log(g["cases"].sum() / g["population"].sum()).to_numpy()
    spatial = dengue.truth["spatial_effect"]
    assert np.corrcoef(log_rate - log_rate.mean(), spatial)[0, 1] > 0.8
    assert dengue.truth["n_components"] == 1
    assert spatial.sum() == pytest.approx(0.0, abs=1e-9)  # sum-to-zero on a connected graph


def test_negative_binomial_dispersion_and_poisson():
    sim = dengue_panel(n_locations=10, n_weeks=300, dispersion=2.0, random_state=4)
    y, mu = sim.panel["cases"].to_numpy(), sim.truth["mu"]
    assert np.mean((y - mu) ** 2 / (mu + mu**2 / 2.0)) == pytest.approx(1.0, abs=0.12)
    assert np.mean((y - mu) ** 2 / mu) > 2.0  # overdispersed relative to Poisson
    pois = dengue_panel(n_locations=10, n_weeks=300, dispersion=np.inf, random_state=4)
    y, mu = pois.panel["cases"].to_numpy(), pois.truth["mu"]
    assert np.mean((y - mu) ** 2 / mu) == pytest.approx(1.0, abs=0.12)
    assert y.sum() == pytest.approx(mu.sum(), rel=0.05)


def test_given_adjacency_with_components_and_singleton():
    # two components (a path 0-1-2-3 and a triangle 4-5-6) and an isolated node 7
    edges = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (4, 6)]
    rows, cols = zip(*edges, strict=True)
    A = sp.coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(8, 8))
    A = (A + A.T).tocsr()
    sim = dengue_panel(A, n_weeks=20, random_state=5)
    assert sim.panel["location"].nunique() == 8
    assert sim.truth["coordinates"] is None
    assert sim.truth["n_components"] == 3
    s = sim.truth["spatial_effect"]
    assert np.isfinite(s).all()
    assert s[:4].sum() == pytest.approx(0, abs=1e-9)
    assert s[4:7].sum() == pytest.approx(0, abs=1e-9)
    assert s[7] != 0
    np.testing.assert_array_equal(sim.adjacency.toarray(), A.toarray())
    # a dense array is accepted too
    dense = dengue_panel(A.toarray(), n_weeks=20, random_state=5)
    np.testing.assert_array_equal(dense.truth["spatial_effect"], s)


def _ring(n=5):
    A = np.zeros((n, n))
    for i in range(n):
        A[i, (i + 1) % n] = A[(i + 1) % n, i] = 1
    return A


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda A: np.triu(A), r"not symmetric: rows \[0, 1, 2, 3, 4\]"),
        (lambda A: A + np.eye(len(A)) * (np.arange(len(A)) == 2), r"zero diagonal .*; rows \[2\] "),
        (lambda A: A[:, :4], "square"),
        (lambda A: A * 2, "0/1"),
        (lambda A: sp.csr_matrix(np.triu(A)), "not symmetric"),
        (lambda A: A[0], "2-D"),
    ],
)
def test_bad_adjacency_raises(make, match):
    with pytest.raises(ValidationError, match=match):
        dengue_panel(make(_ring()), n_weeks=10, random_state=0)


def test_dengue_bad_arguments():
    with pytest.raises(ValueError, match="Sunday.*2015-01-04"):
        dengue_panel(start="2015-01-06", n_weeks=10)
    with pytest.raises(ValueError, match="dispersion"):
        dengue_panel(dispersion=0, n_weeks=10)
    with pytest.raises(ValueError, match="climate_lag"):
        dengue_panel(climate_lag=-1, n_weeks=10)


def test_dengue_seeds():
    a = dengue_panel(n_locations=6, n_weeks=40, random_state=11)
    b = dengue_panel(n_locations=6, n_weeks=40, random_state=11)
    c = dengue_panel(n_locations=6, n_weeks=40, random_state=12)
    pd.testing.assert_frame_equal(a.panel, b.panel)
    np.testing.assert_array_equal(a.truth["spatial_effect"], b.truth["spatial_effect"])
    assert (a.adjacency != b.adjacency).nnz == 0
    assert not a.panel["cases"].equals(c.panel["cases"])
    assert not np.allclose(a.truth["spatial_effect"], c.truth["spatial_effect"])


# --------------------------------------------------------------------------- yield panel


def test_yield_structure(crops):
    y, s = crops.yields, crops.series
    assert crops.source == "simulated"
    assert "SIMULATED" in repr(crops)
    assert list(y.columns) == [
        "adm_id", "harvest_year", "yield", "trend_yield", "stress_index", "shortfall"
    ]  # fmt: skip
    assert list(s.columns) == ["adm_id", "date", "harvest_year", "tmax", "prec", "ndvi"]
    assert len(y) == 30 * 19 and len(s) == 30 * 19 * 180
    check_panel(y, location="adm_id", time="harvest_year", freq="Y")
    assert pd.api.types.is_string_dtype(y["adm_id"]) and pd.api.types.is_string_dtype(s["adm_id"])
    assert y["harvest_year"].dtype == np.int64 and s["harvest_year"].dtype == np.int64
    assert y["shortfall"].dtype == bool
    assert y["yield"].dtype == float and (y["yield"] >= 0).all()
    assert pd.api.types.is_datetime64_any_dtype(s["date"])
    assert sorted(y["harvest_year"].unique()) == list(range(2000, 2019))
    per = s.groupby(["adm_id", "harvest_year"])["date"]
    assert (per.size() == 180).all()
    assert (per.max().dt.strftime("%m-%d") == "09-30").all()
    assert ((per.max() - per.min()).dt.days == 179).all()
    assert (per.max().dt.year == per.max().index.get_level_values("harvest_year")).all()
    assert (s["prec"] >= 0).all() and s["ndvi"].between(0, 1).all()
    np.testing.assert_array_equal(y["shortfall"], y["yield"] < 0.9 * y["trend_yield"])
    assert 0.02 < y["shortfall"].mean() < 0.3
    base = dict(zip(crops.truth["adm_ids"], crops.truth["base_yield"], strict=True))
    expected = y["adm_id"].map(base) + 0.08 * (y["harvest_year"] - 2000)
    np.testing.assert_allclose(y["trend_yield"], expected)
    assert 6 <= min(base.values()) and max(base.values()) <= 11


def test_linear_fit_recovers_trend_and_stress_effect(crops):
    y = crops.yields
    region = pd.get_dummies(y["adm_id"]).to_numpy(float)
    X = np.column_stack([region, y["harvest_year"] - 2000, y["stress_index"]])
    coef, *_ = np.linalg.lstsq(X, y["yield"].to_numpy(), rcond=None)
    assert coef[-2] == pytest.approx(0.08, abs=0.01)
    assert coef[-1] == pytest.approx(-0.6, abs=0.06)
    # trend alone (stress unknown) is still recovered, with a looser tolerance
    coef2, *_ = np.linalg.lstsq(X[:, :-1], y["yield"].to_numpy(), rcond=None)
    assert coef2[-1] == pytest.approx(0.08, abs=0.025)
    resid = y["yield"].to_numpy() - X @ coef
    assert resid.std() == pytest.approx(0.3, abs=0.05)


def test_stress_index_is_computable_from_the_series(crops):
    t, s = crops.truth, crops.series
    g = s.assign(hot=np.maximum(s["tmax"] - t["heat_threshold"], 0)).groupby(
        ["adm_id", "harvest_year"], sort=True
    )
    heat = g["hot"].mean()
    normal = dict(zip(t["adm_ids"], t["prec_normal"], strict=True))
    ratio = g["prec"].sum() / (heat.index.get_level_values("adm_id").map(normal) * 180)
    drought = np.maximum(0, 1 - ratio)
    index = ((heat - t["heat_mean"]) / t["heat_sd"] + (drought - t["drought_mean"]) / t["drought_sd"]) / np.sqrt(2)  # fmt: skip
    np.testing.assert_allclose(index.to_numpy(), crops.yields["stress_index"].to_numpy())
    # ndvi is damped in stressed seasons
    peak_ndvi = g["ndvi"].mean().to_numpy()
    assert np.corrcoef(peak_ndvi, crops.yields["stress_index"])[0, 1] < -0.3
    # shortfalls happen in stressed seasons
    y = crops.yields
    assert y.loc[y["shortfall"], "stress_index"].mean() > y.loc[~y["shortfall"], "stress_index"].mean() + 1  # fmt: skip


def test_yield_seeds_and_arguments():
    kw = {"n_regions": 4, "years": [2001, 2003, 2002], "season_days": 20}
    a, b, c = (yield_panel(**kw, random_state=r) for r in (1, 1, 2))
    pd.testing.assert_frame_equal(a.yields, b.yields)
    pd.testing.assert_frame_equal(a.series, b.series)
    assert not a.yields["yield"].equals(c.yields["yield"])
    assert a.yields["harvest_year"].unique().tolist() == [2001, 2002, 2003]
    gap = yield_panel(n_regions=2, years=[2000, 2005], season_days=5, random_state=0)
    assert len(gap.yields) == 4
    with pytest.raises(ValueError, match="distinct"):
        yield_panel(years=[2000, 2000])
    with pytest.raises(ValueError, match="non-empty"):
        yield_panel(years=[])
    with pytest.raises(ValueError, match="season_days"):
        yield_panel(season_days=0)


def test_environment_grid_is_a_valid_masked_raster_and_seeded():
    from sdmkit import check_raster
    from sdmkit.datasets.simulate import environment_grid

    env = check_raster(environment_grid((30, 20), random_state=1))
    assert env.shape == (3, 30, 20) and env.rio.crs.to_epsg() == 4326
    land = np.isfinite(env.sel(band="temperature")).to_numpy()
    assert 0.2 < land.mean() < 0.95  # a coastline, like real rasters
    assert env.attrs["source"] == "simulated"
    again = environment_grid((30, 20), random_state=1)
    np.testing.assert_array_equal(env.to_numpy(), again.to_numpy())
    species = virtual_species(env, n_presence_absence=100, n_presence_only=50, random_state=1)
    assert len(species.presence_only) == 50
