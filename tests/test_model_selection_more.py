"""Checkerboard, buffered leave-one-out, environmental-cluster folds and block size from a variogram."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from sdmkit import ValidationError, ValidationWarning
from sdmkit.model_selection import (
    BufferedLeaveOneOut,
    CheckerboardSplit,
    EnvironmentalClusterKFold,
    SpatialBlockKFold,
    block_size_from_autocorrelation,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny fits: BLAS/OpenMP threads only add spin-waiting on a busy 2-core machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _xy(n=600, seed=0, extent=20.0):
    return np.random.default_rng(seed).uniform(0, extent, size=(n, 2))


def _partition(cv, X, **kw):
    seen = np.zeros(len(X), int)
    folds = []
    for train, test in cv.split(X, **kw):
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(X)
        seen[test] += 1
        folds.append(test)
    assert (seen == 1).all()
    return folds


# ----------------------------------------------------------------- checkerboard


def test_checkerboard_two_colours_alternate_between_neighbouring_blocks():
    xy = _xy()
    cv = CheckerboardSplit(block_size=2.0)
    folds = _partition(cv, xy, groups=xy)
    assert len(folds) == cv.get_n_splits() == 2
    col = np.floor((xy[:, 0] - xy[:, 0].min()) / 2.0).astype(int)
    row = np.floor((xy[:, 1] - xy[:, 1].min()) / 2.0).astype(int)
    parity = (row + col) % 2
    assert set(parity[folds[0]]) == {0} and set(parity[folds[1]]) == {1}
    # a block is wholly in one fold, and edge-neighbouring blocks are in different folds
    fold = cv.fold_of(xy)
    blocks = pd.DataFrame({"row": row, "col": col, "fold": fold}).drop_duplicates()
    assert not blocks.duplicated(["row", "col"]).any()
    lookup = {(r, c): f for r, c, f in blocks.itertuples(index=False)}
    for (r, c), f in lookup.items():
        for nb in ((r + 1, c), (r, c + 1)):
            if nb in lookup:
                assert lookup[nb] != f


def test_hierarchical_checkerboard_makes_four_folds():
    xy = _xy(2000)
    cv = CheckerboardSplit(block_size=1.0, hierarchical=True, coarse_factor=2)
    folds = _partition(cv, xy, groups=xy)
    assert len(folds) == 4 and min(len(f) for f in folds) > 300
    fold = cv.fold_of(xy)
    col = np.floor(xy[:, 0] - xy[:, 0].min()).astype(int)
    row = np.floor(xy[:, 1] - xy[:, 1].min()).astype(int)
    assert np.array_equal(fold % 2, (row + col) % 2)  # fine colour
    assert np.array_equal(fold // 2, (row // 2 + col // 2) % 2)  # coarse colour


def test_checkerboard_geodataframe_origin_and_empty_folds():
    xy = _xy(200)
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=3857)
    a = [t.tolist() for _, t in CheckerboardSplit(3.0).split(gdf)]
    b = [t.tolist() for _, t in CheckerboardSplit(3.0).split(xy, groups=xy)]
    assert a == b
    shifted = [t.tolist() for _, t in CheckerboardSplit(3.0, origin=(-1.5, 0)).split(gdf)]
    assert shifted != a
    y = (xy[:, 0] > 10).astype(int)
    scores = cross_val_score(LogisticRegression(), xy, y, groups=xy, cv=CheckerboardSplit(3.0))
    assert len(scores) == 2 and (scores > 0.8).all()
    with pytest.raises(ValidationError, match=r"leaves folds \[1\] empty.*smaller block_size"):
        list(CheckerboardSplit(100.0).split(xy, groups=xy))
    with pytest.raises(ValidationError, match="needs coordinates"):
        list(CheckerboardSplit(1.0).split(xy))


# ----------------------------------------------------------------- buffered leave-one-out


def test_buffered_loo_respects_the_buffer():
    xy = _xy(120, seed=1, extent=10.0)
    cv = BufferedLeaveOneOut(buffer=1.5)
    splits = list(cv.split(xy, groups=xy))
    assert len(splits) == cv.get_n_splits(groups=xy) == 120
    d = cdist(xy, xy)
    for i, (train, test) in enumerate(splits):
        assert test.tolist() == [i]
        assert (d[i, train] > 1.5).all()  # nothing within the buffer trains
        outside = np.flatnonzero(d[i] > 1.5)
        assert np.array_equal(np.sort(train), outside)  # everything outside does


def test_buffered_loo_zero_buffer_drops_duplicate_locations():
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    splits = list(BufferedLeaveOneOut(0.0).split(xy, groups=xy))
    assert [t.tolist() for t, _ in splits] == [[2], [2], [0, 1]]


def test_buffered_loo_presence_background_mode():
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 10, size=(200, 2))
    y = (rng.random(200) < 0.1).astype(int)
    cv = BufferedLeaveOneOut(buffer=1.0, presence_background=True)
    splits = list(cv.split(xy, y, groups=xy))
    assert len(splits) == cv.get_n_splits(y=y) == y.sum()
    d = cdist(xy, xy)
    for (train, test), i in zip(splits, np.flatnonzero(y == 1)):
        assert test.tolist() == [i]
        assert (d[i, train] > 1.0).all() and set(y[train]) == {0, 1}
    add = BufferedLeaveOneOut(buffer=1.0, presence_background=True, add_background=True)
    for (_, test), i in zip(add.split(xy, y, groups=xy), np.flatnonzero(y == 1)):
        assert test[0] == i and (y[test[1:]] == 0).all()
        assert np.array_equal(np.sort(test[1:]), np.flatnonzero((d[i] <= 1.0) & (y == 0)))
    # works inside scikit-learn: one presence per test fold plus its nearby background
    X = np.c_[xy, rng.normal(size=200)]
    scores = cross_val_score(LogisticRegression(), X, y, groups=xy, cv=add, scoring="neg_log_loss")
    assert len(scores) == y.sum()


def test_buffered_loo_errors():
    xy = np.array([[0.0, 0.0], [0.5, 0.0], [0.7, 0.0]])
    with pytest.raises(ValidationError, match=r"test points \[0, 1, 2\].*smaller buffer"):
        list(BufferedLeaveOneOut(5.0).split(xy, groups=xy))
    with pytest.raises(ValidationError, match="needs y"):
        list(BufferedLeaveOneOut(0.1, presence_background=True).split(xy, groups=xy))
    with pytest.raises(ValidationError, match="no presence"):
        list(BufferedLeaveOneOut(0.1, presence_background=True).split(xy, [0, 0, 0], groups=xy))
    with pytest.raises(ValidationError, match="buffer must be"):
        list(BufferedLeaveOneOut(-1.0).split(xy, groups=xy))


# ----------------------------------------------------------------- environmental clusters


def test_environmental_clusters_partition_and_separate_environments():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    env = np.repeat(centres, 50, axis=0) + rng.normal(size=(200, 2))
    X = pd.DataFrame(
        {
            "temp": env[:, 0],
            "rain": env[:, 1] * 100,  # scale must not matter
            "veg": pd.Categorical(rng.integers(0, 3, 200)),
        }
    )
    cv = EnvironmentalClusterKFold(n_splits=4, random_state=0)
    folds = _partition(cv, X)
    truth = np.repeat(np.arange(4), 50)
    assert sorted(tuple(sorted(set(truth[f]))) for f in folds) == [(0,), (1,), (2,), (3,)]
    a = [f.tolist() for _, f in cv.split(X)]
    b = [f.tolist() for _, f in EnvironmentalClusterKFold(4, random_state=0).split(X)]
    assert a == b
    y = (X["temp"] > 5).astype(int)
    scores = cross_val_score(LogisticRegression(), X[["temp", "rain"]], y, cv=cv)
    assert len(scores) == 4  # each fold is one cluster (a single class: accuracy still defined)
    only_temp = EnvironmentalClusterKFold(2, random_state=0, columns=["temp"]).cluster_labels(X)
    assert len(set(only_temp[env[:, 0] < 5])) == 1  # clustered on temp alone


def test_environmental_clusters_seed_geodataframe_and_errors():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    labels = {s: EnvironmentalClusterKFold(5, random_state=s).cluster_labels(X) for s in range(4)}
    assert all(len(np.unique(v)) == 5 for v in labels.values())
    gdf = gpd.GeoDataFrame(
        {"a": X[:, 0], "b": X[:, 1]}, geometry=gpd.points_from_xy(X[:, 0], X[:, 1]), crs=3857
    )
    assert len(list(EnvironmentalClusterKFold(3, random_state=0).split(gdf))) == 3
    X_nan = X.copy()
    X_nan[7, 1] = np.nan
    with pytest.raises(ValidationError, match=r"rows \[7\]"):
        list(EnvironmentalClusterKFold(3).split(X_nan))
    with pytest.raises(ValidationError, match="distinct covariate rows"):
        list(EnvironmentalClusterKFold(3).split(np.ones((10, 2))))
    with pytest.raises(ValidationError, match="no numeric covariate"):
        list(EnvironmentalClusterKFold(2).split(pd.DataFrame({"c": pd.Categorical(list("ab"))})))


# ----------------------------------------------------------------- block size from a variogram


def _field(n, effective_range, seed, nugget=0.0, xy=None):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(n, 2)) if xy is None else xy
    cov = np.exp(-3 * cdist(xy, xy) / effective_range)
    z = np.linalg.cholesky(cov + 1e-9 * np.eye(n)) @ rng.normal(size=n)
    return xy, z + nugget * rng.normal(size=n)


def test_block_size_recovers_the_effective_range():
    sizes = {}
    for r in (8.0, 25.0):
        xy, z = _field(500, r, seed=1)
        sizes[r] = block_size_from_autocorrelation(xy, z)
        assert r / 2 < sizes[r] < 2 * r
    assert sizes[25.0] > 1.5 * sizes[8.0]


def test_block_size_details_median_and_usable_by_splitters():
    xy, z1 = _field(400, 10.0, seed=2)
    _, z2 = _field(400, 30.0, seed=3, xy=xy)
    _, z3 = _field(400, 20.0, seed=4, nugget=0.3, xy=xy)
    values = pd.DataFrame({"a": z1, "b": z2, "c": z3})
    size, details = block_size_from_autocorrelation(
        xy, values, max_distance=60.0, return_details=True
    )
    assert size == pytest.approx(np.median(list(details["ranges"].values())))
    assert set(details["ranges"]) == {"a", "b", "c"}
    assert details["ranges"]["a"] < details["ranges"]["b"]
    params = details["params"].set_index("variable")
    assert params.loc["c", "nugget"] > params.loc["a", "nugget"]
    vg = details["variogram"]
    assert list(vg.columns) == ["variable", "lag", "gamma", "n_pairs", "fitted"]
    assert vg["n_pairs"].dtype == "int64" and (vg["n_pairs"] > 0).all()
    assert (vg.groupby("variable")["lag"].apply(lambda s: s.is_monotonic_increasing)).all()
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=3857)
    assert block_size_from_autocorrelation(gdf, values, max_distance=60.0) == pytest.approx(size)
    folds = list(SpatialBlockKFold(4, block_size=size, random_state=0).split(xy, groups=xy))
    assert len(folds) == 4


def test_block_size_warnings_and_errors():
    rng = np.random.default_rng(0)
    noise_xy = rng.uniform(0, 100, size=(1500, 2))
    with pytest.warns(ValidationWarning, match="almost no spatial autocorrelation"):
        block_size_from_autocorrelation(noise_xy, rng.normal(size=1500))  # white noise
    xy = noise_xy[:300]
    with pytest.warns(ValidationWarning, match="does not reach its sill"):
        block_size_from_autocorrelation(xy, xy[:, 0] + 0.01 * rng.normal(size=300))  # trend
    with pytest.raises(ValidationError, match="constant"):
        block_size_from_autocorrelation(xy, np.ones(300))
    z = rng.normal(size=300)
    z[4] = np.nan
    with pytest.raises(ValidationError, match=r"rows \[4\]"):
        block_size_from_autocorrelation(xy, z)
    with pytest.raises(ValidationError, match="one row per point"):
        block_size_from_autocorrelation(xy, np.ones(20))
    fxy, fz = _field(600, 15.0, seed=6)
    a, b, c = (
        block_size_from_autocorrelation(fxy, fz, max_points=300, random_state=s) for s in (0, 0, 1)
    )
    assert a == b and a != c  # the subset of points is seeded
