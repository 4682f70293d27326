"""Location encoders: positional encodings + networks, pretrained weights, pretraining.

Everything here takes (lon, lat) in degrees. Torch is needed (``pip install
sdmkit[deep]``); the names are imported lazily so ``import sdmkit.encoders`` stays cheap.

Examples
--------
>>> import numpy as np
>>> from sdmkit.encoders import SphericalHarmonics, spherical_harmonics
>>> spherical_harmonics(np.array([[13.4, 52.5]]), L=10).shape
(1, 100)
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "harmonics": ["SphericalHarmonics", "spherical_harmonics", "closed_form_reference"],
    "positional": ["Wrap", "Direct", "Cartesian3D", "Space2VecGrid", "Space2VecTheory",
                   "SphereC", "SphereCPlus", "SphereM", "SphereMPlus",
                   "RandomFourierFeatures", "encoding", "check_lonlat"],
    "networks": ["SIREN", "ResidualFCNet", "MLP"],
    "location": ["LocationEncoder"],
    "weights": ["load_satclip", "load_geoclip", "pretrained_weights", "weights_file"],
    "pretrain": ["pretrain", "info_nce", "ClipLoss", "PatchCNN", "RasterPatchEncoder",
                 "RasterPatchDataset", "ImagePatchDataset", "save_checkpoint",
                 "load_checkpoint", "sh_siren_encoder"],
    "products": ["embed_grid", "embed_polygons"],
    "evaluate": ["probe", "probe_table", "raster_probe_targets"],
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
