"""Tests of sdmkit.datasets.dengue: synthetic unit tests, then real-data facts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit import epiweek
from sdmkit._validation import ValidationError
from sdmkit.datasets.dengue import (
    FORECAST_QUANTILE_COLUMNS,
    UF_NAMES,
    _check_dengai_calendar,
    _join_labels,
    load_brazil_cases,
    load_brazil_microregions,
    load_brazil_sst,
    load_brazil_static,
    load_dengai,
    load_sprint2024_rankings,
    load_sprint2025_forecasts,
    load_sprint2025_total_cases,
    load_sprint2025_wis,
    read_inla_graph,
)
from sdmkit.forecast.scoring import wis_from_frame

# --------------------------------------------------------------------------- INLA graph


def _graph(tmp_path, text: str):
    path = tmp_path / "g.graph"
    path.write_text(text)
    return path


def test_read_inla_graph_small(tmp_path):
    # 1-2-3 path, 4 isolated
    ids, adj = read_inla_graph(_graph(tmp_path, "4\n1 1 2\n2 2 1 3\n3 1 2\n4 0\n"))
    assert ids == [1, 2, 3, 4]
    assert adj.format == "csr" and adj.shape == (4, 4)
    expected = np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(adj.toarray(), expected)


def test_read_inla_graph_zero_based_and_unordered_lines(tmp_path):
    ids, adj = read_inla_graph(_graph(tmp_path, "3\n\n2 1 0\n0 1 2\n1 0\n"))
    assert ids == [0, 1, 2]
    np.testing.assert_array_equal(adj.toarray(), [[0, 0, 1], [0, 0, 0], [1, 0, 0]])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("3 1\n1 0\n2 0\n3 0\n", "only the node count"),
        ("3\n1 1 2\n2 1 1\n", r"N = 3 nodes but 2 node lines"),
        ("2\n1 2 2\n2 1 1\n", "node 1 says 2 neighbours but lists 1"),
        ("2\n1 1 x\n2 1 1\n", "line 2: non-integer"),
        ("2\n1 1 3\n2 0\n", r"out of range.*\(2, 3\)"),
        ("2\n1 1 2\n1 1 2\n", "listed more than once"),
        ("2\n1 1 1\n2 0\n", "listing themselves"),
        ("3\n1 2 2 2\n2 1 1\n3 0\n", "neighbour twice"),
        ("3\n1 2 2 3\n2 1 1\n3 0\n", r"not symmetric.*\(1, 3\)"),
    ],
)
def test_read_inla_graph_bad_files(tmp_path, text, match):
    with pytest.raises(ValidationError, match=match):
        read_inla_graph(_graph(tmp_path, text))


# --------------------------------------------------------------------------- DengAI internals


def _dengai_frame(dates, city="sj"):
    dates = pd.to_datetime(pd.Series(dates))
    return pd.DataFrame(
        {
            "city": city,
            "year": dates.dt.year,
            "weekofyear": dates.dt.isocalendar()["week"].astype("int64"),
            "week_start_date": dates,
            "x": 1.0,
        }
    )


def test_join_labels_keeps_order_and_matches():
    f = _dengai_frame(["2001-12-24", "2002-01-01", "2002-01-08"])
    labels = f[["city", "year", "weekofyear"]].iloc[::-1].assign(total_cases=[3, 2, 1])
    out = _join_labels(f, labels)
    assert out["week_start_date"].equals(f["week_start_date"])
    assert out["total_cases"].tolist() == [1, 2, 3]
    assert out["total_cases"].dtype == "int64"


def test_join_labels_mismatch_raises():
    f = _dengai_frame(["2001-12-24", "2002-01-01"])
    labels = f[["city", "year", "weekofyear"]].assign(total_cases=[1, 2])
    wrong = labels.assign(weekofyear=[52, 2])  # 2002-01-01 is ISO week 1, not 2
    with pytest.raises(ValidationError, match=r"1 feature rows have no label.*1 labels have no"):
        _join_labels(f, wrong)
    with pytest.raises(ValidationError, match="no label"):
        _join_labels(f, labels.iloc[:1])
    with pytest.raises(ValidationError, match="repeat"):
        _join_labels(f, pd.concat([labels, labels.iloc[:1]], ignore_index=True))


def test_dengai_calendar_accepts_year_boundary_and_rejects_gaps():
    ok = _dengai_frame(["2003-12-17", "2003-12-24", "2004-01-01", "2004-01-08"])
    _check_dengai_calendar(ok, "ok")  # the 8-day step at 1 January is the calendar
    gap = _dengai_frame(["2003-12-24", "2004-01-08"])
    with pytest.raises(ValidationError, match="not continuous"):
        _check_dengai_calendar(gap, "gap")
    off = _dengai_frame(["2004-01-02"])
    with pytest.raises(ValidationError, match="1 January"):
        _check_dengai_calendar(off, "off")
    iso = _dengai_frame(["2004-01-01"]).assign(weekofyear=1)  # 2004-01-01 is ISO week 1 ...
    iso.loc[0, "weekofyear"] = 2  # ... so 2 is wrong
    with pytest.raises(ValidationError, match="ISO week"):
        _check_dengai_calendar(iso, "iso")


def test_epiweek_known_weeks():
    dates = ["2009-12-27", "2010-01-03", "2014-12-28", "2015-01-04", "2020-12-27", "2021-01-03"]
    year, week = epiweek(pd.Series(pd.to_datetime(dates)))
    assert list(zip(year, week, strict=True)) == [
        (2009, 52), (2010, 1), (2014, 53), (2015, 1), (2020, 53), (2021, 1)
    ]  # fmt: skip


def test_argument_errors_need_no_data():
    with pytest.raises(ValueError, match="2025 or 2024"):
        load_brazil_cases(sprint=2023)
    with pytest.raises(ValueError, match="available"):
        load_sprint2024_rankings("XX")


# --------------------------------------------------------------------------- real data: DengAI


@pytest.fixture(scope="module")
def dengai():
    return load_dengai()


@pytest.mark.data("dengai")
def test_dengai_shapes_and_types(dengai):
    train, test = dengai.train, dengai.test
    assert train["city"].value_counts().to_dict() == {"sj": 936, "iq": 520}
    assert test["city"].value_counts().to_dict() == {"sj": 260, "iq": 156}
    assert len(dengai.submission_format) == 416
    assert list(train.columns) == list(test.columns) + ["total_cases"]
    assert len(dengai.feature_names) == 20
    assert train["total_cases"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(train["week_start_date"])
    assert all(train[c].dtype == "float64" for c in dengai.feature_names)
    assert train["ndvi_ne"].isna().sum() == 194  # NaNs are kept
    first = train.iloc[0]
    assert (first["city"], first["year"], first["weekofyear"], first["total_cases"]) == (
        "sj", 1990, 18, 4
    )  # fmt: skip
    assert train["total_cases"].sum() == 35927


@pytest.mark.data("dengai")
def test_dengai_calendar_facts(dengai):
    for frame in (dengai.train, dengai.test):
        step = frame.groupby("city")["week_start_date"].diff().dt.days
        assert set(step.dropna()) == {7, 8, 9}
        jan1 = frame["week_start_date"].dt.strftime("%m-%d") == "01-01"
        assert set(step[jan1].dropna()) == {8, 9}  # longer steps only into 1 January
        assert (frame.groupby(["city", "year"]).size() <= 52).all()
    assert dengai.train["weekofyear"].max() == 53
    for city in ("sj", "iq"):
        last = dengai.train.loc[dengai.train["city"] == city, "week_start_date"].max()
        first = dengai.test.loc[dengai.test["city"] == city, "week_start_date"].min()
        assert (first - last).days == 7  # test continues train
    keys = ["city", "year", "weekofyear"]
    assert dengai.test[keys].equals(dengai.submission_format[keys])


# --------------------------------------------------------------------------- real data: Brazil


@pytest.fixture(scope="module")
def cases():
    return load_brazil_cases()


@pytest.mark.data("brazil_imdc")
def test_brazil_cases_2025(cases):
    assert list(cases.columns) == [
        "location", "uf_name", "date", "epiweek", "year", "week", "cases",
        "train_1", "target_1", "train_2", "target_2", "train_3", "target_3",
    ]  # fmt: skip
    assert cases["location"].nunique() == 27
    assert (cases.groupby("location").size() == 804).all()
    assert cases["date"].min() == pd.Timestamp("2010-01-03")
    assert cases["cases"].dtype == "int64"
    assert all(cases[f"{k}_{i}"].dtype == bool for k in ("train", "target") for i in (1, 2, 3))
    year, week = epiweek(cases["date"])
    assert (year == cases["year"].to_numpy()).all() and (week == cases["week"].to_numpy()).all()
    assert dict(zip(cases["location"], cases["uf_name"], strict=True)) == UF_NAMES
    ac = cases[cases["location"] == "AC"]
    target_1 = ac.loc[ac["target_1"], "epiweek"]
    assert (target_1.min(), target_1.max(), len(target_1)) == (202241, 202340, 52)
    assert ac.loc[ac["train_1"], "epiweek"].max() == 202225


@pytest.mark.data("brazil_imdc")
def test_brazil_cases_2024_release_differs(cases):
    old = load_brazil_cases(sprint=2024)
    assert list(old.columns) == list(cases.columns[:7])
    assert old["location"].nunique() == 27 and len(old) == 27 * 753
    both = cases.merge(old, on=["location", "date"], suffixes=("", "_2024"))
    assert (both["epiweek"] == both["epiweek_2024"]).all()
    assert (both["cases"] != both["cases_2024"]).mean() > 0.5  # revisions: never mix


@pytest.mark.data("brazil_imdc")
def test_brazil_static_and_sst():
    static = load_brazil_static()
    assert static.shape == (27, 17) and static["location"].is_unique
    assert "biome_Mata_Atlantica" in static.columns
    np.testing.assert_allclose(static.filter(like="koppen_").sum(axis=1), 1, atol=1e-9)
    np.testing.assert_allclose(static.filter(like="biome_").sum(axis=1), 1, atol=1e-9)
    sst = load_brazil_sst()
    assert list(sst.columns) == [
        "date", "week_mid", "week_end", "epiweek", "year", "week", "enso", "iod", "pdo", "num_days"
    ]  # fmt: skip
    assert len(sst) == 793 and sst["epiweek"].iloc[0] == 200952
    assert sst["num_days"].iloc[-1] == 2 and (sst["num_days"].iloc[:-1] == 7).all()


@pytest.fixture(scope="module")
def forecasts():
    return load_sprint2025_forecasts()


@pytest.mark.data("brazil_imdc")
def test_sprint2025_forecasts(forecasts):
    assert list(forecasts.columns) == [
        "model_id", "location", "valid_test", "date", *FORECAST_QUANTILE_COLUMNS
    ]  # fmt: skip
    assert len(forecasts) == 79248
    assert forecasts["model_id"].nunique() == 18
    assert set(forecasts["valid_test"]) == {"1", "2", "3", "Forecast"}
    prospective = forecasts[forecasts["valid_test"] == "Forecast"]
    assert sorted(prospective["model_id"].unique()) == [108, 143, 145]
    m108 = prospective.loc[prospective["model_id"] == 108, "date"]
    assert pd.Timestamp("2025-12-28") not in set(m108)  # the documented EW53 gap


@pytest.mark.data("brazil_imdc")
def test_sprint2025_wis_table_and_recomputation(forecasts, cases):
    wis = load_sprint2025_wis()
    assert list(wis.columns) == ["model_id", "location", "valid_test", "wis", "wis_peak"]
    assert len(wis) == 1924 and wis["model_id"].nunique() == 18
    assert wis["location"].nunique() == 27
    assert set(wis["valid_test"]) == {"1", "2", "3", "all"}
    assert wis["wis_peak"].isna().equals(wis["valid_test"] == "all")
    # The bounds mean what they say: the official WIS is recomputed from them
    # (tests 1 and 2; test 3 was scored on later data than this release holds).
    m = forecasts[forecasts["valid_test"].isin(["1", "2"])].merge(
        cases[["location", "date", "cases"]], on=["location", "date"]
    )
    m["wis_calc"] = wis_from_frame(m)
    keys = ["model_id", "location", "valid_test"]
    got = m.groupby(keys)["wis_calc"].mean().reset_index().merge(wis, on=keys)
    assert len(got) == 2 * 481
    np.testing.assert_allclose(got["wis_calc"], got["wis"], rtol=1e-3)


@pytest.mark.data("brazil_imdc")
def test_sprint2025_total_cases_and_2024_rankings():
    total = load_sprint2025_total_cases()
    assert list(total.columns) == ["model_id", "location", "valid_test", "wis"]
    assert len(total) == 1326 and 141 not in set(total["model_id"])
    assert "ES" not in set(total["location"])
    ranks = load_sprint2024_rankings()
    assert list(ranks.columns) == ["model_id", "rank_values", "rank", "location"]
    assert ranks.groupby("location").size().to_dict() == dict.fromkeys(
        ["AM", "CE", "GO", "MG", "PR"], 7
    )
    mg = load_sprint2024_rankings("mg")
    assert mg["rank"].dtype == "int64" and mg.iloc[0]["model_id"] == 25


# ----------------------------------------------------------------------- real data: microregions


@pytest.mark.data("brazil_microregions")
def test_brazil_microregions():
    from shapely import STRtree

    m = load_brazil_microregions()
    regions, adj = m.regions, m.adjacency
    assert len(regions) == 558 and regions.crs.to_epsg() == 4326
    assert regions["code"].str.fullmatch(r"\d{5}").all()
    assert adj.shape == (558, 558) and (adj != adj.T).nnz == 0
    assert set(np.unique(adj.data)) == {1.0}
    assert m.n_components == 2
    assert sorted(np.bincount(m.component_labels)) == [1, 557]
    degree = np.asarray(adj.sum(axis=1)).ravel()
    (isolated,) = np.flatnonzero(degree == 0)
    assert regions["code"].iloc[isolated] == "26019"  # Fernando de Noronha
    # map.graph node i+1 is row i: its edges are exactly the intersecting polygon pairs.
    left, right = STRtree(regions.geometry.values).query(
        regions.geometry.values, predicate="intersects"
    )
    touching = {(a, b) for a, b in zip(left, right, strict=True) if a != b}
    rows, cols = adj.nonzero()
    assert touching == set(zip(rows, cols, strict=True))
    grid = m.states_grid
    assert list(grid.columns) == ["row", "col", "code", "name", "code_num"]
    assert len(grid) == 27
    assert set(regions["code"].str[:2].astype(int)) == set(grid["code_num"])
