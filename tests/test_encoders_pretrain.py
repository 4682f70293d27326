"""Contrastive pretraining: loss, context encoders, datasets, training loop, checkpoints, DDP."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from sdmkit._validation import ValidationError
from sdmkit.datasets.simulate import environment_grid
from sdmkit.encoders.pretrain import (
    MAX_LOGIT_SCALE,
    ClipLoss,
    ContrastiveModel,
    ImagePatchDataset,
    PatchCNN,
    RasterPatchDataset,
    RasterPatchEncoder,
    info_nce,
    load_checkpoint,
    pretrain,
    save_checkpoint,
    sh_siren_encoder,
)


class FourierLoc(nn.Module):
    """A tiny stand-in location encoder: multi-frequency sin/cos of lon/lat + MLP."""

    def __init__(self, out_features=32, n_freq=4, hidden=64):
        super().__init__()
        self.out_features = out_features
        self.register_buffer("freqs", 2.0 ** torch.arange(n_freq, dtype=torch.float32))
        self.net = nn.Sequential(
            nn.Linear(4 * n_freq, hidden), nn.ReLU(), nn.Linear(hidden, out_features)
        )

    def forward(self, lonlat):
        rad = torch.deg2rad(lonlat.float())[:, :, None] * self.freqs
        feats = torch.cat([torch.sin(rad), torch.cos(rad)], dim=1).flatten(1)
        return self.net(feats)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def env():
    return environment_grid((30, 20), random_state=0)


def _models(seed=0, in_channels=3, d_loc=32, d_ctx=32):
    torch.manual_seed(seed)
    return FourierLoc(d_loc), RasterPatchEncoder(in_channels, d_ctx, width=8)


# --------------------------------------------------------------------------- loss


def test_info_nce_matches_hand_computation():
    loc = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    ctx = torch.tensor([[2.0, 0.0], [3.0, 0.0], [0.0, 0.5]], dtype=torch.float64)
    scale = math.log(2.0)  # exp -> 2
    r = 1 / math.sqrt(2)
    cos = np.array([[1, 1, 0], [0, 0, 1], [r, r, r]])  # cos(loc_i, ctx_j), by hand
    logits = 2.0 * cos

    def ce(m):  # mean over rows of -log softmax at the diagonal
        return np.mean([np.log(np.exp(m[i]).sum()) - m[i, i] for i in range(3)])

    rows, cols = ce(logits), ce(logits.T)
    # by hand: rows (0.759 + 2.239 + 1.099) / 3, columns (0.526 + 2.526 + 1.112) / 3
    assert rows == pytest.approx(1.3656, abs=1e-3) and cols == pytest.approx(1.3880, abs=1e-3)
    got = float(info_nce(loc, ctx, scale))
    assert got == pytest.approx((rows + cols) / 2, abs=1e-12)
    # float32 and autograd
    loc32 = loc.float().requires_grad_()
    out = info_nce(loc32, ctx.float(), torch.tensor(scale))
    out.backward()
    assert out.dtype == torch.float32 and loc32.grad is not None
    assert float(out.detach()) == pytest.approx(got, abs=1e-6)


def test_info_nce_uninformative_is_log_n_and_scale_clamped():
    e = torch.ones(5, 3)
    assert float(info_nce(e, e, 2.0)) == pytest.approx(math.log(5), rel=1e-6)
    a, b = torch.randn(6, 4), torch.randn(6, 4)
    assert float(info_nce(a, b, 50.0)) == pytest.approx(float(info_nce(a, b, MAX_LOGIT_SCALE)))
    with pytest.raises(ValueError, match="same shape"):
        info_nce(torch.zeros(3, 2), torch.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match="2-D"):
        info_nce(torch.zeros(3), torch.zeros(3), 1.0)


def test_clip_loss_temperature_is_learnable():
    loss = ClipLoss()
    assert float(loss.logit_scale.detach()) == pytest.approx(math.log(1 / 0.07))
    assert loss.temperature == pytest.approx(0.07)
    out = loss(torch.randn(8, 4), torch.randn(8, 4))
    out.backward()
    assert loss.logit_scale.grad is not None and loss.logit_scale.grad != 0
    with pytest.raises(ValueError, match="temperature"):
        ClipLoss(0.0)


# --------------------------------------------------------------------------- encoders


def test_patch_cnn_any_bands_and_sizes():
    for c, hw in ((1, 5), (4, 128), (13, 16)):
        out = PatchCNN(c, out_features=12, width=4)(torch.rand(3, c, hw, hw))
        assert out.shape == (3, 12)
    with pytest.raises(ValueError, match=r"\(n, 4, H, W\)"):
        PatchCNN(4, 8)(torch.zeros(2, 3, 8, 8))
    # uint8 input is cast
    assert PatchCNN(3, 8, width=4)(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)).dtype == (
        torch.float32
    )


def test_raster_encoder_nan_mask_channels():
    torch.manual_seed(0)
    enc = RasterPatchEncoder(2, 8, width=4).eval()
    x = torch.randn(4, 2, 6, 6)
    x_nan = x.clone()
    x_nan[0, 1, :3] = float("nan")
    out = enc(x_nan)
    assert torch.isfinite(out).all()
    assert enc.cnn.in_channels == 4  # value + mask per band
    # the mask matters: NaN -> 0 differs from a real 0
    x_zero = x.clone()
    x_zero[0, 1, :3] = 0.0
    assert not torch.allclose(enc(x_zero)[0], out[0])
    assert torch.allclose(enc(x_zero)[1:], out[1:])
    assert RasterPatchEncoder(2, 8, nan_mask=False).cnn.in_channels == 2


# --------------------------------------------------------------------------- datasets


def test_raster_dataset_patches_match_raster(env):
    ds = RasterPatchDataset(env, 50, patch_size=4, random_state=1)
    assert len(ds) == 50 and ds.in_channels == 3 and ds.bands == list(env["band"].values)
    vals = env.to_numpy()
    np.testing.assert_allclose(ds.mean_, np.nanmean(vals, axis=(1, 2)), rtol=1e-5)
    lonlat, patches = ds.get_batch(np.arange(50))
    assert lonlat.dtype == torch.float32 and patches.shape == (50, 3, 4, 4)
    i = 7
    r, c = ds.rows_[i], ds.cols_[i]
    window = vals[:, r - 2 : r + 2, c - 2 : c + 2]
    expected = (window - ds.mean_[:, None, None]) / ds.std_[:, None, None]
    np.testing.assert_allclose(patches[i].numpy(), expected, rtol=1e-5, atol=1e-6)
    # the centre cell is valid in every band; the location lies inside it
    assert np.isfinite(vals[:, ds.rows_, ds.cols_]).all()
    dx = abs(float(env.x[1] - env.x[0]))
    dy = abs(float(env.y[1] - env.y[0]))
    assert np.all(np.abs(ds.lonlat[:, 0] - env.x.values[ds.cols_]) <= dx / 2)
    assert np.all(np.abs(ds.lonlat[:, 1] - env.y.values[ds.rows_]) <= dy / 2)
    # jitter changes with the epoch, deterministically
    first = ds.lonlat.copy()
    ds.set_epoch(1)
    assert not np.allclose(first, ds.lonlat)
    ds.set_epoch(0)
    np.testing.assert_array_equal(first, ds.lonlat)
    same = RasterPatchDataset(env, 50, patch_size=4, random_state=1)
    np.testing.assert_array_equal(same.lonlat, ds.lonlat)
    # item access agrees with the batch
    ll, p = ds[i]
    torch.testing.assert_close(p, patches[i], rtol=0, atol=0, equal_nan=True)
    assert torch.equal(ll, lonlat[i])


def test_raster_dataset_projected_crs_and_errors(env):
    proj = env.rio.reproject("EPSG:3857")
    ds = RasterPatchDataset(proj, 20, patch_size=3, random_state=0)
    west, south, east, north = env.rio.bounds()
    assert (ds.lonlat[:, 0] > west - 1).all() and (ds.lonlat[:, 0] < east + 1).all()
    assert (ds.lonlat[:, 1] > south - 1).all() and (ds.lonlat[:, 1] < north + 1).all()
    with pytest.raises(ValidationError, match="does not fit"):
        RasterPatchDataset(env, 10, patch_size=40)
    with pytest.raises(ValidationError, match="not in the raster"):
        RasterPatchDataset(env, 10, bands=["bio1"])
    with pytest.raises(ValidationError, match="no CRS"):
        RasterPatchDataset(env.rio.write_crs(None).drop_vars("spatial_ref"), 10)
    with pytest.raises(ValueError, match="n_samples"):
        RasterPatchDataset(env, 0)


def test_image_dataset_standardises_and_validates():
    rng = np.random.default_rng(0)
    patches = rng.integers(0, 255, (6, 4, 8, 8), dtype=np.uint8)
    lonlat = rng.uniform([-10, 40], [10, 50], (6, 2))
    ds = ImagePatchDataset(lonlat, patches, jitter=0.01, random_state=0)
    ll, p = ds.get_batch([0, 1, 2, 3, 4, 5])
    assert p.dtype == torch.float32 and p.shape == (6, 4, 8, 8)
    np.testing.assert_allclose(p.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-5)
    assert np.abs(ll.numpy() - lonlat).max() <= 0.01 + 1e-6
    with pytest.raises(ValidationError, match="swap the columns"):
        ImagePatchDataset(np.array([[10.0, 120.0]] * 6), patches)  # (lat, lon) given
    with pytest.raises(ValidationError, match="pair up"):
        ImagePatchDataset(lonlat[:5], patches)
    with pytest.raises(ValidationError, match="non-finite"):
        ImagePatchDataset(np.full((6, 2), np.nan), patches)


# --------------------------------------------------------------------------- training


def test_projection_heads_only_when_dims_differ():
    loc, ctx = _models(d_loc=16, d_ctx=16)
    m = ContrastiveModel(loc, ctx)
    assert isinstance(m.location_head, nn.Identity) and isinstance(m.context_head, nn.Identity)
    m = ContrastiveModel(*_models(d_loc=16, d_ctx=24))
    assert isinstance(m.location_head, nn.Identity) and m.context_head.out_features == 16
    m = ContrastiveModel(*_models(d_loc=16, d_ctx=24), embed_dim=8)
    assert m.location_head.out_features == 8 and m.context_head.out_features == 8
    with pytest.raises(TypeError, match="out_features"):
        ContrastiveModel(nn.Sequential(nn.Linear(2, 3)), ctx)


def test_loss_decreases_on_synthetic_task(env):
    ds = RasterPatchDataset(env, 256, patch_size=4, random_state=0)
    loc, ctx = _models()
    res = pretrain(loc, ctx, ds, epochs=40, batch_size=64, lr=3e-3, progress=False)
    h = res.history
    assert len(h) == 40 * 4 and list(h.columns) == ["step", "epoch", "loss", "temperature", "lr"]
    assert np.isfinite(h["loss"]).all()
    ep = res.epoch_loss
    assert ep.iloc[0] > 3.0  # ~ log(64) = 4.16 at the start
    assert ep.iloc[-3:].mean() < 0.5 * ep.iloc[0]
    assert not res.model.training


def test_fixed_temperature_stays_fixed_and_is_recorded(env):
    ds = RasterPatchDataset(env, 128, patch_size=4, random_state=0)
    loc, ctx = _models()
    fixed = pretrain(loc, ctx, ds, epochs=3, batch_size=32, lr=3e-3, temperature=0.5,
                     learn_temperature=False, progress=False)
    assert np.allclose(fixed.history["temperature"], 0.5)
    assert not fixed.model.loss.logit_scale.requires_grad
    assert fixed.config["learn_temperature"] is False
    assert fixed.epoch_loss.iloc[-1] < fixed.epoch_loss.iloc[0]  # it still learns
    loc, ctx = _models()
    learned = pretrain(loc, ctx, ds, epochs=3, batch_size=32, lr=3e-3, temperature=0.5,
                       progress=False)
    assert learned.history["temperature"].iloc[-1] != pytest.approx(0.5)


def test_pretrain_is_deterministic_and_leaves_global_rng(env):
    ds = RasterPatchDataset(env, 96, patch_size=4, random_state=0)
    runs = []
    for _ in range(2):
        loc, ctx = _models(seed=3, d_ctx=24)
        state = torch.random.get_rng_state()
        res = pretrain(
            loc,
            ctx,
            ds,
            epochs=3,
            batch_size=32,
            lr=1e-3,
            progress=False,
            accumulate=1,
            random_state=5,
        )
        assert torch.equal(state, torch.random.get_rng_state())
        runs.append(res)
    a, b = runs
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    for (k, v), (_, w) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(v, w), k
    loc, ctx = _models(seed=3, d_ctx=24)
    c = pretrain(loc, ctx, ds, epochs=3, batch_size=32, lr=1e-3, progress=False, random_state=6)
    assert not np.array_equal(a.history["loss"], c.history["loss"])


def test_pretrain_accumulate_max_steps_and_errors(env):
    ds = RasterPatchDataset(env, 64, patch_size=4, random_state=0)
    loc, ctx = _models()
    res = pretrain(loc, ctx, ds, epochs=5, batch_size=16, accumulate=2, max_steps=3, progress=False)
    assert res.history["step"].tolist() == [1, 2, 3]
    assert res.history["epoch"].tolist() == [0, 0, 1]  # 64 / (16 * 2) = 2 steps per epoch
    with pytest.raises(ValueError, match="accumulate"):
        pretrain(loc, ctx, ds, epochs=1, batch_size=64, accumulate=2, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        pretrain(loc, ctx, ds, epochs=0, progress=False)
    with pytest.raises(ValueError, match="at least 2"):
        pretrain(loc, ctx, RasterPatchDataset(env, 1, patch_size=4), epochs=1, progress=False)


def test_checkpoint_round_trip(env, tmp_path):
    ds = RasterPatchDataset(env, 64, patch_size=4, random_state=0)
    loc, ctx = _models(d_ctx=24)
    path = tmp_path / "ck.safetensors"
    res = pretrain(loc, ctx, ds, epochs=2, batch_size=32, progress=False, checkpoint=path)
    assert path.is_file() and not (tmp_path / "ck.safetensors.tmp").exists()
    assert b"pickle" not in path.read_bytes()[:8]
    # the per-epoch checkpoint written by pretrain holds the final state
    fresh_loc, _ = _models(seed=99, d_ctx=24)
    ck = load_checkpoint(path, fresh_loc)
    for k, v in loc.state_dict().items():
        assert torch.equal(fresh_loc.state_dict()[k], v), k
    # the context encoder is sdmkit's own class: rebuilt from the record
    assert isinstance(ck.context_encoder, RasterPatchEncoder)
    for k, v in ctx.state_dict().items():
        assert torch.equal(ck.context_encoder.state_dict()[k], v), k
    assert ck.config["batch_size"] == 32 and ck.config["world_size"] == 1
    np.testing.assert_allclose(ck.history["loss"], res.history["loss"])
    assert set(ck.state) == {"location_encoder", "context_encoder", "context_head", "loss"}
    assert torch.equal(ck.state["loss"]["logit_scale"], res.model.loss.logit_scale.detach())
    ctx.eval(), ck.context_encoder.eval()
    x = ds.get_batch(range(8))[1]
    assert torch.equal(ctx(x), ck.context_encoder(x))


def test_checkpoint_rebuilds_sdmkit_location_encoder(tmp_path):
    from sdmkit.encoders.location import LocationEncoder

    torch.manual_seed(0)
    loc = sh_siren_encoder(L=5, out_features=8, hidden=16)
    assert isinstance(loc, LocationEncoder) and loc.out_features == 8
    ctx = PatchCNN(2, 8, width=4)
    path = save_checkpoint(tmp_path / "sh.safetensors", loc, ctx, {"L": 5})
    ck = load_checkpoint(path)  # no modules given: both rebuilt from the file's records
    assert isinstance(ck.location_encoder, LocationEncoder)
    x = torch.tensor([[-60.0, -10.0], [179.9, 89.9], [0.0, -90.0]])
    assert torch.equal(ck.location_encoder(x), loc(x))
    assert isinstance(ck.context_encoder, PatchCNN) and ck.context_encoder.config == ctx.config
    # the wrong degree is a clear error, not a silent partial load
    with pytest.raises(ValidationError, match="shape mismatches"):
        load_checkpoint(path, sh_siren_encoder(L=6, out_features=8, hidden=16))


def test_checkpoint_errors(tmp_path):
    loc = FourierLoc(8)
    path = save_checkpoint(tmp_path / "a.safetensors", loc, None, {"note": "x"})
    with pytest.raises(ValidationError, match="shape mismatches"):
        load_checkpoint(path, FourierLoc(16))
    with pytest.raises(ValidationError, match="unexpected keys"):
        load_checkpoint(path, nn.Linear(2, 8))
    bad = tmp_path / "b.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ValidationError, match="not a safetensors file"):
        load_checkpoint(bad)
    from safetensors.torch import save_file

    other = tmp_path / "c.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValidationError, match="not an sdmkit"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.safetensors")


# --------------------------------------------------------------------------- DDP


def test_ddp_two_processes_on_cpu(tmp_path, env):
    """torchrun with 2 CPU ranks (gloo): both train, the loss is finite, rank 0 checkpoints."""
    ck = tmp_path / "ddp.safetensors"
    tif = tmp_path / "env.tif"
    env.rio.to_raster(tif)  # a raster file: also exercises --raster PATH
    child_env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "sdmkit.encoders.pretrain",
        "--raster",
        str(tif),
        "--n-samples",
        "128",
        "--patch-size",
        "4",
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--max-steps",
        "6",
        "--L",
        "4",
        "--hidden",
        "32",
        "--embed-dim",
        "16",
        "--width",
        "8",
        "--checkpoint",
        str(ck),
    ]
    proc = subprocess.run(
        cmd, env=child_env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(s) for s in proc.stdout.splitlines() if s.startswith("{")]
    assert len(lines) == 1, proc.stdout  # rank 0 only
    out = lines[0]
    assert out["world_size"] == 2
    assert out["samples_per_rank"] == [6 * 16, 6 * 16]  # both ranks trained 6 steps
    assert math.isfinite(out["loss_first"]) and math.isfinite(out["loss_last"])
    ckpt = load_checkpoint(ck)
    assert ckpt.config["world_size"] == 2 and len(ckpt.history) == 6
    assert ckpt.location_encoder is not None and ckpt.context_encoder is not None
    lonlat = torch.tensor([[-60.0, -10.0], [-50.0, 0.0]])
    assert ckpt.location_encoder(lonlat).shape == (2, 16)


# --------------------------------------------------------------------------- real data


@pytest.mark.data("phillips2006_coverages")
def test_phillips_coverages_smoke():
    from sdmkit.datasets import load_phillips_coverages

    layers = ["h_dem", "pre6190_ann", "tmp6190_ann", "cld6190_ann"]  # h_dem has its own NaNs
    cov = load_phillips_coverages(layers)
    ds = RasterPatchDataset(cov, 256, patch_size=8, random_state=0)
    assert ds.in_channels == 4 and ds.n_valid_cells > 500_000
    # every location falls in a cell that is valid in all bands
    at = cov.sel(x=xr.DataArray(ds.lonlat[:, 0]), y=xr.DataArray(ds.lonlat[:, 1]), method="nearest")
    assert np.isfinite(at.to_numpy()).all()
    _, patches = ds.get_batch(range(256))
    assert patches.shape == (256, 4, 8, 8)
    assert torch.isnan(patches).any()  # coastal patches reach the sea
    torch.manual_seed(0)
    loc, ctx = sh_siren_encoder(L=10, out_features=32, hidden=64), RasterPatchEncoder(4, 32)
    res = pretrain(loc, ctx, ds, epochs=1, batch_size=64, lr=1e-3, progress=False)
    assert len(res.history) == 4 and np.isfinite(res.history["loss"]).all()


@pytest.mark.data("glc23_sample_malpolon")
def test_glc23_sentinel_patches_smoke():
    ds = ImagePatchDataset.from_glc23(jitter=0.01, random_state=0)
    assert ds.in_channels == 4 and len(ds) == len(ds.patch_ids)
    torch.manual_seed(0)
    res = pretrain(
        FourierLoc(16),
        PatchCNN(4, 16, width=8),
        ds,
        epochs=1,
        batch_size=32,
        progress=False,
        max_steps=2,
    )
    assert np.isfinite(res.history["loss"]).all()
