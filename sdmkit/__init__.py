"""sdmkit: location embeddings, species distribution models and epidemiological forecasts.

The public API re-exported here is the data model every notebook starts from:
validation (:func:`check_points`, :func:`check_raster`, :func:`check_panel`,
:func:`points_from_xy`) and covariate extraction (:func:`extract`). Datasets
live in :mod:`sdmkit.datasets`.
"""

from ._calendar import epiweek
from ._validation import (
    ValidationError,
    ValidationWarning,
    check_panel,
    check_points,
    check_raster,
    points_from_xy,
)
from .covariates import extract

__version__ = "0.1.0"

__all__ = [
    "ValidationError",
    "ValidationWarning",
    "__version__",
    "check_panel",
    "check_points",
    "check_raster",
    "epiweek",
    "extract",
    "points_from_xy",
]
