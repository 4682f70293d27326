"""Encoder probes (issue 3, item 6): ``sdmkit bench encoder_probes`` → results/encoder_probes.json.

Pretrains SH L=10 + SIREN contrastively on Phillips et al. (2006) coverage patches
(4,000 pairs, 30 epochs, lr 1e-3 — the settings of notebook 01's default run), then
probes raw lon/lat, wrap, SH L=10, SH L=40, the pretrained encoder and GeoCLIP on the
dismo 0.5° grids (bio1, bio12 regression R²; biome classification accuracy), on random
5-fold and 5° spatial-block 5-fold holdouts, 4,000 sampled land cells.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

OUT = Path(__file__).with_name("results") / "encoder_probes.json"


def main() -> dict:
    from sdmkit.datasets import load_bioclim, load_phillips_coverages
    from sdmkit.encoders.evaluate import probe_table, raster_probe_targets
    from sdmkit.encoders.harmonics import SphericalHarmonics
    from sdmkit.encoders.positional import Direct, Wrap
    from sdmkit.encoders.pretrain import (
        RasterPatchDataset,
        RasterPatchEncoder,
        pretrain,
        sh_siren_encoder,
    )
    from sdmkit.encoders.weights import load_geoclip

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    context = load_phillips_coverages().drop_sel(band="ecoreg")
    data = RasterPatchDataset(context, 4000, patch_size=8, random_state=0)
    loc = sh_siren_encoder(L=10, out_features=128, hidden=256)
    ctx = RasterPatchEncoder(data.in_channels, out_features=128, width=32)
    res = pretrain(loc, ctx, data, epochs=30, batch_size=256, lr=1e-3, random_state=0,
                   progress=False)
    encoders = {"lonlat": Direct(), "wrap": Wrap(), "sh_L10": SphericalHarmonics(L=10),
                "sh_L40": SphericalHarmonics(L=40), "sh_L10_siren_pretrained": res.location_encoder}
    try:
        encoders["geoclip"] = load_geoclip()
    except Exception as err:  # noqa: BLE001 - reported, not fatal
        print("GeoCLIP skipped:", err)
    grid = load_bioclim(["bio1", "bio12", "biome"])
    lonlat, targets = raster_probe_targets(
        grid, {"bio1": "regression", "bio12": "regression", "biome": "classification"},
        n=4000, random_state=0)
    table = probe_table(encoders, lonlat, targets, block_size=5.0, n_splits=5)
    out = {
        "benchmark": "encoder_probes",
        "pretraining": {"pairs": 4000, "epochs": 30, "final_epoch_loss":
                        float(res.epoch_loss.iloc[-1]), "first_epoch_loss":
                        float(res.epoch_loss.iloc[0])},
        "rows": table.round(4).to_dict("records"),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(table.pivot_table(index="encoder", columns=["target", "split"], values="score",
                            sort=False).round(3).to_string())
    return out


if __name__ == "__main__":
    main()
