"""Forecast features: values, seasonality of the target week, and no peeking past the origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdmkit import ValidationError
from sdmkit.datasets.simulate import dengue_panel
from sdmkit.forecast.features import FEATURE_KEYS, feature_columns, make_features
from sdmkit.forecast.panel import dengai_panel, join_embeddings, join_static, make_panel

CLIMATE = ["temperature", "rainfall"]


@pytest.fixture(scope="module")
def panel():
    sim = dengue_panel(n_locations=3, n_weeks=120, start="2019-01-06", random_state=3)
    p = make_panel(sim.panel)
    p = join_static(p, pd.DataFrame({"location": sim.truth["locations"], "elev": [1.0, 2.0, 3.0]}))
    return join_embeddings(p, np.eye(3), locations=sim.truth["locations"])


def _kw():
    return dict(climate=CLIMATE, static=["elev", "population"], case_lags=6)


def test_feature_values_match_the_panel(panel):
    origin = panel["date"].iloc[60]
    X = make_features(panel, origins=origin, horizons=[1, 3], **_kw())
    assert len(X) == 3 * 2
    loc0 = panel[panel["location"] == X["location"].iloc[0]].set_index("t")
    row = X.iloc[1]  # first location, horizon 3
    to = row["t_origin"]
    assert row["horizon"] == 3 and row["t"] == to + 3
    assert row["target"] == loc0.loc[to + 3, "cases"]
    assert row["date"] == loc0.loc[to + 3, "date"]
    assert row["log1p_cases_lag0"] == pytest.approx(np.log1p(loc0.loc[to, "cases"]))
    assert row["log1p_cases_lag5"] == pytest.approx(np.log1p(loc0.loc[to - 5, "cases"]))
    assert row["temperature_lag12"] == pytest.approx(loc0.loc[to - 12, "temperature"])
    assert row["rainfall_mean4"] == pytest.approx(loc0.loc[to - 3 : to, "rainfall"].mean())
    assert row["log1p_cases_mean8"] == pytest.approx(
        np.log1p(loc0.loc[to - 7 : to, "cases"].mean())
    )
    assert row["elev"] == 1.0 and row["emb_000"] == 1.0
    week = loc0.loc[to + 3, "week"]
    assert row["week_of_year"] == week
    n_weeks = 53 if loc0.loc[to + 3, "year"] == 2020 else 52  # MMWR 2020 has 53 weeks
    assert row["sin1"] == pytest.approx(np.sin(2 * np.pi * (week - 1) / n_weeks))
    assert {"cos3", "trend", "horizon"} <= set(feature_columns(X))
    assert not set(FEATURE_KEYS) & set(feature_columns(X))


def test_short_history_gives_nan_not_errors(panel):
    X = make_features(panel, origins=panel["date"].iloc[2], horizons=1, **_kw())
    assert X["log1p_cases_lag5"].isna().all() and X["log1p_cases_lag2"].notna().all()
    assert X["temperature_lag12"].isna().all()


def test_targets_beyond_the_data_are_nan_and_dates_follow_the_calendar(panel):
    X = make_features(panel, origins="last", horizons=60, climate=[])
    assert X["target"].isna().all()
    d = X.groupby("location")["date"].diff().dropna().dt.days
    assert (d == 7).all()
    # the 2020 MMWR year has 53 weeks: week 53 gets phase 52/53, not 52/52
    w53 = X[X["week_of_year"] == 53]
    if len(w53):
        assert np.allclose(w53["sin1"], np.sin(2 * np.pi * 52 / 53))


def test_training_table_covers_every_origin(panel):
    X = make_features(panel, horizons=2, climate=["temperature"], climate_lags=[0, 1])
    assert len(X) == 2 * len(panel)
    assert X.groupby(["location", "origin", "horizon"]).size().max() == 1


def test_bad_input(panel):
    with pytest.raises(ValidationError, match="beyond the data"):
        make_features(panel, origins=panel["date"].max() + pd.Timedelta(days=7))
    with pytest.raises(ValidationError, match="not in the panel"):
        make_features(panel, origins="last", climate=["humidity"])
    with pytest.raises(ValueError, match="horizons"):
        make_features(panel, origins="last", horizons=0)
    with pytest.raises(ValidationError, match="panel built by make_panel"):
        make_features(panel.drop(columns="t"), origins="last")


def test_dengai_calendar_features():
    rows = []
    for y in (2001, 2002):
        for k in range(52):
            rows.append(
                {
                    "city": "sj",
                    "year": y,
                    "week_start_date": pd.Timestamp(f"{y}-01-01") + pd.Timedelta(days=7 * k),
                    "total_cases": k,
                    "x": float(k),
                }
            )
    p = dengai_panel(pd.DataFrame(rows))
    X = make_features(p, origins="2002-12-24", horizons=[1, 2], climate=["x"], case_lags=2)
    assert X["date"].tolist() == [pd.Timestamp("2003-01-01"), pd.Timestamp("2003-01-08")]
    assert X["week_of_year"].tolist() == [1.0, 2.0]
    assert X["log1p_cases_lag1"].iloc[0] == pytest.approx(np.log1p(50))


def _no_peek_check(panel, origin_idx, factor, shift, seed):
    loc = panel["location"].iloc[0]
    sub = panel[panel["location"] == loc]
    origin = sub["date"].iloc[origin_idx]
    kw = dict(horizons=[1, 4, 13], **_kw())
    before = make_features(panel, origins=origin, **kw)
    rng = np.random.default_rng(seed)
    changed = panel.copy()
    after = changed["date"] > origin
    n = int(after.sum())
    changed.loc[after, "cases"] = rng.integers(0, 1000, n) * factor
    changed.loc[after, "temperature"] = changed.loc[after, "temperature"] + shift
    changed.loc[after, "rainfall"] = rng.normal(size=n)
    again = make_features(changed, origins=origin, **kw)
    cols = feature_columns(before)
    pd.testing.assert_frame_equal(before[cols], again[cols])
    # and truncating the panel at the origin gives the same features too
    cut = make_features(panel[panel["date"] <= origin], origins=origin, **kw)
    pd.testing.assert_frame_equal(before[cols], cut[cols])
    assert not before["target"].equals(again["target"]) or n == 0


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    origin_idx=st.integers(min_value=0, max_value=118),
    factor=st.integers(min_value=1, max_value=5),
    shift=st.floats(min_value=-50, max_value=50, allow_nan=False),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_changing_values_after_the_origin_changes_no_feature(
    panel, origin_idx, factor, shift, seed
):
    _no_peek_check(panel, origin_idx, factor, shift, seed)
