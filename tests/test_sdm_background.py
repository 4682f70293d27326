"""Background sampling, target-group background, thinning, one-per-cell and class weights."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from shapely.geometry import box

from sdmkit import ValidationError, ValidationWarning, extract
from sdmkit.datasets.simulate import environment_grid, virtual_species
from sdmkit.sdm.background import (
    class_weights,
    one_per_cell,
    sample_background,
    target_group_background,
    thin,
)

BOUNDS = (0.0, 0.0, 40.0, 30.0)  # 40 × 30 cells of 1 degree


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny fits: BLAS/OpenMP threads only add spin-waiting on a busy 2-core machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def env():
    return environment_grid((30, 40), bounds=BOUNDS, random_state=0)


def _valid(env) -> np.ndarray:
    return np.isfinite(env.to_numpy()).all(axis=0)


# ----------------------------------------------------------------- sample_background


def test_uniform_background_lies_on_distinct_valid_cell_centres(env):
    bg = sample_background(env, 300, random_state=1)
    assert len(bg) == 300 and bg.crs == env.rio.crs
    assert list(bg.columns) == ["row", "col", "geometry"]
    assert bg["row"].dtype == "int64" and bg["col"].dtype == "int64"
    assert not bg.duplicated(["row", "col"]).any()  # without replacement
    assert _valid(env)[bg["row"], bg["col"]].all()
    assert np.allclose(bg.geometry.x, env["x"].to_numpy()[bg["col"]])
    assert np.allclose(bg.geometry.y, env["y"].to_numpy()[bg["row"]])
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", ValidationWarning
        )  # every point on a valid cell: extract does not warn
        vals = extract(bg, env)
    assert np.isfinite(vals[["temperature", "precipitation", "elevation"]].to_numpy()).all()


def test_seeds_and_jitter(env):
    a = sample_background(env, 50, random_state=3)
    b = sample_background(env, 50, random_state=3)
    c = sample_background(env, 50, random_state=4)
    assert a.geom_equals(b).all() and not a.geom_equals(c).all()
    j = sample_background(env, 200, random_state=3, jitter=True)
    cx = env["x"].to_numpy()[j["col"]]
    cy = env["y"].to_numpy()[j["row"]]
    dx, dy = j.geometry.x - cx, j.geometry.y - cy
    assert (np.abs(dx) <= 0.5).all() and (np.abs(dy) <= 0.5).all() and np.abs(dx).max() > 0.1
    assert np.isfinite(extract(j, env)["temperature"]).all()  # still inside their cells


def test_uniform_background_is_uniform_over_valid_cells(env):
    valid = _valid(env)
    bg = sample_background(env, 4000, random_state=0, replace=True)
    left = (bg["col"] < 20).mean()
    expected = valid[:, :20].sum() / valid.sum()
    assert abs(left - expected) < 0.03


def test_bias_surface_sets_sampling_probability(env):
    bias = env.isel(band=0, drop=True).copy(
        data=np.where(np.arange(40) < 20, 3.0, 1.0)[None, :] * np.ones((30, 1))
    )
    bg = sample_background(env, 6000, random_state=0, bias=bias, replace=True)
    valid = _valid(env)
    per_cell_left = (bg["col"] < 20).sum() / valid[:, :20].sum()
    per_cell_right = (bg["col"] >= 20).sum() / valid[:, 20:].sum()
    assert per_cell_left / per_cell_right == pytest.approx(3.0, rel=0.15)
    zero_right = bias.where(bias.x < 20, 0.0)
    bg0 = sample_background(env, 100, random_state=0, bias=zero_right)
    assert (bg0["col"] < 20).all()


def test_region_restricts_cells_and_is_reprojected(env):
    region = box(0, 0, 15, 12)
    bg = sample_background(env, 40, random_state=0, region=region)
    assert (bg.geometry.x < 15).all() and (bg.geometry.y < 12).all()
    as_frame = gpd.GeoDataFrame(geometry=[region], crs=4326).to_crs(3857)
    bg2 = sample_background(env, 40, random_state=0, region=as_frame)
    assert (bg2.geometry.x < 15.01).all() and (bg2.geometry.y < 12.01).all()
    with pytest.raises(ValidationError, match="no CRS"):
        sample_background(env, 10, region=gpd.GeoSeries([region]))


def test_too_many_points_returns_all_cells_with_a_warning(env):
    small = box(18, 13, 21, 16)  # 9 cells near the middle of the "continent"
    n_cells = int(_valid(env)[14:17, 18:21].sum())
    assert n_cells > 0
    with pytest.warns(ValidationWarning, match=f"only {n_cells} cells"):
        bg = sample_background(env, 50, random_state=0, region=small)
    assert len(bg) == n_cells


def test_background_overlapping_presences_is_counted_warned_or_dropped(env):
    vs = virtual_species(env, n_presence_absence=10, n_presence_only=150, random_state=0)
    po = vs.presence_only
    occupied = set(zip(po["row"], po["col"]))
    with pytest.warns(ValidationWarning, match="share a location/cell with a presence"):
        bg = sample_background(env, 500, random_state=0, presences=po)
    n_overlap = sum((r, c) in occupied for r, c in zip(bg["row"], bg["col"]))
    assert n_overlap > 0 and bg.attrs["n_overlap"] == n_overlap and len(bg) == 500
    with pytest.warns(ValidationWarning, match=f"dropped {n_overlap}"):
        dropped = sample_background(env, 500, random_state=0, presences=po, overlap="drop")
    assert len(dropped) == 500 - n_overlap
    assert not any((r, c) in occupied for r, c in zip(dropped["row"], dropped["col"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ValidationWarning)
        quiet = sample_background(env, 500, random_state=0, presences=po, overlap="ignore")
    assert quiet.attrs["n_overlap"] == n_overlap


def test_sample_background_bad_input(env):
    with pytest.raises(ValidationError, match="bias grid"):
        sample_background(env, 5, bias=env.isel(band=0, x=slice(0, 20)))
    neg = env.isel(band=0, drop=True) * 0 - 1
    with pytest.raises(ValidationError, match="finite and >= 0"):
        sample_background(env, 5, bias=neg)
    with pytest.raises(ValidationError, match="No valid cell"):
        sample_background(env * np.nan, 5)
    with pytest.raises(ValidationError, match="positive integer"):
        sample_background(env, 0)
    with pytest.raises(ValidationError, match="overlap"):
        sample_background(env, 5, overlap="maybe")


# ----------------------------------------------------------------- target-group background


@pytest.fixture
def records():
    table = pd.DataFrame(
        {
            "spid": ["a", "a", "b", "b", "c", "d", "d"],
            "group": ["bird", "bird", "bird", "bird", "bird", "plant", "plant"],
            "occ": 1,
            "x": [0.0, 1.0, 1.0, 2.0, 2.0, 5.0, 6.0],
            "y": [0.0, 1.0, 1.0, 2.0, 2.0, 5.0, 6.0],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table.x, table.y), crs=4326)


def test_target_group_uses_other_species_of_the_same_group(records):
    with pytest.warns(ValidationWarning, match="1 of 2 background points share"):
        bg = target_group_background(records, "group", "a")
    # b at (1,1), b at (2,2), c at (2,2) -> de-duplicated by location: rows 12, 13
    assert bg.index.tolist() == [12, 13]
    assert set(bg["spid"]) == {"b"} and (bg["occ"] == 0).all() and bg["occ"].dtype == "int64"
    assert bg.attrs["n_overlap"] == 1  # b at (1, 1) is where a was recorded
    assert records["occ"].eq(1).all()  # the input is untouched
    every = target_group_background(records, "group", "a", dedupe=None, overlap="ignore")
    assert every.index.tolist() == [12, 13, 14]
    mapping = {"a": "bird", "b": "bird", "c": "bird", "d": "plant"}
    same = target_group_background(records.drop(columns="group"), mapping, "a", overlap="ignore")
    assert same.index.tolist() == [12, 13]
    incl = target_group_background(records, "group", "a", include_focal=True, overlap="ignore")
    assert incl.index.tolist() == [10, 11, 13]  # (1,1) first seen from a itself
    assert incl.attrs["n_overlap"] == 0  # own records are not overlaps
    with pytest.warns(ValidationWarning, match="dropped 1"):
        dropped = target_group_background(records, "group", "a", overlap="drop")
    assert dropped.index.tolist() == [13]


def test_target_group_dedupe_per_cell(records, env):
    # bird group, focal c: a (0,0), a (1,1), b (1,1), b (2,2); cells of 1 degree
    bg = target_group_background(records, "group", "c", dedupe="cell", raster=env, overlap="ignore")
    assert bg.index.tolist() == [10, 11, 13]
    assert bg.attrs["n_overlap"] == 1  # b at (2, 2) shares c's cell


def test_target_group_errors(records):
    with pytest.raises(ValidationError, match="would be empty"):
        target_group_background(records[records.spid != "c"].iloc[:-1], "group", "d")
    with pytest.raises(ValidationError, match="no record"):
        target_group_background(records, "group", "zz")
    with pytest.raises(ValidationError, match="no group for species"):
        target_group_background(records, {"a": "bird"}, "a")
    with pytest.raises(ValidationError, match="group column"):
        target_group_background(records, "taxon", "a")
    with pytest.raises(ValidationError, match="needs raster"):
        target_group_background(records, "group", "a", dedupe="cell")


@pytest.mark.data("disdat")
def test_target_group_background_nsw_ba_comes_only_from_other_ba_species():
    from sdmkit.datasets import load_disdat

    nsw = load_disdat("NSW")
    ba = sorted(s for s, g in nsw.species_group.items() if g == "ba")
    assert len(ba) >= 2
    focal = ba[0]
    bg = target_group_background(nsw.train_po, "group", focal, overlap="ignore")
    assert set(bg["spid"]) <= set(ba) - {focal} and len(set(bg["spid"])) == len(ba) - 1
    assert (bg["group"] == "ba").all() and (bg["occ"] == 0).all()
    others = nsw.train_po[(nsw.train_po["group"] == "ba") & (nsw.train_po["spid"] != focal)]
    assert len(bg) == len(others.drop_duplicates(["x", "y"]))
    assert bg.crs == nsw.train_po.crs
    assert set(nsw.predictors) <= set(bg.columns)  # covariates travel with the records
    via_map = target_group_background(nsw.train_po, nsw.species_group, focal, overlap="ignore")
    assert via_map.index.equals(bg.index)


# ----------------------------------------------------------------- thinning and one per cell


def test_thin_keeps_a_maximal_subset_with_minimum_spacing():
    rng = np.random.default_rng(0)
    xy = np.r_[rng.normal(0, 1, (300, 2)), rng.uniform(-10, 10, (200, 2))]
    pts = gpd.GeoDataFrame(
        {"id": np.arange(500)}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=3857
    )
    kept = thin(pts, 1.0, random_state=0)
    kxy = np.column_stack([kept.geometry.x, kept.geometry.y])
    assert pdist(kxy).min() >= 1.0
    dropped = ~pts.index.isin(kept.index)
    d = np.hypot(*(xy[dropped][:, None, :] - kxy[None, :, :]).transpose(2, 0, 1))
    assert (d.min(axis=1) < 1.0).all()  # each dropped point has a kept neighbour (maximal)
    assert kept["id"].is_monotonic_increasing  # original order
    again = thin(pts, 1.0, random_state=0)
    other = thin(pts, 1.0, random_state=1)
    assert again.index.equals(kept.index) and not other.index.equals(kept.index)
    best = thin(pts, 1.0, random_state=0, n_repeats=5)
    assert len(best) >= len(kept)
    assert len(thin(pts, 0.0)) == 500


def test_thin_keeps_points_exactly_at_the_distance():
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0.0, 1.0, 2.0], [0.0, 0.0, 0.0]), crs=3857)
    assert len(thin(pts, 1.0, random_state=0)) == 3
    assert len(thin(pts, 1.5, random_state=0)) in (1, 2)
    with pytest.raises(ValidationError, match="distance"):
        thin(pts, -1.0)


def test_one_per_cell(env):
    x = [0.2, 0.8, 0.5, 5.5, 5.1, 39.9, 45.0]
    y = [0.2, 0.4, 0.9, 5.5, 5.9, 29.9, 1.0]
    pts = gpd.GeoDataFrame({"k": range(7)}, geometry=gpd.points_from_xy(x, y), crs=4326)
    with pytest.warns(ValidationWarning, match="1 of 7 points are outside"):
        kept = one_per_cell(pts, env)
    assert kept["k"].tolist() == [0, 3, 5]
    with pytest.warns(ValidationWarning):
        rnd = [
            one_per_cell(pts, env, keep="random", random_state=s)["k"].tolist() for s in range(6)
        ]
    assert all(len(r) == 3 for r in rnd) and len({tuple(r) for r in rnd}) > 1
    in_3857 = pts.iloc[:6].to_crs(3857)
    assert one_per_cell(in_3857, env)["k"].tolist() == [0, 3, 5]  # reprojected to find cells


# ----------------------------------------------------------------- class weights


def test_class_weights_schemes():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    w = class_weights(y, "balanced")
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    from sklearn.utils.class_weight import compute_sample_weight

    assert np.allclose(w, compute_sample_weight("balanced", y))
    m = class_weights(y, "maxent")
    assert m.tolist() == [1, 1, 100, 100, 100, 100, 100, 100]  # maxnet: p + (1 - p) * 100
    elapid = pytest.importorskip("elapid")
    assert np.allclose(m, elapid.features.compute_weights(y))
    ipp = class_weights(y, "ipp", area=12.0)
    assert np.allclose(ipp, [1e-6, 1e-6, 2, 2, 2, 2, 2, 2])
    with pytest.raises(ValidationError, match="both presences and background"):
        class_weights([1, 1], "balanced")
    with pytest.raises(ValidationError, match="scheme"):
        class_weights(y, "equal")
    with pytest.raises(ValidationError, match="0/1"):
        class_weights([1, 2], "balanced")


def test_ipp_weights_give_the_poisson_point_process_mle():
    from scipy.optimize import minimize
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    x = np.log1p(rng.random(500) * (np.e**2 - 1)) / 2  # density ∝ exp(2x) on [0, 1]
    q = (np.arange(1000) + 0.5) / 1000  # quadrature points, area 1
    X = np.r_[x, q][:, None]
    y = np.r_[np.ones(500), np.zeros(1000)]
    w = class_weights(y, "ipp", area=1.0)
    fit = PoissonRegressor(alpha=0, max_iter=1000, tol=1e-10).fit(X, y / w, sample_weight=w)

    def nll(p):  # exact IPP negative log-likelihood, integral by the same quadrature
        return -(500 * p[0] + p[1] * x.sum()) + np.mean(np.exp(p[0] + p[1] * q))

    exact = minimize(nll, [0.0, 0.0]).x
    assert fit.intercept_ == pytest.approx(exact[0], abs=0.01)
    assert fit.coef_[0] == pytest.approx(exact[1], abs=0.01)
    assert abs(fit.coef_[0] - 2.0) < 0.6  # the true slope
