"""Species distribution models: estimators, background, metrics, the PO→PA protocol.

Estimators follow scikit-learn (``fit(X, y)``, ``predict_proba``) with presence = 1 and
background/absence = 0. The torch-based :class:`MultiSpeciesSDM` is imported lazily.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "maxent": ["MaxentModel"],
    "features": ["MaxentFeatures"],
    "models": ["DownsampledRandomForest", "BoostedTrees", "GLM", "SplineGAM", "Ensemble"],
    "neural": ["MultiSpeciesSDM", "DeepMaxent"],
    "background": [
        "sample_background",
        "target_group_background",
        "thin",
        "one_per_cell",
        "class_weights",
    ],
    "metrics": [
        "roc_auc",
        "pr_auc",
        "cor",
        "boyce_index",
        "tss",
        "max_tss",
        "omission_rate",
        "calibration_curve",
        "f1_at_k_samples",
        "micro_f1",
        "evaluate",
    ],
    "benchmark": ["evaluate_po_pa", "disdat_tasks", "run_disdat", "summarize"],
    "tuning": ["SpatialTuner", "presence_background_folds"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
