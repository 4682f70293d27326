"""disdat: the NCEAS presence-only / presence–absence SDM benchmark (Elith et al. 2020).

226 anonymised species in six regions (AWT, CAN, NSW, NZ, SA, SWI). For each
region: presence-only training records, 10,000 random background points, and
independent presence–absence survey sites with the same predictors. AWT and NSW
split their surveys by biological group (one pair of files per group).

This is the data of the Valavi et al. (2022) comparison that sdmkit's SDM
benchmark follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from .._validation import ValidationError, points_from_xy
from ._fetch import fetch
from ._readers import read_rds

__all__ = ["REGIONS", "DisdatRegion", "load_disdat"]

REGIONS = ("AWT", "CAN", "NSW", "NZ", "SA", "SWI")

#: Survey groups with their own test files (the other regions have one test file).
TEST_GROUPS = {
    "AWT": ("bird", "plant"),
    "NSW": ("ba", "db", "nb", "ot", "ou", "rt", "ru", "sr"),
}

#: Categorical predictors, as the region help pages (man/<REGION>.Rd) describe them.
CATEGORICAL = {
    "AWT": (),
    "CAN": ("ontveg",),
    "NSW": ("vegsys",),
    "NZ": ("age", "toxicats"),
    "SA": (),
    "SWI": ("calc",),
}

_ID_COLUMNS = ("siteid", "spid", "x", "y", "occ", "group")


@dataclass(frozen=True)
class DisdatRegion:
    """One disdat region, ready for modelling.

    Attributes
    ----------
    region : str
        Region code, one of :data:`REGIONS`.
    crs : pyproj.CRS
        CRS of the x/y coordinates, read from the region's help page.
    predictors : list of str
        Environmental predictor columns, in file order.
    categorical : list of str
        The predictors that are categorical (pandas ``category`` dtype, with the
        same categories in ``train_po``, ``train_bg`` and ``test``).
    train_po : geopandas.GeoDataFrame
        Presence-only records: ``siteid``, ``spid``, ``group``, ``occ`` (=1),
        predictors, point geometry.
    train_bg : geopandas.GeoDataFrame
        The 10,000 random background points (``occ`` = 0, ``group`` missing).
    test : geopandas.GeoDataFrame
        One row per survey site: ``group``, ``siteid``, predictors, and one
        nullable ``Int8`` column per species (1 present, 0 absent, ``<NA>``
        where the species' group was not surveyed at that site).
    species : list of str
        Species ids of the region.
    species_group : dict
        Species id → biological group.
    note : str
        Caveats about the coordinates (e.g. SWI's constant shift).
    """

    region: str
    crs: object
    predictors: list[str]
    categorical: list[str]
    train_po: object
    train_bg: object
    test: object
    species: list[str]
    species_group: dict[str, str]
    note: str = ""
    source: str = field(default="disdat (Elith et al. 2020), rspatial/disdat v1.1-0")

    def species_data(self, spid: str):
        """Return ``(presences, test_sites)`` for one species.

        ``test_sites`` holds only the sites of the species' survey group, with
        an integer ``occ`` column (1 present, 0 absent).

        Examples
        --------
        >>> from sdmkit.datasets import load_disdat
        >>> awt = load_disdat("AWT")  # doctest: +SKIP
        >>> po, pa = awt.species_data("awt01")  # doctest: +SKIP
        """
        if spid not in self.species_group:
            raise KeyError(
                f"Species {spid!r} is not in region {self.region}; species are "
                f"{self.species[0]} … {self.species[-1]}."
            )
        po = self.train_po[self.train_po["spid"] == spid]
        sites = self.test[self.test[spid].notna()]
        cols = ["group", "siteid", *self.predictors, "geometry"]
        pa = sites[cols].assign(occ=sites[spid].astype("int64"))
        return po, pa


def region_crs(region: str):
    """CRS of a disdat region, parsed from its help page ``man/<REGION>.Rd``.

    The help pages state the EPSG code, e.g. "…GDA94 (EPSG:28355)".
    """
    from pyproj import CRS

    region = _check_region(region)
    text = fetch("disdat", f"man/{region}.Rd").read_text(encoding="utf-8")
    codes = set(re.findall(r"EPSG:(\d+)", text))
    if len(codes) != 1:
        raise ValueError(
            f"Expected exactly one EPSG code in disdat man/{region}.Rd, found {sorted(codes)}."
        )
    return CRS.from_epsg(int(codes.pop()))


def _check_region(region: str) -> str:
    code = str(region).upper()
    if code not in REGIONS:
        raise ValueError(f"Unknown disdat region {region!r}; choose one of {REGIONS}.")
    return code


def _read(region: str, stem: str) -> pd.DataFrame:
    return read_rds(fetch("disdat", f"rds/{region}{stem}.rds"))


def _typed(df: pd.DataFrame, predictors: list[str], categorical: list[str],
           categories: dict[str, list]) -> pd.DataFrame:
    df = df.copy()
    for col in ("siteid", "spid", "group"):
        if col in df:
            df[col] = df[col].astype("string")
    for col in ("x", "y"):
        df[col] = df[col].astype("float64")
    if "occ" in df:
        df["occ"] = df["occ"].astype("int64")
    for col in predictors:
        if col in categorical:
            df[col] = pd.Categorical(df[col].astype("int64"), categories=categories[col])
        else:
            df[col] = df[col].astype("float64")
    return df


def load_disdat(region: str) -> DisdatRegion:
    """Load one disdat region: presence-only, background and presence–absence test data.

    Parameters
    ----------
    region : str
        One of ``"AWT", "CAN", "NSW", "NZ", "SA", "SWI"`` (case-insensitive).

    Returns
    -------
    DisdatRegion

    Notes
    -----
    Test presence–absence files are joined to their environment files on
    ``(group, siteid)``; every row must join (an error names those that do not).
    Categorical predictors get the union of the levels seen in training,
    background and test data, so codes agree everywhere. SWI coordinates carry a
    constant shift applied by the data providers: they are in EPSG:21781 units
    but do not fall on the true places, so never reproject them to lon/lat.

    Examples
    --------
    >>> from sdmkit.datasets import load_disdat
    >>> nsw = load_disdat("NSW")  # doctest: +SKIP
    >>> nsw.train_po.crs.to_epsg(), len(nsw.species)  # doctest: +SKIP
    (4326, 54)
    """
    region = _check_region(region)
    crs = region_crs(region)
    po = _read(region, "train_po")
    bg = _read(region, "train_bg")
    predictors = [c for c in po.columns if c not in _ID_COLUMNS]
    if list(bg.columns) != list(po.columns):
        raise ValidationError(
            f"disdat {region}: background columns {list(bg.columns)} differ from "
            f"presence-only columns {list(po.columns)}."
        )
    groups = TEST_GROUPS.get(region, (None,))
    env_parts, pa_parts = [], []
    for g in groups:
        suffix = f"_{g}" if g else ""
        env_parts.append(_read(region, f"test_env{suffix}"))
        pa_parts.append(_read(region, f"test_pa{suffix}"))
    env = pd.concat(env_parts, ignore_index=True)
    missing = [c for c in predictors if c not in env.columns]
    if missing:
        raise ValidationError(f"disdat {region}: test_env lacks predictors {missing}.")

    categorical = [c for c in predictors if c in CATEGORICAL[region]]
    categories = {
        c: sorted(set(po[c].astype(int)) | set(bg[c].astype(int)) | set(env[c].astype(int)))
        for c in categorical
    }

    # join each group's presence–absence matrix to its environment rows
    species, species_group, joined = [], {}, []
    for env_g, pa_g in zip(env_parts, pa_parts):
        sp = [c for c in pa_g.columns if c not in ("group", "siteid", "x", "y")]
        key = ["group", "siteid"]
        left = env_g.assign(siteid=env_g["siteid"].astype(str))
        right = pa_g[key + sp].assign(siteid=pa_g["siteid"].astype(str))
        merged = left.merge(right, on=key, how="outer", indicator=True, validate="one_to_one")
        unmatched = merged[merged["_merge"] != "both"]
        if len(unmatched):
            raise ValidationError(
                f"disdat {region}: {len(unmatched)} test sites are in only one of test_env / "
                f"test_pa, e.g. {unmatched[key].head().to_dict('records')}."
            )
        group = str(pa_g["group"].iloc[0])
        for s in sp:
            species_group[s] = group
        species += sp
        joined.append(merged.drop(columns="_merge"))
    test = pd.concat(joined, ignore_index=True)
    for s in species:
        test[s] = test[s].astype("Int8")
    po_species = sorted(po["spid"].astype(str).unique())
    if sorted(species) != po_species:
        raise ValidationError(
            f"disdat {region}: species in the test surveys {sorted(species)} differ from "
            f"those with presence-only records {po_species}."
        )

    po_t = _typed(po, predictors, categorical, categories)
    bg_t = _typed(bg, predictors, categorical, categories)
    test_t = _typed(test, predictors, categorical, categories)
    note = (
        "SWI coordinates carry a constant shift applied by the data providers (see "
        "man/SWI.Rd): EPSG:21781 units, but not the true places."
        if region == "SWI" else ""
    )
    return DisdatRegion(
        region=region,
        crs=crs,
        predictors=predictors,
        categorical=categorical,
        train_po=points_from_xy(po_t, "x", "y", crs=crs),
        train_bg=points_from_xy(bg_t, "x", "y", crs=crs),
        test=points_from_xy(test_t, "x", "y", crs=crs),
        species=sorted(species),
        species_group=species_group,
        note=note,
    )

