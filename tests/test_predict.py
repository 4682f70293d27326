"""Tests for sdmkit.predict: predict_raster, response curves, suitability maps."""

from __future__ import annotations

import threading
import warnings

import dask
import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.linear_model import LogisticRegression

from sdmkit import ValidationError, ValidationWarning, extract
from sdmkit.datasets.simulate import environment_grid, virtual_species
from sdmkit.predict import plot_response_curves, predict_raster, response_curves, suitability_map
from sdmkit.sdm.models import GLM, DownsampledRandomForest, Ensemble, SplineGAM

matplotlib.use("Agg")
BANDS = ["temperature", "precipitation", "elevation"]


@pytest.fixture(scope="module")
def env():
    return environment_grid((40, 30), random_state=3)


def _cells(raster):
    """Cell-centre points of every cell with all bands finite, and the valid mask."""
    valid = np.isfinite(raster.to_numpy()).all(axis=0)
    rows, cols = np.nonzero(valid)
    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(raster["x"].to_numpy()[cols], raster["y"].to_numpy()[rows]),
        crs=raster.rio.crs,
    )
    return pts, valid


@pytest.fixture(scope="module")
def fitted(env):
    vs = virtual_species(env, n_presence_only=120, random_state=4)
    pts, _ = _cells(env)
    bg = pts.sample(600, replace=True, random_state=0)
    X = pd.concat(
        [extract(vs.presence_only, env)[BANDS], extract(bg, env)[BANDS]], ignore_index=True
    )
    y = np.r_[np.ones(len(vs.presence_only), int), np.zeros(len(bg), int)]
    return {
        "glm": GLM().fit(X, y),
        "rf": DownsampledRandomForest(n_estimators=30, random_state=0).fit(X, y),
        "X": X,
        "y": y,
    }


class Counting:
    """Wraps a model and records the number of rows of every predict_proba call."""

    def __init__(self, model):
        self.model = model
        self.feature_names_in_ = model.feature_names_in_
        self.categories_ = getattr(model, "categories_", {})
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def predict_proba(self, X):
        with self._lock:
            self.calls.append(len(X))
        return self.model.predict_proba(X)


# --------------------------------------------------------------------------- predict_raster


@pytest.mark.parametrize("name", ["glm", "rf"])
def test_equals_predict_proba_on_extracted_table(env, fitted, name):
    model = fitted[name]
    prob = predict_raster(model, env, chunks=(11, 7)).compute()
    pts, valid = _cells(env)
    table = extract(pts, env)[BANDS]
    expected = model.predict_proba(table)[:, 1]
    np.testing.assert_allclose(prob.to_numpy()[valid], expected, rtol=0, atol=1e-12)
    assert prob.dims == ("y", "x") and prob.name == "probability"
    assert prob.rio.crs == env.rio.crs
    np.testing.assert_array_equal(prob["x"], env["x"])
    np.testing.assert_array_equal(prob["y"], env["y"])


def test_nan_cells_are_nan_and_unused_bands_ignored(env, fitted):
    raster = env.copy(data=env.to_numpy().copy())
    raster[1, 5, 5] = np.nan  # a valid cell loses one covariate
    extra = xr.full_like(raster.isel(band=[0]), np.nan).assign_coords(band=["unused"])
    raster = xr.concat([raster, extra], dim="band").rio.write_crs(env.rio.crs)
    prob = predict_raster(fitted["glm"], raster, chunks=16).compute().to_numpy()
    valid = np.isfinite(env.to_numpy()).all(axis=0)
    valid[5, 5] = False
    assert np.isfinite(prob[valid]).all()
    assert np.isnan(prob[~valid]).all()


def test_lazy_and_bounded_by_chunks(env, fitted):
    model = Counting(fitted["glm"])
    prob = predict_raster(model, env, chunks=(8, 10))
    assert isinstance(prob.data, dask.array.Array)
    assert model.calls == []  # nothing computed yet
    assert prob.chunks == ((8,) * 5, (10,) * 3)
    prob.compute()
    assert 0 < len(model.calls) <= 15  # at most one call per chunk (all-NaN chunks skipped)
    assert max(model.calls) <= 8 * 10  # never more rows than one chunk
    assert sum(model.calls) == int(np.isfinite(env.to_numpy()).all(axis=0).sum())


def test_dask_input_chunks_and_dataset_input(env, fitted):
    model = fitted["glm"]
    expected = predict_raster(model, env).compute()
    chunked = env.chunk({"band": 1, "y": 9, "x": 13})
    out = predict_raster(model, chunked)
    assert out.chunks == ((9, 9, 9, 9, 4), (13, 13, 4))
    xr.testing.assert_allclose(out.compute(), expected)
    ds = env.to_dataset("band").rio.write_crs(env.rio.crs)
    assert set(ds.data_vars) == set(BANDS)
    xr.testing.assert_allclose(predict_raster(model, ds, chunks=12).compute(), expected)
    # bands in another order are matched by name
    shuffled = env.sel(band=BANDS[::-1])
    xr.testing.assert_allclose(predict_raster(model, shuffled).compute(), expected)


def test_missing_feature_band_is_an_error(env, fitted):
    with pytest.raises(ValidationError, match=r"\[elevation\] that are not bands"):
        predict_raster(fitted["glm"], env.sel(band=BANDS[:2]))


def test_numpy_model_uses_band_order(env, fitted):
    X, y = fitted["X"], fitted["y"]
    model = LogisticRegression().fit(X.to_numpy(), y)
    prob = predict_raster(model, env, chunks=15).compute()
    pts, valid = _cells(env)
    expected = model.predict_proba(extract(pts, env)[BANDS].to_numpy())[:, 1]
    np.testing.assert_allclose(prob.to_numpy()[valid], expected, atol=1e-12)
    with pytest.raises(ValueError, match="no method 'decision_path'"):
        predict_raster(
            model, env, method="decision_function_x".replace("decision_function_x", "decision_path")
        )
    logit = predict_raster(model, env, method="decision_function").compute()
    assert logit.name == "decision_function"
    np.testing.assert_allclose(
        logit.to_numpy()[valid], model.decision_function(extract(pts, env)[BANDS].to_numpy())
    )


def _with_soil(env, soil_values):
    soil = xr.full_like(env.isel(band=[0]), np.nan).assign_coords(band=["soil"])
    soil[0] = np.where(np.isfinite(env[0].to_numpy()), soil_values, np.nan)
    return xr.concat([env, soil], dim="band").rio.write_crs(env.rio.crs)


@pytest.mark.parametrize("labels", [[1, 2, 3], ["1", "2", "3"]])
def test_categorical_band(env, labels):
    ny, nx = env.sizes["y"], env.sizes["x"]
    codes = (np.add.outer(np.arange(ny), np.arange(nx)) // 12 % 3 + 1).astype(float)
    raster = _with_soil(env, codes)
    pts, valid = _cells(raster)
    table = extract(pts, raster)
    X = table[BANDS].assign(
        soil=pd.Categorical([labels[int(c) - 1] for c in table["soil"]], categories=labels)
    )
    y = ((X["temperature"] > X["temperature"].median()) | (X["soil"] == labels[2])).astype(int)
    model = GLM().fit(X, y)
    prob = predict_raster(model, raster, chunks=13).compute()
    np.testing.assert_allclose(prob.to_numpy()[valid], model.predict_proba(X)[:, 1], atol=1e-12)
    # a level the model never saw: the model warns, the cells are still predicted
    rows, cols = np.nonzero(valid)
    soil = raster[3].to_numpy().copy()
    soil[rows[:20], cols[:20]] = 7.0
    raster[3] = soil
    with pytest.warns(ValidationWarning, match=r"'soil'.*\[7\]|'soil'.*\['7'\]"):
        with dask.config.set(scheduler="synchronous"):
            out = predict_raster(model, raster, chunks=13).compute().to_numpy()
    assert np.isfinite(out[valid]).all()


def test_categorical_levels_must_be_known(env):
    raster = _with_soil(env, 1.0)
    X = pd.DataFrame({"temperature": [0.0, 1.0, 2.0, 3.0], "soil": [1.0, 1.0, 2.0, 2.0]})
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    with pytest.raises(ValidationError, match="does not expose their levels"):
        predict_raster(model, raster, categorical=["soil"])


def test_embed_hook(env, fitted):
    def embed(lonlat):
        return np.column_stack([np.sin(np.radians(lonlat[:, 0])), lonlat[:, 1] / 90.0])

    pts, valid = _cells(env)
    lonlat = np.column_stack([pts.geometry.x, pts.geometry.y])
    table = pd.concat(
        [
            extract(pts, env)[BANDS].reset_index(drop=True),
            pd.DataFrame(embed(lonlat), columns=["emb_000", "emb_001"]),
        ],
        axis=1,
    )
    y = (table["emb_001"] > table["emb_001"].median()).astype(int)
    model = GLM().fit(table, y)
    prob = predict_raster(model, env, chunks=(9, 11), embed=embed).compute()
    np.testing.assert_allclose(prob.to_numpy()[valid], model.predict_proba(table)[:, 1], atol=1e-12)
    with pytest.raises(ValidationError, match="not bands of the raster"):
        predict_raster(model, env)  # embedding features need embed=


def test_embed_hook_reprojects_cell_centres_to_lonlat(env):
    merc = env.rio.reproject("EPSG:3857")
    seen = []

    def embed(lonlat):
        seen.append(lonlat)
        return pd.DataFrame({"lat": lonlat[:, 1]})

    table = pd.DataFrame({"temperature": [0.0, 1.0], "lat": [-10.0, 5.0]})
    model = LogisticRegression().fit(table, [0, 1])
    predict_raster(model, merc, embed=embed).compute()
    ll = np.concatenate(seen)
    west, south, east, north = env.rio.bounds()
    assert (ll[:, 0] > west - 1).all() and (ll[:, 0] < east + 1).all()
    assert (ll[:, 1] > south - 1).all() and (ll[:, 1] < north + 1).all()


def test_rank_ensemble_refused_reference_ensemble_mapped(env, fitted):
    X, y = fitted["X"], fitted["y"]
    members = [("glm", GLM()), ("gam", SplineGAM())]
    with pytest.raises(ValueError, match="normalize='reference'"):
        predict_raster(Ensemble(members).fit(X, y), env)
    ens = Ensemble(members, normalize="reference").fit(X, y)
    prob = predict_raster(ens, env, chunks=10).compute()
    pts, valid = _cells(env)
    # the background was drawn at cell centres, so many cells tie a training prediction:
    # chunking must not move them across the tie
    np.testing.assert_allclose(
        prob.to_numpy()[valid], ens.predict_proba(extract(pts, env)[BANDS])[:, 1], atol=1e-12
    )


# --------------------------------------------------------------------------- response curves


@pytest.fixture(scope="module")
def monotone():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "t": rng.uniform(0, 1, 2000),
            "r": rng.uniform(0, 1, 2000),
            "soil": pd.Categorical(rng.choice(["a", "b", "c"], 2000)),
        }
    )
    logit = -1 + 4 * X["t"] - 3 * X["r"] + 1.5 * (X["soil"] == "c")
    y = (rng.random(2000) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


@pytest.mark.parametrize("kind", ["profile", "average"])
@pytest.mark.parametrize("model", [GLM(quadratic=False), SplineGAM(C=0.1)], ids=["glm", "gam"])
def test_response_curves_monotone_for_monotone_truth(monotone, model, kind):
    X, y = monotone
    curves = response_curves(model.fit(X, y), X, n=25, kind=kind)
    assert list(curves.columns) == ["feature", "value", "level", "response"]
    assert curves["value"].dtype == np.float64 and curves["response"].dtype == np.float64
    t = curves[curves["feature"] == "t"]
    r = curves[curves["feature"] == "r"]
    assert len(t) == 25 and t["level"].isna().all()
    assert (np.diff(t["response"]) > 0).all()
    assert (np.diff(r["response"]) < 0).all()
    assert t["value"].iloc[0] == pytest.approx(X["t"].min())
    soil = curves[curves["feature"] == "soil"].set_index("level")["response"]
    assert (
        soil.index.tolist() == ["a", "b", "c"]
        and curves.loc[curves["feature"] == "soil", "value"].isna().all()
    )
    assert soil["c"] > soil["a"] and soil["c"] > soil["b"]


def test_response_curves_profile_holds_others_at_median(monotone):
    X, y = monotone
    model = Counting(GLM(quadratic=False).fit(X, y))
    response_curves(model, X, ["t"], n=5)
    assert model.calls == [5]
    curves = response_curves(model.model, X, ["t"], n=5)
    grid = pd.DataFrame(
        {
            "t": np.linspace(X["t"].min(), X["t"].max(), 5),
            "r": X["r"].median(),
            "soil": pd.Categorical([X["soil"].mode()[0]] * 5, categories=X["soil"].cat.categories),
        }
    )
    np.testing.assert_allclose(curves["response"], model.model.predict_proba(grid)[:, 1])


def test_response_curves_numpy_and_errors(monotone):
    X, y = monotone
    arr = X[["t", "r"]].to_numpy()
    model = LogisticRegression().fit(arr, y)
    curves = response_curves(model, arr, n=10)
    assert curves["feature"].unique().tolist() == ["x0", "x1"]
    with pytest.raises(ValidationError, match="not columns of X"):
        response_curves(model, X, ["nope"])
    with pytest.raises(ValueError, match="kind"):
        response_curves(model, arr, kind="ice")


def test_plot_response_curves(monotone):
    X, y = monotone
    curves = response_curves(GLM().fit(X, y), X, n=20)
    fig = plot_response_curves(curves, ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["t", "r", "soil"]
    assert len(visible[0].lines) == 1 and len(visible[2].patches) == 3
    matplotlib.pyplot.close(fig)


# --------------------------------------------------------------------------- maps


def test_suitability_map_interactive_and_static(env, fitted):
    prob = predict_raster(fitted["glm"], env, chunks=16)
    pts, _ = _cells(env)
    pts = pts.iloc[:5]
    m = suitability_map(prob, pts)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["ImageOverlay", "LayerGroup"]
    assert m.layers[0].name == "probability of presence"
    legends = [c for c in m.controls if type(c).__name__ == "LegendControl"]
    assert list(legends[0].legend) == ["presences (5)"]
    assert any(type(c).__name__ == "WidgetControl" for c in m.controls)  # colour bar
    ax = suitability_map(prob, pts, interactive=False)
    assert len(ax.images) == 1 and ax.get_title() == "probability of presence"
    matplotlib.pyplot.close(ax.figure)
    with pytest.raises(ValidationError, match="bands"):
        suitability_map(env)


# --------------------------------------------------------------------------- real data


@pytest.mark.data("dismo")
def test_bradypus_forest_map_matches_points():
    from sdmkit.datasets import load_bioclim, load_bradypus

    grids = load_bioclim()
    bands = [str(b) for b in grids["band"].to_numpy()]
    presences = load_bradypus()
    bg_cells, _ = _cells(grids)
    rng = np.random.default_rng(0)
    background = bg_cells.iloc[rng.choice(len(bg_cells), 1000, replace=False)]
    pres = extract(presences, grids)
    assert len(pres) == 116 and pres[bands].notna().all().all()  # every record on a valid cell
    bg = extract(background, grids)
    X = pd.concat([pres[bands], bg[bands]], ignore_index=True)
    X["biome"] = pd.Categorical(X["biome"].astype("int64"))
    y = np.r_[np.ones(len(pres), int), np.zeros(len(bg), int)]
    rf = DownsampledRandomForest(n_estimators=100, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)  # biomes absent from the sample
        prob = predict_raster(rf, grids, chunks=64).compute()
    at = extract(pres[["geometry"]], prob)["probability"].to_numpy()
    np.testing.assert_allclose(at, rf.predict_proba(X.iloc[: len(pres)])[:, 1])
    valid = np.isfinite(grids.to_numpy()).all(axis=0)
    assert np.isfinite(prob.to_numpy()[valid]).all() and np.isnan(prob.to_numpy()[~valid]).all()
    assert at.mean() > np.nanmean(prob.to_numpy()) + 0.2
