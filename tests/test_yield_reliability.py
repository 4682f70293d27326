"""Reliability diagram of shortfall probabilities (sdmkit.forecast.yield_metrics.plot_reliability)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sdmkit._validation import ValidationError  # noqa: E402
from sdmkit.forecast.yield_metrics import (  # noqa: E402
    brier_score,
    plot_reliability,
    reliability_table,
)


def _forecasts(n=20_000, bias=0.0, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    event = rng.uniform(size=n) < np.clip(p + bias, 0, 1)
    return event, p


def test_curve_is_the_reliability_table_and_legend_has_the_brier_score():
    event, p = _forecasts()
    ax = plot_reliability(event, p, n_bins=5, label="model")
    table = reliability_table(event, p, n_bins=5)
    curve = ax.get_lines()[-1]
    np.testing.assert_allclose(curve.get_xdata(), table["prob_mean"])
    np.testing.assert_allclose(curve.get_ydata(), table["freq"])
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["perfect calibration", f"model (Brier {brier_score(event, p):.3f})"]
    # calibrated forecasts: every well-filled bin sits on the diagonal
    assert np.all(np.abs(curve.get_ydata() - curve.get_xdata()) < 0.03)
    # marker areas follow the counts
    sizes = ax.collections[-1].get_sizes()
    assert np.argmax(sizes) == np.argmax(table["count"].to_numpy())
    plt.close(ax.figure)


def test_second_curve_on_same_axes_shows_miscalibration_and_one_diagonal():
    event, p = _forecasts(bias=0.3, seed=1)  # events far more frequent than forecast
    fig, ax = plt.subplots()
    plot_reliability(*_forecasts(seed=2), ax=ax, label="calibrated")
    out = plot_reliability(event, p, ax=ax, label="biased", color="red")
    assert out is ax
    lines = ax.get_lines()
    assert len(lines) == 3  # one diagonal, two curves
    biased = lines[-1]
    assert np.mean(biased.get_ydata() - biased.get_xdata()) > 0.15
    plt.close(fig)


def test_bad_probabilities_are_reported():
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        plot_reliability([0, 1], [0.2, 1.5])
    with pytest.raises(ValidationError, match="0/1"):
        plot_reliability([0, 2], [0.2, 0.5])
    with pytest.raises(ValidationError, match="NaN"):
        plot_reliability([0, 1], [0.2, np.nan])
    plt.close("all")
