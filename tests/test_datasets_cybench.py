"""Tests for sdmkit.datasets.cybench (synthetic country folders + the real CY-Bench sample)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError, ValidationWarning
from sdmkit.datasets.cybench import (
    CYBenchTables,
    cybench_feature_groups,
    load_cybench,
    load_cybench_us_maize,
)

CROP, COUNTRY = "maize", "XX"


def _yield_table(
    yields=(8.0, 9.5, 7.25, 10.0), years=(2001, 2002, 2001, 2002), adm=("XX1", "XX1", "XX2", "XX2")
):
    return pd.DataFrame(
        {
            "crop_name": CROP,
            "country_code": COUNTRY,
            "adm_id": list(adm),
            "harvest_year": list(years),
            "yield": list(yields),
            "harvest_area": 100.0,
            "production": 800.0,
        }
    )


def _write(tmp_path, tables):
    """Write ``{table: DataFrame}`` as tmp_path/<crop>/<country>/<table>_<crop>_<country>.csv."""
    folder = tmp_path / CROP / COUNTRY
    folder.mkdir(parents=True, exist_ok=True)
    for table, df in tables.items():
        df.to_csv(folder / f"{table}_{CROP}_{COUNTRY}.csv", index=False)
    return tmp_path


def _all_tables(**overrides):
    tables = {
        "yield": _yield_table(),
        "ndvi": pd.DataFrame(
            {
                "crop_name": CROP,
                "adm_id": ["XX2", "XX1", "XX1"],
                "date": [20010109, 20010101, 20010109],
                "ndvi": [150.0, 180.5, 0.0],
            }
        ),
        "fpar": pd.DataFrame(
            {
                "crop_name": CROP,
                "adm_id": ["XX1", "XX2"],
                "date": [20010101, 20010111],
                "fpar": [40.0, 55.5],
            }
        ),
        "soil": pd.DataFrame(
            {
                "crop_name": CROP,
                "adm_id": ["XX2", "XX1"],
                "awc": [20.0, 18.0],
                "bulk_density": [1.2, 1.3],
                "drainage_class": [3, 4],
            }
        ),
        "crop_calendar": pd.DataFrame(
            {
                "crop_name": CROP,
                "adm_id": ["XX1", "XX2"],
                "sos": [101.5, 102.0],
                "eos": [298.0, 300.0],
            }
        ),
    }
    tables.update(overrides)
    return tables


# --------------------------------------------------------------------------- synthetic


def test_any_country_folder_loads_typed_tables(tmp_path):
    root = _write(tmp_path, _all_tables())
    with pytest.warns(ValidationWarning, match="exactly 0"):
        t = load_cybench(CROP, COUNTRY, data_dir=root)
    assert isinstance(t, CYBenchTables) and (t.crop, t.country) == (CROP, COUNTRY)
    y = t.yield_
    assert list(y.columns) == [
        "crop_name",
        "country_code",
        "adm_id",
        "harvest_year",
        "yield",
        "harvest_area",
        "production",
    ]
    assert y["harvest_year"].dtype == "int64" and y["yield"].dtype == "float64"
    assert pd.api.types.is_string_dtype(y["adm_id"])
    assert y["yield"].tolist() == [8.0, 9.5, 7.25, 10.0]
    nd = t.ndvi
    assert pd.api.types.is_datetime64_dtype(nd["date"])
    # sorted by (adm_id, date); the 0 fill became NaN, the row is kept
    assert nd["adm_id"].tolist() == ["XX1", "XX1", "XX2"]
    assert nd["date"].tolist() == [
        pd.Timestamp("2001-01-01"),
        pd.Timestamp("2001-01-09"),
        pd.Timestamp("2001-01-09"),
    ]
    assert nd["ndvi"].iloc[0] == 180.5 and np.isnan(nd["ndvi"].iloc[1])
    assert t.fpar["fpar"].tolist() == [40.0, 55.5]
    assert t.soil["adm_id"].tolist() == ["XX1", "XX2"]
    assert t.soil["drainage_class"].dtype == "int64"
    assert list(t.crop_calendar.columns) == ["crop_name", "adm_id", "sos", "eos"]
    assert "yield=4 rows" in repr(t)


def test_missing_yield_file_is_a_clear_error(tmp_path):
    tables = _all_tables()
    del tables["yield"], tables["soil"]
    root = _write(tmp_path, tables)
    with pytest.raises(FileNotFoundError) as err:
        load_cybench(CROP, COUNTRY, data_dir=root)
    msg = str(err.value)
    assert "yield_maize_XX.csv" in msg and "soil_maize_XX.csv" in msg
    assert "ndvi_maize_XX.csv" not in msg  # present, so not listed
    assert "<data_dir>/<crop>/<country>/<table>_<crop>_<country>.csv" in msg


def test_optional_tables_may_be_missing(tmp_path):
    root = _write(tmp_path, {"yield": _yield_table()})
    with pytest.warns(ValidationWarning, match="optional tables"):
        t = load_cybench(CROP, COUNTRY, data_dir=root)
    assert len(t.yield_) == 4
    assert t.ndvi is None and t.fpar is None and t.soil is None and t.crop_calendar is None


def test_duplicate_county_years_are_an_error(tmp_path):
    dup = _yield_table(years=(2001, 2001, 2001, 2002))
    root = _write(tmp_path, {"yield": dup})
    with pytest.raises(ValidationError, match=r"XX1', 2001") as err:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidationWarning)
            load_cybench(CROP, COUNTRY, data_dir=root)
    assert "rows [0, 1]" in str(err.value)


def test_duplicate_dates_in_series_are_an_error(tmp_path):
    ndvi = pd.DataFrame(
        {
            "crop_name": CROP,
            "adm_id": ["XX1", "XX1"],
            "date": [20010101, 20010101],
            "ndvi": [150.0, 151.0],
        }
    )
    root = _write(tmp_path, _all_tables(ndvi=ndvi))
    with pytest.raises(ValidationError, match="sharing a"):
        load_cybench(CROP, COUNTRY, data_dir=root)


def test_negative_yield_is_an_error(tmp_path):
    root = _write(tmp_path, _all_tables(**{"yield": _yield_table(yields=(8.0, -1.0, 7.0, 9.0))}))
    with pytest.raises(ValidationError, match=r"negative yields in rows \[1\]"):
        load_cybench(CROP, COUNTRY, data_dir=root)


def test_kg_per_ha_is_detected_and_converted_only_on_request(tmp_path):
    kg = (8000.0, 9500.0, 7250.0, 10000.0)
    root = _write(tmp_path, _all_tables(**{"yield": _yield_table(yields=kg)}))
    with pytest.raises(ValidationError, match="kg/ha") as err:
        load_cybench(CROP, COUNTRY, data_dir=root)
    assert "yield_units='kg/ha'" in str(err.value)
    with pytest.warns(ValidationWarning):  # the NDVI fill of the synthetic table
        t = load_cybench(CROP, COUNTRY, data_dir=root, yield_units="kg/ha")
    assert t.yield_["yield"].tolist() == [8.0, 9.5, 7.25, 10.0]


def test_kg_per_ha_declared_on_t_per_ha_values_is_an_error(tmp_path):
    root = _write(tmp_path, {"yield": _yield_table()})
    with pytest.raises(ValidationError, match="Pass yield_units='t/ha'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidationWarning)
            load_cybench(CROP, COUNTRY, data_dir=root, yield_units="kg/ha")


def test_mixed_units_rows_in_a_t_per_ha_table_are_an_error(tmp_path):
    # one region reported in kg/ha inside a t/ha table: the median stays a t/ha magnitude
    mixed = _yield_table(
        yields=(8.0, 9.5, 7.0, 8.5, 7250.0, 10000.0),
        years=(2001, 2002, 2001, 2002, 2001, 2002),
        adm=("XX1", "XX1", "XX3", "XX3", "XX2", "XX2"),
    )
    root = _write(tmp_path, {"yield": mixed})
    with pytest.raises(ValidationError, match="mixed units") as err:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidationWarning)
            load_cybench(CROP, COUNTRY, data_dir=root)
    msg = str(err.value)
    assert "('XX2', 2001), ('XX2', 2002)" in msg and "all rows of regions [XX2]" in msg
    # a single kg/ha row is reported too (its region is not wholly in kg/ha)
    one = _yield_table(yields=(8.0, 9500.0, 7.25, 10.0))
    root = _write(tmp_path / "one", {"yield": one})
    with pytest.raises(ValidationError, match=r"\('XX1', 2002\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidationWarning)
            load_cybench(CROP, COUNTRY, data_dir=root)


def test_t_per_ha_rows_in_a_kg_per_ha_table_are_kept_with_a_warning(tmp_path):
    kg = _yield_table(yields=(8000.0, 9.5, 7250.0, 10000.0))
    root = _write(tmp_path, {"yield": kg})
    with pytest.warns(ValidationWarning, match="mixed units") as caught:
        t = load_cybench(CROP, COUNTRY, data_dir=root, yield_units="kg/ha")
    assert any("('XX1', 2002)" in str(w.message) for w in caught)
    assert t.yield_["yield"].tolist() == [8.0, 0.0095, 7.25, 10.0]


def test_zero_yields_are_kept_with_a_warning(tmp_path):
    root = _write(tmp_path, {"yield": _yield_table(yields=(8.0, 0.0, 7.0, 9.0))})
    with pytest.warns(ValidationWarning) as caught:
        t = load_cybench(CROP, COUNTRY, data_dir=root)
    assert any("1 rows have yield 0 (kept), e.g. [('XX1', 2002)]" in str(w.message) for w in caught)
    assert len(t.yield_) == 4


def test_bad_date_is_an_error(tmp_path):
    fpar = pd.DataFrame(
        {
            "crop_name": CROP,
            "adm_id": ["XX1", "XX2"],
            "date": ["20010101", "2001-13-45"],
            "fpar": [40.0, 55.5],
        }
    )
    root = _write(tmp_path, _all_tables(fpar=fpar))
    with pytest.raises(ValidationError, match="not YYYYMMDD"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ValidationWarning)
            load_cybench(CROP, COUNTRY, data_dir=root)


def test_unregistered_country_without_data_dir_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="maize/NL, wheat/NL.*data_dir"):
        load_cybench("maize", "XX")


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="split"):
        load_cybench_us_maize("valid")
    with pytest.raises(ValueError, match="yield_units"):
        load_cybench("maize", "NL", yield_units="bu/acre")


def test_feature_groups():
    cols = [
        "adm_id",
        "harvest_year",
        "SM_WHC",
        "avgTAVGp0",
        "avgCWBp4",
        "Z-TMINp1",
        "Z+PRECp3",
        "avgFAPARp2",
        "yield-5",
        "yield-1",
        "yield_trend",
        "yield",
    ]
    g = cybench_feature_groups(cols)
    assert g == {
        "weather": ["avgTAVGp0", "avgCWBp4", "Z-TMINp1", "Z+PRECp3"],
        "soil": ["SM_WHC"],
        "fpar": ["avgFAPARp2"],
        "yield_lags": ["yield-5", "yield-1"],
        "yield_trend": ["yield_trend"],
    }


# --------------------------------------------------------------------------- real data


@pytest.mark.data("cybench_sample")
def test_us_maize_splits():
    train = load_cybench_us_maize("train")
    assert train.shape == (7170, 35)
    assert train["adm_id"].nunique() == 915
    assert (train["harvest_year"].min(), train["harvest_year"].max()) == (2000, 2011)
    test = load_cybench_us_maize("test")
    assert len(test) == 4137
    assert (test["harvest_year"].min(), test["harvest_year"].max()) == (2012, 2018)
    both = load_cybench_us_maize("all")
    assert len(both) == 7170 + 4137
    assert pd.api.types.is_string_dtype(train["adm_id"])
    assert train["harvest_year"].dtype == "int64"
    assert (train.drop(columns=["adm_id", "harvest_year"]).dtypes == "float64").all()
    assert 5 < train["yield"].median() < 15  # t/ha
    g = cybench_feature_groups(train.columns)
    assert {k: len(v) for k, v in g.items()} == {
        "weather": 24,
        "soil": 1,
        "fpar": 1,
        "yield_lags": 5,
        "yield_trend": 1,
    }


@pytest.mark.data("cybench_sample")
@pytest.mark.parametrize(
    "crop, n_yield, median", [("maize", 129, (9, 14)), ("wheat", 242, (7, 10))]
)
def test_nl_tables(crop, n_yield, median):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = load_cybench(crop, "NL")
    msgs = " | ".join(str(w.message) for w in caught)
    assert "NDVI values are exactly 0" in msgs  # upstream fill on 2018-08-05
    if crop == "maize":
        assert "3 rows have yield 0" in msgs  # NL32 2017-2019, harvest_area 0
    assert len(t.yield_) == n_yield and t.yield_["adm_id"].nunique() == 12
    assert median[0] < t.yield_["yield"].median() < median[1]
    assert (t.yield_["yield"] >= 0).all()
    for table, col in (("ndvi", "ndvi"), ("fpar", "fpar")):
        df = getattr(t, table)
        assert pd.api.types.is_datetime64_dtype(df["date"])
        assert df["date"].min() >= pd.Timestamp("2001-01-01")
        assert df[col].notna().mean() > 0.99
    assert t.ndvi["ndvi"].max() <= 250  # MOD09CMG 50-250 scale
    assert len(t.soil) == 12 and len(t.crop_calendar) == 12
    assert t.crop_calendar["sos"].lt(t.crop_calendar["eos"]).all()


@pytest.mark.data("cybench_sample")
def test_copied_nl_folder_reads_the_same_without_registry(tmp_path):
    from sdmkit.datasets._fetch import fetch

    dest = tmp_path / "wheat" / "NL"
    dest.mkdir(parents=True)
    src = fetch("cybench_sample", "wheat/NL/yield_wheat_NL.csv")
    (dest / src.name).write_bytes(src.read_bytes())
    with pytest.warns(ValidationWarning, match="optional tables"):
        local = load_cybench("wheat", "NL", data_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        reg = load_cybench("wheat", "NL")
    pd.testing.assert_frame_equal(local.yield_, reg.yield_)
