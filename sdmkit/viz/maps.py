"""Interactive (ipyleaflet) and static (matplotlib) maps of rasters, points and polygons.

The interactive map never depends on basemap tiles loading (Binder, Kaggle and
CI machines are often offline): rasters are rendered to a PNG in EPSG:3857, the
projection Leaflet displays, and embedded as an ``ImageOverlay`` data URL with
bounds in EPSG:4326, which is what Leaflet expects; polygons (choropleths) are
embedded as a GeoJSON layer in EPSG:4326 with each feature's fill colour
computed in Python. A basemap can be added on top by the user when the network
allows.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence

import numpy as np

from .._validation import check_points, check_raster

__all__ = ["choropleth_layer", "choropleth_map", "leaflet_map", "raster_overlay", "static_map"]


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


def raster_overlay(
    raster, band=None, *, cmap="viridis", vmin=None, vmax=None, opacity=0.8, name=None
):
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
    norm = cbar.get("norm") or matplotlib.colors.Normalize(cbar["vmin"], cbar["vmax"])
    fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap=cbar["cmap"]),
        cax=ax,
        orientation="horizontal",
        label=cbar["label"],
    )
    fig.subplots_adjust(bottom=0.55, top=0.95, left=0.05, right=0.95)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return ipywidgets.Image(value=buf.getvalue(), format="png")


def _offline_map(south, west, north, east, zoom, basemap: bool, layers):
    """An ipyleaflet Map centred on the box holding ``layers``; no tiles unless ``basemap``."""
    import ipyleaflet

    m = ipyleaflet.Map(
        center=((south + north) / 2, (west + east) / 2), zoom=zoom or 3, scroll_wheel_zoom=True
    )
    if not basemap:
        for layer in list(m.layers):
            m.remove(layer)
    for layer in layers:
        m.add(layer)
    return m


def leaflet_map(
    raster=None,
    band=None,
    points=None,
    *,
    cmap="viridis",
    point_color="red",
    legend=None,
    zoom=None,
    basemap: bool = False,
):
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
        controls.append(
            ipyleaflet.WidgetControl(widget=_colorbar_widget(cbar), position="bottomright")
        )
    if points is not None:
        pts = check_points(points).to_crs("EPSG:4326")
        lat = pts.geometry.y.to_numpy()
        lon = pts.geometry.x.to_numpy()
        markers = [
            ipyleaflet.CircleMarker(
                location=(float(a), float(o)),
                radius=3,
                color=point_color,
                fill_color=point_color,
                fill_opacity=0.8,
                weight=1,
            )
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
    m = _offline_map(south, west, north, east, zoom, basemap, layers)
    for control in controls:
        m.add(control)
    if legend:
        m.add(ipyleaflet.LegendControl(legend, title="Legend", position="topright"))
    m.add(ipyleaflet.LayersControl(position="topleft"))
    if zoom is None:
        m.fit_bounds(((south, west), (north, east)))
    return m


def static_map(
    raster=None, band=None, points=None, *, ax=None, cmap="viridis", title=None, point_color="red"
):
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
        da.plot.imshow(
            ax=ax,
            cmap=cmap,
            robust=True,
            cbar_kwargs={"label": str(da["band"].item()), "shrink": 0.7},
        )
        crs = da.rio.crs
    if points is not None:
        pts = check_points(points)
        pts = pts.to_crs(crs) if crs is not None else pts
        ax.scatter(
            pts.geometry.x,
            pts.geometry.y,
            s=8,
            c=point_color,
            edgecolor="k",
            linewidth=0.3,
            label=f"points ({len(pts)})",
        )
        ax.legend(loc="lower left")
    ax.set_aspect("equal")
    ax.set_title(title or "")
    return ax


# --------------------------------------------------------------------------- choropleths


def _check_regions(regions, columns: Sequence[str]):
    import geopandas as gpd

    if not isinstance(regions, gpd.GeoDataFrame):
        raise TypeError(
            f"regions must be a geopandas.GeoDataFrame of polygons, got {type(regions).__name__}."
        )
    if regions.crs is None:
        raise ValueError(
            "regions has no CRS; set it first (e.g. regions.set_crs('EPSG:4326') for lon/lat)."
        )
    missing = [c for c in columns if c not in regions.columns]
    if missing:
        raise ValueError(
            f"regions has no column(s) {missing}; its columns are {list(regions.columns)}."
        )
    for c in columns:
        if not np.issubdtype(np.asarray(regions[c]).dtype, np.number):
            raise TypeError(f"column {c!r} must be numeric, got dtype {regions[c].dtype}.")
    return regions


def _choropleth_norm(values: np.ndarray, scale: str, vmin, vmax, center):
    """A matplotlib norm for ``values`` (finite ones set the default range)."""
    import matplotlib.colors as mcolors

    if scale not in ("linear", "log"):
        raise ValueError(f"scale must be 'linear' or 'log', got {scale!r}.")
    finite = values[np.isfinite(values)]
    if finite.size == 0 and (vmin is None or vmax is None):
        raise ValueError("the column has no finite values; give vmin and vmax to draw it.")
    lo = float(finite.min()) if vmin is None else float(vmin)
    hi = float(finite.max()) if vmax is None else float(vmax)
    if scale == "log":
        bad = finite[finite <= 0]
        if bad.size:
            raise ValueError(
                f"scale='log' needs positive values; the column holds {bad.size} value(s) <= 0 "
                f"(e.g. {bad[0]:g}). Use scale='linear' or replace them (they are not dropped)."
            )
        if lo <= 0 or hi <= 0:
            raise ValueError(f"scale='log' needs vmin, vmax > 0, got {lo:g}, {hi:g}.")
    if center is not None:
        c = float(center)
        if scale == "log":
            if c <= 0:
                raise ValueError(f"center must be > 0 on a log scale, got {c:g}.")
            r = max(hi / c, c / lo, 1.0 + 1e-9)
            return mcolors.LogNorm(c / r, c * r)
        r = max(hi - c, c - lo, 1e-12)
        return mcolors.Normalize(c - r, c + r)
    if hi <= lo:
        hi = lo * 1.01 + 1e-12 if scale == "linear" else lo * 1.01
    return mcolors.LogNorm(lo, hi) if scale == "log" else mcolors.Normalize(lo, hi)


def choropleth_layer(
    regions,
    column: str,
    *,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    scale: str = "linear",
    center=None,
    norm=None,
    opacity: float = 0.8,
    line_color: str = "#444444",
    line_width: float = 0.6,
    nan_color: str = "#d9d9d9",
    simplify: float | None = None,
    name: str | None = None,
    label: str | None = None,
):
    """Render one numeric column of polygons as an ipyleaflet ``GeoJSON`` layer (no tiles).

    The regions are reprojected to EPSG:4326 (what Leaflet's GeoJSON expects)
    and each feature gets its fill colour from ``cmap`` in its
    ``properties.style``, so the layer shows the same in a live kernel and in
    a saved notebook. Missing values (NaN) are drawn in ``nan_color``, not
    dropped.

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Polygons with a CRS and the numeric ``column``.
    column : str
        Values to colour by.
    cmap : str
        Matplotlib colour map (a diverging one, e.g. ``"RdBu_r"``, with ``center``).
    vmin, vmax : float, optional
        Colour range (default: the column's finite min and max).
    scale : {"linear", "log"}
        Colour scale; ``"log"`` needs positive values (ratios, relative risks).
    center : float, optional
        Value at the middle of the colour map (e.g. 1 for a relative risk); the
        range is widened to be symmetric around it (in log space for ``"log"``).
    norm : matplotlib.colors.Normalize, optional
        Use this norm instead of ``vmin``/``vmax``/``scale``/``center`` (to share
        one colour scale between layers).
    opacity : float
        Fill opacity.
    line_color, line_width : polygon outlines.
    nan_color : str
        Fill of regions whose value is NaN.
    simplify : float, optional
        Douglas–Peucker tolerance in degrees (smaller embedded GeoJSON).
    name : str, optional
        Layer name (default ``column``).
    label : str, optional
        Colour-bar label (default ``name``).

    Returns
    -------
    layer : ipyleaflet.GeoJSON
    colorbar : dict
        ``{"cmap", "vmin", "vmax", "label", "norm"}`` for the legend
        (:func:`choropleth_map` draws it).

    Raises
    ------
    TypeError, ValueError
        Not a GeoDataFrame, no CRS, unknown or non-numeric column, non-positive
        values on a log scale.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from sdmkit.viz import choropleth_layer
    >>> g = gpd.GeoDataFrame({"rr": [0.5, 2.0]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
    ...                      crs="EPSG:4326")
    >>> layer, cbar = choropleth_layer(g, "rr", cmap="RdBu_r", scale="log", center=1.0)
    >>> [f["properties"]["style"]["fillColor"] for f in layer.data["features"]]
    ['#053061', '#67001f']
    >>> round(cbar["vmin"], 3), round(cbar["vmax"], 3)
    (0.5, 2.0)
    """
    import ipyleaflet
    import matplotlib
    import matplotlib.colors as mcolors

    regions = _check_regions(regions, [column])
    values = regions[column].to_numpy(dtype="float64")
    if norm is None:
        norm = _choropleth_norm(values, scale, vmin, vmax, center)
    colormap = matplotlib.colormaps[cmap]
    g = regions[[column, regions.geometry.name]].to_crs("EPSG:4326")
    if simplify:
        g = g.set_geometry(g.geometry.simplify(float(simplify), preserve_topology=True))
    data = json.loads(g.to_json(na="null", drop_id=True))
    for feature, v in zip(data["features"], values, strict=True):
        fill = mcolors.to_hex(colormap(norm(v))) if np.isfinite(v) else nan_color
        feature["properties"]["style"] = {
            "fillColor": fill,
            "fillOpacity": opacity,
            "color": line_color,
            "weight": line_width,
            "opacity": 1.0,
        }
    label = label or name or column
    layer = ipyleaflet.GeoJSON(
        data=data,
        name=name or column,
        hover_style={"weight": 2.5, "color": "black", "fillOpacity": min(1.0, opacity + 0.15)},
    )
    return layer, {
        "cmap": cmap,
        "vmin": float(norm.vmin),
        "vmax": float(norm.vmax),
        "label": label,
        "norm": norm,
    }


def choropleth_map(
    regions,
    column: str | Sequence[str],
    *,
    interactive: bool = True,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    scale: str = "linear",
    center=None,
    label: str | None = None,
    title: str | None = None,
    nan_color: str = "#d9d9d9",
    simplify: float | None = None,
    opacity: float = 0.8,
    line_color: str = "#444444",
    line_width: float = 0.6,
    ax=None,
    zoom: int | None = None,
    basemap: bool = False,
):
    """Choropleth of one or more numeric columns of polygons: ipyleaflet (offline) or matplotlib.

    All columns share one colour scale (range over all of them unless
    ``vmin``/``vmax`` are given), so layers can be compared. Interactive: one
    GeoJSON layer per column (:func:`choropleth_layer`; switch them in the
    layers control), a colour bar, and a legend entry for missing values —
    no basemap tiles unless ``basemap=True``. Static: one panel per column in
    the regions' CRS, with a colour bar; missing values in ``nan_color``.

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Polygons with a CRS.
    column : str or sequence of str
        Column(s) to map.
    interactive : bool
        True: an ``ipyleaflet.Map``; False: matplotlib.
    cmap, vmin, vmax, scale, center
        Colour scale (see :func:`choropleth_layer`).
    label : str, optional
        Colour-bar label (default: the column name, or "value" for several).
    title : str, optional
        Title of the static map (one column) or suffix of each panel's title.
    nan_color, simplify, opacity, line_color, line_width
        See :func:`choropleth_layer`.
    ax : matplotlib.axes.Axes or sequence of them, optional
        Where to draw the static map(s) (one per column).
    zoom : int, optional
        Initial zoom of the interactive map (default: fit the regions).
    basemap : bool
        Add OpenStreetMap tiles under the regions (needs the network).

    Returns
    -------
    ipyleaflet.Map, matplotlib.axes.Axes, or list of Axes
        The map; static with several columns: one Axes per column.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from sdmkit.viz import choropleth_map
    >>> g = gpd.GeoDataFrame({"rr": [0.5, 2.0], "fc": [1.0, float("nan")]},
    ...                      geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    >>> m = choropleth_map(g, ["rr", "fc"], cmap="RdBu_r", scale="log", center=1.0)
    >>> [type(layer).__name__ for layer in m.layers]
    ['GeoJSON', 'GeoJSON']
    >>> ax = choropleth_map(g, "rr", interactive=False, scale="log", center=1.0)
    """
    columns = [column] if isinstance(column, str) else list(column)
    if not columns:
        raise ValueError("give at least one column to map.")
    regions = _check_regions(regions, columns)
    values = np.concatenate([regions[c].to_numpy(dtype="float64") for c in columns])
    norm = _choropleth_norm(values, scale, vmin, vmax, center)
    label = label or (columns[0] if len(columns) == 1 else "value")
    has_nan = bool(np.isnan(values).any())
    style = {
        "cmap": cmap,
        "norm": norm,
        "nan_color": nan_color,
        "line_color": line_color,
        "line_width": line_width,
    }
    if interactive:
        layer_kw = {**style, "opacity": opacity, "simplify": simplify}
        return _choropleth_leaflet(regions, columns, label, has_nan, zoom, basemap, **layer_kw)
    return _choropleth_static(regions, columns, label, title, ax, **style)


def _choropleth_leaflet(regions, columns, label, has_nan, zoom, basemap, **layer_kw):
    """One :func:`choropleth_layer` per column (``layer_kw``: its styling) on an offline map."""
    import ipyleaflet

    layers = []
    for c in columns:
        layer, cbar = choropleth_layer(regions, c, name=c, label=label, **layer_kw)
        layers.append(layer)
    west, south, east, north = regions.to_crs("EPSG:4326").total_bounds
    m = _offline_map(south, west, north, east, zoom, basemap, layers)
    m.add(ipyleaflet.WidgetControl(widget=_colorbar_widget(cbar), position="bottomright"))
    if has_nan:
        legend = {"no value": layer_kw["nan_color"]}
        m.add(ipyleaflet.LegendControl(legend, title="", position="topright"))
    if len(layers) > 1 or basemap:
        m.add(ipyleaflet.LayersControl(position="topleft"))
    if zoom is None:
        m.fit_bounds(((float(south), float(west)), (float(north), float(east))))
    return m


def _choropleth_static(
    regions, columns, label, title, ax, *, cmap, norm, nan_color, line_color, line_width
):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        _, axes = plt.subplots(1, len(columns), figsize=(5.5 * len(columns), 5.5), squeeze=False)
        axes = list(axes[0])
    else:
        axes = [ax] if not isinstance(ax, (list, tuple, np.ndarray)) else list(np.ravel(ax))
        if len(axes) != len(columns):
            raise ValueError(
                f"give one Axes per column: {len(axes)} Axes for {len(columns)} columns."
            )
    for a, c in zip(axes, columns, strict=True):
        regions.plot(
            column=c,
            cmap=cmap,
            norm=norm,
            ax=a,
            edgecolor=line_color,
            linewidth=line_width,
            missing_kwds={"color": nan_color},
        )
        if len(columns) == 1:
            a.set_title(title or "")
        else:
            a.set_title(f"{c} — {title}" if title else c)
        if regions[c].isna().any():
            a.legend(
                handles=[Patch(facecolor=nan_color, edgecolor=line_color, label="no value")],
                loc="lower left",
                fontsize="small",
            )
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    axes[0].figure.colorbar(sm, ax=axes, shrink=0.7, label=label)
    return axes[0] if len(columns) == 1 else axes
