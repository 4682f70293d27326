"""Interactive (ipyleaflet) and static (matplotlib) maps of rasters and points.

The interactive map never depends on basemap tiles loading (Binder, Kaggle and
CI machines are often offline): rasters are rendered to a PNG in EPSG:3857, the
projection Leaflet displays, and embedded as an ``ImageOverlay`` data URL with
bounds in EPSG:4326, which is what Leaflet expects. A basemap can be added on
top by the user when the network allows.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .._validation import check_points, check_raster

__all__ = ["leaflet_map", "raster_overlay", "static_map"]


def _band(raster, band):
    r = check_raster(raster)
    if band is None:
        if r.sizes["band"] != 1:
            raise ValueError(
                f"The raster has {r.sizes['band']} bands {list(r['band'].values)}; "
                f"choose one with band=…."
            )
        return r.isel(band=0)
    return r.sel(band=band)


def _png(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> bytes:
    import matplotlib
    import matplotlib.pyplot as plt

    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    rgba = matplotlib.colormaps[cmap](norm(np.ma.masked_invalid(values)))
    rgba[..., 3] = np.where(np.isfinite(values), rgba[..., 3], 0.0)  # NaN → transparent
    buf = io.BytesIO()
    plt.imsave(buf, rgba, format="png")
    return buf.getvalue()


def raster_overlay(raster, band=None, *, cmap="viridis", vmin=None, vmax=None, opacity=0.8,
                   name=None):
    """Render one raster band as an ipyleaflet ``ImageOverlay`` (no tiles needed).

    The band is reprojected to EPSG:3857 (Web Mercator) so its pixels line up
    with Leaflet's display, coloured with ``cmap`` (NaN transparent), and
    embedded as a PNG data URL; the overlay bounds are given in EPSG:4326.

    Parameters
    ----------
    raster : xarray.DataArray
        ``(band, y, x)`` or ``(y, x)`` with a rioxarray CRS.
    band : str, optional
        Band to show (required when there are several).
    cmap, vmin, vmax : colour map and range (default: the band's 2nd–98th percentiles).
    opacity : float
    name : str, optional
        Layer name (default: the band name).

    Returns
    -------
    overlay : ipyleaflet.ImageOverlay
    colorbar : dict
        ``{"cmap", "vmin", "vmax", "label"}`` for :func:`leaflet_map`'s legend.

    Examples
    --------
    >>> from sdmkit.viz import raster_overlay
    >>> overlay, cbar = raster_overlay(grids, "bio1")  # doctest: +SKIP
    """
    import ipyleaflet
    from pyproj import Transformer

    da = _band(raster, band)
    merc = da.rio.reproject("EPSG:3857", nodata=np.nan)
    values = merc.to_numpy().astype("float64")
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError(f"Band {da['band'].item()!r} has no finite values to show.")
    lo = float(np.percentile(finite, 2)) if vmin is None else vmin
    hi = float(np.percentile(finite, 98)) if vmax is None else vmax
    png = _png(values, cmap, lo, hi)
    left, bottom, right, top = merc.rio.bounds()
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south = to_ll.transform(left, bottom)
    east, north = to_ll.transform(right, top)
    label = str(name or da["band"].item())
    overlay = ipyleaflet.ImageOverlay(
        url="data:image/png;base64," + base64.b64encode(png).decode(),
        bounds=((south, west), (north, east)),  # Leaflet order: (lat, lon)
        opacity=opacity,
        name=label,
    )
    return overlay, {"cmap": cmap, "vmin": lo, "vmax": hi, "label": label}


def _colorbar_widget(cbar: dict):
    import ipywidgets
    import matplotlib
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.2, 0.5), dpi=100)
    norm = matplotlib.colors.Normalize(cbar["vmin"], cbar["vmax"])
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cbar["cmap"]), cax=ax,
                 orientation="horizontal", label=cbar["label"])
    fig.subplots_adjust(bottom=0.55, top=0.95, left=0.05, right=0.95)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return ipywidgets.Image(value=buf.getvalue(), format="png")


def leaflet_map(raster=None, band=None, points=None, *, cmap="viridis", point_color="red",
                legend=None, zoom=None, basemap: bool = False):
    """An ipyleaflet map of a raster band and/or points, usable offline.

    Parameters
    ----------
    raster : xarray.DataArray, optional
        Shown with :func:`raster_overlay`, with a colour bar.
    band : str, optional
    points : geopandas.GeoDataFrame, optional
        Drawn as circle markers (reprojected to EPSG:4326 for Leaflet).
    cmap, point_color : colours.
    legend : dict, optional
        ``{label: colour}`` entries for a legend (default: one entry for the points).
    zoom : int, optional
        Initial zoom (default: fit the data).
    basemap : bool
        Add OpenStreetMap tiles under the data (False: nothing depends on the network).

    Returns
    -------
    ipyleaflet.Map

    Examples
    --------
    >>> from sdmkit.viz import leaflet_map
    >>> m = leaflet_map(grids, "bio1", points=pts)  # doctest: +SKIP
    """
    import ipyleaflet

    layers, bounds, controls = [], [], []
    if raster is not None:
        overlay, cbar = raster_overlay(raster, band, cmap=cmap)
        layers.append(overlay)
        bounds.extend(overlay.bounds)
        controls.append(ipyleaflet.WidgetControl(widget=_colorbar_widget(cbar),
                                                 position="bottomright"))
    if points is not None:
        pts = check_points(points).to_crs("EPSG:4326")
        lat = pts.geometry.y.to_numpy()
        lon = pts.geometry.x.to_numpy()
        markers = [
            ipyleaflet.CircleMarker(location=(float(a), float(o)), radius=3, color=point_color,
                                    fill_color=point_color, fill_opacity=0.8, weight=1)
            for a, o in zip(lat, lon)
        ]
        layers.append(ipyleaflet.LayerGroup(layers=markers, name=f"points ({len(pts)})"))
        bounds.extend([(lat.min(), lon.min()), (lat.max(), lon.max())])
        legend = legend or {f"points ({len(pts)})": point_color}
    if not bounds:
        raise ValueError("Give a raster, points, or both.")
    south = min(b[0] for b in bounds)
    north = max(b[0] for b in bounds)
    west = min(b[1] for b in bounds)
    east = max(b[1] for b in bounds)
    m = ipyleaflet.Map(center=((south + north) / 2, (west + east) / 2), zoom=zoom or 3,
                       scroll_wheel_zoom=True)
    if not basemap:
        for layer in list(m.layers):
            m.remove(layer)
    for layer in layers:
        m.add(layer)
    for control in controls:
        m.add(control)
    if legend:
        m.add(ipyleaflet.LegendControl(legend, title="Legend", position="topright"))
    m.add(ipyleaflet.LayersControl(position="topleft"))
    if zoom is None:
        m.fit_bounds(((south, west), (north, east)))
    return m


def static_map(raster=None, band=None, points=None, *, ax=None, cmap="viridis", title=None,
               point_color="red"):
    """A matplotlib map of a raster band and/or points in the raster's CRS.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from sdmkit.viz import static_map
    >>> ax = static_map(grids, "bio1", points=pts)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    crs = None
    if raster is not None:
        da = _band(raster, band)
        da.plot.imshow(ax=ax, cmap=cmap, robust=True,
                       cbar_kwargs={"label": str(da["band"].item()), "shrink": 0.7})
        crs = da.rio.crs
    if points is not None:
        pts = check_points(points)
        pts = pts.to_crs(crs) if crs is not None else pts
        ax.scatter(pts.geometry.x, pts.geometry.y, s=8, c=point_color, edgecolor="k",
                   linewidth=0.3, label=f"points ({len(pts)})")
        ax.legend(loc="lower left")
    ax.set_aspect("equal")
    ax.set_title(title or "")
    return ax
