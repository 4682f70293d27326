"""Phillips et al. (2006) environmental coverages: 14 layers at 0.05° over South America.

The same ``coverages.zip`` that :func:`sklearn.datasets.fetch_species_distributions`
downloads (identical sha256), read here as georeferenced rasters instead of
bare arrays: ESRI ASCII grids opened inside the zip through GDAL's ``/vsizip/``.
"""

from __future__ import annotations

import xarray as xr

from ._fetch import fetch
from ._readers import open_grid

__all__ = ["COVERAGES", "load_phillips_coverages"]

#: Layer → (description, units), as in Phillips et al. (2006) and maxnet's ``bradypus``.
COVERAGES = {
    "cld6190_ann": ("cloud cover, annual mean 1961-90", "%"),
    "dtr6190_ann": ("diurnal temperature range, annual mean", "degC * 10"),
    "ecoreg": ("ecoregion (categorical code)", "1"),
    "frs6190_ann": ("ground-frost frequency", "days"),
    "h_dem": ("elevation", "m"),
    "pre6190_ann": ("precipitation, annual mean", "mm/month * 10"),
    "pre6190_l1": ("precipitation, January", "mm * 10"),
    "pre6190_l10": ("precipitation, October", "mm * 10"),
    "pre6190_l4": ("precipitation, April", "mm * 10"),
    "pre6190_l7": ("precipitation, July", "mm * 10"),
    "tmn6190_ann": ("minimum temperature, annual mean", "degC * 10"),
    "tmp6190_ann": ("mean temperature, annual mean", "degC * 10"),
    "tmx6190_ann": ("maximum temperature, annual mean", "degC * 10"),
    "vap6190_ann": ("vapour pressure, annual mean", "hPa * 10"),
}


def load_phillips_coverages(layers: list[str] | None = None) -> xr.DataArray:
    """The 14 Phillips et al. (2006) coverages as one raster stack.

    Parameters
    ----------
    layers : list of str, optional
        Subset of :data:`COVERAGES` (default: all 14, alphabetical as in the zip).

    Returns
    -------
    xarray.DataArray
        Float32, dims ``(band, y, x)``, 1592 × 1212 cells of 0.05°, EPSG:4326
        (the grids carry no CRS; they are lon/lat on WGS84 per the source),
        nodata as NaN. ``attrs["categorical"] == ["ecoreg"]`` when present.

    Examples
    --------
    >>> from sdmkit.datasets import load_phillips_coverages
    >>> cov = load_phillips_coverages(["h_dem"])  # doctest: +SKIP
    >>> cov.rio.resolution()  # doctest: +SKIP
    (0.05, -0.05)
    """
    layers = list(COVERAGES) if layers is None else list(layers)
    unknown = [name for name in layers if name not in COVERAGES]
    if unknown:
        raise ValueError(f"Unknown coverages {unknown}; choose from {list(COVERAGES)}.")
    zpath = fetch("phillips2006_coverages", "coverages.zip")
    bands = [
        open_grid(f"/vsizip/{zpath}/coverages/{name}.asc", name=name, crs="EPSG:4326")
        for name in layers
    ]
    stack = xr.concat(bands, dim="band", combine_attrs="drop").rio.write_crs("EPSG:4326")
    stack.name = "coverages"
    stack.attrs.update(
        categorical=[b for b in layers if b == "ecoreg"],
        units={b: COVERAGES[b][1] for b in layers},
        long_names={b: COVERAGES[b][0] for b in layers},
        source="Phillips et al. 2006 coverages.zip (scikit-learn's copy)",
    )
    return stack
