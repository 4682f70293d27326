# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Location embeddings: encode, pretrain, map, probe
#
# A location encoder turns (lon, lat) into a vector that summarises the place.
# This notebook
#
# 1. shows the spherical-harmonic encoding SatCLIP builds on;
# 2. pretrains an SH + SIREN encoder contrastively (SatCLIP-style InfoNCE)
#    against patches of the Phillips et al. (2006) environmental coverages;
# 3. maps the learned embedding over South America (lazy, chunked `embed_grid`);
# 4. probes it: can a *linear* model read temperature, precipitation and biome
#    from the embedding — at places held out by spatial blocks?
#
# The full-size speed measurements are `sdmkit bench encoders`.

# %% tags=["parameters"]
import os

# "smoke": the small setting CI runs; "default": what `make demo` runs.
SIZE = os.environ.get("SDMKIT_NB_SIZE", "default")

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from sdmkit.datasets import available, simulate
from sdmkit.encoders.evaluate import probe_table, raster_probe_targets
from sdmkit.encoders.harmonics import SphericalHarmonics
from sdmkit.encoders.positional import Direct, Wrap
from sdmkit.encoders.pretrain import (
    RasterPatchDataset,
    RasterPatchEncoder,
    pretrain,
    save_checkpoint,
    sh_siren_encoder,
)
from sdmkit.encoders.products import embed_grid

SMOKE = SIZE == "smoke"
N_SAMPLES, EPOCHS = (512, 2) if SMOKE else (60_000, 3)  # many places, few passes
N_PROBE = 1500 if SMOKE else 4000  # cells sampled for the probes
torch.set_num_threads(1)  # small models: one thread is fastest on a shared 2-core machine
print(f"size={SIZE!r}: {N_SAMPLES} pretraining pairs x {EPOCHS} epochs")

# %% [markdown]
# ## 1. Spherical harmonics
# Real spherical harmonics up to degree L − 1 give L² smooth global basis
# functions (100 at L = 10, 1,600 at L = 40), computed here in one fused pass.

# %%
sh = SphericalHarmonics(L=10)
grid = embed_grid(sh, resolution=2.0).compute()["location_embedding"]
fig, axes = plt.subplots(1, 4, figsize=(14, 2.8))
for ax, k in zip(axes, [1, 3, 12, 60]):
    grid.sel(embedding=k).plot.imshow(ax=ax, add_colorbar=False, cmap="RdBu_r")
    ax.set_title(f"feature {k}")
    ax.set_xlabel("lon")
    ax.set_ylabel("lat")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Contrastive pretraining against environmental patches
# Each training pair is a location and the 8 × 8-cell patch of coverages around
# it. The location encoder (SH L = 10 + SIREN) and a small CNN on the patch are
# trained so that matching pairs score higher than all other pairs in the batch.
#
# The InfoNCE temperature is kept fixed at 0.5. With CLIP's learnable temperature
# it falls to ~0.04: the loss then only rewards telling places apart, and the
# location embedding becomes an identifier of the place rather than a summary of
# its environment (a linear probe of it does worse than raw lon/lat on held-out
# blocks; `benchmarks/results/encoder_probes.json` has both rows).

# %%
if available("phillips2006_coverages"):
    from sdmkit.datasets import load_phillips_coverages

    context = load_phillips_coverages().drop_sel(band="ecoreg")  # categorical: left out
    print("DATA: REAL — Phillips et al. 2006 coverages (13 continuous layers, 0.05°)")
else:
    context = simulate.environment_grid((200, 150), random_state=0)
    print("DATA: SIMULATED — set SDMKIT_DATA_DIR for the Phillips coverages")

dataset = RasterPatchDataset(context, N_SAMPLES, patch_size=8, random_state=0)
torch.manual_seed(0)  # the encoders' initialisation
location_encoder = sh_siren_encoder(L=10, out_features=128, hidden=256)
context_encoder = RasterPatchEncoder(dataset.in_channels, out_features=128, width=32)
result = pretrain(location_encoder, context_encoder, dataset, epochs=EPOCHS, batch_size=256,
                  lr=1e-3, temperature=0.5, learn_temperature=False, random_state=0,
                  progress=False)
ax = result.epoch_loss.plot(marker="o", figsize=(6, 3))
ax.axhline(np.log(256), color="grey", ls="--", label="chance (log batch size)")
ax.set(xlabel="epoch", ylabel="InfoNCE loss", title="contrastive pretraining")
ax.legend()
plt.show()

# %%
out_dir = os.environ.get("SDMKIT_OUTPUT_DIR", os.path.join("..", "outputs"))
os.makedirs(out_dir, exist_ok=True)
checkpoint = os.path.join(out_dir, "sh_siren_phillips.safetensors")
save_checkpoint(checkpoint, result.location_encoder, result.context_encoder,
                config=result.config, history=result.history)
print("checkpoint:", checkpoint)

# %% [markdown]
# ## 3. The learned embedding as a map
# The first three principal components of the embedding, as RGB. `embed_grid`
# is lazy and chunked: the same call streams a global 0.1° grid to Zarr in
# bounded memory.

# %%
west, south, east, north = context.rio.bounds()
emb = embed_grid(result.location_encoder, context.isel(x=slice(None, None, 5),
                                                       y=slice(None, None, 5)), chunks=128)
values = emb["location_embedding"].compute().to_numpy()  # (d, y, x)
d, ny, nx = values.shape
flat = values.reshape(d, -1).T
ok = np.isfinite(flat).all(axis=1)
centred = flat[ok] - flat[ok].mean(axis=0)
_, _, vt = np.linalg.svd(centred, full_matrices=False)
pcs = centred @ vt[:3].T
rgb = np.full((ny * nx, 3), np.nan)
rgb[ok] = (pcs - pcs.min(axis=0)) / np.ptp(pcs, axis=0)
plt.figure(figsize=(5, 6))
plt.imshow(np.nan_to_num(rgb.reshape(ny, nx, 3), nan=1.0), extent=(west, east, south, north))
plt.title("pretrained embedding: first 3 PCs")
plt.xlabel("lon")
plt.ylabel("lat")
plt.show()

# %% [markdown]
# ## 4. Probes: temperature, precipitation and biome from the embedding
# Linear probes (ridge regression; a ridge classifier for biome) on the dismo
# 0.5° grids, scored on random folds and on spatial blocks of 5°. The spatial
# holdout is what matters: it asks for places the probe never saw. The ridge
# penalty is chosen on the training folds only (leave-one-block-out for the
# spatial holdout). The pretraining saw South America only; the probe grid also
# covers Central and North America.

# %%
encoders = {
    "lon/lat (direct)": Direct(),
    "wrap": Wrap(),
    "SH L=10": SphericalHarmonics(L=10),
    "SH L=40": SphericalHarmonics(L=40),
    "SH L=10 + SIREN, pretrained": result.location_encoder,
}
try:
    from sdmkit.encoders.weights import load_geoclip

    encoders["GeoCLIP (published weights)"] = load_geoclip()
except Exception as err:  # weights not on this machine: say so, keep going
    print(f"GeoCLIP weights not available ({type(err).__name__}); row skipped.")

if available("dismo"):
    from sdmkit.datasets import load_bioclim

    probe_grid = load_bioclim(["bio1", "bio12", "biome"])
    targets_spec = {"bio1": "regression", "bio12": "regression", "biome": "classification"}
    print("PROBE DATA: REAL — dismo bioclim grids")
else:
    probe_grid = simulate.environment_grid((120, 90), random_state=1)
    targets_spec = {"temperature": "regression", "precipitation": "regression"}
    print("PROBE DATA: SIMULATED")
lonlat, targets = raster_probe_targets(probe_grid, targets_spec, n=N_PROBE, random_state=0)
table = probe_table(encoders, lonlat, targets, block_size=5.0, n_splits=5)
pivot = table.pivot_table(index="encoder", columns=["target", "split"], values="score", sort=False)
pivot.round(3)

# %%
spatial = pivot.xs("spatial", axis=1, level="split")
beats = spatial.loc["SH L=10 + SIREN, pretrained"] > spatial.loc["lon/lat (direct)"]
print("pretrained encoder beats raw lon/lat on the spatial holdout:", beats.to_dict())
