"""GeoLifeCLEF 2023 (GLC23) plant occurrences, satellite patches and rasters.

:func:`load_glc23_sample` reads the GLC23 sample shipped with malpolon (100
presence-absence rows, 100 presence-only rows, Sentinel-2 RGB/NIR jpeg patches,
Landsat quarterly time series, two Human Footprint GeoTIFFs) through the sdmkit
registry. Pass ``root=`` to read a folder of the full GLC23 data laid out the
same way instead::

    root/Presence_Absences_occurrences/Presences_Absences_train_sample.csv
        (or Presence_Absence_surveys/Presences_Absences_train.csv, the full data)
    root/Presence_only_occurrences/Presences_only_train_sample.csv
        (or Presences_only_train.csv)
    root/SatelliteTimeSeries/time_series_<band>.csv      (";"-separated, wide)
    root/SatelliteImages/<band>/<id[-2:]>/<id[-4:-2]>/<id>.jpeg
    root/EnvironmentalRasters/HumanFootprint/detailed/*.tif

:func:`species_matrix` turns the long presence-absence table into the
surveys x species 0/1 matrix that multi-label SDMs fit.

Source: Botella C, et al. (2023). GeoLifeCLEF 2023; sample data from
github.com/plantnet/malpolon (MIT).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sdmkit._validation import (
    ValidationError,
    ValidationWarning,
    _show,
    as_whole_numbers,
    points_from_xy,
)
from sdmkit.datasets._fetch import fetch, registry
from sdmkit.datasets._readers import open_grid

__all__ = ["GLCSample", "LANDSAT_BANDS", "load_glc23_sample", "read_patch", "species_matrix"]

DATASET = "glc23_sample_malpolon"
LANDSAT_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
_PA_FILES = (
    "Presence_Absences_occurrences/Presences_Absences_train_sample.csv",
    "Presence_Absence_surveys/Presences_Absences_train.csv",
    "Presence_Absences_occurrences/Presences_Absences_train.csv",
)
_PO_FILES = (
    "Presence_only_occurrences/Presences_only_train_sample.csv",
    "Presence_only_occurrences/Presences_only_train.csv",
)
_TS_FILE = "SatelliteTimeSeries/time_series_{band}.csv"
_FOOTPRINT_DIR = "EnvironmentalRasters/HumanFootprint/detailed"
_INT = (
    "source_row",
    "glcID",
    "surveyId",
    "patchID",
    "speciesId",
    "timeSerieID",
    "dayOfYear",
    "year",
)
_NULLABLE_INT = ("gbifID", "year_ecodatacube_quarter")
_FLOAT = ("lon", "lat", "x_EPSG3035", "y_EPSG3035", "geoUncertaintyInM", "areaInM2")
_STR = ("observer", "datasetName", "region", "country")


@dataclass(repr=False)
class GLCSample:
    """GeoLifeCLEF 2023 tables, with rasters and patches read on demand.

    Attributes
    ----------
    presence_absence : geopandas.GeoDataFrame
        One row per (survey, species present), EPSG:4326 points from lon/lat.
        Columns as upstream, typed: ids (``glcID``, ``patchID``, ``speciesId``,
        ``timeSerieID``; ``surveyId`` where present) and ``dayOfYear``, ``year``
        int64; ``gbifID`` nullable Int64; ``date`` datetime64; ``observer``,
        ``datasetName`` str; ``lon``, ``lat``, ``x_EPSG3035``, ``y_EPSG3035``,
        ``geoUncertaintyInM`` float64. The sample's unnamed first column (the
        row number in the full upstream table) is ``source_row``.
    presence_only : geopandas.GeoDataFrame
        Same, one row per observation; also ``year_ecodatacube_quarter`` (Int64).
    landsat : pandas.DataFrame
        Landsat quarterly composites in one tidy long frame: ``timeSerieID``
        (int64, joins the occurrence tables), ``band`` (ordered category,
        ``blue, green, red, nir, swir1, swir2``), ``year``, ``quarter`` (int64),
        ``date`` (datetime64, first day of the quarter), ``value`` (float64,
        uint8-scaled composite 0-255). Upstream pads series that end early with
        ``"eos"`` (end of series); those cells are not observations and have no
        row. Pivot with ``landsat.pivot_table(index=["timeSerieID", "date"],
        columns="band", values="value", observed=True)``.
    root : pathlib.Path or None
        The folder read from, or None for the registered sample.
    """

    presence_absence: object
    presence_only: object
    landsat: pd.DataFrame
    root: Path | None = None

    @cached_property
    def human_footprint(self):
        """Human Footprint 2009 layers, read on first access (~126 MB per layer).

        Returns
        -------
        xarray.DataArray or dict
            A ``(band, y, x)`` float32 DataArray (EPSG:4326, nodata as NaN; band
            names are the file stems without ``_WGS84``, e.g. ``"Built2009"``) when
            all grids match, else ``{name: DataArray}``.
        """
        return _human_footprint(self.root)

    def read_patch(self, patch_id: int, bands: Sequence[str] | str = ("rgb", "nir")):
        """Read the jpeg patches of ``patch_id``; see :func:`read_patch`."""
        return read_patch(patch_id, bands, root=self.root)

    def __repr__(self) -> str:
        return (
            f"GLCSample(presence_absence={len(self.presence_absence)} rows, "
            f"presence_only={len(self.presence_only)} rows, landsat={len(self.landsat)} rows, "
            f"root={str(self.root) if self.root else 'registry'!r})"
        )


def load_glc23_sample(
    root: str | Path | None = None,
    *,
    pa_file: str | Path | None = None,
    po_file: str | Path | None = None,
    landsat_bands: Sequence[str] = LANDSAT_BANDS,
) -> GLCSample:
    """Load GeoLifeCLEF 2023 occurrences and Landsat series (sample or full data).

    Parameters
    ----------
    root : str or Path, optional
        A folder in the GLC23 layout (see the module docstring); files are read
        from it directly, without the registry. None reads the registered sample
        through ``$SDMKIT_DATA_DIR`` or the sdmkit cache.
    pa_file, po_file : str or Path, optional
        Presence-absence / presence-only CSV, relative to ``root`` (or absolute),
        when not at one of the standard paths. Only with ``root``.
    landsat_bands : sequence of str
        Which ``time_series_<band>.csv`` to read; ``()`` skips the time series.
        With ``root``, a missing band file is skipped with a warning.

    Returns
    -------
    GLCSample
        ``presence_absence`` and ``presence_only`` GeoDataFrames, ``landsat`` long
        frame, ``human_footprint`` (read on first access) and ``read_patch``.

    Raises
    ------
    FileNotFoundError
        A required file is missing (the message lists the paths tried).
    ValidationError
        Coordinates, ids or dates that cannot be read.

    Warns
    -----
    ValidationWarning
        Dates disagreeing with ``dayOfYear``/``year`` (kept as given).

    Notes
    -----
    Upstream quirks handled: ";"-separated files; the presence-absence ``date``
    mixes ISO dates and Unix seconds (local midnight, Central European time),
    both read as dates; time-series cells sometimes quoted; ``"eos"`` padding.

    Examples
    --------
    >>> from sdmkit.datasets.geolifeclef import load_glc23_sample, species_matrix
    >>> glc = load_glc23_sample()  # doctest: +SKIP
    >>> glc.presence_only.crs.to_epsg(), len(glc.presence_absence)  # doctest: +SKIP
    (4326, 100)
    >>> glc.read_patch(glc.presence_only["patchID"].iloc[0]).shape  # doctest: +SKIP
    (4, 128, 128)
    """
    src = Path(root).expanduser() if root is not None else None
    if src is None and (pa_file is not None or po_file is not None):
        raise ValueError("pa_file= and po_file= need root=: the registered sample has fixed files.")
    pa = _read_occurrences(_find(src, pa_file, _PA_FILES, "presence-absence"), "presence_absence")
    po = _read_occurrences(_find(src, po_file, _PO_FILES, "presence-only"), "presence_only")
    unknown = [b for b in landsat_bands if b not in LANDSAT_BANDS]
    if unknown:
        raise ValueError(f"Unknown Landsat bands {unknown}; choose from {LANDSAT_BANDS}.")
    frames, missing = [], []
    for band in landsat_bands:
        rel = _TS_FILE.format(band=band)
        if src is not None and not (src / rel).is_file():
            missing.append(band)
            continue
        frames.append(_read_landsat(_path(src, rel, f"Landsat {band} series"), band))
    if missing:
        warnings.warn(
            f"Landsat series of bands {missing} not found in {src / 'SatelliteTimeSeries'} "
            f"(time_series_<band>.csv); skipped.",
            ValidationWarning,
            stacklevel=2,
        )
    landsat = _concat_landsat(frames, [b for b in LANDSAT_BANDS if b in landsat_bands])
    return GLCSample(presence_absence=pa, presence_only=po, landsat=landsat, root=src)


def read_patch(
    patch_id: int,
    bands: Sequence[str] | str = ("rgb", "nir"),
    *,
    root: str | Path | None = None,
) -> np.ndarray:
    """Read the Sentinel-2 jpeg patches of one GLC23 patch as a (C, H, W) array.

    The file of ``patch_id`` for ``band`` is
    ``SatelliteImages/<band>/<id[-2:]>/<id[-4:-2]>/<id>.jpeg`` (last two digits,
    then the two before them), e.g. 5982155 -> ``rgb/55/21/5982155.jpeg``.

    Parameters
    ----------
    patch_id : int
        The ``patchID`` of an occurrence.
    bands : sequence of str or str
        Band folders, in output order: ``"rgb"`` gives 3 channels (R, G, B), a
        single-band folder such as ``"nir"`` gives 1.
    root : str or Path, optional
        GLC23 folder; None reads the registered sample (which has patches for
        the 100 presence-only ``patchID`` only, not for presence-absence ones).

    Returns
    -------
    numpy.ndarray
        uint8, shape ``(C, H, W)`` — (4, 128, 128) for the default bands.

    Examples
    --------
    >>> from sdmkit.datasets.geolifeclef import read_patch
    >>> read_patch(5982155, bands="rgb").shape  # doctest: +SKIP
    (3, 128, 128)
    """
    from PIL import Image

    sid = str(int(patch_id))
    bands = (bands,) if isinstance(bands, str) else tuple(bands)
    if not bands:
        raise ValueError("bands is empty; pass e.g. ('rgb', 'nir').")
    src = Path(root).expanduser() if root is not None else None
    layers = []
    for band in bands:
        rel = f"SatelliteImages/{band}/{sid[-2:]}/{sid[-4:-2]}/{sid}.jpeg"
        with Image.open(_path(src, rel, f"{band!r} patch of patch_id {sid}")) as im:
            img = np.asarray(im)
        layers.append(img[np.newaxis] if img.ndim == 2 else np.moveaxis(img, -1, 0))
    shapes = {lay.shape[1:] for lay in layers}
    if len(shapes) > 1:
        raise ValidationError(
            f"Patches of patch_id {sid} differ in size across bands {bands}: {sorted(shapes)}."
        )
    return np.concatenate(layers).astype(np.uint8, copy=False)


def species_matrix(presence_absence, survey: str | None = None, species: str = "speciesId"):
    """Turn a long presence-absence table into a surveys x species 0/1 matrix.

    Each row of ``presence_absence`` lists one species present in one survey;
    every species of the table not listed for a survey counts as absent there.
    A species listed twice for one survey is still 1.

    Parameters
    ----------
    presence_absence : pandas.DataFrame or geopandas.GeoDataFrame
        E.g. :attr:`GLCSample.presence_absence`.
    survey : str, optional
        Column identifying a survey. Default: ``"surveyId"`` when present
        (GeoPlant / GLC24), else ``"patchID"`` (GLC23).
    species : str
        Column of species ids.

    Returns
    -------
    pandas.DataFrame
        uint8, index = sorted survey ids (named after ``survey``), columns =
        sorted species ids (named after ``species``).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.datasets.geolifeclef import species_matrix
    >>> pa = pd.DataFrame({"patchID": [1, 1, 2], "speciesId": [10, 11, 10]})
    >>> species_matrix(pa).to_numpy().tolist()
    [[1, 1], [1, 0]]
    """
    if survey is None:
        survey = "surveyId" if "surveyId" in presence_absence.columns else "patchID"
    missing = [c for c in (survey, species) if c not in presence_absence.columns]
    if missing:
        raise ValidationError(
            f"species_matrix: columns {missing} not found; the table has "
            f"{list(presence_absence.columns)}. Name them with survey=… and species=…."
        )
    na = presence_absence.index[presence_absence[[survey, species]].isna().any(axis=1)]
    if len(na):
        raise ValidationError(
            f"species_matrix: rows {_show(na)} have a missing {survey!r} or {species!r}; "
            f"drop or fix them explicitly first."
        )
    counts = pd.crosstab(presence_absence[survey].to_numpy(), presence_absence[species].to_numpy())
    out = (counts > 0).astype("uint8")
    out.index.name, out.columns.name = survey, species
    return out


# --------------------------------------------------------------------------- helpers


def _path(src: Path | None, rel: str, what: str) -> Path:
    """The file ``rel`` under ``src``, or from the registry when ``src`` is None."""
    if src is None:
        if f"{DATASET}/{rel}" not in registry():
            raise FileNotFoundError(
                f"No {what} in the registered GLC23 sample (no file {rel}). The sample has "
                f"patches for its 100 presence-only patchIDs and bands rgb, nir only; pass "
                f"root=… to read the full GLC23 data."
            )
        return fetch(DATASET, rel)
    path = src / rel
    if not path.is_file():
        raise FileNotFoundError(f"No {what}: expected {path}.")
    return path


def _find(src: Path | None, given, candidates: Sequence[str], what: str) -> Path:
    if src is None:
        return fetch(DATASET, candidates[0])
    if given is not None:
        path = Path(given).expanduser()
        path = path if path.is_absolute() else src / path
        if not path.is_file():
            raise FileNotFoundError(f"The {what} file {path} does not exist.")
        return path
    for rel in candidates:
        if (src / rel).is_file():
            return src / rel
    raise FileNotFoundError(
        f"No {what} occurrences in {src}: looked for {', '.join(candidates)}. Pass the file "
        f"as {'pa_file' if 'absence' in what else 'po_file'}=… if it lives elsewhere."
    )


def _parse_dates(s: pd.Series, name: str) -> pd.Series:
    num = pd.to_numeric(s, errors="coerce")
    epoch = num.notna()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    if epoch.any():
        local = pd.to_datetime(num[epoch], unit="s", utc=True).dt.tz_convert("Europe/Paris")
        out[epoch] = local.dt.tz_localize(None).dt.normalize().astype("datetime64[us]")
    text = ~epoch & s.notna()
    if text.any():
        out[text] = pd.to_datetime(s[text].astype("str"), format="ISO8601", errors="coerce").astype(
            "datetime64[us]"
        )
    bad = s.index[s.notna() & out.isna()]
    if len(bad):
        raise ValidationError(
            f"{name}: 'date' in rows {_show(bad)} is neither an ISO date nor Unix seconds: "
            f"{_show(s.loc[bad])}."
        )
    return out


def _read_occurrences(path: Path, name: str):
    with open(path, encoding="utf-8") as fh:
        header = fh.readline()
    df = pd.read_csv(
        path, sep=";" if header.count(";") >= header.count(",") else ",", low_memory=False
    )
    unnamed = [c for c in df.columns if str(c) == "" or str(c).startswith("Unnamed: ")]
    if len(unnamed) == 1 and df.columns[0] == unnamed[0]:
        df = df.rename(columns={unnamed[0]: "source_row"})
    for col in df.columns.intersection(_INT):
        df[col] = as_whole_numbers(df[col], col, name, allow_missing=True)
    for col in df.columns.intersection(_NULLABLE_INT):
        df[col] = as_whole_numbers(df[col], col, name, allow_missing=True).astype("Int64")
    for col in df.columns.intersection(_FLOAT):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in df.columns.intersection(_STR):
        df[col] = df[col].astype("str")
    if "date" in df.columns:
        df["date"] = _parse_dates(df["date"], name)
        if {"dayOfYear", "year"} <= set(df.columns):
            d = df["date"]
            off = df.index[
                d.notna() & ((d.dt.day_of_year != df["dayOfYear"]) | (d.dt.year != df["year"]))
            ]
            if len(off):
                warnings.warn(
                    f"{name}: 'date' disagrees with dayOfYear/year in {len(off)} rows "
                    f"{_show(off)}; both kept as given.",
                    ValidationWarning,
                    stacklevel=3,
                )
    return points_from_xy(df, x="lon", y="lat", crs="EPSG:4326")


def _read_landsat(path: Path, band: str) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=";", dtype="str")
    name = f"Landsat {band} series ({path.name})"
    if "timeSerieID" not in raw.columns:
        raise ValidationError(f"{name} has no timeSerieID column; it has {list(raw.columns[:5])}.")
    long = raw.melt(id_vars="timeSerieID", var_name="period", value_name="raw")
    long = long[long["raw"].str.strip().str.lower() != "eos"]
    value = pd.to_numeric(long["raw"], errors="coerce")
    bad = long.index[value.isna() & long["raw"].notna()]
    if len(bad):
        raise ValidationError(
            f"{name}: non-numeric values {_show(long.loc[bad, 'raw'].unique())} besides the "
            f"'eos' padding."
        )
    yq = long["period"].str.extract(r"^(\d{4})_([1-4])$")
    if yq.isna().any().any():
        odd = long.loc[yq.isna().any(axis=1), "period"].unique()
        raise ValidationError(f"{name}: columns {_show(odd)} are not <year>_<quarter>.")
    year, quarter = yq[0].astype("int64"), yq[1].astype("int64")
    return pd.DataFrame(
        {
            "timeSerieID": as_whole_numbers(
                long["timeSerieID"], "timeSerieID", name, allow_missing=True
            ),
            "band": band,
            "year": year,
            "quarter": quarter,
            "date": pd.to_datetime({"year": year, "month": 3 * quarter - 2, "day": 1}),
            "value": value.astype("float64"),
        }
    )


def _concat_landsat(frames: list[pd.DataFrame], bands: list[str]) -> pd.DataFrame:
    cols = ["timeSerieID", "band", "year", "quarter", "date", "value"]
    if not frames:
        out = pd.DataFrame({c: pd.Series(dtype="int64") for c in cols})
        out["date"] = pd.Series(dtype="datetime64[us]")
        out["value"] = pd.Series(dtype="float64")
    else:
        out = pd.concat(frames, ignore_index=True)
    out["band"] = pd.Categorical(out["band"], categories=bands, ordered=True)
    return out.sort_values(["timeSerieID", "band", "date"], kind="stable").reset_index(drop=True)


def _human_footprint(src: Path | None):
    import xarray as xr

    from sdmkit._validation import check_raster

    if src is None:
        prefix = f"{DATASET}/{_FOOTPRINT_DIR}/"
        paths = [
            fetch(DATASET, k.split("/", 1)[1])
            for k in sorted(registry())
            if k.startswith(prefix) and k.endswith(".tif")
        ]
    else:
        paths = sorted((src / _FOOTPRINT_DIR).glob("*.tif"))
        if not paths:
            raise FileNotFoundError(f"No Human Footprint GeoTIFFs in {src / _FOOTPRINT_DIR}.")
    grids = [open_grid(p, name=p.name.split(".")[0].removesuffix("_WGS84")) for p in paths]
    first = grids[0]
    same = all(
        g.shape[1:] == first.shape[1:]
        and g.rio.crs == first.rio.crs
        and np.allclose(tuple(g.rio.transform()), tuple(first.rio.transform()))
        for g in grids[1:]
    )
    if not same:
        return {str(g["band"].item()): check_raster(g) for g in grids}
    da = xr.concat(grids, dim="band", combine_attrs="drop_conflicts")
    da = da.rio.write_crs(first.rio.crs)
    da.attrs.update(
        long_name="Human Footprint 2009 pressures", source=", ".join(str(p) for p in paths)
    )
    return check_raster(da, name="human_footprint")
