"""Maps work offline: raster overlays are embedded PNGs with lon/lat bounds, no tiles."""

from __future__ import annotations

import base64

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sdmkit import points_from_xy
from sdmkit.datasets.simulate import environment_grid
from sdmkit.viz import leaflet_map, raster_overlay, static_map

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
