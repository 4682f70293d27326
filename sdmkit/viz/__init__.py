"""Maps: ipyleaflet overlays that need no basemap tiles, and static matplotlib maps."""

from .maps import leaflet_map, raster_overlay, static_map

__all__ = ["leaflet_map", "raster_overlay", "static_map"]
