"""Dengue datasets: DengAI (San Juan, Iquitos), Brazil's IMDC sprints, Brazil's microregions.

* ``dengai`` — the DrivenData *DengAI* competition files: weekly climate / NDVI
  features and case counts for San Juan (``sj``) and Iquitos (``iq``).
* ``brazil_imdc`` — the Infodengue–Mosqlimate Dengue Challenge (IMDC): weekly
  probable dengue cases of Brazil's 27 federative units (26 states + DF),
  static and ocean-index covariates, and the 2025 sprint's submitted forecasts
  and official scores.
* ``brazil_microregions`` — the 558 microregion polygons and INLA adjacency
  graph of Lowe et al. (2021).

Every loader reads the upstream files through the registry, returns typed tidy
frames and validates them once (:func:`sdmkit._validation.check_panel` for
weekly panels). Nothing is dropped or filled silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._calendar import epiweek
from .._validation import ValidationError, _show, check_panel
from ._fetch import fetch, fetch_dataset, registry

__all__ = [
    "DengAI",
    "Microregions",
    "load_brazil_cases",
    "load_brazil_microregions",
    "load_brazil_sst",
    "load_brazil_static",
    "load_dengai",
    "load_sprint2024_rankings",
    "load_sprint2025_forecasts",
    "load_sprint2025_total_cases",
    "load_sprint2025_wis",
    "read_inla_graph",
]

#: Names of Brazil's 27 federative units by UF code (as spelled in the IMDC files).
UF_NAMES = {
    "AC": "Acre", "AL": "Alagoas", "AM": "Amazonas", "AP": "Amapá", "BA": "Bahia",
    "CE": "Ceará", "DF": "Distrito Federal", "ES": "Espírito Santo", "GO": "Goiás",
    "MA": "Maranhão", "MG": "Minas Gerais", "MS": "Mato Grosso do Sul", "MT": "Mato Grosso",
    "PA": "Pará", "PB": "Paraíba", "PE": "Pernambuco", "PI": "Piauí", "PR": "Paraná",
    "RJ": "Rio de Janeiro", "RN": "Rio Grande do Norte", "RO": "Rondônia", "RR": "Roraima",
    "RS": "Rio Grande do Sul", "SC": "Santa Catarina", "SE": "Sergipe", "SP": "São Paulo",
    "TO": "Tocantins",
}  # fmt: skip

#: Interval columns of the sprint forecasts, lowest to highest (``pred`` is the median).
FORECAST_QUANTILE_COLUMNS = (
    "lower_95", "lower_90", "lower_80", "lower_50", "pred",
    "upper_50", "upper_80", "upper_90", "upper_95",
)  # fmt: skip

_DENGAI_KEYS = ["city", "year", "weekofyear"]


# =========================================================================== DengAI


@dataclass(frozen=True)
class DengAI:
    """The DengAI competition data (see :func:`load_dengai`)."""

    train: pd.DataFrame
    test: pd.DataFrame
    submission_format: pd.DataFrame

    @property
    def feature_names(self) -> list[str]:
        """The 20 climate / NDVI feature columns."""
        return [c for c in self.test.columns if c not in (*_DENGAI_KEYS, "week_start_date")]


def load_dengai() -> DengAI:
    """DengAI: weekly dengue cases and climate in San Juan (``sj``) and Iquitos (``iq``).

    **The DengAI week calendar is not a 7-day calendar.** Every year has 52 week
    slots, starting on 1 January and stepping 7 days (1 Jan, 8 Jan, …, 24 Dec —
    23 Dec in leap years); the next row is 1 January again, 8 days later (9 in
    leap years). ``weekofyear`` is the ISO week number of ``week_start_date``, so
    a year can start with week 52 or 53 (of the previous ISO year, e.g.
    1993-01-01 is week 53) and ``(year, weekofyear)`` is not a week index.
    The days from 24/23 to 31 December fall in the last row's 8/9-day span; how
    the upstream counts treat them is not knowable from these files. There are
    no missing weeks: with ``slot = (week_start_date - 1 Jan) // 7`` (0–51) each
    city's rows step by exactly one slot, in train and in test (validated here),
    and test starts the slot after train ends (checked by the tests). Hence no
    ``location``/``date`` view validated at ``freq="W"`` is offered (it would
    fail on every year boundary); within a city, ``shift(1)`` of the rows in
    their order here is the previous DengAI week.

    Features keep their NaNs (train: 194 in ``ndvi_ne``, 10–43 in most others;
    test likewise); fill them explicitly if a model needs it.

    Returns
    -------
    DengAI
        Frozen dataclass with

        ``train`` : DataFrame, 1456 rows (sj 936: 1990-04-30..2008-04-22; iq 520:
            2000-07-01..2010-06-25), in file order (sj then iq, by date): ``city``
            (str), ``year``, ``weekofyear`` (int64), ``week_start_date``
            (datetime64), the 20 features (float64, NaN where missing),
            ``total_cases`` (int64) from ``dengue_labels_train.csv``, joined on
            ``(city, year, weekofyear)`` — every row on both sides must match.
        ``test`` : DataFrame, 416 rows (sj 260, iq 156), same columns without
            ``total_cases``, in the row order of ``submission_format``.
        ``submission_format`` : DataFrame as read (``city``, ``year``,
            ``weekofyear``, ``total_cases`` all zero).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_dengai
    >>> d = load_dengai()  # doctest: +SKIP
    >>> d.train.groupby("city").size().to_dict()  # doctest: +SKIP
    {'iq': 520, 'sj': 936}
    """
    features = {s: _read_dengai_features(f"dengue_features_{s}.csv") for s in ("train", "test")}
    labels = pd.read_csv(fetch("dengai", "dengue_labels_train.csv"), dtype={"city": "str"})
    train = _join_labels(features["train"], labels)
    test = features["test"]
    submission = pd.read_csv(fetch("dengai", "submission_format.csv"), dtype={"city": "str"})
    _check_dengai_calendar(train, "DengAI train", counts=["total_cases"])
    _check_dengai_calendar(test, "DengAI test")
    keys_test = test[_DENGAI_KEYS].reset_index(drop=True)
    keys_sub = submission[_DENGAI_KEYS].reset_index(drop=True)
    if not keys_test.equals(keys_sub):
        diff = keys_test.index[(keys_test != keys_sub.reindex(keys_test.index)).any(axis=1)]
        raise ValidationError(
            f"DengAI test features and submission_format.csv do not list the same "
            f"(city, year, weekofyear) in the same order (first differing rows {_show(diff)}). "
            f"Re-download both files; a submission must follow submission_format's row order."
        )
    return DengAI(train=train, test=test, submission_format=submission)


def _read_dengai_features(file: str) -> pd.DataFrame:
    df = pd.read_csv(fetch("dengai", file), dtype={"city": "str"})
    df["week_start_date"] = pd.to_datetime(df["week_start_date"], format="%Y-%m-%d")
    for col in df.columns:
        if col not in (*_DENGAI_KEYS, "week_start_date"):
            df[col] = df[col].astype("float64")
    return df


def _join_labels(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Attach ``total_cases`` to ``features`` on (city, year, weekofyear); all rows must match."""
    dup = labels.duplicated(_DENGAI_KEYS, keep=False)
    if dup.any():
        raise ValidationError(
            f"DengAI labels repeat (city, year, weekofyear) keys in rows "
            f"{_show(labels.index[dup])}; each week must be labelled once."
        )
    merged = features.merge(
        labels[[*_DENGAI_KEYS, "total_cases"]],
        on=_DENGAI_KEYS,
        how="left",
        indicator=True,
        validate="one_to_one",
    )  # a left merge keeps the feature rows in their order
    unused = labels.merge(features[_DENGAI_KEYS], on=_DENGAI_KEYS, how="left", indicator=True)
    only_f = merged.loc[merged["_merge"] == "left_only", _DENGAI_KEYS]
    only_l = unused.loc[unused["_merge"] == "left_only", _DENGAI_KEYS]
    if len(only_f) or len(only_l):
        raise ValidationError(
            f"DengAI features and labels do not match on (city, year, weekofyear): "
            f"{len(only_f)} feature rows have no label {_show(map(tuple, only_f.to_numpy()))}, "
            f"{len(only_l)} labels have no feature row {_show(map(tuple, only_l.to_numpy()))}. "
            f"Use the features and labels files of the same DengAI release."
        )
    out = merged.drop(columns="_merge")
    out["total_cases"] = out["total_cases"].astype("int64")
    return out


def _check_dengai_calendar(df: pd.DataFrame, name: str, counts: list[str] = ()) -> None:
    """Validate the DengAI calendar (see :func:`load_dengai`); raise on any departure."""
    check_panel(df, location="city", time="week_start_date", freq=None, counts=counts, name=name)
    date = df["week_start_date"]
    if (date.dt.year != df["year"]).any():
        rows = df.index[date.dt.year != df["year"]]
        raise ValidationError(
            f"{name}: 'year' differs from week_start_date's year in rows {_show(rows)}."
        )
    days = (date - pd.to_datetime(df["year"].astype(str) + "-01-01")).dt.days
    off = df.index[(days % 7 != 0) | (days // 7 > 51)]
    if len(off):
        raise ValidationError(
            f"{name}: week_start_date is not 1 January + 7k days (k = 0..51) in rows "
            f"{_show(off)} ({_show(date[off].dt.date)}); the DengAI calendar has changed."
        )
    iso = date.dt.isocalendar()["week"].astype("int64")
    bad = df.index[iso != df["weekofyear"]]
    if len(bad):
        raise ValidationError(
            f"{name}: weekofyear is not the ISO week of week_start_date in rows {_show(bad)}."
        )
    # Consecutive DengAI weeks differ by exactly one slot, across year ends too.
    slots = pd.DataFrame({"city": df["city"], "slot": df["year"] * 52 + days // 7})
    check_panel(
        slots,
        location="city",
        time="slot",
        freq="Y",
        name=f"{name} (slot = year*52 + week index 0..51 within the year)",
    )


# =========================================================================== Brazil (IMDC)


def load_brazil_cases(sprint: int = 2025) -> pd.DataFrame:
    """Weekly probable dengue cases of Brazil's 27 federative units (IMDC sprints).

    Parameters
    ----------
    sprint : {2025, 2024}
        2025 (default): ``state_DengueCases.csv``, 2010-01-03..2025-05-25 (804
        weeks), with the sprint's train/target flags. 2024: the 2024 sprint's
        ``sprint2024_dengue_uf.csv.gz``, 2010-01-03..2024-06-02 (753 weeks), which
        has no flags. The two releases differ for most weeks (data revisions):
        never mix them.

    Returns
    -------
    pandas.DataFrame
        Sorted by (location, date): ``location`` (UF code, str), ``uf_name``
        (str), ``date`` (datetime64, the Sunday starting the epidemiological
        week), ``epiweek`` (int64, YYYYWW), ``year``, ``week`` (int64, epi year
        and week: MMWR/SINAN weeks run Sunday–Saturday, week 1 holds 4 January),
        ``cases`` (int64); for 2025 also ``train_1``, ``target_1``, ``train_2``,
        ``target_2``, ``train_3``, ``target_3`` (bool): validation test *k*
        trains on ``train_k`` weeks (to EW25 of 2021+k) and is scored on
        ``target_k`` weeks (EW41 2021+k .. EW40 2022+k; test 3 is cut at the file's
        end, EW22 2025). Validated with ``check_panel(counts=["cases"], freq="W")``.

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_brazil_cases
    >>> cases = load_brazil_cases()  # doctest: +SKIP
    >>> cases["location"].nunique()  # doctest: +SKIP
    27
    """
    if sprint == 2025:
        df = pd.read_csv(
            fetch("brazil_imdc", "state_DengueCases.csv"), dtype={"uf": "str", "uf_name": "str"}
        )
        df = df.rename(
            columns={
                "uf": "location",
                "Date": "date",
                "Year": "year",
                "Week": "week",
                "Cases": "cases",
            }
        )
        df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
        bad = df.index[df["epiweek"] != df["year"] * 100 + df["week"]]
        if len(bad):
            raise ValidationError(f"Brazil cases: epiweek != Year*100 + Week in rows {_show(bad)}.")
        flags = [f"{k}_{i}" for i in (1, 2, 3) for k in ("train", "target")]
        for col in flags:
            if df[col].dtype != bool:
                raise ValidationError(
                    f"Brazil cases: column {col!r} should hold only TRUE/FALSE but reads as "
                    f"{df[col].dtype} (values {_show(df[col].unique())})."
                )
    elif sprint == 2024:
        df = pd.read_csv(fetch("brazil_imdc", "sprint2024_dengue_uf.csv.gz"), dtype={"uf": "str"})
        df = df.rename(columns={"uf": "location", "casos": "cases"})
        df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
        unknown = sorted(set(df["location"]) - set(UF_NAMES))
        if unknown:
            raise ValidationError(f"Brazil 2024 cases: unknown UF codes {unknown}.")
        df["uf_name"] = df["location"].map(UF_NAMES).astype("str")
        df["year"], df["week"] = epiweek(df["date"])
        df["epiweek"] = df["year"] * 100 + df["week"]
        flags = []
    else:
        raise ValueError(f"sprint must be 2025 or 2024, got {sprint!r}.")
    cols = ["location", "uf_name", "date", "epiweek", "year", "week", "cases", *flags]
    df = check_panel(df[cols], counts=["cases"], freq="W", name=f"Brazil cases (sprint {sprint})")
    df["cases"] = df["cases"].astype("int64")
    return df


def load_brazil_static() -> pd.DataFrame:
    """Static covariates of the 27 UFs (Imperial College team, IMDC 2025).

    Population-weighted shares of Köppen climate classes and of biomes; each
    group sums to 1 per UF.

    Returns
    -------
    pandas.DataFrame
        27 rows: ``location`` (UF code, str), ``uf_name`` (str), ``koppen_Af``,
        ``koppen_Am``, ``koppen_As``, ``koppen_Aw``, ``koppen_BSh``,
        ``koppen_Cfa``, ``koppen_Cfb``, ``koppen_Cwa``, ``koppen_Cwb``,
        ``biome_Amazonia``, ``biome_Caatinga``, ``biome_Mata_Atlantica`` (upstream
        ``biome_Mata Atlantica``; the space is replaced), ``biome_Cerrado``,
        ``biome_Pantanal``, ``biome_Pampa`` (all float64).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_brazil_static
    >>> load_brazil_static().shape  # doctest: +SKIP
    (27, 17)
    """
    df = pd.read_csv(
        fetch("brazil_imdc", "state_StaticCovs.csv"), dtype={"uf": "str", "uf_name": "str"}
    )
    df = df.rename(columns={"uf": "location"})
    df.columns = [c.replace(" ", "_") for c in df.columns]
    num = [c for c in df.columns if c not in ("location", "uf_name")]
    df[num] = df[num].astype("float64")
    _check_unique(df, ["location"], "Brazil static covariates")
    _check_no_nan(df, "Brazil static covariates")
    return df


def load_brazil_sst() -> pd.DataFrame:
    """Weekly ocean indices (ENSO, IOD, PDO) on the epidemiological-week calendar.

    Returns
    -------
    pandas.DataFrame
        One row per epi week from 2009-12-27 (EW52 2009) to 2025-03-02 (EW10
        2025), 7 days apart: ``date`` (datetime64, Sunday week start; upstream
        ``WeekStart``), ``week_mid``, ``week_end`` (datetime64, Thursday and
        Saturday), ``epiweek`` (int64 YYYYWW), ``year``, ``week`` (int64),
        ``enso``, ``iod``, ``pdo`` (float64, weekly means of daily indices) and
        ``num_days`` (int64, the days averaged: 7, except **2 for the last week**,
        a partial week kept as upstream has it).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_brazil_sst
    >>> sst = load_brazil_sst()  # doctest: +SKIP
    >>> list(sst.columns[-4:])  # doctest: +SKIP
    ['enso', 'iod', 'pdo', 'num_days']
    """
    df = pd.read_csv(fetch("brazil_imdc", "state_SSTIndices.csv"))
    df = df.rename(
        columns={
            "WeekStart": "date",
            "WeekMid": "week_mid",
            "WeekEnd": "week_end",
            "Year": "year",
            "Week": "week",
        }
    )
    for col in ("date", "week_mid", "week_end"):
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%d")
    df[["enso", "iod", "pdo"]] = df[["enso", "iod", "pdo"]].astype("float64")
    df = df[
        [
            "date",
            "week_mid",
            "week_end",
            "epiweek",
            "year",
            "week",
            "enso",
            "iod",
            "pdo",
            "num_days",
        ]
    ]
    _check_no_nan(df, "Brazil SST indices")
    bad = df.index[df["epiweek"] != df["year"] * 100 + df["week"]]
    if len(bad):
        raise ValidationError(
            f"Brazil SST indices: epiweek != Year*100 + Week in rows {_show(bad)}."
        )
    check_panel(df.assign(location="global"), freq="W", name="Brazil SST indices")
    return df.sort_values("date", ignore_index=True)


# --------------------------------------------------------------------------- sprint outputs


def load_sprint2025_forecasts() -> pd.DataFrame:
    """The 18 models' submitted forecasts of the 2025 IMDC sprint (local benchmarking only).

    Returns
    -------
    pandas.DataFrame
        79 248 rows, one per model × UF × validation test × week, sorted by
        (model_id, location, valid_test, date): ``model_id`` (int64, the
        Mosqlimate registry id), ``location`` (UF code, str; upstream ``state``),
        ``valid_test`` (str: ``"1"``, ``"2"``, ``"3"`` — forecasts of EW41
        2021+k..EW40 2022+k from data to EW25 2021+k — or ``"Forecast"``, the
        prospective 2025–26 season submitted by models 108, 143, 145), ``date``
        (datetime64, Sunday week start) and the interval bounds
        ``lower_95``, ``lower_90``, ``lower_80``, ``lower_50``, ``pred`` (the
        median), ``upper_50``, ``upper_80``, ``upper_90``, ``upper_95`` (float64;
        the central 50/80/90/95% prediction intervals). Models 133–136 and 138
        have no forecasts for ES. Validated: no NaN, no repeated (model, UF, test,
        week), each validation-test series (``"1"``–``"3"``) continuous weekly,
        bounds non-decreasing from ``lower_95`` to ``upper_95``.

        **Quirk, kept as submitted:** model 108's ``"Forecast"`` series skips
        2025-12-28 (EW53 of 2025, a 53-week epi year) and runs 52 weeks from
        2025-10-05 to 2026-10-04, while 143 and 145 run 2025-10-05..2026-09-27
        without a gap. The ``"Forecast"`` rows are therefore not checked for
        weekly continuity.

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_sprint2025_forecasts
    >>> preds = load_sprint2025_forecasts()  # doctest: +SKIP
    >>> preds["model_id"].nunique()  # doctest: +SKIP
    18
    """
    df = pd.read_csv(
        fetch("brazil_imdc", "sprint2025_preds_all_models.csv.gz"),
        dtype={"valid_test": "str", "state": "str"},
    )
    df = df.rename(columns={"state": "location"})
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    q = list(FORECAST_QUANTILE_COLUMNS)
    df[q] = df[q].astype("float64")
    df["model_id"] = df["model_id"].astype("int64")
    df = df[["model_id", "location", "valid_test", "date", *q]]
    _check_no_nan(df, "Sprint 2025 forecasts")
    series = df["model_id"].astype(str) + "/" + df["location"] + "/" + df["valid_test"]
    series = df.assign(location=series)
    prospective = df["valid_test"] == "Forecast"
    name = "Sprint 2025 forecasts (model/UF/test)"
    check_panel(series[~prospective], freq="W", name=name)
    check_panel(series[prospective], freq=None, name=name)  # model 108 skips EW53 2025
    v = df[q].to_numpy()
    crossing = df.index[(np.diff(v, axis=1) < 0).any(axis=1)]
    if len(crossing):
        raise ValidationError(
            f"Sprint 2025 forecasts: interval bounds are not ordered {q[0]} <= … <= {q[-1]} "
            f"in rows {_show(crossing)}."
        )
    return df.sort_values(["model_id", "location", "valid_test", "date"], ignore_index=True)


def load_sprint2025_wis() -> pd.DataFrame:
    """Official mean WIS of the 2025 IMDC sprint per model × UF × validation test.

    Returns
    -------
    pandas.DataFrame
        1924 rows (18 models × 27 UFs × 4 tests, less ES for models 133–136, 138):
        ``model_id`` (int64; upstream ``model``), ``location`` (UF code, str;
        upstream ``state``), ``valid_test`` (str ``"1"``, ``"2"``, ``"3"`` or
        ``"all"``; upstream ``validation_test``), ``wis`` (float64, mean weekly
        WIS), ``wis_peak`` (float64, WIS over the peak weeks; NaN on every
        ``"all"`` row, as upstream).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_sprint2025_wis
    >>> list(load_sprint2025_wis().columns)  # doctest: +SKIP
    ['model_id', 'location', 'valid_test', 'wis', 'wis_peak']
    """
    df = pd.read_csv(
        fetch("brazil_imdc", "sprint2025_metrics_wis.csv"),
        dtype={"state": "str", "validation_test": "str"},
    )
    upstream = ["model", "state", "validation_test", "WIS", "WIS_peak"]
    tidy = ["model_id", "location", "valid_test", "wis", "wis_peak"]
    df = df.rename(columns=dict(zip(upstream, tidy, strict=True)))
    df = _typed_scores(df, "Sprint 2025 WIS")
    df["wis_peak"] = df["wis_peak"].astype("float64")
    peak_na = df["wis_peak"].isna() != (df["valid_test"] == "all")
    if peak_na.any():
        raise ValidationError(
            f"Sprint 2025 WIS: wis_peak should be missing exactly on the 'all' rows; "
            f"rows {_show(df.index[peak_na])} break that."
        )
    return df


def load_sprint2025_total_cases() -> pd.DataFrame:
    """Official WIS of the 2025 sprint's forecasts of each season's total cases.

    Returns
    -------
    pandas.DataFrame
        1326 rows (17 models — 141 is absent — × 26 UFs — ES is absent — × tests
        1–3): ``model_id`` (int64), ``location`` (UF code, str; upstream
        ``state``), ``valid_test`` (str ``"1"``, ``"2"``, ``"3"``, as in
        :func:`load_sprint2025_wis`), ``wis`` (float64).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_sprint2025_total_cases
    >>> load_sprint2025_total_cases()["valid_test"].unique().tolist()  # doctest: +SKIP
    ['1', '2', '3']
    """
    df = pd.read_csv(
        fetch("brazil_imdc", "sprint2025_metrics_total_cases.csv"),
        dtype={"state": "str", "valid_test": "str"},
    )
    df = df.rename(columns={"state": "location", "WIS": "wis"})
    return _typed_scores(df, "Sprint 2025 total-cases WIS")


def _typed_scores(df: pd.DataFrame, name: str) -> pd.DataFrame:
    df["model_id"] = df["model_id"].astype("int64")
    df["wis"] = df["wis"].astype("float64")
    _check_no_nan(df[["model_id", "location", "valid_test", "wis"]], name)
    _check_unique(df, ["model_id", "location", "valid_test"], name)
    cols = ["model_id", "location", "valid_test", "wis"]
    cols += [c for c in df.columns if c not in cols]
    return df[cols].sort_values(cols[:3], ignore_index=True)


def _ranking_states() -> list[str]:
    files = [e.file for e in registry().values() if e.dataset == "brazil_imdc"]
    return sorted(f[-6:-4] for f in files if f.startswith("sprint2024_ranking_"))


def load_sprint2024_rankings(state: str | None = None) -> pd.DataFrame:
    """Official model rankings of the 2024 IMDC sprint for AM, CE, GO, MG or PR.

    Parameters
    ----------
    state : str, optional
        UF code (``"AM"``, ``"CE"``, ``"GO"``, ``"MG"``, ``"PR"``); None reads all five.

    Returns
    -------
    pandas.DataFrame
        7 rows per UF: ``model_id`` (int64, 2024-sprint registry id), ``rank_values``
        (float64, the sprint's aggregated score; higher is better), ``rank`` (int64,
        1 = best; ties share a rank, as upstream), ``location`` (UF code, str;
        upstream ``state``); sorted by (location, rank, model_id).

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_sprint2024_rankings
    >>> load_sprint2024_rankings("MG")["rank"].min()  # doctest: +SKIP
    np.int64(1)
    """
    states = _ranking_states()
    wanted = states if state is None else [str(state).upper()]
    unknown = [s for s in wanted if s not in states]
    if unknown:
        raise ValueError(f"No 2024 sprint ranking for {unknown}; available: {states}.")
    frames = []
    for s in wanted:
        df = pd.read_csv(
            fetch("brazil_imdc", f"sprint2024_ranking_{s}.csv"), dtype={"state": "str"}
        )
        frames.append(df.rename(columns={"state": "location"}))
    df = pd.concat(frames, ignore_index=True)
    _check_no_nan(df, "Sprint 2024 rankings")
    frac = df.index[df["rank"] != np.round(df["rank"])]
    if len(frac):
        raise ValidationError(f"Sprint 2024 rankings: non-integer rank in rows {_show(frac)}.")
    df = df.astype({"model_id": "int64", "rank_values": "float64", "rank": "int64"})
    _check_unique(df, ["location", "model_id"], "Sprint 2024 rankings")
    return df.sort_values(["location", "rank", "model_id"], ignore_index=True)


def _check_unique(df: pd.DataFrame, keys: list[str], name: str) -> None:
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        raise ValidationError(f"{name}: rows {_show(df.index[dup])} repeat the key {keys}.")


def _check_no_nan(df: pd.DataFrame, name: str) -> None:
    na = df.isna()
    if na.to_numpy().any():
        cols = na.any()
        raise ValidationError(
            f"{name}: missing values in columns {list(cols[cols].index)} (rows "
            f"{_show(df.index[na.any(axis=1)])}); the upstream file has none."
        )


# =========================================================================== microregions


def read_inla_graph(path: str | Path) -> tuple[list[int], sp.csr_matrix]:
    """Read an INLA graph file into node ids and a symmetric 0/1 adjacency matrix.

    The format: the first line is the number of nodes N; then one line per node,
    ``id n_neighbours nbr_1 … nbr_n``. Ids are 1..N (INLA's convention) or 0..N-1.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ids : list of int
        Node ids in matrix order (row ``i`` is node ``ids[i]``; ``ids`` is ``1..N``
        or ``0..N-1``).
    adjacency : scipy.sparse.csr_matrix
        N × N, float64, 1 where two nodes are neighbours, 0 elsewhere (also on the
        diagonal).

    Raises
    ------
    ValidationError
        If the file breaks the format: a node count other than N, a neighbour count
        that does not match its list, non-integer tokens, ids out of range or
        repeated, self-neighbours, repeated neighbours, or an asymmetric graph
        (the message names the pairs listed in one direction only).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sdmkit.datasets.dengue import read_inla_graph
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "g.graph"
    >>> _ = p.write_text("3\\n1 1 2\\n2 2 1 3\\n3 1 2\\n")
    >>> ids, adj = read_inla_graph(p)
    >>> ids, adj.toarray().astype(int).tolist()
    ([1, 2, 3], [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    """
    path = Path(path)
    lines = [(i + 1, ln.split()) for i, ln in enumerate(path.read_text().splitlines())]
    lines = [(i, tok) for i, tok in lines if tok]
    if not lines:
        raise ValidationError(f"INLA graph {path} is empty; the first line must be the node count.")

    def ints(lineno: int, tokens: list[str]) -> list[int]:
        try:
            return [int(t) for t in tokens]
        except ValueError:
            raise ValidationError(
                f"INLA graph {path}, line {lineno}: non-integer token in {' '.join(tokens)!r}."
            ) from None

    head_no, head = lines[0]
    if len(head) != 1:
        raise ValidationError(
            f"INLA graph {path}, line {head_no}: the first line must hold only the node count N, "
            f"got {' '.join(head)!r}."
        )
    n = ints(head_no, head)[0]
    body = [(i, ints(i, tok)) for i, tok in lines[1:]]
    if n < 1 or len(body) != n:
        raise ValidationError(
            f"INLA graph {path}: the first line says N = {n} nodes but {len(body)} node lines "
            f"follow. Each node needs one line 'id n_neighbours nbr_1 … nbr_n'."
        )
    for lineno, v in body:
        if len(v) < 2 or v[1] != len(v) - 2:
            said = v[1] if len(v) >= 2 else "nothing"
            raise ValidationError(
                f"INLA graph {path}, line {lineno}: node {v[0]} says {said} neighbours but "
                f"lists {max(len(v) - 2, 0)} ({' '.join(map(str, v))!r})."
            )
    ids = [v[0] for _, v in body]
    base = 0 if min(ids) == 0 else 1
    bad = [(i, x) for i, v in body for x in v[:1] + v[2:] if not base <= x < base + n]
    if bad:
        raise ValidationError(
            f"INLA graph {path}: ids must lie in {base}..{base + n - 1} (N = {n}); "
            f"out of range (line, id): {_show(bad)}."
        )
    dup_ids = sorted({x for x in ids if ids.count(x) > 1}) if len(set(ids)) != n else []
    if dup_ids:
        raise ValidationError(
            f"INLA graph {path}: node ids listed more than once: {_show(dup_ids)}."
        )
    loops = [v[0] for _, v in body if v[0] in v[2:]]
    if loops:
        raise ValidationError(
            f"INLA graph {path}: nodes listing themselves as neighbours: {_show(loops)}."
        )
    repeated = [v[0] for _, v in body if len(set(v[2:])) != len(v) - 2]
    if repeated:
        raise ValidationError(
            f"INLA graph {path}: nodes listing a neighbour twice: {_show(repeated)}."
        )
    rows = np.array([v[0] for _, v in body for _ in v[2:]], dtype=np.int64) - base
    cols = np.array([x for _, v in body for x in v[2:]], dtype=np.int64) - base
    adj = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    one_way = sp.coo_matrix(adj - adj.T)
    if one_way.nnz:
        pairs = [
            (int(i) + base, int(j) + base)
            for i, j, x in zip(one_way.row, one_way.col, one_way.data, strict=True)
            if x > 0
        ]
        raise ValidationError(
            f"INLA graph {path} is not symmetric: {len(pairs)} (node, neighbour) pairs are "
            f"listed one way only, e.g. {_show(pairs)} (node lists neighbour, neighbour does "
            f"not list node). Add the missing reverse entries."
        )
    return list(range(base, base + n)), adj


@dataclass(frozen=True)
class Microregions:
    """Brazil's 558 microregions and their adjacency (see :func:`load_brazil_microregions`)."""

    regions: object  # geopandas.GeoDataFrame
    adjacency: sp.csr_matrix
    states_grid: pd.DataFrame
    n_components: int
    component_labels: np.ndarray


_MICRO_FILES = ["shape_brazil.shp", "shape_brazil.shx", "shape_brazil.dbf", "shape_brazil.prj"]


def load_brazil_microregions() -> Microregions:
    """Brazil's 558 microregions (Lowe et al. 2021): polygons, INLA adjacency, state grid.

    Row ``i`` of ``regions`` is node ``i + 1`` of the upstream ``map.graph``: the
    shapefile is sorted by IBGE code and the graph numbers its nodes in that
    order. Checked against the geometry: the graph's 3096 directed edges are
    exactly the pairs of polygons that intersect (share a border or a corner —
    queen contiguity), no more, no fewer.

    Returns
    -------
    Microregions
        Frozen dataclass with

        ``regions`` : geopandas.GeoDataFrame, 558 rows, CRS EPSG:4326 (from the
            ``.prj``): ``code`` (str, the 5-digit IBGE microregion code, e.g.
            ``"26019"``; the first two digits are the state's IBGE code — upstream
            stores it as a float) and ``geometry`` (551 Polygons, 7 MultiPolygons).
        ``adjacency`` : scipy.sparse.csr_matrix, 558 × 558 symmetric 0/1 (float64),
            aligned with the rows of ``regions``.
        ``states_grid`` : DataFrame, 27 rows: ``row``, ``col`` (int64, the cell of
            a tile-grid map of the UFs), ``code`` (UF code, str), ``name`` (str),
            ``code_num`` (int64, IBGE state code).
        ``n_components`` : int, 2: 557 connected microregions and the island
            Fernando de Noronha (``code`` ``"26019"``, row 193), which has no
            neighbour — a singleton component, as BYM2/ICAR models must handle.
        ``component_labels`` : numpy int array, the component of each row.

    Examples
    --------
    >>> from sdmkit.datasets.dengue import load_brazil_microregions
    >>> m = load_brazil_microregions()  # doctest: +SKIP
    >>> len(m.regions), m.n_components  # doctest: +SKIP
    (558, 2)
    """
    import geopandas as gpd
    from scipy.sparse.csgraph import connected_components

    folder = fetch_dataset("brazil_microregions", _MICRO_FILES)
    regions = gpd.read_file(folder / "shape_brazil.shp")
    if regions.crs is None:
        raise ValidationError("shape_brazil has no CRS; its .prj file is missing or unreadable.")
    code = regions["code"]
    bad = code.isna() | (code != np.round(code))
    if bad.any():
        raise ValidationError(f"shape_brazil: non-integer or missing codes {_show(code[bad])}.")
    regions["code"] = code.astype("int64").astype("str")
    _check_unique(regions, ["code"], "shape_brazil")
    if not regions["code"].astype("int64").is_monotonic_increasing:
        raise ValidationError(
            "shape_brazil rows are not sorted by code, so map.graph node i cannot be taken "
            "as row i-1."
        )
    ids, adjacency = read_inla_graph(fetch("brazil_microregions", "map.graph"))
    if len(ids) != len(regions):
        raise ValidationError(
            f"map.graph has {len(ids)} nodes but shape_brazil has {len(regions)} polygons."
        )
    grid = pd.read_csv(
        fetch("brazil_microregions", "br_states_grid.csv"), dtype={"code": "str", "name": "str"}
    )
    grid = grid.astype({"row": "int64", "col": "int64", "code_num": "int64"})
    n_components, labels = connected_components(adjacency, directed=False)
    return Microregions(
        regions=regions,
        adjacency=adjacency,
        states_grid=grid,
        n_components=int(n_components),
        component_labels=labels,
    )
