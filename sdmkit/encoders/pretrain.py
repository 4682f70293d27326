"""Contrastive pretraining of location encoders, SatCLIP-style.

A location encoder ``g(lon, lat)`` and a context encoder ``f(patch)`` (a small
CNN over what is observed at the place: a multispectral image patch or a patch
of environmental rasters) are trained so that matching pairs of a batch have
similar embeddings and non-matching pairs dissimilar ones: the symmetric
InfoNCE loss of CLIP, with a learnable temperature.

The pieces:

* :func:`info_nce` / :class:`ClipLoss` — the loss;
* :class:`PatchCNN`, :class:`RasterPatchEncoder` — context encoders;
* :class:`RasterPatchDataset`, :class:`ImagePatchDataset` — (lon/lat, patch) pairs;
* :func:`pretrain` — the training loop (AdamW; single process or torch DDP);
* :func:`save_checkpoint` / :func:`load_checkpoint` — safetensors + JSON config;
* ``python -m sdmkit.encoders.pretrain`` — a ``torchrun``-compatible entry point.

Location encoders are any ``torch.nn.Module`` mapping an ``(n, 2)`` tensor of
(lon, lat) in degrees to ``(n, out_features)`` and exposing ``out_features``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validation import ValidationError

__all__ = [
    "MAX_LOGIT_SCALE",
    "Checkpoint",
    "ClipLoss",
    "ContrastiveModel",
    "ImagePatchDataset",
    "PatchCNN",
    "PretrainResult",
    "RasterPatchDataset",
    "RasterPatchEncoder",
    "info_nce",
    "load_checkpoint",
    "main",
    "pretrain",
    "save_checkpoint",
    "sh_siren_encoder",
]

#: CLIP's cap on the logit scale: ``log(100)``, i.e. a temperature of at least 0.01.
MAX_LOGIT_SCALE = math.log(100.0)
_FORMAT = "sdmkit.encoders.pretrain/1"


# =========================================================================== loss


def info_nce(loc_emb: torch.Tensor, ctx_emb: torch.Tensor, logit_scale) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) loss between paired location and context embeddings.

    Both embeddings are L2-normalised; the logits are ``exp(logit_scale) *
    loc @ ctx.T`` and the loss is the mean of the cross-entropies of the rows
    (location → context) and of the columns (context → location), with the
    matching pair on the diagonal.

    Parameters
    ----------
    loc_emb, ctx_emb : torch.Tensor
        ``(n, d)`` embeddings; row ``i`` of both comes from the same place.
    logit_scale : float or torch.Tensor
        The LOG of the inverse temperature (CLIP's parameterisation:
        ``log(1 / 0.07)`` at initialisation). Clamped at
        :data:`MAX_LOGIT_SCALE` = ``log(100)`` before exponentiation.

    Returns
    -------
    torch.Tensor
        Scalar loss; ``log(n)`` when the embeddings carry no information.

    Examples
    --------
    >>> import math, torch
    >>> e = torch.eye(3)
    >>> round(float(info_nce(e, e, math.log(1 / 0.07))), 6)
    1e-06
    """
    if loc_emb.ndim != 2 or ctx_emb.ndim != 2:
        raise ValueError(
            f"info_nce needs 2-D (n, d) embeddings, got shapes {tuple(loc_emb.shape)} and "
            f"{tuple(ctx_emb.shape)}."
        )
    if loc_emb.shape != ctx_emb.shape:
        raise ValueError(
            f"Location and context embeddings must have the same shape (n, d), got "
            f"{tuple(loc_emb.shape)} and {tuple(ctx_emb.shape)}; project one of them "
            f"(ContrastiveModel adds a linear head when the dims differ)."
        )
    if loc_emb.shape[0] == 0:
        raise ValueError("info_nce got an empty batch (n = 0).")
    loc = F.normalize(loc_emb, dim=-1)
    ctx = F.normalize(ctx_emb, dim=-1)
    scale = torch.as_tensor(logit_scale, dtype=loc.dtype, device=loc.device)
    logits = scale.clamp(max=MAX_LOGIT_SCALE).exp() * loc @ ctx.T
    labels = torch.arange(loc.shape[0], device=loc.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


class ClipLoss(nn.Module):
    """Symmetric InfoNCE with a learnable temperature (CLIP / SatCLIP).

    Parameters
    ----------
    temperature : float
        Initial temperature; the parameter ``logit_scale`` starts at
        ``log(1 / temperature)`` (0.07 → 2.659) and is clamped at ``log(100)``.
    learnable : bool
        Train the temperature (default) or keep it fixed.

    Examples
    --------
    >>> import torch
    >>> loss = ClipLoss()
    >>> round(loss.temperature, 2)
    0.07
    >>> loss(torch.randn(8, 4), torch.randn(8, 4)).shape
    torch.Size([])
    """

    def __init__(self, temperature: float = 0.07, learnable: bool = True):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}.")
        self.logit_scale = nn.Parameter(
            torch.tensor(math.log(1.0 / temperature)), requires_grad=learnable
        )

    @property
    def temperature(self) -> float:
        """The current temperature ``1 / exp(clamped logit_scale)``."""
        return math.exp(-min(float(self.logit_scale.detach()), MAX_LOGIT_SCALE))

    def forward(self, loc_emb: torch.Tensor, ctx_emb: torch.Tensor) -> torch.Tensor:
        return info_nce(loc_emb, ctx_emb, self.logit_scale)


# =========================================================================== context encoders


class PatchCNN(nn.Module):
    """A small CNN for image patches with any number of bands.

    ``n_blocks`` conv3×3–BatchNorm–ReLU blocks (the first at full resolution,
    each later one with stride 2, widths ``width, 2·width, 4·width, 8·width,
    8·width, …``), global average pooling and a linear layer. Works for any
    patch size ≥ 1 pixel (a 128×128 Sentinel-2 patch or an 8×8 raster patch).

    Parameters
    ----------
    in_channels : int
        Number of bands of the input ``(n, in_channels, H, W)``.
    out_features : int
        Embedding size.
    width : int
        Channels of the first block.
    n_blocks : int
        Number of conv blocks.

    Examples
    --------
    >>> import torch
    >>> cnn = PatchCNN(in_channels=4, out_features=16, width=8)
    >>> cnn(torch.zeros(2, 4, 32, 32)).shape
    torch.Size([2, 16])
    """

    def __init__(
        self, in_channels: int, out_features: int = 256, width: int = 32, n_blocks: int = 4
    ):
        super().__init__()
        for name, v in (
            ("in_channels", in_channels),
            ("out_features", out_features),
            ("width", width),
            ("n_blocks", n_blocks),
        ):
            if int(v) != v or v < 1:
                raise ValueError(f"PatchCNN {name} must be a positive integer, got {v!r}.")
        self.in_channels, self.out_features = int(in_channels), int(out_features)
        self.config = {
            "in_channels": self.in_channels,
            "out_features": self.out_features,
            "width": int(width),
            "n_blocks": int(n_blocks),
        }
        layers, c = [], self.in_channels
        for i in range(int(n_blocks)):
            w = int(width) * 2 ** min(i, 3)
            layers += [
                nn.Conv2d(c, w, 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PatchCNN expects patches of shape (n, {self.in_channels}, H, W), got "
                f"{tuple(x.shape)}."
            )
        x = x.to(self.head.weight.dtype)
        return self.head(self.features(x).mean(dim=(2, 3)))


class RasterPatchEncoder(nn.Module):
    """Context encoder for patches of environmental rasters (channels = raster bands).

    NaN handling: missing cells (NaN, e.g. sea or a band's nodata) are filled
    with 0 — the per-band TRAINING-SET MEAN, because :class:`RasterPatchDataset`
    standardises each band with the mean and standard deviation of its
    training raster — and, with ``nan_mask=True`` (default), one validity mask
    channel per band (1 = observed, 0 = missing) is appended, so the network
    can tell a filled cell from a cell that truly has the mean value. The
    result goes through a :class:`PatchCNN` with ``2 × in_channels`` (or
    ``in_channels``) inputs.

    Parameters
    ----------
    in_channels : int
        Number of raster bands.
    out_features : int
        Embedding size.
    width, n_blocks : int
        Passed to :class:`PatchCNN` (3 blocks: an 8×8 patch → 8, 4, 2 pixels).
    nan_mask : bool
        Append the per-band validity mask channels.

    Examples
    --------
    >>> import torch
    >>> enc = RasterPatchEncoder(in_channels=3, out_features=16, width=8)
    >>> x = torch.zeros(2, 3, 8, 8); x[0, :, 0, 0] = float("nan")
    >>> bool(torch.isfinite(enc(x)).all())
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_features: int = 256,
        width: int = 64,
        n_blocks: int = 3,
        nan_mask: bool = True,
    ):
        super().__init__()
        self.in_channels, self.out_features = int(in_channels), int(out_features)
        self.nan_mask = bool(nan_mask)
        self.config = {
            "in_channels": self.in_channels,
            "out_features": self.out_features,
            "width": int(width),
            "n_blocks": int(n_blocks),
            "nan_mask": self.nan_mask,
        }
        self.cnn = PatchCNN(
            self.in_channels * (2 if self.nan_mask else 1),
            self.out_features,
            width=width,
            n_blocks=n_blocks,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"RasterPatchEncoder expects patches of shape (n, {self.in_channels}, p, p), "
                f"got {tuple(x.shape)}."
            )
        x = x.to(self.cnn.head.weight.dtype)
        valid = torch.isfinite(x)
        x = torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device))
        if self.nan_mask:
            x = torch.cat([x, valid.to(x.dtype)], dim=1)
        return self.cnn(x)


_CONTEXT_CLASSES = {"PatchCNN": PatchCNN, "RasterPatchEncoder": RasterPatchEncoder}


# =========================================================================== datasets


def _check_lonlat(lonlat, name: str = "lonlat") -> np.ndarray:
    from sdmkit.encoders.positional import check_lonlat

    a = np.asarray(lonlat)
    if a.ndim == 2 and a.shape[0] == 0:
        raise ValidationError(f"{name} is empty: no (lon, lat) rows.")
    check_lonlat(a, name)  # shape, dtype, NaN, ranges, obvious (lat, lon) swap
    return a.astype(np.float64)


def _band_stats(values: np.ndarray, axes, names, stats):
    """Per-channel (mean, std) over finite values; std 0 → 1."""
    if stats is not None:
        mean, std = (np.asarray(s, dtype=np.float64).reshape(-1) for s in stats)
        if mean.size != len(names) or std.size != len(names):
            raise ValueError(
                f"stats must be (mean, std) with one value per band ({len(names)}), got "
                f"sizes {mean.size} and {std.size}."
            )
        return mean, np.where(std > 0, std, 1.0)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=axes, dtype=np.float64)
        std = np.nanstd(values, axis=axes, dtype=np.float64)
    empty = [n for n, m in zip(names, mean, strict=True) if not np.isfinite(m)]
    if empty:
        raise ValidationError(f"Bands {empty} have no finite value; drop them (bands=...).")
    return mean, np.where(std > 0, std, 1.0)


class RasterPatchDataset(torch.utils.data.Dataset):
    """Random (lon/lat, raster patch) pairs sampled from a ``(band, y, x)`` raster.

    Centre cells are drawn uniformly among cells that are finite in every band
    and whose ``patch_size × patch_size`` window lies inside the raster (rows
    ``r - p//2 … r - p//2 + p - 1``); the other cells of a patch may be NaN
    (sea, a band's nodata) — :class:`RasterPatchEncoder` handles them. Each
    band is standardised with the mean and standard deviation of the finite
    cells of THIS raster (``mean_``, ``std_``; pass ``stats=`` to reuse another
    dataset's). The location of a sample is its centre cell's centre plus a
    uniform jitter inside that cell, drawn afresh for each epoch
    (:meth:`set_epoch`, called by :func:`pretrain`) from ``random_state`` —
    SatCLIP similarly jitters coordinates by up to 0.01°. Rasters in a
    projected CRS are sampled in that CRS and the locations transformed to
    lon/lat (EPSG:4326).

    Parameters
    ----------
    raster : xarray.DataArray or Dataset
        ``(band, y, x)`` with a CRS (checked with :func:`sdmkit.check_raster`).
    n_samples : int
        Number of pairs. Drawn without replacement when there are enough
        valid cells, else with replacement.
    patch_size : int
        Side of the square patch in cells.
    bands : list of str, optional
        Subset of bands (e.g. without categorical layers such as ``ecoreg``).
    jitter : bool
        Jitter locations inside the centre cell.
    stats : (mean, std), optional
        Per-band standardisation to use instead of this raster's.
    random_state : int or numpy.random.Generator, optional

    Attributes
    ----------
    bands : list of str
    mean_, std_ : numpy.ndarray
        Per-band standardisation (float64).
    rows_, cols_ : numpy.ndarray
        Centre cell of each sample.
    lonlat : numpy.ndarray
        ``(n, 2)`` float64 locations of the current epoch.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> ds = RasterPatchDataset(environment_grid((30, 20), random_state=0), 100,
    ...                         patch_size=4, random_state=0)
    >>> lonlat, patch = ds[0]
    >>> tuple(lonlat.shape), tuple(patch.shape)
    ((2,), (3, 4, 4))
    """

    def __init__(
        self,
        raster,
        n_samples: int,
        patch_size: int = 8,
        *,
        bands=None,
        jitter: bool = True,
        stats=None,
        random_state=None,
    ):
        from .._validation import check_raster

        raster = check_raster(raster)
        if bands is not None:
            missing = [b for b in bands if b not in list(raster["band"].values)]
            if missing:
                raise ValidationError(
                    f"Bands {missing} are not in the raster; it has {list(raster['band'].values)}."
                )
            raster = raster.sel(band=list(bands))
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if int(patch_size) != patch_size or patch_size < 1:
            raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}.")
        p = self.patch_size = int(patch_size)
        values = raster.to_numpy().astype(np.float32, copy=False)
        n_bands, ny, nx = values.shape
        if p > ny or p > nx:
            raise ValidationError(
                f"patch_size={p} does not fit in the raster of {ny} × {nx} cells; use a "
                f"smaller patch."
            )
        self.bands = [str(b) for b in raster["band"].values]
        self.mean_, self.std_ = _band_stats(values, (1, 2), self.bands, stats)
        self._values = ((values - self.mean_[:, None, None]) / self.std_[:, None, None]).astype(
            np.float32
        )

        h = p // 2
        centre_ok = np.isfinite(values).all(axis=0)
        inside = np.zeros_like(centre_ok)
        inside[h : ny - p + h + 1, h : nx - p + h + 1] = True
        candidates = np.flatnonzero(centre_ok & inside)
        if candidates.size == 0:
            raise ValidationError(
                f"No cell is finite in all bands {self.bands} with a {p} × {p} window inside "
                f"the raster; check the nodata mask or use a smaller patch_size."
            )
        rng = np.random.default_rng(random_state)
        chosen = rng.choice(candidates, int(n_samples), replace=n_samples > candidates.size)
        self.rows_, self.cols_ = np.divmod(chosen, nx)
        self.n_valid_cells = int(candidates.size)
        self._seed = int(rng.integers(2**62))
        self.jitter = bool(jitter)
        xres, yres = raster.rio.resolution()
        self._cell = (abs(float(xres)), abs(float(yres)))
        self._x = raster["x"].to_numpy()[self.cols_].astype(np.float64)
        self._y = raster["y"].to_numpy()[self.rows_].astype(np.float64)
        crs = raster.rio.crs
        self._transformer = None
        if crs.to_epsg() != 4326:
            from pyproj import Transformer

            self._transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        self.crs = crs
        self.set_epoch(0)

    @property
    def in_channels(self) -> int:
        """Number of bands of a patch."""
        return len(self.bands)

    def __len__(self) -> int:
        return len(self.rows_)

    def set_epoch(self, epoch: int) -> None:
        """Redraw the location jitter for ``epoch`` (deterministic given ``random_state``)."""
        x, y = self._x, self._y
        if self.jitter:
            u = np.random.default_rng([self._seed, int(epoch)]).uniform(-0.5, 0.5, (len(x), 2))
            x, y = x + u[:, 0] * self._cell[0], y + u[:, 1] * self._cell[1]
        if self._transformer is not None:
            x, y = self._transformer.transform(x, y)
        lon = (np.asarray(x) + 180.0) % 360.0 - 180.0
        lat = np.clip(np.asarray(y), -90.0, 90.0)
        self.lonlat = np.column_stack([lon, lat])

    def get_batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Lon/lat ``(k, 2)`` float32 and patches ``(k, C, p, p)`` float32 for ``indices``."""
        idx = np.asarray(indices, dtype=np.int64)
        off = np.arange(self.patch_size) - self.patch_size // 2
        r = self.rows_[idx][:, None, None] + off[None, :, None]
        c = self.cols_[idx][:, None, None] + off[None, None, :]
        patches = np.ascontiguousarray(self._values[:, r, c].transpose(1, 0, 2, 3))
        lonlat = torch.from_numpy(self.lonlat[idx].astype(np.float32))
        return lonlat, torch.from_numpy(patches)

    def __getitem__(self, i):
        lonlat, patch = self.get_batch([i])
        return lonlat[0], patch[0]


class ImagePatchDataset(torch.utils.data.Dataset):
    """In-memory (lon/lat, image patch) pairs, e.g. Sentinel-2 patches.

    Patches are converted to float32 and each channel standardised with the
    mean and standard deviation over all patches (``mean_``, ``std_``; pass
    ``stats=`` to reuse another dataset's). With ``jitter > 0`` each epoch's
    locations get a uniform offset in ``[-jitter, jitter]`` degrees
    (deterministic given ``random_state``; SatCLIP uses 0.01°).

    Parameters
    ----------
    lonlat : array-like, shape (n, 2)
        (lon, lat) in degrees, EPSG:4326.
    patches : array-like, shape (n, C, H, W)
        Any numeric dtype (e.g. uint8 jpeg bands).
    jitter : float
        Maximum coordinate jitter in degrees.
    stats : (mean, std), optional
    random_state : int or numpy.random.Generator, optional

    Examples
    --------
    >>> import numpy as np
    >>> ds = ImagePatchDataset([[2.35, 48.85], [4.83, 45.76]],
    ...                        np.zeros((2, 4, 16, 16), dtype="uint8"))
    >>> len(ds), ds.in_channels
    (2, 4)
    """

    def __init__(self, lonlat, patches, *, jitter: float = 0.0, stats=None, random_state=None):
        self._base = _check_lonlat(lonlat)
        arr = np.asarray(patches)
        if arr.ndim != 4:
            raise ValidationError(f"patches must have shape (n, C, H, W), got {arr.shape}.")
        if arr.shape[0] != len(self._base):
            raise ValidationError(
                f"{len(self._base)} locations but {arr.shape[0]} patches; they must pair up."
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise ValidationError(f"patches must be numeric, got dtype {arr.dtype}.")
        arr = arr.astype(np.float32)
        names = [f"channel_{i}" for i in range(arr.shape[1])]
        self.mean_, self.std_ = _band_stats(arr, (0, 2, 3), names, stats)
        self._patches = torch.from_numpy(
            ((arr - self.mean_[None, :, None, None]) / self.std_[None, :, None, None]).astype(
                np.float32
            )
        )
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0 degrees, got {jitter}.")
        self.jitter = float(jitter)
        self._seed = int(np.random.default_rng(random_state).integers(2**62))
        self.set_epoch(0)

    @classmethod
    def from_glc23(cls, sample=None, *, bands=("rgb", "nir"), **kwargs):
        """Pairs from the GeoLifeCLEF 2023 sample's presence-only patches.

        One pair per distinct ``patchID`` of ``sample.presence_only`` (its first
        occurrence's lon/lat), patches read with ``sample.read_patch``.

        Parameters
        ----------
        sample : GLCSample, optional
            From :func:`sdmkit.datasets.geolifeclef.load_glc23_sample` (loaded
            when None).
        bands : sequence of str
            Patch bands (``("rgb", "nir")`` → 4 channels).
        **kwargs
            Passed to :class:`ImagePatchDataset`.

        Examples
        --------
        >>> ds = ImagePatchDataset.from_glc23()  # doctest: +SKIP
        >>> len(ds), ds.in_channels  # doctest: +SKIP
        (100, 4)
        """
        if sample is None:
            from sdmkit.datasets.geolifeclef import load_glc23_sample

            sample = load_glc23_sample(landsat_bands=())
        po = sample.presence_only.drop_duplicates("patchID")
        patches = np.stack([sample.read_patch(pid, bands) for pid in po["patchID"]])
        ds = cls(po[["lon", "lat"]].to_numpy(), patches, **kwargs)
        ds.patch_ids = po["patchID"].to_numpy()
        return ds

    @property
    def in_channels(self) -> int:
        """Number of channels of a patch."""
        return int(self._patches.shape[1])

    def __len__(self) -> int:
        return len(self._base)

    def set_epoch(self, epoch: int) -> None:
        """Redraw the location jitter for ``epoch``."""
        ll = self._base
        if self.jitter > 0:
            rng = np.random.default_rng([self._seed, int(epoch)])
            ll = ll + rng.uniform(-self.jitter, self.jitter, ll.shape)
            ll[:, 0] = (ll[:, 0] + 180.0) % 360.0 - 180.0
            ll[:, 1] = np.clip(ll[:, 1], -90.0, 90.0)
        self.lonlat = ll

    def get_batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Lon/lat ``(k, 2)`` float32 and patches ``(k, C, H, W)`` float32 for ``indices``."""
        idx = np.asarray(indices, dtype=np.int64)
        return torch.from_numpy(self.lonlat[idx].astype(np.float32)), self._patches[idx]

    def __getitem__(self, i):
        lonlat, patch = self.get_batch([i])
        return lonlat[0], patch[0]


# =========================================================================== model


def _out_features(module: nn.Module, role: str) -> int:
    d = getattr(module, "out_features", None)
    if not isinstance(d, int | np.integer) or d < 1:
        raise TypeError(
            f"The {role} encoder ({type(module).__name__}) must expose an integer "
            f"`out_features` (its embedding size); got {d!r}. Set `module.out_features = d`."
        )
    return int(d)


class ContrastiveModel(nn.Module):
    """Location encoder + context encoder + projection heads + :class:`ClipLoss`.

    When the two encoders' ``out_features`` differ (or ``embed_dim`` is given
    and differs from one of them), a linear projection head maps that side to
    the shared embedding size; otherwise the head is the identity. By default
    the shared size is the location encoder's, so the location encoder's
    output is itself the embedding used downstream, as in SatCLIP.

    Parameters
    ----------
    location_encoder, context_encoder : torch.nn.Module
        Both expose ``out_features``.
    embed_dim : int, optional
        Shared embedding size (default: the location encoder's ``out_features``).
    temperature : float
        Initial temperature of :class:`ClipLoss`.
    learn_temperature : bool
        Train the temperature (CLIP's default) or keep it fixed.

    Examples
    --------
    >>> import torch
    >>> loc = torch.nn.Linear(2, 8); loc.out_features
    8
    >>> model = ContrastiveModel(loc, PatchCNN(3, out_features=16, width=4))
    >>> model.context_head
    Linear(in_features=16, out_features=8, bias=True)
    """

    def __init__(
        self,
        location_encoder: nn.Module,
        context_encoder: nn.Module,
        embed_dim: int | None = None,
        temperature: float = 0.07,
        learn_temperature: bool = True,
    ):
        super().__init__()
        d_loc = _out_features(location_encoder, "location")
        d_ctx = _out_features(context_encoder, "context")
        self.embed_dim = int(embed_dim) if embed_dim is not None else d_loc
        self.location_encoder = location_encoder
        self.context_encoder = context_encoder
        self.location_head = (
            nn.Identity() if d_loc == self.embed_dim else nn.Linear(d_loc, self.embed_dim)
        )
        self.context_head = (
            nn.Identity() if d_ctx == self.embed_dim else nn.Linear(d_ctx, self.embed_dim)
        )
        self.loss = ClipLoss(temperature, learnable=learn_temperature)

    def embed_locations(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Projected location embeddings (before normalisation)."""
        return self.location_head(self.location_encoder(lonlat))

    def embed_context(self, patches: torch.Tensor) -> torch.Tensor:
        """Projected context embeddings (before normalisation)."""
        return self.context_head(self.context_encoder(patches))

    def forward(self, lonlat: torch.Tensor, patches: torch.Tensor) -> torch.Tensor:
        """The InfoNCE loss of a batch of pairs."""
        loc = self.embed_locations(lonlat)
        ctx = self.embed_context(patches)
        return self.loss(loc.to(ctx.dtype), ctx)


# =========================================================================== training


@dataclass
class PretrainResult:
    """What :func:`pretrain` returns.

    Attributes
    ----------
    location_encoder, context_encoder : torch.nn.Module
        The trained encoders (in eval mode, on the training device).
    model : ContrastiveModel
        Both encoders with the projection heads and the learned temperature.
    history : pandas.DataFrame
        One row per optimiser step: ``step``, ``epoch`` (int64), ``loss`` (mean
        over the step's micro-batches and, under DDP, over ranks),
        ``temperature``, ``lr`` (float64).
    config : dict
        The settings of the run (JSON-serialisable).
    """

    location_encoder: nn.Module
    context_encoder: nn.Module
    model: ContrastiveModel
    history: object
    config: dict = field(default_factory=dict)

    @property
    def epoch_loss(self):
        """Mean loss per epoch (pandas Series indexed by epoch)."""
        return self.history.groupby("epoch")["loss"].mean()


def _dist_info():
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return True, dist.get_rank(), dist.get_world_size()
    return False, 0, 1


def _fetch(dataset, indices):
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    from torch.utils.data import default_collate

    return default_collate([dataset[i] for i in indices])


def _param_groups(model: nn.Module, weight_decay: float):
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def pretrain(
    location_encoder: nn.Module,
    context_encoder: nn.Module,
    dataset,
    *,
    epochs: int,
    batch_size: int = 512,
    lr: float = 1e-4,
    weight_decay: float = 0.01,
    accumulate: int = 1,
    device="cpu",
    random_state: int = 0,
    progress=None,
    checkpoint=None,
    embed_dim: int | None = None,
    temperature: float = 0.07,
    learn_temperature: bool = True,
    max_steps: int | None = None,
) -> PretrainResult:
    """Train a location encoder against a context encoder with symmetric InfoNCE.

    AdamW with SatCLIP's defaults (lr 1e-4, weight decay 0.01; no decay on
    biases, norm parameters and the temperature), shuffled batches of
    ``batch_size`` pairs (the incomplete last batch of an epoch is dropped:
    contrastive batches should be full), optional gradient accumulation.
    Deterministic on CPU for a given ``random_state`` (the modules' own
    initialisation is the caller's; projection heads are initialised from
    ``random_state``; the global torch RNG is left as it was).

    Under ``torch.distributed`` (a process group already initialised, e.g. by
    ``torchrun`` and :func:`main`) the model is wrapped in
    ``DistributedDataParallel``, each rank sees its share of every epoch
    through a ``DistributedSampler``, the negatives of the loss are those of
    the rank's own batch (as in SatCLIP), the logged loss is averaged over
    ranks, and only rank 0 shows progress and writes the checkpoint.

    Parameters
    ----------
    location_encoder : torch.nn.Module
        ``(n, 2)`` lon/lat degrees → ``(n, out_features)``.
    context_encoder : torch.nn.Module
        ``(n, C, H, W)`` patches → ``(n, out_features)``.
    dataset : RasterPatchDataset, ImagePatchDataset or torch Dataset
        Items ``(lonlat (2,), patch (C, H, W))``; ``get_batch(indices)`` and
        ``set_epoch(epoch)`` are used when present.
    epochs : int
        Passes over the dataset.
    batch_size : int
        Pairs per micro-batch and rank (capped at the rank's share of the data).
    lr, weight_decay : float
        AdamW settings.
    accumulate : int
        Micro-batches per optimiser step (gradient accumulation; the negatives
        of each micro-batch stay its own).
    device : str or torch.device
        Where to train.
    random_state : int
        Seed of shuffling, heads and dropout.
    progress : bool, optional
        tqdm progress bar; None shows it only on an interactive terminal.
    checkpoint : str or Path, optional
        Write a safetensors checkpoint there after every epoch (rank 0).
    embed_dim : int, optional
        Shared embedding size (see :class:`ContrastiveModel`).
    temperature : float
        Initial temperature (0.07).
    learn_temperature : bool
        Learn the temperature (default, as CLIP and SatCLIP) or keep it at
        ``temperature``. A fixed, higher temperature (e.g. 0.5) weighs every
        negative more evenly, so the embedding keeps the large-scale similarity
        structure of the context rather than only what tells neighbours apart.
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests).

    Returns
    -------
    PretrainResult
        Trained modules and the per-step ``history``.

    Examples
    --------
    >>> import torch
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> ds = RasterPatchDataset(environment_grid((30, 20), random_state=0), 64,
    ...                         patch_size=4, random_state=0)
    >>> loc = torch.nn.Sequential(torch.nn.Linear(2, 16)); loc.out_features = 16
    >>> res = pretrain(loc, RasterPatchEncoder(3, 16, width=8), ds, epochs=2,
    ...                batch_size=32, progress=False)
    >>> res.history[["step", "epoch"]].to_numpy().tolist()
    [[1, 0], [2, 0], [3, 1], [4, 1]]
    """
    import pandas as pd
    from torch.utils.data.distributed import DistributedSampler

    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("accumulate", accumulate)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}.")
    if max_steps is not None and (int(max_steps) != max_steps or max_steps < 1):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}.")
    distributed, rank, world = _dist_info()
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    n = len(dataset)
    sampler = DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=True, seed=int(random_state), drop_last=True
    )
    per_rank = len(sampler)
    if per_rank < 2:
        raise ValueError(
            f"The dataset has {n} pairs ({per_rank} per rank over {world} ranks); contrastive "
            f"training needs at least 2 pairs per batch."
        )
    bs = min(int(batch_size), per_rank)
    steps_per_epoch = (per_rank // bs) // int(accumulate)
    if steps_per_epoch < 1:
        raise ValueError(
            f"accumulate={accumulate} micro-batches of {bs} pairs need more than the "
            f"{per_rank} pairs per rank; lower accumulate or batch_size."
        )
    total = steps_per_epoch * int(epochs)
    if max_steps is not None:
        total = min(total, int(max_steps))

    fork_devices = [device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(int(random_state))
        model = ContrastiveModel(
            location_encoder, context_encoder, embed_dim, temperature, learn_temperature
        )
        model.to(device)
        torch.manual_seed(int(random_state) + 7919 * rank)
        net = model
        if distributed:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        opt = torch.optim.AdamW(_param_groups(model, weight_decay), lr=lr)
        config = {
            "epochs": int(epochs),
            "batch_size": bs,
            "lr": float(lr),
            "weight_decay": float(weight_decay),
            "accumulate": int(accumulate),
            "random_state": int(random_state),
            "embed_dim": model.embed_dim,
            "temperature_init": float(temperature),
            "learn_temperature": bool(learn_temperature),
            "world_size": world,
            "n_pairs": n,
            "steps_per_epoch": steps_per_epoch,
            "device": str(device),
            "dataset": type(dataset).__name__,
        }
        rows = []
        bar = None
        if rank == 0 and progress is not False:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="pretrain", disable=None if progress is None else False)
        step = 0
        model.train()
        for epoch in range(int(epochs)):
            if step >= total:
                break
            sampler.set_epoch(epoch)
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            order = list(sampler)
            for s in range(steps_per_epoch):
                if step >= total:
                    break
                opt.zero_grad(set_to_none=True)
                losses = []
                for k in range(int(accumulate)):
                    start = (s * int(accumulate) + k) * bs
                    lonlat, patches = _fetch(dataset, order[start : start + bs])
                    lonlat, patches = lonlat.to(device), patches.to(device)
                    sync = k == int(accumulate) - 1 or not distributed
                    ctx = net.no_sync() if not sync else contextlib.nullcontext()
                    with ctx:
                        loss = net(lonlat, patches)
                        (loss / int(accumulate)).backward()
                    losses.append(loss.detach())
                opt.step()
                with torch.no_grad():
                    model.loss.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
                step_loss = torch.stack(losses).mean()
                if distributed:
                    import torch.distributed as dist

                    dist.all_reduce(step_loss)
                    step_loss = step_loss / world
                step += 1
                rows.append((step, epoch, float(step_loss), model.loss.temperature, float(lr)))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{rows[-1][2]:.4f}")
            history = pd.DataFrame(rows, columns=["step", "epoch", "loss", "temperature", "lr"])
            history = history.astype({"step": "int64", "epoch": "int64"})
            if checkpoint is not None and rank == 0:
                save_checkpoint(
                    checkpoint, location_encoder, context_encoder, config, history, heads=model
                )
        if bar is not None:
            bar.close()
    model.eval()
    history = pd.DataFrame(rows, columns=["step", "epoch", "loss", "temperature", "lr"])
    history = history.astype({"step": "int64", "epoch": "int64"})
    return PretrainResult(location_encoder, context_encoder, model, history, config)


# =========================================================================== checkpoints


def _module_spec(module: nn.Module | None):
    """A JSON record that :func:`_build` can rebuild ``module`` from, or None.

    sdmkit's :class:`~sdmkit.encoders.location.LocationEncoder` describes itself
    (its ``config``, rebuilt with ``LocationEncoder.from_config``); the context
    encoders of this module keep their constructor arguments in ``config``.
    """
    if module is None:
        return None
    name = type(module).__name__
    if name in _CONTEXT_CLASSES:
        return {"class": name, "kwargs": module.config}
    if name == "LocationEncoder" and hasattr(type(module), "from_config"):
        try:
            return {"class": name, "config": module.config}
        except ValueError:  # a positional/network module it cannot describe
            return None
    return None


def _build(spec):
    if not spec:
        return None
    if spec.get("class") in _CONTEXT_CLASSES:
        return _CONTEXT_CLASSES[spec["class"]](**spec["kwargs"])
    if spec.get("class") == "LocationEncoder":
        from sdmkit.encoders.location import LocationEncoder

        return LocationEncoder.from_config(spec["config"])
    return None


def save_checkpoint(
    path,
    location_encoder: nn.Module,
    context_encoder: nn.Module | None = None,
    config: dict | None = None,
    history=None,
    *,
    heads: nn.Module | None = None,
):
    """Save encoders as safetensors, with the run's config and history as JSON metadata.

    Tensors are stored under ``location_encoder.*``, ``context_encoder.*`` and,
    when ``heads`` (a :class:`ContrastiveModel`) is given, ``location_head.*``,
    ``context_head.*`` and ``loss.logit_scale``. The safetensors header
    metadata holds ``format``, ``config`` (JSON), ``history`` (JSON records)
    and ``modules`` (JSON: how to rebuild sdmkit's own encoder classes).
    Never pickled.

    Parameters
    ----------
    path : str or Path
        Output file (conventionally ``*.safetensors``); parent folders are made.
    location_encoder : torch.nn.Module
    context_encoder : torch.nn.Module, optional
    config : dict, optional
        JSON-serialisable settings.
    history : pandas.DataFrame or list of dict, optional
    heads : ContrastiveModel, optional

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, torch
    >>> enc = PatchCNN(3, out_features=4, width=4)
    >>> loc = torch.nn.Linear(2, 4)
    >>> p = save_checkpoint(tempfile.mkdtemp() + "/ck.safetensors", loc, enc, {"epochs": 1})
    >>> load_checkpoint(p).config
    {'epochs': 1}
    """
    from safetensors.torch import save_file

    parts = {"location_encoder": location_encoder, "context_encoder": context_encoder}
    if heads is not None:
        parts.update(
            location_head=heads.location_head, context_head=heads.context_head, loss=heads.loss
        )
    tensors = {}
    for prefix, module in parts.items():
        if module is None:
            continue
        for k, v in module.state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().to("cpu").clone().contiguous()
    if history is not None and hasattr(history, "to_dict"):
        history = history.to_dict(orient="records")
    metadata = {
        "format": _FORMAT,
        "config": json.dumps(config if config is not None else {}),
        "history": json.dumps(history if history is not None else []),
        "modules": json.dumps(
            {
                "location_encoder": _module_spec(location_encoder),
                "context_encoder": _module_spec(context_encoder),
            }
        ),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes
    ----------
    location_encoder, context_encoder : torch.nn.Module or None
        The modules with the weights loaded: those passed in, or rebuilt from
        the checkpoint's ``modules`` record (sdmkit's own classes), else None.
    state : dict
        ``{prefix: state_dict}`` for every stored part (``location_encoder``,
        ``context_encoder``, ``location_head``, ``context_head``, ``loss``).
    config : dict
    history : pandas.DataFrame
    """

    location_encoder: nn.Module | None
    context_encoder: nn.Module | None
    state: dict
    config: dict
    history: object


def _load_into(module: nn.Module, state: dict, role: str, path) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs module {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        raise ValidationError(
            f"The {role} in {path} does not fit {type(module).__name__}: missing keys "
            f"{missing[:8]}, unexpected keys {unexpected[:8]}, shape mismatches {wrong[:8]}. "
            f"Build the module with the checkpoint's settings (see Checkpoint.config)."
        )
    module.load_state_dict(state)


def load_checkpoint(
    path,
    location_encoder: nn.Module | None = None,
    context_encoder: nn.Module | None = None,
    *,
    device="cpu",
) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (safetensors; no pickle).

    Parameters
    ----------
    path : str or Path
    location_encoder, context_encoder : torch.nn.Module, optional
        Modules to load the weights into (their architecture must match:
        otherwise a :class:`~sdmkit.ValidationError` lists missing/unexpected
        keys and shape mismatches). When omitted, sdmkit's own encoder classes
        are rebuilt from the checkpoint's record.
    device : str or torch.device
        Where to put the tensors.

    Returns
    -------
    Checkpoint

    Examples
    --------
    >>> ck = load_checkpoint("pretrained.safetensors")  # doctest: +SKIP
    >>> ck.history.groupby("epoch")["loss"].mean()  # doctest: +SKIP
    """
    import pandas as pd
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except SafetensorError as err:
        raise ValidationError(
            f"{path} is not a safetensors file ({err}); sdmkit checkpoints are written by "
            f"save_checkpoint and never pickled."
        ) from err
    if meta.get("format") != _FORMAT:
        raise ValidationError(
            f"{path} is a safetensors file but not an sdmkit pretraining checkpoint "
            f"(format={meta.get('format')!r}, expected {_FORMAT!r})."
        )
    state: dict = {}
    for key, value in tensors.items():
        prefix, _, rest = key.partition(".")
        state.setdefault(prefix, {})[rest] = value
    specs = json.loads(meta.get("modules", "{}"))
    modules = {}
    for role, given in (
        ("location_encoder", location_encoder),
        ("context_encoder", context_encoder),
    ):
        module = given if given is not None else _build(specs.get(role))
        if module is not None and role in state:
            _load_into(module, state[role], role.replace("_", " "), path)
            module.to(device)
        modules[role] = module
    history = pd.DataFrame(json.loads(meta.get("history", "[]")))
    return Checkpoint(
        modules["location_encoder"],
        modules["context_encoder"],
        state,
        json.loads(meta.get("config", "{}")),
        history,
    )


# =========================================================================== command line


def sh_siren_encoder(
    L: int = 10, out_features: int = 256, hidden: int = 256, n_layers: int = 2
) -> nn.Module:
    """SatCLIP's location encoder: spherical harmonics of degree ``L`` + a SIREN.

    A :class:`~sdmkit.encoders.location.LocationEncoder` of
    :class:`~sdmkit.encoders.harmonics.SphericalHarmonics` (SatCLIP convention)
    and :class:`~sdmkit.encoders.networks.SIREN`; its ``config`` goes into the
    checkpoint, so :func:`load_checkpoint` rebuilds it without being told.

    Examples
    --------
    >>> enc = sh_siren_encoder(L=4, out_features=8, hidden=16)
    >>> enc.out_features
    8
    """
    from sdmkit.encoders.harmonics import SphericalHarmonics
    from sdmkit.encoders.location import LocationEncoder
    from sdmkit.encoders.networks import SIREN

    net = SIREN(L * L, out_features=out_features, hidden=hidden, n_layers=n_layers)
    return LocationEncoder(SphericalHarmonics(L=L), net)


def _load_raster(name: str, shape, seed: int):
    if name == "phillips":
        from sdmkit.datasets import load_phillips_coverages

        cov = load_phillips_coverages()
        return cov.sel(band=[b for b in cov["band"].values if b not in cov.attrs["categorical"]])
    if name == "synthetic":
        from sdmkit.datasets.simulate import environment_grid

        return environment_grid(tuple(shape), random_state=seed)
    import rioxarray

    return rioxarray.open_rasterio(name, masked=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sdmkit.encoders.pretrain",
        description="SatCLIP-style contrastive pretraining of an SH + SIREN location encoder on "
        "raster patches. Runs in one process or under torchrun (DDP: gloo on CPU, NCCL on CUDA).",
    )
    p.add_argument(
        "--raster",
        default="phillips",
        help="'phillips' (14 coverages minus ecoreg), 'synthetic' "
        "(simulate.environment_grid) or a raster file path",
    )
    p.add_argument("--synthetic-shape", type=int, nargs=2, default=(30, 20), metavar=("NY", "NX"))
    p.add_argument("--bands", default=None, help="comma-separated subset of bands")
    p.add_argument("--n-samples", type=int, default=2000)
    p.add_argument("--patch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--temperature", type=float, default=0.07, help="initial InfoNCE temperature")
    p.add_argument(
        "--fixed-temperature",
        action="store_true",
        help="keep the temperature fixed (e.g. --temperature 0.5 --fixed-temperature)",
    )
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--L", type=int, default=10, help="spherical-harmonic degree")
    p.add_argument("--hidden", type=int, default=256, help="SIREN hidden width")
    p.add_argument("--n-layers", type=int, default=2, help="SIREN hidden layers")
    p.add_argument("--embed-dim", type=int, default=256)
    p.add_argument("--width", type=int, default=32, help="context CNN width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--checkpoint", default=None, help="output .safetensors path")
    p.add_argument("--progress", action="store_true")
    return p


def main(argv=None) -> int:
    """Command-line entry point (also under ``torchrun``); see ``--help``.

    With ``WORLD_SIZE > 1`` in the environment (set by ``torchrun``) it joins
    the process group (backend ``nccl`` when CUDA is available, else ``gloo``),
    trains with DDP, and rank 0 writes the checkpoint and prints one JSON line
    summarising the run (``world_size``, ``samples_per_rank``, ``steps``,
    ``loss_first``, ``loss_last``, ``checkpoint``).

    Examples
    --------
    >>> main(["--raster", "synthetic", "--n-samples", "64", "--batch-size", "32",
    ...       "--L", "3", "--hidden", "16", "--embed-dim", "8", "--width", "4",
    ...       "--patch-size", "4"])  # doctest: +SKIP
    0
    """
    import torch.distributed as dist

    args = _parser().parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.device is not None:
        device = torch.device(args.device)
    else:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    rank = dist.get_rank() if world > 1 else 0
    try:
        raster = _load_raster(args.raster, args.synthetic_shape, args.seed)
        bands = args.bands.split(",") if args.bands else None
        dataset = RasterPatchDataset(
            raster, args.n_samples, args.patch_size, bands=bands, random_state=args.seed
        )
        torch.manual_seed(args.seed)
        loc = sh_siren_encoder(
            L=args.L, out_features=args.embed_dim, hidden=args.hidden, n_layers=args.n_layers
        )
        ctx = RasterPatchEncoder(dataset.in_channels, out_features=args.embed_dim, width=args.width)
        res = pretrain(
            loc,
            ctx,
            dataset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            accumulate=args.accumulate,
            device=device,
            random_state=args.seed,
            progress=args.progress if rank == 0 else False,
            temperature=args.temperature,
            learn_temperature=not args.fixed_temperature,
            max_steps=args.max_steps,
        )
        seen = torch.tensor(
            [len(res.history) * res.config["batch_size"] * res.config["accumulate"]],
            dtype=torch.int64,
        )
        if world > 1:
            gathered = [torch.zeros_like(seen) for _ in range(world)]
            dist.all_gather(gathered, seen)
            per_rank = [int(t) for t in gathered]
        else:
            per_rank = [int(seen)]
        config = dict(
            res.config,
            raster=args.raster,
            bands=dataset.bands,
            patch_size=args.patch_size,
            samples_per_rank=per_rank,
            band_mean=dataset.mean_.tolist(),
            band_std=dataset.std_.tolist(),
        )
        if rank == 0:
            if args.checkpoint:
                save_checkpoint(args.checkpoint, loc, ctx, config, res.history, heads=res.model)
            print(
                json.dumps(
                    {
                        "world_size": world,
                        "samples_per_rank": per_rank,
                        "steps": len(res.history),
                        "loss_first": float(res.history["loss"].iloc[0]),
                        "loss_last": float(res.history["loss"].iloc[-1]),
                        "epoch_loss": [round(v, 4) for v in res.epoch_loss.tolist()],
                        "checkpoint": args.checkpoint,
                    }
                ),
                flush=True,
            )
        if world > 1:
            dist.barrier()
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
