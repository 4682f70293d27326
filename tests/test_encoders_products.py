"""embed_grid (lazy, masked, any CRS), embed_polygons (area-weighted) and probes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from sdmkit import ValidationError
from sdmkit.datasets.simulate import environment_grid
from sdmkit.encoders.evaluate import probe, probe_table, raster_probe_targets
from sdmkit.encoders.products import embed_grid, embed_polygons


def identity(lonlat):
    return np.asarray(lonlat, dtype="float64").copy()


def test_embed_grid_regular_grid_is_lazy_and_exact():
    calls = []

    def enc(ll):
        calls.append(len(ll))
        return identity(ll)

    ds = embed_grid(enc, resolution=10.0, chunks=6)
    assert len(calls) == 1  # only the probe call that finds the feature count
    emb = ds["location_embedding"]
    assert emb.dims == ("embedding", "y", "x") and emb.shape == (2, 18, 36)
    assert emb.chunks[1][0] == 6
    values = emb.values
    assert values[0, 0, 0] == -175.0 and values[1, 0, 0] == 85.0  # (lon, lat) of the NW cell
    assert ds.rio.crs.to_epsg() == 4326


def test_embed_grid_masks_nodata_and_reprojects_projected_grids():
    env = environment_grid((24, 18), random_state=0)
    ds = embed_grid(identity, env, chunks=8)
    emb = ds["location_embedding"].values
    nodata = np.isnan(env.isel(band=0).values)
    assert (np.isnan(emb[0]) == nodata).all()
    merc = env.rio.reproject("EPSG:3857")
    emb_m = embed_grid(identity, merc)["location_embedding"].values
    lon = emb_m[0][np.isfinite(emb_m[0])]
    west, _, east, _ = env.rio.bounds()
    assert lon.min() > west - 1 and lon.max() < east + 1  # metres turned back into degrees


def test_embed_grid_writes_zarr(tmp_path):
    import xarray as xr

    ds = embed_grid(identity, resolution=30.0)
    ds.to_zarr(tmp_path / "emb.zarr")
    back = xr.open_zarr(tmp_path / "emb.zarr")
    np.testing.assert_array_equal(back["location_embedding"].values,
                                  ds["location_embedding"].values)


def test_embed_grid_streams_to_netcdf_one_chunk_at_a_time(tmp_path):
    import xarray as xr

    pytest.importorskip("h5netcdf")
    sizes = []

    def enc(ll):
        sizes.append(len(ll))
        return identity(ll)

    ds = embed_grid(enc, resolution=10.0, chunks=6)
    sizes.clear()
    ds.to_netcdf(tmp_path / "emb.nc", engine="h5netcdf")
    # bounded memory: the encoder only ever sees one chunk (6 x 6 cells), never the grid
    assert max(sizes) <= 36 and sum(sizes) == 18 * 36
    with xr.open_dataset(tmp_path / "emb.nc", engine="h5netcdf", decode_coords="all") as back:
        np.testing.assert_array_equal(
            back["location_embedding"].values, ds["location_embedding"].values
        )
        assert back.rio.crs.to_epsg() == 4326


def test_embed_grid_bad_bounds():
    with pytest.raises(ValidationError, match="west, south, east, north"):
        embed_grid(identity, bounds=(10, 0, -10, 5))


def test_embed_polygons_is_an_area_weighted_mean():
    polys = gpd.GeoDataFrame({"name": ["a", "b", "tiny"]}, geometry=[
        box(0, 0, 2, 2), box(10, -1, 11, 3), box(20, 20, 20.0001, 20.0001)], crs=4326)
    out = embed_polygons(identity, polys, samples=200)
    assert list(out.index) == [0, 1, 2] and (out["n_points"] > 0).all()
    assert out.loc[0, ["emb_000", "emb_001"]].tolist() == pytest.approx([1.0, 1.0], abs=0.05)
    assert out.loc[1, ["emb_000", "emb_001"]].tolist() == pytest.approx([10.5, 1.0], abs=0.05)
    assert out.loc[2, "emb_000"] == pytest.approx(20.0, abs=1e-3)  # tiny: still embedded


def test_embed_polygons_bad_input():
    polys = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2)])
    with pytest.raises(ValidationError, match="no CRS"):
        embed_polygons(identity, polys)
    mixed = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2), gpd.points_from_xy([1], [1])[0]],
                             crs=4326)
    with pytest.raises(ValidationError, match=r"rows \[1\] are not"):
        embed_polygons(identity, mixed)
    with pytest.raises(ValidationError, match="empty"):
        embed_polygons(identity, mixed.iloc[:0])


@pytest.mark.parametrize("n, p", [(120, 30), (40, 90)])  # covariance and Gram paths
def test_probe_ridge_is_sklearns_standardised_ridgecv(n, p):
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sdmkit.encoders.evaluate import ALPHAS, _RidgeLOO

    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, p)) * rng.uniform(0.1, 10, p)
    x[:, 0] = 0.886  # a constant column, like the l = 0 harmonic
    y = x[:, 1:4] @ [1.0, -2.0, 0.5] + rng.normal(scale=2.0, size=n)
    labels = np.digitize(y, np.quantile(y, [0.3, 0.6])) * 3 + 1  # 3 classes: 1, 4, 7
    xt = rng.normal(size=(25, p)) * x.std(axis=0)
    ridge = _RidgeLOO(x)
    coef, icpt, alpha = ridge.fit(y)
    ref = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(x, y)
    assert alpha == ref[-1].alpha_
    np.testing.assert_allclose(ridge.predict(xt, coef, icpt)[:, 0], ref.predict(xt),
                               rtol=1e-6, atol=1e-6)
    clf = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=ALPHAS)).fit(x, labels)
    onehot = -np.ones((n, 3))
    onehot[np.arange(n), np.unique(labels, return_inverse=True)[1]] = 1.0
    coef, icpt, alpha = ridge.fit(onehot)
    assert alpha == clf[-1].alpha_
    np.testing.assert_allclose(ridge.predict(xt, coef, icpt), clf.decision_function(xt),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n, p", [(90, 12), (30, 50)])
def test_probe_leave_one_block_out_equals_refitting(n, p):
    from sdmkit.encoders.evaluate import _RidgeLOO

    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, p))
    y = np.c_[x[:, 0] - x[:, 1] + rng.normal(size=n), rng.normal(size=n)]
    groups = rng.integers(0, 7, n)
    ridge = _RidgeLOO(x, alphas=[0.1, 3.0, 100.0])
    ridge.fit(y, groups)
    z = (x - ridge.mean_) / ridge.scale_  # the scaling is fixed, as in RidgeCV's LOO
    for alpha, err in zip(ridge.alphas, ridge.cv_errors_):
        sq = 0.0
        for g in np.unique(groups):
            out, keep = groups == g, groups != g
            zk, yk = z[keep], y[keep]
            zm, ym = zk.mean(axis=0), yk.mean(axis=0)
            coef = np.linalg.solve((zk - zm).T @ (zk - zm) + alpha * np.eye(p),
                                   (zk - zm).T @ (yk - ym))
            sq += np.sum((y[out] - ym - (z[out] - zm) @ coef) ** 2)
        assert err == pytest.approx(sq / y.size, rel=1e-8)


def test_probe_spatial_holdout_punishes_memorising_location():
    rng = np.random.default_rng(0)
    ll = rng.uniform([-60, -30], [-30, 0], size=(600, 2))
    target = np.sin(ll[:, 0] / 2) + np.cos(ll[:, 1] / 3)
    # random Fourier features of high frequency: a memoriser
    w = rng.normal(scale=2.0, size=(2, 100))
    feats = np.c_[np.sin(ll @ w), np.cos(ll @ w)]
    rand = probe(feats, target, ll, split="random")["score"]
    spat = probe(feats, target, ll, split="spatial", block_size=5.0)["score"]
    assert rand > spat


def test_probe_table_and_raster_targets():
    env = environment_grid((30, 24), random_state=2)
    ll, targets = raster_probe_targets(env, {"temperature": "regression"}, n=300)
    assert ll.shape == (300, 2)
    table = probe_table({"lonlat": identity}, ll, targets, block_size=10.0, n_splits=3)
    assert set(table["split"]) == {"random", "spatial"} and (table["metric"] == "r2").all()
    with pytest.raises(ValidationError, match="NaN"):
        probe(np.array([[np.nan], [1.0]]), [1.0, 2.0], np.zeros((2, 2)))
