"""Weekly panels: building, validation, epiweeks, DengAI slots, joins, origins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit import ValidationError, ValidationWarning, epiweek
from sdmkit.datasets.simulate import dengue_panel
from sdmkit.forecast.panel import (
    QUANTILES,
    check_origin,
    dengai_panel,
    join_climate,
    join_embeddings,
    join_static,
    make_panel,
    quantile_frame,
    step_calendar,
)


def _tidy(n_loc=2, n_weeks=10, start="2020-11-29"):
    dates = pd.date_range(start, periods=n_weeks, freq="7D")
    return pd.DataFrame(
        {
            "site": np.repeat([f"s{i}" for i in range(n_loc)], n_weeks),
            "day": np.tile(dates, n_loc),
            "n": np.arange(n_loc * n_weeks) % 7,
            "temp": np.linspace(20, 30, n_loc * n_weeks),
        }
    )


def _panel(**kw):
    return make_panel(_tidy(**kw), location="site", time="day", target="n")


def _dengai_like(years=(2001, 2002, 2003), cities=("sj", "iq")):
    rows = []
    for c in cities:
        for y in years:
            for k in range(52):
                d = pd.Timestamp(f"{y}-01-01") + pd.Timedelta(days=7 * k)
                rows.append(
                    {
                        "city": c,
                        "year": y,
                        "weekofyear": int(d.isocalendar()[1]),
                        "week_start_date": d,
                        "x": float(k),
                        "total_cases": k % 5,
                    }
                )
    return pd.DataFrame(rows)


def test_quantiles_are_the_hub_levels():
    assert QUANTILES == (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)


def test_make_panel_columns_types_and_continuous_index():
    p = _panel()
    assert list(p.columns[:7]) == ["location", "date", "t", "year", "week", "epiweek", "cases"]
    assert p["cases"].dtype == "int64" and p["t"].dtype == "int64"
    assert str(p["date"].dtype).startswith("datetime64")
    assert (p.groupby("location")["t"].diff().dropna() == 1).all()
    y, w = epiweek(p["date"])
    assert (p["year"].to_numpy() == y).all() and (p["week"].to_numpy() == w).all()
    assert "temp" in p.columns


def test_make_panel_handles_53_week_years():
    p = _panel(n_weeks=8)  # 2020-11-29 .. crosses MMWR 2020 week 53
    codes = p.loc[p["location"] == "s0", "epiweek"].tolist()
    assert 202053 in codes and codes[codes.index(202053) + 1] == 202101
    cal = step_calendar(p, ["s0"] * 3, [p["t"].max() + 50, p["t"].max() + 51, p["t"].max() + 52])
    assert set(cal["weeks_in_year"]) <= {52, 53}


def test_make_panel_sorts_and_accepts_simulated_panel():
    sim = dengue_panel(n_locations=3, n_weeks=60, random_state=1)
    shuffled = sim.panel.sample(frac=1.0, random_state=0)
    p = make_panel(shuffled)
    assert len(p) == len(sim.panel)
    assert p["epiweek"].equals(sim.panel["epiweek"])  # the simulator's epiweek agrees


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.drop(index=3), "not continuous"),
        (lambda d: pd.concat([d, d.iloc[[4]]]), "sharing"),
        (lambda d: d.assign(n=d["n"].where(d.index != 5, -2)), "negative"),
        (lambda d: d.assign(n=d["n"].astype(float).where(d.index != 6, np.nan)), "NaN"),
        (lambda d: d.assign(n=d["n"] + 0.5), "non-integer"),
        (lambda d: d.assign(week=1), "disagrees with the CDC/MMWR"),
        (lambda d: d.drop(columns="n"), "lacks columns"),
    ],
)
def test_make_panel_bad_input(mutate, match):
    with pytest.raises(ValidationError, match=match):
        make_panel(mutate(_tidy()), location="site", time="day", target="n")


def test_gap_error_names_the_location():
    d = _tidy()
    d = d.drop(index=d.index[(d["site"] == "s1")][4])
    with pytest.raises(ValidationError, match="s1"):
        make_panel(d, location="site", time="day", target="n")


def test_panel_without_target():
    p = make_panel(_tidy().drop(columns="n"), location="site", time="day", target=None)
    assert "cases" not in p.columns and len(p) == 20


# --------------------------------------------------------------------------- DengAI calendar


def test_dengai_panel_uses_slots_across_year_ends():
    p = dengai_panel(_dengai_like())
    sj = p[p["location"] == "sj"]
    assert (sj["t"].diff().dropna() == 1).all()
    assert sj["week"].min() == 1 and sj["week"].max() == 52
    assert (sj["t"] == sj["year"] * 52 + sj["week"] - 1).all()
    # real dates kept: the year-end step is 8 or 9 days, not faked to 7
    steps = sj["date"].diff().dt.days.dropna().unique()
    assert set(steps) <= {7, 8, 9} and {8, 9} & set(steps)
    cal = step_calendar(p, ["sj"], [sj["t"].max() + 1])
    assert cal["date"].iloc[0] == pd.Timestamp("2004-01-01") and cal["weeks_in_year"].iloc[0] == 52


def test_dengai_panel_rejects_other_calendars_and_gaps():
    d = _dengai_like()
    d.loc[3, "week_start_date"] += pd.Timedelta(days=1)
    with pytest.raises(ValidationError, match="not 1 January"):
        dengai_panel(d)
    with pytest.raises(ValidationError, match="not continuous"):
        dengai_panel(_dengai_like().drop(index=10))
    with pytest.raises(ValidationError, match="columns"):
        dengai_panel(_dengai_like().drop(columns="total_cases"))


# --------------------------------------------------------------------------- joins


def _climate(p, locs=None):
    c = p[["location", "date"]].copy()
    c["rain"] = np.arange(len(c), dtype=float)
    if locs is not None:
        c["location"] = c["location"].replace(locs)
    return c


def test_join_climate_adds_columns_keeps_rows():
    p = _panel()
    out = join_climate(p, _climate(p))
    assert len(out) == len(p) and out["rain"].tolist() == list(range(len(p)))
    assert out[["location", "t"]].equals(p[["location", "t"]])


def test_join_climate_unknown_location_is_named():
    p = _panel()
    with pytest.raises(ValidationError, match="s9"):
        join_climate(p, _climate(p, locs={"s1": "s9"}))


def test_join_climate_missing_rows_warn_and_duplicates_fail():
    p = _panel()
    c = _climate(p).iloc[2:]
    with pytest.warns(ValidationWarning, match="2 of 20"):
        out = join_climate(p, c)
    assert out["rain"].isna().sum() == 2 and len(out) == len(p)
    with pytest.raises(ValidationError, match="sharing"):
        join_climate(p, pd.concat([_climate(p), _climate(p).iloc[[0]]]))
    with pytest.raises(ValidationError, match="already exist"):
        join_climate(p, _climate(p).rename(columns={"rain": "temp"}))


def test_join_static_checks_locations():
    p = _panel()
    ok = join_static(p, pd.DataFrame({"location": ["s1", "s0"], "pop": [1.0, 2.0]}))
    assert ok.groupby("location")["pop"].first().to_dict() == {"s0": 2.0, "s1": 1.0}
    with pytest.raises(ValidationError, match="no row for panel location"):
        join_static(p, pd.DataFrame({"location": ["s0"], "pop": [1.0]}))
    with pytest.raises(ValidationError, match="zz"):
        join_static(p, pd.DataFrame({"location": ["s0", "s1", "zz"], "pop": [1.0, 2, 3]}))
    with pytest.raises(ValidationError, match="several rows"):
        join_static(p, pd.DataFrame({"location": ["s0", "s0", "s1"], "pop": [1.0, 2, 3]}))


def test_join_embeddings_frame_and_array():
    p = _panel()
    emb = pd.DataFrame(
        {"emb_000": [0.1, 0.2], "emb_001": [1.0, 2.0], "n_points": [64, 64]}, index=["s0", "s1"]
    )  # like embed_polygons with ids as index
    out = join_embeddings(p, emb)
    assert [c for c in out if c.startswith("emb_")] == ["emb_000", "emb_001"]
    assert out.loc[out["location"] == "s1", "emb_001"].eq(2.0).all()
    out2 = join_embeddings(
        p, np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), locations=["s0", "s1"], prefix="xy_"
    )
    assert out2.filter(like="xy_").shape[1] == 3
    with pytest.raises(ValidationError, match="one row per id"):
        join_embeddings(p, np.zeros((3, 2)), locations=["s0", "s1"])
    with pytest.raises(ValidationError, match="not in the panel"):
        join_embeddings(p, np.zeros((3, 2)), locations=["s0", "s1", "other"])


# --------------------------------------------------------------------------- origins, output


def test_origin_beyond_data_is_a_clear_error():
    p = _panel()
    last = p["date"].max()
    with pytest.raises(ValidationError, match="beyond the data"):
        check_origin(p, last + pd.Timedelta(days=7))
    with pytest.raises(ValidationError, match="before the data"):
        check_origin(p, p["date"].min() - pd.Timedelta(days=7))
    with pytest.raises(ValidationError, match="not one of its week dates"):
        check_origin(p, last - pd.Timedelta(days=3))
    o = check_origin(p, [last, last - pd.Timedelta(days=7)])
    assert (
        len(o) == 4 and (o.groupby("location")["t"].max() == p.groupby("location")["t"].max()).all()
    )


def test_quantile_frame_is_monotone_and_tidy():
    f = quantile_frame(
        ["a", "b"],
        ["2021-01-03"] * 2,
        ["2021-01-10"] * 2,
        [1, 1],
        np.array([np.arange(9)[::-1], np.arange(9)], dtype=float),
    )
    assert list(f.columns) == ["location", "origin", "date", "horizon", "quantile", "value"]
    assert f.groupby("location")["value"].apply(lambda v: v.is_monotonic_increasing).all()
    assert f["quantile"].unique().tolist() == list(QUANTILES)


# --------------------------------------------------------------------------- real data


@pytest.mark.data("dengai")
def test_dengai_real_panels_line_up():
    from sdmkit.datasets.dengue import load_dengai

    d = load_dengai()
    train = dengai_panel(d.train)
    test = dengai_panel(d.test, target=None)
    assert train.groupby("location").size().to_dict() == {"iq": 520, "sj": 936}
    assert (test.groupby("location")["t"].min() == train.groupby("location")["t"].max() + 1).all()
    assert train["week"].between(1, 52).all()


@pytest.mark.data("brazil_imdc")
def test_brazil_panel_builds_with_27_states():
    from sdmkit.datasets.dengue import load_brazil_cases, load_brazil_static

    cases = load_brazil_cases()
    p = make_panel(cases[["location", "date", "cases", "epiweek", "year", "week"]])
    assert p["location"].nunique() == 27
    assert (p.groupby("location")["t"].diff().dropna() == 1).all()
    assert 53 in set(p["week"])  # 2014 and 2020 are 53-week MMWR years
    p = join_static(p, load_brazil_static().drop(columns="uf_name"))
    assert p["koppen_Af"].notna().all()
