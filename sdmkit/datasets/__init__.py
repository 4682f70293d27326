"""Real datasets (hash-verified, read in their upstream formats) and simulators.

Files are found under ``$SDMKIT_DATA_DIR/<dataset>/<file>`` first, then in the
pooch cache, then downloaded from their pinned URLs (see :func:`fetch`).
``sdmkit datasets list`` shows what is available on this machine.
"""

from . import simulate
from ._fetch import (
    DatasetNotAvailableError,
    RegistryEntry,
    available,
    cache_dir,
    data_dir,
    datasets,
    fetch,
    fetch_dataset,
    registry,
)
from .blockcv import BlockCVAustralia, load_blockcv_au
from .cybench import CYBenchTables, cybench_feature_groups, load_cybench, load_cybench_us_maize
from .dengue import (
    DengAI,
    Microregions,
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
from .disdat import REGIONS as DISDAT_REGIONS
from .disdat import DisdatRegion, load_disdat
from .dismo import load_acaule, load_anguilla, load_bioclim, load_bradypus
from .geolifeclef import GLCSample, load_glc23_sample, read_patch, species_matrix
from .geoplant import GeoPlant, load_geoplant
from .maxent_tables import load_ariolimax, load_elapid_bradypus, load_maxnet_bradypus
from .phillips import load_phillips_coverages

__all__ = [
    "DISDAT_REGIONS",
    "BlockCVAustralia",
    "CYBenchTables",
    "DatasetNotAvailableError",
    "DengAI",
    "DisdatRegion",
    "GLCSample",
    "GeoPlant",
    "Microregions",
    "RegistryEntry",
    "available",
    "cache_dir",
    "cybench_feature_groups",
    "data_dir",
    "datasets",
    "fetch",
    "fetch_dataset",
    "load_acaule",
    "load_anguilla",
    "load_ariolimax",
    "load_bioclim",
    "load_blockcv_au",
    "load_brazil_cases",
    "load_brazil_microregions",
    "load_brazil_sst",
    "load_brazil_static",
    "load_bradypus",
    "load_cybench",
    "load_cybench_us_maize",
    "load_dengai",
    "load_disdat",
    "load_elapid_bradypus",
    "load_glc23_sample",
    "load_geoplant",
    "load_maxnet_bradypus",
    "load_phillips_coverages",
    "load_sprint2024_rankings",
    "load_sprint2025_forecasts",
    "load_sprint2025_total_cases",
    "load_sprint2025_wis",
    "read_inla_graph",
    "read_patch",
    "registry",
    "simulate",
    "species_matrix",
]
