"""Maps work offline: raster overlays are embedded PNGs with lon/lat bounds, no tiles."""

from __future__ import annotations

import base64

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sdmkit import points_from_xy
from sdmkit.datasets.simulate import environment_grid
from sdmkit.viz import choropleth_layer, choropleth_map, leaflet_map, raster_overlay, static_map

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def env():
    return environment_grid((30, 24), bounds=(-80.0, -30.0, -50.0, 10.0), random_state=3)


def test_overlay_is_an_embedded_png_with_leaflet_bounds(env):
    overlay, cbar = raster_overlay(env, "temperature")
    assert overlay.url.startswith("data:image/png;base64,")
    png = base64.b64decode(overlay.url.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (south, west), (north, east) = overlay.bounds  # Leaflet order: (lat, lon)
    # the Web Mercator grid GDAL picks covers the source extent to within one cell
    cell = 30.0 / 24
    assert (west, east) == pytest.approx((-80.0, -50.0), abs=cell)
    assert (south, north) == pytest.approx((-30.0, 10.0), abs=cell)
    assert cbar["vmin"] < cbar["vmax"] and cbar["label"] == "temperature"


def test_map_has_no_tile_layer_unless_asked(env):
    pts = points_from_xy(pd.DataFrame({"lon": [-70.0, -60.0], "lat": [-10.0, 0.0]}))
    m = leaflet_map(env, "elevation", points=pts)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["ImageOverlay", "LayerGroup"]
    assert len(m.layers[1].layers) == 2
    with_tiles = leaflet_map(env, "elevation", basemap=True)
    assert "TileLayer" in [type(layer).__name__ for layer in with_tiles.layers]


def test_a_band_must_be_chosen_for_multiband_rasters(env):
    with pytest.raises(ValueError, match="choose one with band="):
        raster_overlay(env)
    with pytest.raises(ValueError, match="Give a raster, points, or both"):
        leaflet_map()


def test_static_map_draws_raster_and_points(env):
    pts = points_from_xy(pd.DataFrame({"lon": [-70.0], "lat": [-10.0]}))
    ax = static_map(env, "precipitation", points=pts)
    assert len(ax.images) == 1 and len(ax.collections) == 1
    offsets = ax.collections[0].get_offsets()
    assert np.allclose(offsets, [[-70.0, -10.0]])


# --------------------------------------------------------------------------- choropleths


@pytest.fixture
def regions():
    import geopandas as gpd
    from shapely.geometry import box

    return gpd.GeoDataFrame(
        {"rr": [0.25, 1.0, 4.0, np.nan], "other": [1.0, 2.0, 3.0, 4.0]},
        geometry=[box(-60, -10, -55, -5), box(-55, -10, -50, -5), box(-50, -10, -45, -5),
                  box(-45, -10, -40, -5)],
        crs="EPSG:4326",
    )  # fmt: skip


def _fills(layer):
    return [f["properties"]["style"]["fillColor"] for f in layer.data["features"]]


def test_choropleth_layer_colours_each_region_by_its_value(regions):
    layer, cbar = choropleth_layer(regions, "rr", cmap="RdBu_r", scale="log", center=1.0)
    cmap = matplotlib.colormaps["RdBu_r"]
    fills = _fills(layer)
    # log scale centred on 1: 0.25 and 4 are the two ends, 1 the middle; NaN is grey, kept
    assert fills[0] == matplotlib.colors.to_hex(cmap(0.0))
    assert fills[1] == matplotlib.colors.to_hex(cmap(0.5))
    assert fills[2] == matplotlib.colors.to_hex(cmap(1.0))
    assert fills[3] == "#d9d9d9"
    assert len(layer.data["features"]) == len(regions)
    assert (cbar["vmin"], cbar["vmax"]) == pytest.approx((0.25, 4.0))


def test_choropleth_centre_widens_the_range_symmetrically(regions):
    g = regions.assign(rr=[0.5, 1.0, 8.0, np.nan])
    _, cbar = choropleth_layer(g, "rr", scale="log", center=1.0)
    assert (cbar["vmin"], cbar["vmax"]) == pytest.approx((1 / 8, 8.0))
    _, lin = choropleth_layer(g, "other", center=0.0)
    assert (lin["vmin"], lin["vmax"]) == pytest.approx((-4.0, 4.0))


def test_choropleth_layer_is_in_lon_lat_whatever_the_input_crs(regions):
    layer, _ = choropleth_layer(regions.to_crs("EPSG:3857"), "other")
    ring = np.asarray(layer.data["features"][0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(-60.0) and ring[:, 1].max() == pytest.approx(-5.0)


def test_choropleth_map_offline_layers_share_one_scale(regions):
    m = choropleth_map(regions, ["rr", "other"], scale="log")
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["GeoJSON", "GeoJSON"]  # no TileLayer
    controls = [type(c).__name__ for c in m.controls]
    assert "WidgetControl" in controls and "LegendControl" in controls  # colour bar, NaN entry
    # same norm for both layers: value 1.0 gets the same colour in each
    assert _fills(m.layers[0])[1] == _fills(m.layers[1])[0]
    with_tiles = choropleth_map(regions, "other", basemap=True)
    assert "TileLayer" in [type(layer).__name__ for layer in with_tiles.layers]


def test_static_choropleth_draws_every_region_with_a_colour_bar(regions):
    ax = choropleth_map(regions, "other", interactive=False, title="t")
    assert ax.get_title() == "t"
    assert len(ax.collections[0].get_paths()) == 4
    assert len(ax.figure.axes) == 2  # map + colour bar
    axes = choropleth_map(regions, ["rr", "other"], interactive=False, scale="log")
    assert [a.get_title() for a in axes] == ["rr", "other"]
    # the "no value" legend only where a value is missing
    assert axes[0].get_legend() is not None and axes[1].get_legend() is None


def test_choropleth_bad_input_says_what_is_wrong(regions):
    with pytest.raises(ValueError, match=r"no column\(s\) \['risk'\]"):
        choropleth_map(regions, "risk")
    with pytest.raises(ValueError, match="needs positive values"):
        choropleth_layer(regions.assign(rr=[0.0, 1.0, 2.0, 3.0]), "rr", scale="log")
    with pytest.raises(TypeError, match="GeoDataFrame"):
        choropleth_map(pd.DataFrame({"rr": [1.0]}), "rr")
    with pytest.raises(ValueError, match="no CRS"):
        choropleth_map(regions.set_crs(None, allow_override=True), "rr")
    with pytest.raises(TypeError, match="must be numeric"):
        choropleth_layer(regions.assign(name=list("abcd")), "name")
