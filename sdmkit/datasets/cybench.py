"""CY-Bench sub-national crop-yield data (maize and wheat).

Two entry points:

* :func:`load_cybench_us_maize` — the designed feature table of the CY-Bench
  sample for US county maize (one row per county-year, ready for a regressor);
* :func:`load_cybench` — the long per-country tables (yield, NDVI, FAPAR, soil,
  crop calendar) of one crop and country, from the registered sample (NL) or
  from any folder laid out like CY-Bench: ``DIR/<crop>/<COUNTRY>/<table>_<crop>_<COUNTRY>.csv``.

Yields are in t/ha. A yield table whose magnitude says kg/ha (median > 100) is an
error unless ``yield_units="kg/ha"`` asks for the explicit conversion; so is a
t/ha table with some rows above 100 (mixed units, e.g. one region in kg/ha —
the error lists the rows and regions). In a kg/ha table, rows at or below 100
kg/ha (t/ha values mixed in, or near-total failures) are kept with a warning.

Source: Paudel D, et al. (2025). CY-Bench: a comprehensive benchmark dataset for
sub-national crop yield forecasting. doi:10.5281/zenodo.11502142 (sample data:
github.com/BigDataWUR/sample_data).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdmkit._validation import (
    ValidationError,
    ValidationWarning,
    _show,
    as_whole_numbers,
    check_panel,
)
from sdmkit.datasets._fetch import fetch, registry

__all__ = [
    "CYBenchTables",
    "cybench_feature_groups",
    "load_cybench",
    "load_cybench_us_maize",
]

DATASET = "cybench_sample"
TABLES = ("yield", "ndvi", "fpar", "soil", "crop_calendar")
_US_FILES = {
    "train": "features/maize/US/grain_maize_US_train.csv",
    "test": "features/maize/US/grain_maize_US_test.csv",
}
_KG_HA_MEDIAN = 100.0  # no maize/wheat yield has a median above 100 t/ha


# --------------------------------------------------------------------------- US maize features


def load_cybench_us_maize(split: str = "train") -> pd.DataFrame:
    """Load the CY-Bench designed features for US county grain maize.

    One row per county and harvest year; every column but the two keys is a
    float. The split is CY-Bench's: train = harvest years 2000-2011
    (7170 rows, 915 counties), test = 2012-2018 (4137 rows, 904 counties).

    Feature groups (see :func:`cybench_feature_groups`), as designed by CY-Bench:

    * **weather** (AgERA5), by crop-calendar period ``p0`` (earliest) … ``p4``
      (latest): ``avg<VAR>p<k>`` is the period mean of ``VAR`` — ``TAVG``,
      ``TMIN``, ``TMAX`` (°C), ``PREC`` (precipitation, mm) or ``CWB`` (climatic
      water balance, precipitation minus reference evapotranspiration, mm);
      ``Z-<VAR>p<k>`` / ``Z+<VAR>p<k>`` are non-negative scores of negative /
      positive z-score anomalies of ``VAR`` in that period;
    * **soil**: ``SM_WHC``, soil water-holding capacity (WISE);
    * **fpar**: ``avgFAPARp2``, mean fraction of absorbed PAR in period 2;
    * **yield_lags**: ``yield-1`` … ``yield-5``, the county's yield 1-5 years
      before (t/ha);
    * **yield_trend**: ``yield_trend``, the county's trend estimate for the year (t/ha).

    Parameters
    ----------
    split : {"train", "test", "all"}
        ``"all"`` is train and test together (11307 rows, 2000-2018).

    Returns
    -------
    pandas.DataFrame
        Columns ``adm_id`` (str, e.g. ``"IA_STORY"``), ``harvest_year`` (int64;
        the upstream ``year`` column, renamed to match :func:`load_cybench`),
        the 32 features (float64) and the target ``yield`` (float64, t/ha),
        sorted by (adm_id, harvest_year).

    Raises
    ------
    ValidationError
        Duplicated (adm_id, harvest_year), negative yields or yields in kg/ha.

    Examples
    --------
    >>> from sdmkit.datasets.cybench import load_cybench_us_maize
    >>> train = load_cybench_us_maize("train")  # doctest: +SKIP
    >>> train.shape, train["harvest_year"].max()  # doctest: +SKIP
    ((7170, 35), 2011)
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}.")
    parts = ["train", "test"] if split == "all" else [split]
    frames = [pd.read_csv(fetch(DATASET, _US_FILES[p])) for p in parts]
    df = pd.concat(frames, ignore_index=True).rename(columns={"year": "harvest_year"})
    name = f"CY-Bench US maize features ({split})"
    df = _typed_yield(df, name=name, extra_str=())
    features = [c for c in df.columns if c not in ("adm_id", "harvest_year")]
    df[features] = df[features].astype("float64")
    return _check_yield(df, name=name, units="t/ha")


def cybench_feature_groups(columns) -> dict[str, list[str]]:
    """Group CY-Bench designed feature names by what they measure.

    Parameters
    ----------
    columns : iterable of str
        Column names, e.g. ``frame.columns`` of :func:`load_cybench_us_maize`.

    Returns
    -------
    dict
        ``{"weather": [...], "soil": [...], "fpar": [...], "yield_lags": [...],
        "yield_trend": [...]}``, each in the order of ``columns``. Keys and the
        target ``yield`` are in no group.

    Examples
    --------
    >>> from sdmkit.datasets.cybench import cybench_feature_groups
    >>> g = cybench_feature_groups(["adm_id", "avgTAVGp0", "Z+PRECp3", "SM_WHC",
    ...                             "avgFAPARp2", "yield-1", "yield_trend", "yield"])
    >>> g["weather"], g["yield_lags"]
    (['avgTAVGp0', 'Z+PRECp3'], ['yield-1'])
    """
    groups: dict[str, list[str]] = {
        "weather": [],
        "soil": [],
        "fpar": [],
        "yield_lags": [],
        "yield_trend": [],
    }
    for col in columns:
        if re.fullmatch(r"(avg|Z[-+])FAPARp\d", col):
            groups["fpar"].append(col)
        elif re.fullmatch(r"(avg|Z[-+])[A-Z0-9]+p\d", col):
            groups["weather"].append(col)
        elif col == "SM_WHC" or col.startswith("SM_"):
            groups["soil"].append(col)
        elif re.fullmatch(r"yield-\d+", col):
            groups["yield_lags"].append(col)
        elif col == "yield_trend":
            groups["yield_trend"].append(col)
    return groups


# --------------------------------------------------------------------------- long tables


@dataclass(repr=False)
class CYBenchTables:
    """The long tables of one crop and country (see :func:`load_cybench`).

    Attributes
    ----------
    crop, country : str
    yield_ : pandas.DataFrame
        ``crop_name, country_code, adm_id, harvest_year, yield, harvest_area,
        production`` (whatever the file has beyond the three required keys is kept).
    ndvi, fpar : pandas.DataFrame or None
        ``crop_name, adm_id, date`` (datetime64) and the value column named after
        the indicator (``ndvi`` / ``fpar``). NDVI is on the MOD09CMG 50-250
        scale (NDVI = (x - 50) / 200); FAPAR in percent.
    soil : pandas.DataFrame or None
        One row per region: ``crop_name, adm_id, awc, bulk_density, drainage_class``.
    crop_calendar : pandas.DataFrame or None
        One row per region: ``crop_name, adm_id, sos, eos`` (start / end of
        season, day of year).
    """

    crop: str
    country: str
    yield_: pd.DataFrame
    ndvi: pd.DataFrame | None = None
    fpar: pd.DataFrame | None = None
    soil: pd.DataFrame | None = None
    crop_calendar: pd.DataFrame | None = None

    def __repr__(self) -> str:
        parts = []
        for t in TABLES:
            df = getattr(self, "yield_" if t == "yield" else t)
            parts.append(f"{t}={'None' if df is None else f'{len(df)} rows'}")
        return f"CYBenchTables({self.crop!r}, {self.country!r}, {', '.join(parts)})"


def load_cybench(
    crop: str,
    country: str,
    data_dir: str | Path | None = None,
    *,
    yield_units: str = "t/ha",
) -> CYBenchTables:
    """Load the CY-Bench long tables of one crop and country.

    Parameters
    ----------
    crop : str
        ``"maize"`` or ``"wheat"`` (the folder name).
    country : str
        Country code as in the folder names, e.g. ``"NL"``.
    data_dir : str or Path, optional
        A folder laid out like CY-Bench:
        ``data_dir/<crop>/<country>/<table>_<crop>_<country>.csv`` with
        ``<table>`` in ``yield, ndvi, fpar, soil, crop_calendar``. Files are read
        from it directly (no registry, no hash check). Only the yield table is
        required; a missing optional table is ``None`` with a warning.
        When None, the registered CY-Bench sample is used (maize and wheat, NL),
        found through ``$SDMKIT_DATA_DIR`` or the sdmkit cache.
    yield_units : {"t/ha", "kg/ha"}
        Unit of the ``yield`` column in the files. ``"kg/ha"`` converts it to
        t/ha (divides by 1000). The magnitude is checked either way.

    Returns
    -------
    CYBenchTables
        Typed tables: ids and names str, ``harvest_year`` int64, ``date``
        datetime64, values float64, ``drainage_class`` int64; sorted by
        (adm_id, harvest_year / date).

    Raises
    ------
    FileNotFoundError
        The yield file is missing (the message lists every missing table file
        and the expected path pattern).
    ValidationError
        Duplicated (adm_id, harvest_year) or (adm_id, date) rows, negative
        yields, unparsable dates or years, or yields whose median says kg/ha
        while ``yield_units="t/ha"`` (or t/ha while ``"kg/ha"``), or t/ha
        tables with rows above 100 (mixed units).

    Warns
    -----
    ValidationWarning
        Optional tables not found; zero yields (kept); NDVI values of exactly 0
        (the upstream fill for a missing composite), which are set to NaN.

    Examples
    --------
    >>> from sdmkit.datasets.cybench import load_cybench
    >>> nl = load_cybench("wheat", "NL")  # doctest: +SKIP
    >>> nl.yield_[["adm_id", "harvest_year", "yield"]].head(2)  # doctest: +SKIP
      adm_id  harvest_year  yield
    0   NL11          2000  8.122
    1   NL11          2001  8.509
    """
    if yield_units not in ("t/ha", "kg/ha"):
        raise ValueError(f"yield_units must be 't/ha' or 'kg/ha', got {yield_units!r}.")
    rel = {t: f"{crop}/{country}/{t}_{crop}_{country}.csv" for t in TABLES}
    paths = _resolve(rel, crop, country, data_dir)
    where = f"{crop}/{country}"
    yield_ = _typed_yield(pd.read_csv(paths["yield"]), name=f"yield table {where}")
    out = CYBenchTables(
        crop=crop,
        country=country,
        yield_=_check_yield(yield_, name=f"yield table {where}", units=yield_units),
    )
    for table in ("ndvi", "fpar"):
        if paths[table] is not None:
            setattr(out, table, _read_series(paths[table], table, f"{table} table {where}"))
    for table in ("soil", "crop_calendar"):
        if paths[table] is not None:
            setattr(out, table, _read_static(paths[table], f"{table} table {where}"))
    return out


# --------------------------------------------------------------------------- helpers


def _resolve(rel: dict[str, str], crop: str, country: str, data_dir) -> dict[str, Path | None]:
    pattern = "<data_dir>/<crop>/<country>/<table>_<crop>_<country>.csv"
    if data_dir is None:
        if f"{DATASET}/{rel['yield']}" not in registry():
            have = sorted(
                {
                    k.split("/")[1] + "/" + k.split("/")[2]
                    for k in registry()
                    if k.startswith(f"{DATASET}/") and k.count("/") == 3
                }
            )
            raise FileNotFoundError(
                f"The registered CY-Bench sample has no {crop}/{country} tables (it has "
                f"{', '.join(have)}). For other crops or countries download CY-Bench "
                f"(doi:10.5281/zenodo.11502142) and pass data_dir=…, laid out as {pattern}."
            )
        return {t: fetch(DATASET, r) for t, r in rel.items()}
    root = Path(data_dir).expanduser()
    paths = {t: root / r for t, r in rel.items()}
    missing = [t for t, p in paths.items() if not p.is_file()]
    if "yield" in missing:
        raise FileNotFoundError(
            f"No CY-Bench yield table for {crop}/{country} in {root}: missing "
            f"{', '.join(str(paths[t]) for t in missing)}. The yield table is required, the "
            f"others optional. Expected layout: {pattern} with <table> in {', '.join(TABLES)}."
        )
    if missing:
        warnings.warn(
            f"CY-Bench {crop}/{country}: optional tables {missing} not found in {root} "
            f"(looked for {', '.join(str(paths[t]) for t in missing)}); they are None.",
            ValidationWarning,
            stacklevel=3,
        )
    return {t: (None if t in missing else p) for t, p in paths.items()}


def _typed_yield(df: pd.DataFrame, *, name: str, extra_str=("crop_name", "country_code")):
    need = ["adm_id", "harvest_year", "yield"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValidationError(
            f"{name} lacks columns {missing}; it has {list(df.columns)}. A CY-Bench yield "
            f"table needs adm_id, harvest_year and yield (t/ha)."
        )
    df = df.copy()
    for col in ("adm_id", *[c for c in extra_str if c in df.columns]):
        df[col] = df[col].astype("str")
    df["harvest_year"] = as_whole_numbers(df["harvest_year"], "harvest_year", name)
    num = [c for c in ("yield", "harvest_area", "production") if c in df.columns]
    for col in num:
        v = pd.to_numeric(df[col], errors="coerce")
        bad = df.index[v.isna() & df[col].notna()]
        if len(bad):
            raise ValidationError(
                f"{name}: column {col!r} has non-numeric values in rows {_show(bad)}: "
                f"{_show(df.loc[bad, col])}."
            )
        df[col] = v.astype("float64")
    return df


def _check_yield(df: pd.DataFrame, *, name: str, units: str) -> pd.DataFrame:
    df = check_panel(df, location="adm_id", time="harvest_year", freq=None, name=name)
    y = df["yield"]
    neg = df.index[y < 0]
    if len(neg):
        raise ValidationError(
            f"{name} has negative yields in rows {_show(neg)}: values {_show(y[neg])} "
            f"(adm_id {_show(df.loc[neg, 'adm_id'])}). Yields cannot be negative; fix the source."
        )
    med = float(y[y > 0].median()) if (y > 0).any() else 0.0
    if units == "t/ha" and med > _KG_HA_MEDIAN:
        raise ValidationError(
            f"{name}: median yield is {med:.4g}, far above any crop yield in t/ha; the values "
            f"look like kg/ha (or another unit, e.g. bu/acre). sdmkit never converts "
            f"silently: pass yield_units='kg/ha' to convert to t/ha (divides by 1000), or "
            f"convert the source to t/ha."
        )
    if units == "t/ha":
        # mixed units: some rows (often whole regions) in kg/ha inside a t/ha table
        big = df.index[y > _KG_HA_MEDIAN]
        if len(big):
            regions = df.loc[big, "adm_id"].astype(str)
            whole = sorted(
                a
                for a in regions.unique()
                if (y[df["adm_id"].astype(str) == a] > _KG_HA_MEDIAN).all()
            )
            keys = list(zip(regions, df.loc[big, "harvest_year"].astype(int)))
            raise ValidationError(
                f"{name}: {len(big)} rows have yields above {_KG_HA_MEDIAN:g} ((adm_id, "
                f"harvest_year) {_show(keys)}: {_show(y[big])}) while the table's median is "
                f"{med:.4g} t/ha: mixed units, those rows look like kg/ha"
                + (f" (all rows of regions {_show(whole)})" if whole else "")
                + ". Convert them to t/ha (divide by 1000) in the source; sdmkit does not "
                "convert part of a table."
            )
    if units == "kg/ha":
        if med <= _KG_HA_MEDIAN:
            raise ValidationError(
                f"{name}: yield_units='kg/ha' was given but the median yield is {med:.4g}, a "
                f"t/ha magnitude ({med / 1000:.4g} t/ha after conversion is implausible). "
                f"Pass yield_units='t/ha'."
            )
        small = df.index[(y > 0) & (y <= _KG_HA_MEDIAN)]
        if len(small):
            warnings.warn(
                f"{name}: yield_units='kg/ha' and the median yield is {med:.4g} kg/ha, but "
                f"(adm_id, harvest_year) "
                f"{_show(list(zip(df.loc[small, 'adm_id'], df.loc[small, 'harvest_year'])))} "
                f"hold {_show(y[small])}, at most {_KG_HA_MEDIAN:g} kg/ha: "
                f"either near-total crop failures or rows in t/ha (mixed units). They are "
                f"converted like the others (kept); check the source.",
                ValidationWarning,
                stacklevel=3,
            )
        df["yield"] = y / 1000.0
    zero = df.index[df["yield"] == 0]
    if len(zero):
        keys = list(zip(df.loc[zero, "adm_id"], df.loc[zero, "harvest_year"]))
        area = ""
        if "harvest_area" in df.columns:
            area = f" (harvest_area {_show(df.loc[zero, 'harvest_area'])}; 0 = crop not grown)"
        warnings.warn(
            f"{name}: {len(zero)} rows have yield 0 (kept), e.g. {_show(keys)}{area}. "
            f"Mask or drop them explicitly before modelling if they are not real crop "
            f"failures, e.g. frame[frame['yield'] > 0].",
            ValidationWarning,
            stacklevel=3,
        )
    return df


def _read_series(path: Path, table: str, name: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    value = table if table in df.columns else None
    missing = [c for c in ("adm_id", "date") if c not in df.columns]
    if missing or value is None:
        raise ValidationError(
            f"{name} ({path}) lacks columns {missing + ([table] if value is None else [])}; "
            f"it has {list(df.columns)}. Expected crop_name, adm_id, date (YYYYMMDD), {table}."
        )
    df["adm_id"] = df["adm_id"].astype("str")
    if "crop_name" in df.columns:
        df["crop_name"] = df["crop_name"].astype("str")
    raw = df["date"].astype("str").str.replace(r"\.0$", "", regex=True)
    date = pd.to_datetime(raw, format="%Y%m%d", errors="coerce")
    bad = df.index[date.isna()]
    if len(bad):
        raise ValidationError(
            f"{name}: dates in rows {_show(bad)} are not YYYYMMDD: {_show(df.loc[bad, 'date'])}."
        )
    df["date"] = date
    df[value] = pd.to_numeric(df[value], errors="coerce").astype("float64")
    if table == "ndvi":
        fill = df.index[df[value] == 0]
        if len(fill):
            days = sorted(df.loc[fill, "date"].dt.strftime("%Y-%m-%d").unique())
            warnings.warn(
                f"{name}: {len(fill)} NDVI values are exactly 0 (outside the 50-250 scale; "
                f"the upstream fill for a missing composite, on dates {_show(days)}); they are "
                f"set to NaN (rows kept).",
                ValidationWarning,
                stacklevel=3,
            )
            df.loc[fill, value] = np.nan
    return check_panel(df, location="adm_id", time="date", freq=None, name=name)


def _read_static(path: Path, name: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    if "adm_id" not in df.columns:
        raise ValidationError(f"{name} ({path}) has no adm_id column; it has {list(df.columns)}.")
    for col in df.columns:
        if col in ("crop_name", "adm_id") or pd.api.types.is_object_dtype(df[col]):
            df[col] = df[col].astype("str")
    if "drainage_class" in df.columns:
        df["drainage_class"] = as_whole_numbers(df["drainage_class"], "drainage_class", name)
    dup = df.index[df["adm_id"].duplicated(keep=False)]
    if len(dup):
        raise ValidationError(
            f"{name} has several rows for one adm_id: rows {_show(dup)} "
            f"({_show(df.loc[dup, 'adm_id'].unique())}). Keep one row per region."
        )
    return df.sort_values("adm_id", kind="stable").reset_index(drop=True)
