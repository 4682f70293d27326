"""WIS, interval score, coverage, relative WIS: hand-computed values and limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit.forecast.scoring import (
    coverage,
    interval_score,
    quantile_score,
    relative_wis,
    wis,
)


def test_interval_score_hand_values_and_order_check():
    assert interval_score([5.0], [4.0], [10.0], 0.2).tolist() == [6.0]
    assert interval_score([12.0], [4.0], [10.0], 0.2).tolist() == [6.0 + 2 / 0.2 * 2]
    assert interval_score([1.0], [4.0], [10.0], 0.5).tolist() == [6.0 + 2 / 0.5 * 3]
    with pytest.raises(ValueError, match="lower > upper"):
        interval_score([1.0], [5.0], [4.0], 0.5)


def test_wis_uses_absolute_error_of_the_median_not_the_median():
    # a point forecast with no intervals: WIS = |y - m| (the 1/2 weight over K + 1/2)
    assert wis([10.0], [7.0], {}).tolist() == [3.0]
    y, m = 100.0, 100.0  # a perfect median must score 0 for degenerate intervals
    assert wis([y], [m], {0.5: ([y], [y]), 0.9: ([y], [y])}).tolist() == [0.0]


def test_wis_levels_in_percent_or_fraction_agree_and_equal_quantile_score():
    rng = np.random.default_rng(0)
    y = rng.poisson(20, 50).astype(float)
    q = {0.05: np.full(50, 10.0), 0.25: np.full(50, 16.0), 0.5: np.full(50, 20.0),
         0.75: np.full(50, 24.0), 0.95: np.full(50, 30.0)}
    a = wis(y, q[0.5], {50: (q[0.25], q[0.75]), 90: (q[0.05], q[0.95])})
    b = wis(y, q[0.5], {0.5: (q[0.25], q[0.75]), 0.9: (q[0.05], q[0.95])})
    np.testing.assert_allclose(a, b)
    # WIS equals the mean pinball loss over the 2K + 1 quantiles (Bracher et al. 2021)
    np.testing.assert_allclose(a, quantile_score(y, q), rtol=1e-12)


def test_coverage_and_relative_wis():
    assert coverage([1, 5, 10], [0, 0, 0], [5, 5, 5]) == pytest.approx(2 / 3)
    scores = pd.DataFrame({"model": ["a", "a", "ref", "ref"], "location": ["x", "y", "x", "y"],
                           "wis": [2.0, 8.0, 4.0, 4.0]})
    assert relative_wis(scores, "a", "ref") == pytest.approx(1.0)  # sqrt(0.5 * 2)
    ref = pd.Series({"x": 1.0, "y": 2.0})
    assert relative_wis(scores, "a", ref) == pytest.approx(np.sqrt(2 * 4))
