"""extract(): cell conventions, bilinear weights, reprojection, NaN with warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from sdmkit import ValidationError, ValidationWarning, extract, points_from_xy


def raster(crs="EPSG:4326"):
    # 3 x 4 grid of 1-degree cells, x 0..4, y 0..3 (north up); value = 10*row + col
    values = np.array([[0.0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 22, 23]])
    da = xr.DataArray(values, dims=("y", "x"), name="v",
                      coords={"y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    return da.rio.write_crs(crs)


def pts(lon, lat):
    return points_from_xy(pd.DataFrame({"lon": lon, "lat": lat}))


def test_nearest_picks_the_containing_cell_and_edges_go_right_and_down():
    out = extract(pts([0.1, 3.9, 1.0, 2.0], [2.9, 0.1, 2.5, 1.0]), raster())
    # (1.0, 2.5) lies on the edge between columns 0 and 1 -> column 1;
    # (2.0, 1.0) on the edge between rows 1 and 2 -> row 2, column 2
    assert out["v"].tolist() == [0.0, 23.0, 1.0, 22.0]


def test_far_edges_belong_to_the_last_cells():
    out = extract(pts([4.0, 0.0], [0.0, 3.0]), raster())
    assert out["v"].tolist() == [23.0, 0.0]


def test_bilinear_interpolates_between_cell_centres():
    r = raster()
    out = extract(pts([1.0, 1.5, 2.0], [2.0, 1.5, 1.0]), r, method="bilinear")
    # (1, 2): midway between centres x .5/1.5 and y 2.5/1.5 -> mean of 0, 1, 10, 11
    assert out["v"].tolist() == pytest.approx([5.5, 11.0, 16.5])


def test_bilinear_skips_nan_neighbours_but_keeps_nan_cells():
    r = raster().copy()
    r[0, 0] = np.nan
    out = extract(pts([1.0, 0.5], [2.0, 2.5]), r, method="bilinear")
    assert out["v"].iloc[0] == pytest.approx((1 + 10 + 11) / 3)
    assert np.isnan(out["v"].iloc[1])


def test_outside_points_are_nan_with_a_counted_warning_and_never_dropped():
    p = pts([0.5, 10.0, -1.0], [0.5, 0.5, 0.5])
    with pytest.warns(ValidationWarning, match="of 3 points, 2 outside the raster"):
        out = extract(p, raster())
    assert len(out) == 3 and out.index.equals(p.index)
    assert out["v"].iloc[0] == 20.0 and out["v"].iloc[1:].isna().all()


def test_points_are_reprojected_to_the_raster_crs():
    r = raster().rio.reproject("EPSG:3857")
    p = pts([0.5, 3.5], [2.5, 0.5])
    out = extract(p, r)
    assert out.crs == p.crs  # the caller's points come back as given
    assert out["v"].tolist() == [0.0, 23.0]


def test_several_rasters_bands_and_column_clashes():
    a = raster()
    b = (raster() * 2).rename("w")
    out = extract(pts([0.5], [0.5]), [a, b])
    assert out[["v", "w"]].iloc[0].tolist() == [20.0, 40.0]
    with pytest.raises(ValidationError, match="already exists.*prefix="):
        extract(out, a)
    assert "env_v" in extract(out, a, prefix="env_").columns


def test_categorical_bands_are_never_interpolated():
    r = raster()
    r.attrs["categorical"] = ["v"]
    out = extract(pts([1.0], [2.0]), r, method="bilinear")
    assert out["v"].iloc[0] == 11.0  # the containing cell, not a blend


def test_dask_backed_rasters_work():
    r = raster().chunk({"x": 2, "y": 2})
    out = extract(pts([3.5], [0.5]), r)
    assert out["v"].iloc[0] == 23.0


def test_bad_method():
    with pytest.raises(ValueError, match="'nearest' or 'bilinear'"):
        extract(pts([0.5], [0.5]), raster(), method="cubic")
