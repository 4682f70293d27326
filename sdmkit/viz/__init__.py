"""Maps: ipyleaflet overlays and choropleths that need no basemap tiles, and static matplotlib maps."""

from .maps import choropleth_layer, choropleth_map, leaflet_map, raster_overlay, static_map

__all__ = ["choropleth_layer", "choropleth_map", "leaflet_map", "raster_overlay", "static_map"]
