"""SpatialBlockKFold: folds are unions of whole blocks, balanced, seeded, never empty."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

from sdmkit import ValidationError
from sdmkit.model_selection import SpatialBlockKFold, block_ids


def test_block_ids_follow_the_grid():
    ids = block_ids([0.1, 0.9, 1.1, 0.1], [0.1, 0.2, 0.1, 1.5], 1.0)
    assert ids[0] == ids[1] and len(set(ids)) == 3


def test_folds_partition_points_and_never_split_a_block():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 20, size=(1000, 2))
    cv = SpatialBlockKFold(n_splits=4, block_size=5.0, random_state=0)
    ids = block_ids(xy[:, 0], xy[:, 1], 5.0)
    seen = np.zeros(len(xy), int)
    sizes = []
    for train, test in cv.split(xy, groups=xy):
        seen[test] += 1
        assert not set(ids[train]) & set(ids[test])  # a block is wholly in or out
        sizes.append(len(test))
    assert (seen == 1).all()
    assert max(sizes) - min(sizes) < 150  # balanced by points


def test_seed_changes_folds_and_geodataframe_input():
    xy = np.random.default_rng(2).uniform(0, 20, size=(300, 2))
    a = [t.tolist() for _, t in SpatialBlockKFold(3, 4.0, random_state=0).split(xy, groups=xy)]
    b = [t.tolist() for _, t in SpatialBlockKFold(3, 4.0, random_state=0).split(xy, groups=xy)]
    c = [t.tolist() for _, t in SpatialBlockKFold(3, 4.0, random_state=5).split(xy, groups=xy)]
    assert a == b and a != c
    gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326)
    d = [t.tolist() for _, t in SpatialBlockKFold(3, 4.0, random_state=0).split(gdf)]
    assert d == a


def test_too_few_blocks_is_an_error_not_an_empty_fold():
    xy = np.random.default_rng(0).uniform(0, 1, size=(50, 2))
    with pytest.raises(ValidationError, match="fewer than n_splits=5"):
        list(SpatialBlockKFold(5, 10.0).split(xy, groups=xy))
    with pytest.raises(ValidationError, match="needs coordinates"):
        list(SpatialBlockKFold(2, 1.0).split(xy))


def test_nan_coordinates_are_an_error_not_a_block():
    xy = np.random.default_rng(0).uniform(0, 10, size=(50, 2))
    xy[[3, 7], 1] = [np.nan, np.inf]
    with pytest.raises(ValidationError, match=r"SpatialBlockKFold: coordinates of rows \[3, 7\]"):
        list(SpatialBlockKFold(2, 2.0).split(xy, groups=xy))


def test_spatial_cv_is_harder_than_random_cv_for_a_location_memoriser():
    # target = smooth field + noise; a 1-NN on coordinates memorises location
    from sklearn.neighbors import KNeighborsRegressor

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 40, size=(800, 2))
    y = np.sin(xy[:, 0] / 3) + np.cos(xy[:, 1] / 4) + 0.1 * rng.normal(size=800)
    knn = KNeighborsRegressor(1)
    random_r2 = cross_val_score(knn, xy, y, cv=5).mean()
    spatial_r2 = cross_val_score(knn, xy, y, groups=xy,
                                 cv=SpatialBlockKFold(5, 10.0, random_state=0)).mean()
    assert random_r2 > spatial_r2 + 0.2
    assert cross_val_score(LinearRegression(), xy, y, groups=xy,
                           cv=SpatialBlockKFold(5, 10.0, random_state=0)).shape == (5,)
