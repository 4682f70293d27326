"""GeoPlant / GeoLifeCLEF 2024 (GLC24) plant surveys, for users who have the files.

The data are not redistributed by sdmkit (the full set is ~100 GB): download
them from the GeoLifeCLEF 2024 Kaggle competition or the GeoPlant Seafile
(github.com/plantnet/GeoPlant) and point :func:`load_geoplant` at the folder.
Three published layouts are recognised — the Kaggle GLC24 download, the
GeoPlant release (and GLC25, which follows it) — by the exact relative paths
below, first match wins. ``{S}`` is ``PA-train``, ``PA-test`` (GeoPlant:
``PA-test-iid``) or ``PO-train``.

=========================  ====================================================================
part                        files tried under ``root``
=========================  ====================================================================
``"pa"`` (train surveys)    ``GLC24_PA_metadata_train.csv``,
                            ``PresenceAbsenceSurveys/GLC24_PA_metadata_train.csv``,
                            ``PresenceAbsenceSurveys/GLC24-PA-metadata-train.csv``,
                            ``PresenceAbsenceSurveys/PA_metadata_train.csv``,
                            ``GLC25_PA_metadata_train.csv``,
                            ``PresenceAbsenceSurveys/GLC25_PA_metadata_train.csv``
``"pa_test"``               the same names with ``test`` (GeoPlant: ``PA_metadata_test_iid.csv``)
``"po"``                    ``GLC24_P0_metadata_train.csv`` (a zero, as published),
                            ``GLC24_PO_metadata_train.csv``, both also under
                            ``PresenceOnlyOccurrences/`` and ``PresenceOnlyOccurences/``;
                            ``PresenceOnlyOccurrences/PO_metadata_train.csv``; ``GLC25_P0_…``
``"environment"``           per survey set, one table per family, in
                            ``EnvironmentalRasters/EnvironmentalRasters/<dir>/`` or
                            ``EnvironmentalRasters/<dir>/`` (GLC24, file ``GLC24-{S}-<name>``)
                            and ``EnvironmentalValues/<dir>/`` (GeoPlant, ``{S}-<name>``;
                            GLC25, ``GLC25-{S}-<name>``) with <dir> / <name>:
                            climate: ``Climate/Average 1981-2010``, ``Climate``,
                            ``ClimateAverage_1981-2010`` / ``bioclimatic.csv``;
                            elevation: ``Elevation`` / ``elevation.csv``;
                            landcover: ``LandCover`` / ``landcover.csv``;
                            soilgrids: ``SoilGrids``, ``SoilGrids/v2``, ``SoilGrids/v1`` /
                            ``soilgrids.csv``; human footprint: ``Human Footprint``,
                            ``HumanFootprint``, ``HumanFootprint/v2``, ``HumanFootprint/v1`` /
                            ``human_footprint.csv`` or ``human-footprint.csv``
``"bioclim_cubes"``         ``TimeSeries-Cubes/TimeSeries-Cubes/GLC24-{S}-bioclimatic_monthly/``,
                            ``TimeSeries-Cubes/GLC24-{S}-bioclimatic_monthly/``,
                            ``BioclimTimeSeries/cubes/{S}/``; files
                            ``[GLC24-|GLC25-]{S}-bioclimatic_monthly_<surveyId>_cube.pt``
``"landsat_cubes"``         ``TimeSeries-Cubes/TimeSeries-Cubes/GLC24-{S}-landsat_time_series/``,
                            ``TimeSeries-Cubes/GLC24-{S}-landsat_time_series/``,
                            ``SatelliteTimeSeries-Landsat/cubes/{S}/``,
                            ``SateliteTimeSeries-Landsat/cubes/{S}/`` (GLC25's spelling),
                            ``SatelliteTimeSeries/cubes/{S}/``; files
                            ``[GLC24-|GLC25-]{S}-landsat[-_]time[-_]series_<surveyId>_cube.pt``
=========================  ====================================================================

Cube folders are searched recursively (presence-only cubes sit in
``<id[-2:]>/<id[-4:-2]>/`` sub-folders); ``cube_dirs=`` names them directly.
Cubes are indexed at load time and read on demand with
``torch.load(weights_only=True)`` (no arbitrary unpickling). Upstream layout
of one cube: bioclim ``(variable, year, month)`` = (4, 19, 12), monthly
precipitation and mean / min / max temperature 2000–2018; Landsat ``(band,
quarter, year)`` = (6, 4, 21), six bands, quarterly, 2000–2020.

Not read here: satellite image patches, Landsat "values" CSVs, the rasters,
and GeoPlant's separate test-label files.

Source: Picek L, Botella C, et al. (2024). GeoPlant: spatial plant species
prediction dataset. NeurIPS Datasets and Benchmarks; GeoLifeCLEF 2024 (Kaggle).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from sdmkit._validation import ValidationError, ValidationWarning, _show, as_whole_numbers
from sdmkit.datasets.geolifeclef import _read_occurrences, species_matrix

__all__ = ["CUBE_DIMS", "ENV_FAMILIES", "PARTS", "GeoPlant", "load_geoplant", "read_cube"]

PARTS = ("pa", "pa_test", "po", "environment", "bioclim_cubes", "landsat_cubes")
ENV_FAMILIES = ("climate", "elevation", "landcover", "soilgrids", "human_footprint")
#: dimension names of one cube, as documented upstream
CUBE_DIMS = {"bioclim": ("variable", "year", "month"), "landsat": ("band", "quarter", "year")}

_META = {
    "pa": [
        "GLC24_PA_metadata_train.csv",
        "PresenceAbsenceSurveys/GLC24_PA_metadata_train.csv",
        "PresenceAbsenceSurveys/GLC24-PA-metadata-train.csv",
        "PresenceAbsenceSurveys/PA_metadata_train.csv",
        "GLC25_PA_metadata_train.csv",
        "PresenceAbsenceSurveys/GLC25_PA_metadata_train.csv",
    ],
    "pa_test": [
        "GLC24_PA_metadata_test.csv",
        "PresenceAbsenceSurveys/GLC24_PA_metadata_test.csv",
        "PresenceAbsenceSurveys/GLC24-PA-metadata-test.csv",
        "PresenceAbsenceSurveys/PA_metadata_test_iid.csv",
        "PresenceAbsenceSurveys/PA_metadata_test.csv",
        "GLC25_PA_metadata_test.csv",
        "PresenceAbsenceSurveys/GLC25_PA_metadata_test.csv",
    ],
    "po": [
        "GLC24_P0_metadata_train.csv",
        "GLC24_PO_metadata_train.csv",
        "PresenceOnlyOccurrences/GLC24_P0_metadata_train.csv",
        "PresenceOnlyOccurrences/GLC24_PO_metadata_train.csv",
        "PresenceOnlyOccurences/GLC24_P0_metadata_train.csv",
        "PresenceOnlyOccurences/GLC24_PO_metadata_train.csv",
        "PresenceOnlyOccurrences/PO_metadata_train.csv",
        "GLC25_P0_metadata_train.csv",
        "PresenceOnlyOccurrences/GLC25_P0_metadata_train.csv",
    ],
}
_SUBSETS = {"pa": ("PA-train",), "pa_test": ("PA-test", "PA-test-iid"), "po": ("PO-train",)}
_ENV_ROOTS = (
    ("EnvironmentalRasters/EnvironmentalRasters", ("GLC24-",)),
    ("EnvironmentalRasters", ("GLC24-",)),
    ("EnvironmentalValues", ("", "GLC25-", "GLC24-")),
)
_ENV = {
    "climate": (
        ("Climate/Average 1981-2010", "Climate", "ClimateAverage_1981-2010"),
        ("bioclimatic.csv",),
    ),
    "elevation": (("Elevation",), ("elevation.csv",)),
    "landcover": (("LandCover",), ("landcover.csv",)),
    "soilgrids": (("SoilGrids", "SoilGrids/v2", "SoilGrids/v1"), ("soilgrids.csv",)),
    "human_footprint": (
        ("Human Footprint", "HumanFootprint", "HumanFootprint/v2", "HumanFootprint/v1"),
        ("human_footprint.csv", "human-footprint.csv"),
    ),
}
_CUBE_DIRS = {
    "bioclim": (
        "TimeSeries-Cubes/TimeSeries-Cubes/GLC24-{S}-bioclimatic_monthly",
        "TimeSeries-Cubes/GLC24-{S}-bioclimatic_monthly",
        "BioclimTimeSeries/cubes/{S}",
    ),
    "landsat": (
        "TimeSeries-Cubes/TimeSeries-Cubes/GLC24-{S}-landsat_time_series",
        "TimeSeries-Cubes/GLC24-{S}-landsat_time_series",
        "SatelliteTimeSeries-Landsat/cubes/{S}",
        "SateliteTimeSeries-Landsat/cubes/{S}",
        "SatelliteTimeSeries/cubes/{S}",
    ),
}
_CUBE_RE = {
    "bioclim": re.compile(r"^(?:GLC2\d-)?(P[AO])-([\w-]+?)-bioclimatic[_-]monthly_(\d+)_cube\.pt$"),
    "landsat": re.compile(
        r"^(?:GLC2\d-)?(P[AO])-([\w-]+?)-landsat[_-]time[_-]series_(\d+)_cube\.pt$"
    ),
}
_CATEGORY = ("region", "country", "publisher", "taxonRank")


@dataclass(repr=False)
class GeoPlant:
    """GeoPlant / GLC24 tables; cubes are indexed and read on demand.

    Attributes
    ----------
    presence_absence : geopandas.GeoDataFrame or None
        Training surveys, long format: one row per (survey, species present).
        ``surveyId``, ``speciesId``, ``year`` int64 (nullable ``Int64`` where
        values are missing), ``lon``, ``lat``, ``geoUncertaintyInM``,
        ``areaInM2`` float64, ``region``, ``country`` category; EPSG:4326
        points. Other upstream columns are kept.
    presence_absence_test : geopandas.GeoDataFrame or None
        Test surveys, one row per survey, same columns without ``speciesId``.
    presence_only : geopandas.GeoDataFrame or None
        Presence-only occurrences: the same typing plus ``month``, ``day``,
        ``dayOfYear`` (int64 / Int64), ``date`` (datetime64), ``publisher``,
        ``taxonRank`` (category).
    environment : dict of str -> pandas.DataFrame
        Per survey set (``"PA-train"``, ``"PA-test"``, ``"PO-train"``): one row
        per ``surveyId`` (the index, int64, sorted) and the float64 columns of
        every family found, named as upstream (``Bio1`` … ``Bio19``,
        ``Elevation``, ``LandCover-*``, ``Soilgrid-*``, ``HumanFootprint-*``).
        Infinite values are NaN.
    cube_files : pandas.DataFrame
        Index of the cubes found: ``kind`` (``bioclim`` / ``landsat``),
        ``source`` (``PA`` / ``PO``), ``subset`` (``train``, ``test``, …),
        ``surveyId`` (int64), ``path`` (str). Read with :meth:`read_cubes`.
    files : dict of str -> pathlib.Path
        Every table read, by part (and ``environment/<set>/<family>``).
    root : pathlib.Path
    """

    presence_absence: object = None
    presence_absence_test: object = None
    presence_only: object = None
    environment: dict = field(default_factory=dict)
    cube_files: pd.DataFrame = field(default_factory=lambda: _cube_frame([]))
    files: dict = field(default_factory=dict)
    root: Path | None = None

    @cached_property
    def surveys(self):
        """Training surveys, one row per ``surveyId`` (sorted), without ``speciesId``.

        Rows align with :attr:`species_matrix`.
        """
        pa = self._require_pa()
        cols = [c for c in pa.columns if c != "speciesId"]
        out = pa[cols].drop_duplicates("surveyId").sort_values("surveyId", kind="stable")
        return out.reset_index(drop=True)

    @cached_property
    def species_matrix(self) -> pd.DataFrame:
        """Training surveys x species 0/1 matrix (uint8), see ``geolifeclef.species_matrix``.

        Index: every ``surveyId`` of :attr:`surveys` (a survey whose rows all
        lack a ``speciesId`` is a row of zeros, with a warning); columns:
        sorted ``speciesId``.
        """
        pa = self._require_pa()
        missing = pa["speciesId"].isna()
        if missing.any():
            warnings.warn(
                f"presence_absence: {int(missing.sum())} rows have no speciesId (rows "
                f"{_show(pa.index[missing])}); they add no species to the matrix.",
                ValidationWarning,
                stacklevel=2,
            )
        mat = species_matrix(pa.loc[~missing], survey="surveyId", species="speciesId")
        ids = pd.Index(self.surveys["surveyId"].to_numpy(), name="surveyId")
        return mat.reindex(ids, fill_value=0).astype("uint8")

    def read_cubes(
        self,
        kind: str,
        survey_ids: Iterable[int] | None = None,
        *,
        source: str = "PA",
        subset: str = "train",
        missing: str = "raise",
    ):
        """Stack the cubes of some surveys into one DataArray.

        Parameters
        ----------
        kind : {"bioclim", "landsat"}
        survey_ids : iterable of int, optional
            Which surveys, in output order; default every indexed one.
        source, subset : str
            ``"PA"`` / ``"PO"`` and ``"train"`` / ``"test"`` (as in the file names).
        missing : {"raise", "nan"}
            A survey without a cube: error listing them, or a NaN slice with a
            warning counting them.

        Returns
        -------
        xarray.DataArray
            float32, dims ``("surveyId", *CUBE_DIMS[kind])``, coordinate
            ``surveyId``; upstream NaN kept.
        """
        import xarray as xr

        if kind not in CUBE_DIMS:
            raise ValueError(f"kind must be one of {list(CUBE_DIMS)}; got {kind!r}.")
        if missing not in ("raise", "nan"):
            raise ValueError(f"missing must be 'raise' or 'nan'; got {missing!r}.")
        files = self.cube_files
        sel = files[
            (files["kind"] == kind) & (files["source"] == source) & (files["subset"] == subset)
        ]
        paths = dict(zip(sel["surveyId"].to_numpy(), sel["path"].to_numpy()))
        ids = sorted(paths) if survey_ids is None else [int(s) for s in survey_ids]
        absent = [s for s in ids if s not in paths]
        if absent and (missing == "raise" or len(absent) == len(ids)):
            raise FileNotFoundError(
                f"No {kind} cube for {len(absent)} of {len(ids)} {source}-{subset} surveys "
                f"{_show(absent)}; expected files named like {source}-{subset}-"
                f"{'bioclimatic_monthly' if kind == 'bioclim' else 'landsat-time-series'}"
                f"_<surveyId>_cube.pt (optionally prefixed GLC24-/GLC25-) in a cube folder "
                f"({'; '.join(d.format(S=f'{source}-{subset}') for d in _CUBE_DIRS[kind])}). "
                f"Pass missing='nan' to fill them with NaN."
            )
        arrays, shape = {}, None
        for s in ids:
            if s in paths:
                arrays[s] = read_cube(paths[s])
                if shape is None:
                    shape = arrays[s].shape
                elif arrays[s].shape != shape:
                    raise ValidationError(
                        f"{kind} cubes differ in shape: {paths[s]} is {arrays[s].shape}, "
                        f"earlier ones {shape}."
                    )
        if absent:
            warnings.warn(
                f"No {kind} cube for {len(absent)} of {len(ids)} surveys {_show(absent)}; "
                f"filled with NaN.",
                ValidationWarning,
                stacklevel=2,
            )
        data = np.full((len(ids), *shape), np.nan, dtype=np.float32)
        for i, s in enumerate(ids):
            if s in arrays:
                data[i] = arrays[s]
        dims = CUBE_DIMS[kind] if len(shape) == 3 else tuple(f"dim_{k}" for k in range(len(shape)))
        return xr.DataArray(
            data,
            dims=("surveyId", *dims),
            coords={"surveyId": np.asarray(ids, dtype=np.int64)},
            name=f"{kind}_cubes",
            attrs={"source": f"GeoPlant {source}-{subset} {kind} cubes"},
        )

    def _require_pa(self):
        if self.presence_absence is None:
            raise ValueError("No presence-absence training table loaded; include 'pa' in parts=.")
        return self.presence_absence

    def __repr__(self) -> str:
        def n(t):
            return "—" if t is None else f"{len(t)} rows"

        env = {k: v.shape for k, v in self.environment.items()}
        return (
            f"GeoPlant(presence_absence={n(self.presence_absence)}, "
            f"presence_absence_test={n(self.presence_absence_test)}, "
            f"presence_only={n(self.presence_only)}, environment={env}, "
            f"cube_files={len(self.cube_files)}, root={str(self.root)!r})"
        )


def load_geoplant(
    root: str | Path,
    *,
    parts: Sequence[str] = ("pa", "environment"),
    files: dict | None = None,
    cube_dirs: dict | None = None,
) -> GeoPlant:
    """Load GeoPlant / GeoLifeCLEF 2024 tables from a local folder.

    Parameters
    ----------
    root : str or Path
        Folder holding the data in one of the published layouts (see the
        module docstring for the exact file names tried).
    parts : sequence of str
        Any of ``"pa"`` (training surveys), ``"pa_test"`` (test surveys),
        ``"po"`` (presence-only occurrences, ~5 million rows),
        ``"environment"`` (the per-survey value tables of the loaded survey
        sets; needs one of the three), ``"bioclim_cubes"``, ``"landsat_cubes"``
        (indexed, read with :meth:`GeoPlant.read_cubes`).
    files : dict, optional
        Explicit paths (relative to ``root`` or absolute) for ``"pa"``,
        ``"pa_test"``, ``"po"``, overriding the search.
    cube_dirs : dict, optional
        ``{"bioclim": folder, "landsat": folder}`` to index instead of the
        standard folders.

    Returns
    -------
    GeoPlant
        Typed GeoDataFrames, ``environment`` tables, ``cube_files`` index,
        ``surveys`` and ``species_matrix`` (surveys x species 0/1).

    Raises
    ------
    FileNotFoundError
        A requested part has no file; the message lists every name tried.
    ValidationError
        Coordinates, ids or values that cannot be read; duplicate surveys in
        an environment table.

    Warns
    -----
    ValidationWarning
        Environment families not found, infinite values (set to NaN), surveys
        without environment rows.

    Examples
    --------
    >>> from sdmkit.datasets.geoplant import load_geoplant
    >>> gp = load_geoplant("~/data/geolifeclef-2024",  # doctest: +SKIP
    ...                    parts=("pa", "environment", "bioclim_cubes"))
    >>> Y = gp.species_matrix  # doctest: +SKIP
    >>> X = gp.environment["PA-train"].loc[Y.index]  # doctest: +SKIP
    >>> cubes = gp.read_cubes("bioclim", Y.index[:100])  # doctest: +SKIP
    >>> cubes.dims  # doctest: +SKIP
    ('surveyId', 'variable', 'year', 'month')
    """
    src = Path(root).expanduser()
    if not src.is_dir():
        raise FileNotFoundError(f"GeoPlant root {src} is not a folder.")
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"Unknown parts {unknown}; choose from {PARTS}.")
    if not parts:
        raise ValueError(f"parts is empty; choose from {PARTS}.")
    files = dict(files or {})
    bad_keys = [k for k in files if k not in _META]
    if bad_keys:
        raise ValueError(f"files= keys must be among {list(_META)}; got {bad_keys}.")
    out = GeoPlant(root=src)
    tables = {}
    for part, attr in (
        ("pa", "presence_absence"),
        ("pa_test", "presence_absence_test"),
        ("po", "presence_only"),
    ):
        if part in parts:
            path = _find_meta(src, part, files.get(part))
            out.files[part] = path
            tables[part] = _read_table(path, part)
            setattr(out, attr, tables[part])
    if "environment" in parts:
        if not tables:
            raise ValueError(
                "parts='environment' reads the value tables of loaded surveys; add 'pa', "
                "'pa_test' or 'po' to parts."
            )
        errors = {}
        for part, table in tables.items():
            try:
                name, env, used = _read_environment(src, part)
            except FileNotFoundError as err:
                errors[part] = err
                continue
            out.environment[name] = env
            out.files.update({f"environment/{name}/{fam}": p for fam, p in used.items()})
            _warn_unmatched(table, env, name)
        if len(errors) == len(tables):
            raise next(iter(errors.values()))
        for err in errors.values():
            warnings.warn(f"{err} Skipped.", ValidationWarning, stacklevel=2)
    frames = []
    for kind in ("bioclim", "landsat"):
        if f"{kind}_cubes" in parts:
            frames.append(_index_cubes(src, kind, (cube_dirs or {}).get(kind)))
    if frames:
        out.cube_files = pd.concat(frames, ignore_index=True)
        out.cube_files["kind"] = pd.Categorical(out.cube_files["kind"], categories=list(CUBE_DIMS))
    return out


def read_cube(path: str | Path) -> np.ndarray:
    """Read one GeoPlant cube (``.pt``) safely as a float32 array.

    Uses ``torch.load(weights_only=True)``: only plain tensors are accepted,
    never arbitrary pickled objects.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    numpy.ndarray
        float32, the cube's shape (e.g. (4, 19, 12) bioclim, (6, 4, 21) Landsat).

    Examples
    --------
    >>> from sdmkit.datasets.geoplant import read_cube
    >>> read_cube("GLC24-PA-train-bioclimatic_monthly_212_cube.pt").shape  # doctest: +SKIP
    (4, 19, 12)
    """
    try:
        import torch
    except ImportError as err:  # pragma: no cover - only without torch
        raise ImportError(
            "Reading GeoPlant .pt cubes needs PyTorch: `pip install 'sdmkit[deep]'`."
        ) from err
    try:
        obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError and friends: not a plain tensor file
        raise ValidationError(
            f"{path} is not a plain tensor file readable with torch.load(weights_only=True) "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"sdmkit never unpickles arbitrary objects."
        ) from err
    if not isinstance(obj, torch.Tensor):
        raise ValidationError(f"{path} holds a {type(obj).__name__}, not a tensor.")
    return obj.detach().to(torch.float32).numpy()


# --------------------------------------------------------------------------- helpers


def _find_meta(src: Path, part: str, given) -> Path:
    if given is not None:
        path = Path(given).expanduser()
        path = path if path.is_absolute() else src / path
        if not path.is_file():
            raise FileNotFoundError(f"The {part} file {path} does not exist.")
        return path
    for rel in _META[part]:
        if (src / rel).is_file():
            return src / rel
    raise FileNotFoundError(
        f"No {part!r} table in {src}: looked for {', '.join(_META[part])}. Pass "
        f"files={{{part!r}: 'path/to/file.csv'}} if it lives elsewhere."
    )


def _read_table(path: Path, part: str):
    name = {"pa": "presence_absence", "pa_test": "presence_absence_test", "po": "presence_only"}
    gdf = _read_occurrences(path, name[part])
    for col in ("month", "day"):
        if col in gdf.columns:
            gdf[col] = as_whole_numbers(gdf[col], col, name[part], allow_missing=True)
    for col in _CATEGORY:
        if col in gdf.columns:
            gdf[col] = gdf[col].astype("category")
    if "surveyId" not in gdf.columns:
        raise ValidationError(
            f"{path} has no surveyId column (columns: {list(gdf.columns)}); is it a GeoPlant "
            f"/ GLC24 metadata table?"
        )
    if gdf["surveyId"].isna().any():
        raise ValidationError(
            f"{path}: surveyId is missing in rows {_show(gdf.index[gdf['surveyId'].isna()])}."
        )
    if part != "pa_test" and "speciesId" not in gdf.columns:
        raise ValidationError(f"{path} has no speciesId column (columns: {list(gdf.columns)}).")
    return gdf


def _env_candidates(family: str, subset: str) -> list[str]:
    dirs, names = _ENV[family]
    out = []
    for top, prefixes in _ENV_ROOTS:
        for d in dirs:
            for pre in prefixes:
                out += [f"{top}/{d}/{pre}{subset}-{n}" for n in names]
    return out


def _read_environment(src: Path, part: str):
    tables, used, tried = [], {}, {}
    name = _SUBSETS[part][0]
    for family in ENV_FAMILIES:
        cands = [c for s in _SUBSETS[part] for c in _env_candidates(family, s)]
        path = next((src / c for c in cands if (src / c).is_file()), None)
        tried[family] = cands
        if path is None:
            continue
        used[family] = path
        tables.append(_read_values(path))
    if not tables:
        listing = "; ".join(f"{fam}: {', '.join(c[:2])}, …" for fam, c in tried.items())
        raise FileNotFoundError(
            f"No environmental value table for {name} surveys in {src}. Looked for (first "
            f"of each) {listing} (the full list is in sdmkit.datasets.geoplant's docstring)."
        )
    absent = [f for f in ENV_FAMILIES if f not in used]
    if absent:
        warnings.warn(
            f"{name}: no {', '.join(absent)} table found (e.g. {tried[absent[0]][0]}); "
            f"loaded {', '.join(used)}.",
            ValidationWarning,
            stacklevel=3,
        )
    env = tables[0]
    for t in tables[1:]:
        clash = env.columns.intersection(t.columns)
        if len(clash):
            raise ValidationError(f"environment tables share columns {list(clash)}.")
        env = env.join(t, how="outer")
    return name, env.sort_index(), used


def _read_values(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, low_memory=False)
    if "surveyId" not in raw.columns:
        raise ValidationError(f"{path} has no surveyId column; it has {list(raw.columns[:6])}.")
    ids = as_whole_numbers(raw["surveyId"], "surveyId", path.name)
    if ids.isna().any():
        raise ValidationError(f"{path}: surveyId missing in rows {_show(raw.index[ids.isna()])}.")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(
            f"{path}: surveyId {_show(dup.unique())} appear more than once; one row per survey "
            f"is expected."
        )
    values = raw.drop(columns="surveyId")
    out = pd.DataFrame(index=pd.Index(ids.astype("int64").to_numpy(), name="surveyId"))
    for col in values.columns:
        v = pd.to_numeric(values[col], errors="coerce")
        bad = values.index[v.isna() & values[col].notna()]
        if len(bad):
            raise ValidationError(
                f"{path}: column {col!r} has non-numeric values {_show(values.loc[bad, col])} "
                f"in rows {_show(bad)}."
            )
        v = v.to_numpy(dtype="float64", copy=True)
        inf = ~np.isfinite(v) & ~np.isnan(v)
        if inf.any():
            warnings.warn(
                f"{path.name}: column {col!r} has {int(inf.sum())} infinite values; set to NaN.",
                ValidationWarning,
                stacklevel=4,
            )
            v[inf] = np.nan
        out[col] = v
    return out


def _warn_unmatched(table, env: pd.DataFrame, name: str) -> None:
    ids = pd.Index(table["surveyId"].unique())
    lacking = ids.difference(env.index)
    if len(lacking):
        warnings.warn(
            f"{name}: {len(lacking)} of {len(ids)} surveys have no environment row (surveyId "
            f"{_show(lacking)}); their values are missing (NaN) after a join.",
            ValidationWarning,
            stacklevel=3,
        )


def _cube_frame(rows) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["kind", "source", "subset", "surveyId", "path"])
    out["surveyId"] = out["surveyId"].astype("int64")
    for col in ("kind", "source", "subset", "path"):
        out[col] = out[col].astype("str")
    return out


def _index_cubes(src: Path, kind: str, given) -> pd.DataFrame:
    if given is not None:
        folders = [Path(given).expanduser()]
        folders = [f if f.is_absolute() else src / f for f in folders]
        if not folders[0].is_dir():
            raise FileNotFoundError(f"cube_dirs[{kind!r}] = {folders[0]} is not a folder.")
    else:
        sets = ("PA-train", "PA-test", "PO-train")
        cands = list(dict.fromkeys(d.format(S=s) for d in _CUBE_DIRS[kind] for s in sets))
        folders = [src / c for c in cands if (src / c).is_dir()]
        if not folders:
            raise FileNotFoundError(
                f"No {kind} cube folder in {src}: looked for {', '.join(cands)}. Pass "
                f"cube_dirs={{{kind!r}: 'path/to/folder'}} if they live elsewhere."
            )
    pattern, rows = _CUBE_RE[kind], []
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for fname in names:
                m = pattern.match(fname)
                if m:
                    source, subset, sid = m.groups()
                    rows.append((kind, source, subset, int(sid), os.path.join(dirpath, fname)))
    if not rows:
        raise FileNotFoundError(
            f"No {kind} cube files in {', '.join(map(str, folders))}: expected names like "
            f"GLC24-PA-train-"
            f"{'bioclimatic_monthly' if kind == 'bioclim' else 'landsat-time-series'}"
            f"_<surveyId>_cube.pt."
        )
    frame = _cube_frame(rows)
    dup = frame.duplicated(["kind", "source", "subset", "surveyId"])
    if dup.any():
        warnings.warn(
            f"{int(dup.sum())} {kind} cubes appear in more than one folder (e.g. "
            f"{frame.loc[dup, 'path'].iloc[0]}); the first copy found is used.",
            ValidationWarning,
            stacklevel=3,
        )
        frame = frame.loc[~dup]
    return frame.sort_values(["source", "subset", "surveyId"], kind="stable").reset_index(drop=True)
