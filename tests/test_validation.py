"""sdmkit._validation: every check fails loudly, names rows, and says how to fix it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from sdmkit import ValidationError, check_panel, check_points, check_raster, points_from_xy


def grid(values=None, crs="EPSG:4326", x0=-80.0, y0=10.0, res=1.0, shape=(20, 30)):
    ny, nx = shape
    values = np.arange(ny * nx, dtype=float).reshape(ny, nx) if values is None else values
    da = xr.DataArray(
        values, dims=("y", "x"), name="v",
        coords={"y": y0 - res * (np.arange(ny) + 0.5), "x": x0 + res * (np.arange(nx) + 0.5)},
    )
    return da.rio.write_crs(crs) if crs else da


def test_points_from_xy_keeps_rows_and_sets_crs():
    t = pd.DataFrame({"lon": [-60.0, 10.5], "lat": [-5.0, 45.0], "id": ["a", "b"]})
    p = points_from_xy(t)
    assert p.crs.to_epsg() == 4326
    assert list(p["id"]) == ["a", "b"]
    assert p.geometry.x.tolist() == [-60.0, 10.5]


@pytest.mark.parametrize(
    "lon, lat, match",
    [
        ([200.0, 0.0], [0.0, 0.0], r"longitude outside \[-180, 180\] in rows \[0\]"),
        ([0.0, 0.0], [0.0, -95.0], r"latitude outside \[-90, 90\] in rows \[1\]"),
        ([0.0, np.nan], [0.0, 1.0], r"NaN or infinite coordinates in rows \[1\]"),
    ],
)
def test_bad_coordinates_name_rows(lon, lat, match):
    with pytest.raises(ValidationError, match=match):
        points_from_xy(pd.DataFrame({"lon": lon, "lat": lat}))


def test_lat_lon_swap_is_detected_by_range():
    # latitudes > 90 while every longitude fits in [-90, 90]: the columns are swapped
    t = pd.DataFrame({"lon": [-10.0, -20.0], "lat": [-120.0, -150.0]})
    with pytest.raises(ValidationError, match="look swapped"):
        points_from_xy(t)


def test_lat_lon_swap_is_detected_against_a_raster():
    r = grid()  # lon -80..-50, lat -10..10
    lon = np.linspace(-75, -55, 10)
    lat = np.linspace(-8, 8, 10)
    swapped = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lat, lon), crs=4326)
    with pytest.raises(ValidationError, match=r"\(lat, lon\) passed as \(lon, lat\)"):
        check_points(swapped, raster=r)
    ok = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    assert check_points(ok, raster=r) is ok


def test_points_need_a_crs_and_point_geometry():
    p = gpd.GeoDataFrame(geometry=gpd.points_from_xy([1.0], [2.0]))
    with pytest.raises(ValidationError, match="have no CRS.*set_crs"):
        check_points(p)
    with pytest.raises(ValidationError, match="must be a geopandas.GeoDataFrame"):
        check_points(pd.DataFrame({"lon": [1.0]}))
    from shapely.geometry import box

    poly = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(ValidationError, match="must be Point geometries.*centroid"):
        check_points(poly)


def test_non_numeric_coordinates_are_reported():
    with pytest.raises(ValidationError, match=r"non-numeric values in rows \[1\]"):
        points_from_xy(pd.DataFrame({"lon": ["1.0", "east"], "lat": [1.0, 2.0]}))


def test_check_raster_normalises_dims_and_requires_crs():
    r = check_raster(grid())
    assert r.dims == ("band", "y", "x") and r["band"].item() == "v"
    with pytest.raises(ValidationError, match="has no CRS.*write_crs"):
        check_raster(grid(crs=None))
    with pytest.raises(ValidationError, match="needs 'x' and 'y'"):
        check_raster(grid().rename(x="lon"))
    ds = xr.Dataset({"a": grid(), "b": grid() * 2}).rio.write_crs(4326)
    stacked = check_raster(ds)
    assert list(stacked["band"].values) == ["a", "b"]


def test_check_raster_rejects_unmasked_nodata_and_irregular_grids():
    values = np.ones((20, 30))
    values[0, 0] = -9999.0
    r = grid(values).rio.write_nodata(-9999.0)
    with pytest.raises(ValidationError, match="still holds its nodata value -9999.0 in 1 cells"):
        check_raster(r)
    irregular = grid().assign_coords(x=np.r_[np.arange(29.0), 40.0])
    with pytest.raises(ValidationError, match="not regularly spaced"):
        check_raster(irregular)


def weekly(n=6, loc="a"):
    return pd.DataFrame(
        {"location": loc, "date": pd.date_range("2020-01-05", periods=n, freq="W"),
         "cases": np.arange(n)}
    )


def test_check_panel_accepts_a_clean_panel_and_sorts_it():
    p = pd.concat([weekly(loc="b"), weekly(loc="a")]).sample(frac=1, random_state=0)
    out = check_panel(p, counts=["cases"])
    assert out["location"].is_monotonic_increasing
    assert len(out) == 12


def test_check_panel_reports_gaps_duplicates_and_bad_counts():
    gap = weekly().drop(index=3)
    with pytest.raises(ValidationError, match="not continuous.*a: steps of"):
        check_panel(gap)
    dup = pd.concat([weekly(), weekly().iloc[[2]]])
    with pytest.raises(ValidationError, match="sharing a \\(location, date\\) pair"):
        check_panel(dup)
    bad = weekly()
    bad["cases"] = [1, -2, 3.5, np.nan, 0, 1]
    with pytest.raises(ValidationError) as err:
        check_panel(bad, counts=["cases"])
    msg = str(err.value)
    assert "negative in rows [1]" in msg and "non-integer in rows [2]" in msg
    assert "missing/NaN in rows [3]" in msg


def test_check_panel_yearly():
    p = pd.DataFrame({"location": "r", "date": [2000, 2001, 2003], "y": 1.0})
    with pytest.raises(ValidationError, match="jumps after"):
        check_panel(p, freq="Y")
    assert len(check_panel(p, freq=None)) == 3


def test_check_lonlat_lives_here_without_torch_and_is_re_exported():
    import subprocess
    import sys

    from sdmkit._validation import check_lonlat

    code = (
        "import sys, numpy as np; from sdmkit._validation import check_lonlat; "
        "check_lonlat(np.array([[13.4, 52.5]])); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(ValidationError, match=r"rows \[1\] .*projected coordinates"):
        check_lonlat(np.array([[0.0, 0.0], [4.5e5, 5.2e6]]), name="xy")
    with pytest.raises(ValidationError, match=r"xy: NaN or infinite .* rows \[0\]"):
        check_lonlat(np.array([[np.nan, 0.0]]), name="xy")
    positional = pytest.importorskip("sdmkit.encoders.positional")
    assert positional.check_lonlat is check_lonlat
