"""Forecasters for weekly dengue cases and in-season crop-yield stress, and their scores.

Quantile forecasts in a tidy frame (``location, origin, date, horizon, quantile, value``);
backtests never use data after the forecast origin. Names are imported lazily (torch and
PyMC are optional extras).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "scoring": [
        "coverage",
        "interval_score",
        "quantile_score",
        "relative_wis",
        "wis",
        "wis_from_frame",
    ],
    "panel": [
        "KEY_COLUMNS",
        "QUANTILES",
        "check_origin",
        "dengai_panel",
        "is_dengai_calendar",
        "join_climate",
        "join_embeddings",
        "join_static",
        "make_panel",
        "quantile_frame",
        "step_calendar",
    ],
    "features": ["FEATURE_KEYS", "feature_columns", "make_features"],
    "baselines": [
        "DENGAI_BENCHMARK_COVARIATES",
        "ClimatologyQuantiles",
        "NegativeBinomialGLM",
        "SeasonalNaive",
        "fit_nb2",
    ],
    "gbm": ["CalibratedBlend", "LightGBMQuantileForecaster"],
    "seasonal": [
        "LinearPoolForecaster",
        "SeasonalLevelForecaster",
        "linear_pool_quantiles",
        "mixture_normal_quantiles",
    ],
    "backtest": [
        "LEVELS",
        "apply_conformal",
        "attach_observed",
        "backtest",
        "blend_quantiles",
        "central_levels",
        "crps_from_quantiles",
        "fit_conformal",
        "from_interval_frame",
        "log_score_from_quantiles",
        "pool_relative_wis",
        "season_horizons",
        "score_forecasts",
        "summarize_scores",
        "to_interval_frame",
    ],
    "bayes": ["BayesianNegBinomialForecaster", "ConvergenceError", "ConvergenceWarning"],
    "graph": [
        "align_adjacency",
        "bym2_scaling_factor",
        "check_adjacency",
        "connected_components",
        "graph_edges",
        "graph_summary",
    ],
    "yield_stress": [
        "SeasonArray",
        "SeasonPanel",
        "season_bounds",
        "season_panel",
        "season_panel_from_cybench",
    ],
    "yield_features": [
        "Climatology",
        "SeasonFeatures",
        "TrendEstimator",
        "cybench_design",
        "designed_features_at",
        "fill_series",
        "fourier_features",
        "period_of",
        "yield_history",
    ],
    "yield_models": [
        "AverageYieldModel",
        "BlendedBaseline",
        "ResidualDistribution",
        "ResidualRegressor",
        "TrendModel",
        "YieldStressForecaster",
        "blend_weights",
        "oof_predict",
    ],
    "yield_metrics": [
        "brier_decomposition",
        "brier_score",
        "brier_skill_score",
        "nrmse",
        "plot_reliability",
        "r2",
        "reliability_table",
        "shortfall_event",
    ],
    "spectral": [
        "FourierBlock",
        "FourierNetRegressor",
        "FourierYieldNet",
        "SpectralConv1d",
        "period_series",
        "series_frame",
    ],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
