"""Real datasets (hash-verified, read in their upstream formats) and simulators.

Files are found under ``$SDMKIT_DATA_DIR/<dataset>/<file>`` first, then in the
pooch cache, then downloaded from their pinned URLs (see :func:`fetch`).
``sdmkit datasets list`` shows what is available on this machine.
"""

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
from .disdat import REGIONS as DISDAT_REGIONS
from .disdat import DisdatRegion, load_disdat
from .dismo import load_acaule, load_anguilla, load_bioclim, load_bradypus
from .maxent_tables import load_ariolimax, load_elapid_bradypus, load_maxnet_bradypus
from .phillips import load_phillips_coverages

__all__ = [
    "DISDAT_REGIONS",
    "BlockCVAustralia",
    "DatasetNotAvailableError",
    "DisdatRegion",
    "RegistryEntry",
    "available",
    "cache_dir",
    "data_dir",
    "datasets",
    "fetch",
    "fetch_dataset",
    "load_acaule",
    "load_anguilla",
    "load_ariolimax",
    "load_bioclim",
    "load_blockcv_au",
    "load_bradypus",
    "load_disdat",
    "load_elapid_bradypus",
    "load_maxnet_bradypus",
    "load_phillips_coverages",
    "registry",
]
