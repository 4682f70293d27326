"""Published location-encoder weights: a registry and loaders.

Two families are supported, both loaded **without their original packages and
without unpickling anything but plain containers and tensors**:

* **SatCLIP** (Klemmer et al., MIT) — Lightning ``.ckpt`` files. The location
  encoder is spherical harmonics (θ = lat + 90°, φ = lon + 180°) followed by a
  SIREN; its weights sit under ``model.location.nnet.*`` (and, aliased, under
  ``model.nnet.*``) next to the image tower. :func:`load_satclip` reads them with
  ``torch.load(weights_only=True)``, maps them key by key onto
  :class:`sdmkit.encoders.networks.SIREN` and infers L from the first layer's
  width (100 → L = 10, 1,600 → L = 40).
* **GeoCLIP** (Vivanco Cepeda et al., MIT) — the location encoder shipped in the
  ``geoclip`` wheel (``geoclip/model/weights/location_encoder_weights.pth``):
  random Fourier features on the Equal Earth projection at σ = 2⁰, 2⁴, 2⁸, one
  MLP per branch, outputs summed to 512-d. :func:`load_geoclip` reads the file
  from the installed package folder or straight out of the wheel (a zip), never
  importing ``geoclip`` (whose ``__init__`` pulls torchvision and transformers).
  GeoCLIP's modules take (lat, lon); the sdmkit encoder takes (lon, lat).

SatCLIP's released checkpoints use its "analytic" spherical harmonics, generated
by SymPy from ``spherical_harmonics_generate_ylms.py``. That script writes the
m = 0 normalisation as ``sqrt((2*l + 1) / 4 * pi)`` — i.e. √((2l+1)π/4), π times
the orthonormal √((2l+1)/(4π)) (microsoft/satclip issue #33) — so in the released
functions every m = 0 feature is π × the usual real harmonic (``Yl0_m0`` is
0.8862 = √π/2, ``Yl1_m0`` is 1.535 cos θ). :func:`load_satclip` checks what
sdmkit's :class:`~sdmkit.encoders.harmonics.SphericalHarmonics` computes against
these closed forms and folds any per-column factor (π for m = 0, a sign for odd
m) into the first SIREN layer, so the loaded encoder reproduces SatCLIP exactly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .location import LocationEncoder, register_module

__all__ = [
    "BranchedMLP",
    "PretrainedWeights",
    "WeightsNotAvailableError",
    "load_geoclip",
    "load_satclip",
    "pretrained_weights",
    "weights_file",
]


class WeightsNotAvailableError(FileNotFoundError):
    """Published weights are neither on disk nor downloadable (e.g. offline)."""


# --------------------------------------------------------------------------- registry

_SATCLIP_CITATION = (
    "Klemmer, K., Rolf, E., Robinson, C., Mackey, L., Rußwurm, M. (2025). SatCLIP: Global, "
    "General-Purpose Location Embeddings with Satellite Imagery. Proceedings of the AAAI "
    "Conference on Artificial Intelligence 39(4), 4347-4355. doi:10.1609/aaai.v39i4.32457"
)
_GEOCLIP_CITATION = (
    "Vivanco Cepeda, V., Nayak, G. K., Shah, M. (2023). GeoCLIP: Clip-Inspired Alignment "
    "between Locations and Images for Effective Worldwide Geo-localization. NeurIPS 2023. "
    "arXiv:2309.16020"
)


@dataclass(frozen=True)
class PretrainedWeights:
    """One published weights file and the conventions needed to use it.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"satclip-resnet18-l10"``.
    family : str
        ``"satclip"`` or ``"geoclip"`` (which loader reads it).
    url : str
        Download URL.
    filename : str
        File name in the cache (``<cache>/weights/<filename>``).
    sha256 : str or None
        Expected hash; None where it was not known when the entry was written
        (the file is then used unverified — see the entry's ``notes``).
    licence, citation : str
    L : int or None
        Spherical-harmonic degree (SatCLIP), None otherwise.
    positional, network : str
        Human-readable description of the architecture.
    input_order : str
        Coordinate order of the *original* model ("lon, lat" or "lat, lon");
        sdmkit's loaded encoders always take (lon, lat).
    member : str or None
        Path of the weights inside an archive (GeoCLIP's wheel).
    notes : str
    """

    name: str
    family: str
    url: str
    filename: str
    sha256: str | None
    licence: str
    citation: str
    L: int | None
    positional: str
    network: str
    input_order: str
    member: str | None = None
    notes: str = ""


def _satclip_entry(backbone: str, L: int) -> PretrainedWeights:
    repo = f"microsoft/SatCLIP-{backbone}-L{L}"
    filename = f"satclip-{backbone.lower()}-l{L}.ckpt"
    return PretrainedWeights(
        name=f"satclip-{backbone.lower()}-l{L}",
        family="satclip",
        # Hugging Face "main": the revision hash and the file's sha256 could not be
        # looked up from this (offline) machine; pin both once downloaded.
        url=f"https://huggingface.co/{repo}/resolve/main/{filename}",
        filename=filename,
        sha256=None,
        licence="MIT",
        citation=_SATCLIP_CITATION,
        L=L,
        positional=f"spherical harmonics L={L} ({L * L} features), SatCLIP 'analytic' "
        f"convention: theta = lat + 90 deg, phi = lon + 180 deg, no "
        f"Condon-Shortley phase, m = 0 terms x pi",
        network=f"SIREN {L * L} -> 512 -> 512 -> 256 (w0_initial 30, w0 1), float64",
        input_order="lon, lat",
        notes=f"Lightning checkpoint with the {backbone} image tower (also at "
        f"https://satclip.z13.web.core.windows.net/satclip/{filename}).",
    )


_GEOCLIP_MEMBER = "geoclip/model/weights/location_encoder_weights.pth"
# sha256 of the member above in geoclip 1.3.0 (37,806,041 bytes)
_GEOCLIP_LOCATION_SHA256 = "94b80ae3af89fca78539e129dd2929d321247f5ceeeb0a31bc2c31041a253394"

_REGISTRY: dict[str, PretrainedWeights] = {
    e.name: e
    for e in [
        *(_satclip_entry(b, L) for b in ("ResNet18", "ResNet50", "ViT16") for L in (10, 40)),
        PretrainedWeights(
            name="geoclip-1.3.0",
            family="geoclip",
            url="https://files.pythonhosted.org/packages/py3/g/geoclip/"
            "geoclip-1.3.0-py3-none-any.whl",
            filename="geoclip-1.3.0-py3-none-any.whl",
            sha256="08a93791166a279d52b95c466a952c75f17f654cc61bdf6ab20355325b564dec",
            licence="MIT",
            citation=_GEOCLIP_CITATION,
            L=None,
            positional="random Fourier features on the Equal Earth projection (x, y scaled "
            "by 66.50336/180), sigma = 2^0, 2^4, 2^8, 256 frequencies each",
            network="per branch MLP 512 -> 1024 -> 1024 -> 1024 -> 512 (ReLU), branches "
            "summed -> 512; about 9.45M parameters, float32",
            input_order="lat, lon",
            member=_GEOCLIP_MEMBER,
            notes="The PyPI wheel (pip download --no-deps geoclip==1.3.0); only the "
            "location-encoder weights are read from it.",
        ),
    ]
}


def pretrained_weights() -> dict[str, PretrainedWeights]:
    """The registry of published weights, ``{name: PretrainedWeights}``.

    Examples
    --------
    >>> from sdmkit.encoders.weights import pretrained_weights
    >>> pretrained_weights()["satclip-resnet18-l40"].L
    40
    """
    return dict(_REGISTRY)


def _entry(name: str) -> PretrainedWeights:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown pretrained weights {name!r}; registered: {', '.join(sorted(_REGISTRY))}."
        ) from None


def _weights_cache() -> Path:
    from ..datasets._fetch import cache_dir

    return cache_dir() / "weights"


def weights_file(name: str, *, download: bool = True) -> Path:
    """Local path of registered weights: from the cache, else downloaded there.

    The cache is ``$SDMKIT_CACHE_DIR/weights`` (or the OS cache folder for
    sdmkit). Downloads go through :func:`pooch.retrieve`, checked against the
    registered sha256 when one is known.

    Raises
    ------
    WeightsNotAvailableError
        Not in the cache and ``download=False`` or the download failed; the
        message gives the URL and where to put the file.

    Examples
    --------
    >>> from sdmkit.encoders.weights import weights_file
    >>> path = weights_file("geoclip-1.3.0")  # doctest: +SKIP
    """
    entry = _entry(name)
    cache = _weights_cache()
    target = cache / entry.filename
    if target.is_file() and entry.sha256 is not None:
        import pooch

        got = pooch.file_hash(str(target), alg="sha256")
        if got != entry.sha256:
            raise OSError(
                f"sha256 mismatch for {target}: expected {entry.sha256}, got {got}. Delete it "
                f"and download {entry.url} again."
            )
    if target.is_file():
        return target
    how = (
        f"Download {entry.url} and save it as {target} (the cache is $SDMKIT_CACHE_DIR/"
        f"weights, or the OS cache folder for sdmkit), or pass the file's path instead "
        f"of the name."
    )
    if not download:
        raise WeightsNotAvailableError(f"Weights {name!r} are not in the cache. {how}")
    import pooch

    try:
        known = f"sha256:{entry.sha256}" if entry.sha256 else None
        return Path(
            pooch.retrieve(
                entry.url, known_hash=known, fname=entry.filename, path=cache, progressbar=False
            )
        )
    except Exception as err:  # network errors come in many types (requests, OSError, …)
        raise WeightsNotAvailableError(
            f"Weights {name!r} are not on this machine and could not be downloaded "
            f"({type(err).__name__}: {err}). {how}"
        ) from err


# --------------------------------------------------------------------------- safe reading


class _Opaque:
    """Inert stand-in for an object of a class sdmkit refuses to import.

    Checkpoints may hold arbitrary Python objects (e.g. in Lightning's
    ``hyper_parameters`` or callback states). Instead of importing and running
    their classes, :func:`_safe_torch_load` maps each such global to a subclass of
    this, which only records the arguments it was given.
    """

    qualname = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args = args
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self) -> str:
        return f"<not loaded: {self.qualname}>"


def _safe_torch_load(source, map_location="cpu"):
    """``torch.load(weights_only=True)``; foreign classes become inert placeholders."""
    stubs = []
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(source)
    except (AttributeError, ValueError, RuntimeError):  # old torch or not a zip checkpoint
        names = []
    if isinstance(source, io.IOBase):
        source.seek(0)
    for full in names:
        stub = type(full.rsplit(".", 1)[-1], (_Opaque,), {"qualname": full})
        stubs.append((stub, full))
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(
            f"Could not read {source if isinstance(source, str | Path) else 'the checkpoint'} "
            f"safely with torch.load(weights_only=True): {err}. sdmkit never unpickles "
            f"arbitrary objects; re-save just the state dict (torch.save(model.state_dict(), "
            f"path)) and load that."
        ) from err


def _shape(t) -> tuple:
    return tuple(t.shape)


def _expect(state: dict, key: str, shape: tuple, why: str = "") -> torch.Tensor:
    if key not in state:
        raise ValueError(f"Checkpoint has no {key!r}{why}.")
    t = state[key]
    if not isinstance(t, torch.Tensor) or _shape(t) != tuple(shape):
        got = _shape(t) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"Checkpoint key {key!r}: expected shape {tuple(shape)}{why}, got {got}.")
    return t


# --------------------------------------------------------------------------- SatCLIP

# prefixes under which a SatCLIP checkpoint may hold the location network, best first
_SATCLIP_PREFIXES = ("model.location.nnet.", "model.nnet.", "location.nnet.", "nnet.")

# SatCLIP's released ("analytic") functions for l <= 2, from its generated
# spherical_harmonics_ylm.py: (l, m) -> f(theta, phi)
_SATCLIP_YLM = {
    (0, 0): lambda t, p: torch.full_like(t, 0.886226925452758),
    (1, -1): lambda t, p: 0.48860251190292 * t.sin() * p.sin(),
    (1, 0): lambda t, p: 1.53499006191973 * t.cos(),
    (1, 1): lambda t, p: 0.48860251190292 * t.sin() * p.cos(),
    (2, -2): lambda t, p: 0.18209140509868 * (3.0 - 3.0 * t.cos() ** 2) * (2 * p).sin(),
    (2, -1): lambda t, p: 1.09254843059208 * t.sin() * p.sin() * t.cos(),
    (2, 0): lambda t, p: 2.97249547320451 * t.cos() ** 2 - 0.990831824401503,
    (2, 1): lambda t, p: 1.09254843059208 * t.sin() * p.cos() * t.cos(),
    (2, 2): lambda t, p: 0.18209140509868 * (3.0 - 3.0 * t.cos() ** 2) * (2 * p).cos(),
}


def _satclip_column_factors(sh: nn.Module, L: int) -> torch.Tensor:
    """Per-feature factors f with SatCLIP_feature = f * sdmkit_feature (checked for l <= 2).

    Released SatCLIP features differ from orthonormal real harmonics by a factor π
    at m = 0; a Condon–Shortley implementation would also differ in sign at odd m.
    """
    probe = torch.tensor([[37.0, 23.0], [-121.5, -41.0], [150.0, 64.0]], dtype=torch.float64)
    with torch.no_grad():
        ours = sh(probe).double()
    theta = torch.deg2rad(probe[:, 1] + 90.0)
    phi = torch.deg2rad(probe[:, 0] + 180.0)
    col = {(d, m): d * d + d + m for d in range(min(L, 3)) for m in range(-d, d + 1)}
    ref = {lm: f(theta, phi) for lm, f in _SATCLIP_YLM.items() if lm in col}
    f_m0 = float((ref[(0, 0)] / ours[:, 0]).mean())
    f_odd = float((ref[(1, 1)] / ours[:, col[(1, 1)]]).mean()) if L > 1 else 1.0
    factors = torch.ones(L * L, dtype=torch.float64)
    for d in range(L):  # degree l, order m: feature d * d + d + m
        for m in range(-d, d + 1):
            factors[d * d + d + m] = f_m0 if m == 0 else (f_odd if m % 2 else 1.0)
    for lm, r in ref.items():
        if not torch.allclose(factors[col[lm]] * ours[:, col[lm]], r, rtol=1e-9, atol=1e-9):
            raise RuntimeError(
                f"sdmkit's SphericalHarmonics(convention='satclip') does not match SatCLIP's "
                f"released function Y(l={lm[0]}, m={lm[1]}) up to the known factors; "
                f"cannot load SatCLIP weights faithfully."
            )
    return factors


def _satclip_state(ckpt) -> tuple[dict, str, dict]:
    """(location-network state with the prefix stripped, prefix, hyper-parameters)."""
    if not isinstance(ckpt, dict):
        raise ValueError(f"Expected a SatCLIP checkpoint (a dict), got {type(ckpt).__name__}.")
    state = ckpt.get("state_dict", ckpt)
    hp = ckpt.get("hyper_parameters", {})
    hp = hp if isinstance(hp, dict) else {}
    for prefix in _SATCLIP_PREFIXES:
        sub = {
            k[len(prefix) :]: v
            for k, v in state.items()
            if isinstance(k, str) and k.startswith(prefix)
        }
        if sub:
            return sub, prefix, hp
    sample = ", ".join(list(map(str, state))[:6])
    raise ValueError(
        f"No SatCLIP location-encoder weights found: expected keys starting with "
        f"{' or '.join(repr(p) for p in _SATCLIP_PREFIXES[:2])}; the checkpoint has "
        f"{len(state)} keys such as {sample}."
    )


def load_satclip(path_or_name, *, map_location="cpu", L: int | None = None) -> LocationEncoder:
    """Load SatCLIP's location encoder from an official Lightning checkpoint.

    Neither Lightning nor torchgeo is needed: the ``.ckpt`` is read with
    ``torch.load(weights_only=True)`` (any non-plain object in it, e.g. in the
    hyper-parameters, becomes an inert placeholder — nothing is unpickled), the
    ``model.location.nnet.*`` weights are mapped key by key onto sdmkit's
    :class:`~sdmkit.encoders.networks.SIREN`, and L is inferred from the first
    layer's input width (L²). The image tower is ignored.

    Parameters
    ----------
    path_or_name : str or path
        A ``.ckpt`` file, or a registry name such as ``"satclip-resnet18-l10"``
        (looked up in the cache, downloaded if possible; see
        :func:`pretrained_weights`).
    map_location : str or torch.device
        Where to put the tensors.
    L : int, optional
        Expected degree; a checkpoint with another L is an error.

    Returns
    -------
    LocationEncoder
        ``SphericalHarmonics(L, convention="satclip")`` + ``SIREN``, float64 (as
        SatCLIP runs), in eval mode. Input (lon, lat) degrees; output 256-d.

    Raises
    ------
    ValueError
        Not a SatCLIP SIREN location encoder, or a shape that does not fit (the
        message names the key, the expected and the actual shape).

    Examples
    --------
    >>> from sdmkit.encoders.weights import load_satclip
    >>> enc = load_satclip("satclip-resnet18-l10")  # doctest: +SKIP
    >>> enc.embed([[2.35, 48.85]]).shape  # doctest: +SKIP
    (1, 256)
    """
    from .harmonics import SphericalHarmonics
    from .networks import SIREN

    if isinstance(path_or_name, str) and path_or_name in _REGISTRY:
        entry = _entry(path_or_name)
        if entry.family != "satclip":
            raise ValueError(
                f"{path_or_name!r} is a {entry.family} entry; use load_{entry.family}."
            )
        L = entry.L if L is None else L
        path = weights_file(path_or_name)
    else:
        path = Path(path_or_name).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"No such checkpoint: {path}. Pass a SatCLIP .ckpt file or one of "
                f"{', '.join(n for n, e in _REGISTRY.items() if e.family == 'satclip')}."
            )
    ckpt = _safe_torch_load(str(path), map_location=map_location)
    state, prefix, hp = _satclip_state(ckpt)

    le_type = hp.get("le_type", "sphericalharmonics")
    pe_type = hp.get("pe_type", "siren")
    calc = hp.get("harmonics_calculation", "analytic")
    if le_type != "sphericalharmonics" or pe_type != "siren":
        raise ValueError(
            f"{path}: hyper_parameters le_type={le_type!r}, pe_type={pe_type!r}; sdmkit loads "
            f"SatCLIP's spherical-harmonics + SIREN encoders (le_type='sphericalharmonics', "
            f"pe_type='siren')."
        )
    conventions = {"analytic": "satclip", "closed-form": "cs"}
    if calc not in conventions:
        raise ValueError(
            f"{path}: harmonics_calculation={calc!r} is not supported; expected "
            f"one of {sorted(conventions)}."
        )
    n_layers = 0
    while f"layers.{n_layers}.weight" in state:
        n_layers += 1
    known = {f"layers.{i}.{p}" for i in range(n_layers) for p in ("weight", "bias")}
    known |= {"last_layer.weight", "last_layer.bias"}
    extra = sorted(set(state) - known)
    if n_layers == 0 or extra or "last_layer.weight" not in state:
        raise ValueError(
            f"{path}: the weights under {prefix!r} are not a SatCLIP SIREN (expected "
            f"layers.<i>.weight/bias and last_layer.weight/bias; found "
            f"{sorted(state)[:8]})."
        )
    first = state["layers.0.weight"]
    if not isinstance(first, torch.Tensor) or first.ndim != 2:
        raise ValueError(f"Checkpoint key {prefix}layers.0.weight: expected a 2-D tensor.")
    hidden, width = _shape(first)
    inferred = math.isqrt(width)
    hp_L = hp.get("legendre_polys")
    for source, want in ((f"legendre_polys={hp_L} in hyper_parameters", hp_L), (f"L={L}", L)):
        if isinstance(want, int) and want * want != width:
            raise ValueError(
                f"Checkpoint key {prefix}layers.0.weight: expected shape ({hidden}, {want * want}) "
                f"for {source} (L² spherical-harmonic features), got {_shape(first)}"
                f"{f', i.e. L={inferred}' if inferred * inferred == width else ''}."
            )
    if inferred * inferred != width:
        raise ValueError(
            f"Checkpoint key {prefix}layers.0.weight: the input width must be L² (100 for "
            f"L=10, 1600 for L=40); got shape {_shape(first)}, and {width} is not a square."
        )
    L = inferred
    out = _shape(state["last_layer.weight"])[0]
    for name, want, got in (
        ("capacity", hp.get("capacity"), hidden),
        ("embed_dim", hp.get("embed_dim"), out),
        ("num_hidden_layers", hp.get("num_hidden_layers"), n_layers),
    ):
        if isinstance(want, int) and want != got:
            raise ValueError(
                f"{path}: hyper_parameters {name}={want} but the weights give "
                f"{got} (from {prefix}layers.*)."
            )
    # explicit key map: SatCLIP SirenNet key -> (sdmkit key, expected shape)
    key_map = {}
    for i in range(n_layers):
        w_in = width if i == 0 else hidden
        key_map[f"{prefix}layers.{i}.weight"] = (f"network.layers.{i}.weight", (hidden, w_in))
        key_map[f"{prefix}layers.{i}.bias"] = (f"network.layers.{i}.bias", (hidden,))
    key_map[f"{prefix}last_layer.weight"] = ("network.last_layer.weight", (out, hidden))
    key_map[f"{prefix}last_layer.bias"] = ("network.last_layer.bias", (out,))
    full = {prefix + k: v for k, v in state.items()}
    mapped = {
        dst: _expect(full, src, shape, f" (L={L}, hidden={hidden})")
        for src, (dst, shape) in key_map.items()
    }

    sh = SphericalHarmonics(L=L, convention=conventions[calc])
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        net = SIREN(width, out, hidden=hidden, n_layers=n_layers, w0_initial=30.0, w0=1.0)
    encoder = LocationEncoder(sh, net)
    if calc == "analytic":
        factors = _satclip_column_factors(sh, L)
        w0 = mapped["network.layers.0.weight"]
        mapped["network.layers.0.weight"] = (w0.double() * factors.to(w0.device)).to(w0.dtype)
    mapped = {k: v.contiguous() for k, v in mapped.items()}
    encoder.load_state_dict(mapped, strict=True, assign=True)
    return encoder.to(map_location).eval()


# --------------------------------------------------------------------------- GeoCLIP


@register_module
class BranchedMLP(nn.Module):
    """One MLP per block of input features, outputs summed (GeoCLIP's location head).

    The input ``(n, in_features)`` is split into ``n_branches`` equal blocks
    (e.g. the per-σ branches of :class:`~sdmkit.encoders.positional.RandomFourierFeatures`),
    each goes through its own :class:`~sdmkit.encoders.networks.MLP`, and the
    results are added. State-dict keys: ``branches.<i>.layers.<3k>.weight/bias``.

    Parameters
    ----------
    in_features : int
        Total input width (divisible by ``n_branches``).
    out_features : int
    n_branches : int
    hidden : sequence of int
        Hidden widths of each branch MLP (GeoCLIP: 1024, 1024, 1024).
    activation : str
        Hidden activation (GeoCLIP: ReLU).

    Examples
    --------
    >>> import torch
    >>> BranchedMLP(12, 5, n_branches=3, hidden=(8,))(torch.zeros(2, 12)).shape
    torch.Size([2, 5])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        n_branches: int = 3,
        hidden=(1024, 1024, 1024),
        activation: str = "relu",
    ):
        from .networks import MLP

        super().__init__()
        if n_branches < 1 or in_features % n_branches:
            raise ValueError(
                f"in_features={in_features} must split into n_branches={n_branches} equal blocks."
            )
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.n_branches = int(n_branches)
        self.hidden = tuple(int(h) for h in ((hidden,) if isinstance(hidden, int) else hidden))
        self.activation = activation
        self.branch_features = self.in_features // self.n_branches
        self.branches = nn.ModuleList(
            MLP(self.branch_features, self.out_features, hidden=self.hidden, activation=activation)
            for _ in range(self.n_branches)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` (n, in_features) to (n, out_features)."""
        blocks = torch.split(x, self.branch_features, dim=-1)
        out = self.branches[0](blocks[0])
        for branch, block in zip(self.branches[1:], blocks[1:]):
            out = out + branch(block)
        return out


def _geoclip_source(wheel_or_dir) -> Path:
    if wheel_or_dir is not None:
        path = Path(wheel_or_dir).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"No such GeoCLIP wheel, folder or weights file: {path}")
        return path
    env = os.environ.get("SDMKIT_GEOCLIP_WHEEL", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"SDMKIT_GEOCLIP_WHEEL={env} does not exist.")
        return path
    spec = importlib.util.find_spec("geoclip")  # finds the package without importing it
    for loc in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(loc) / "model" / "weights" / "location_encoder_weights.pth"
        if candidate.is_file():
            return candidate
    return weights_file("geoclip-1.3.0")


def _geoclip_bytes(path: Path) -> tuple[bytes, str]:
    """Raw bytes of GeoCLIP's location_encoder_weights.pth and where they came from."""
    if path.is_dir():
        for rel in (
            _GEOCLIP_MEMBER,
            "model/weights/location_encoder_weights.pth",
            "weights/location_encoder_weights.pth",
            "location_encoder_weights.pth",
        ):
            if (path / rel).is_file():
                return (path / rel).read_bytes(), str(path / rel)
        raise FileNotFoundError(
            f"{path} holds no GeoCLIP location_encoder_weights.pth (looked for {_GEOCLIP_MEMBER} "
            f"and model/weights/…). Pass the geoclip wheel, its unpacked folder or the .pth."
        )
    if zipfile.is_zipfile(path):  # a wheel — or a torch file, which is a zip too
        with zipfile.ZipFile(path) as zf:
            if _GEOCLIP_MEMBER in zf.namelist():
                return zf.read(_GEOCLIP_MEMBER), f"{path}!{_GEOCLIP_MEMBER}"
            if not any(n.endswith("data.pkl") for n in zf.namelist()):
                raise FileNotFoundError(f"{path} is a zip without {_GEOCLIP_MEMBER}.")
    return path.read_bytes(), str(path)


_GEOCLIP_SHAPES = {
    "capsule.0.b": (256, 2),
    "capsule.1.weight": (1024, 512),
    "capsule.1.bias": (1024,),
    "capsule.3.weight": (1024, 1024),
    "capsule.3.bias": (1024,),
    "capsule.5.weight": (1024, 1024),
    "capsule.5.bias": (1024,),
    "head.0.weight": (512, 1024),
    "head.0.bias": (512,),
}
# GeoCLIP capsule/head layer -> sdmkit MLP layer (Linear, act, Dropout per hidden layer)
_GEOCLIP_LAYER = {
    "capsule.1": "layers.0",
    "capsule.3": "layers.3",
    "capsule.5": "layers.6",
    "head.0": "layers.9",
}


def load_geoclip(wheel_or_dir=None) -> LocationEncoder:
    """Load GeoCLIP's location encoder (from its wheel) as an sdmkit encoder.

    Reads ``geoclip/model/weights/location_encoder_weights.pth`` with
    ``torch.load(weights_only=True)``, without importing ``geoclip`` (whose
    ``__init__`` pulls torchvision and transformers). The random matrices B of
    GeoCLIP's Fourier features are part of its state dict and are loaded too,
    so the result reproduces GeoCLIP's outputs. GeoCLIP takes (lat, lon); the
    returned encoder takes sdmkit's (lon, lat).

    Parameters
    ----------
    wheel_or_dir : str or path, optional
        The geoclip wheel (a zip), an unpacked/installed ``geoclip`` folder, or the
        ``.pth`` itself. Default: ``$SDMKIT_GEOCLIP_WHEEL``, then an installed
        ``geoclip`` package, then the cached (or downloaded) wheel
        ``geoclip-1.3.0`` from the registry.

    Returns
    -------
    LocationEncoder
        ``RandomFourierFeatures(sigmas=(1, 16, 256), n_frequencies=256,
        projection="equal_earth")`` + :class:`BranchedMLP` (3 × MLP 512 → 1024 →
        1024 → 1024 → 512, summed), float32, eval mode; output 512-d.

    Examples
    --------
    >>> from sdmkit.encoders.weights import load_geoclip
    >>> enc = load_geoclip()  # doctest: +SKIP
    >>> enc.embed([[2.35, 48.85]]).shape  # doctest: +SKIP
    (1, 512)
    """
    from .positional import RandomFourierFeatures

    data, where = _geoclip_bytes(_geoclip_source(wheel_or_dir))
    digest = hashlib.sha256(data).hexdigest()
    if digest != _GEOCLIP_LOCATION_SHA256:
        warnings.warn(
            f"GeoCLIP location weights at {where} have sha256 {digest}, not the geoclip 1.3.0 "
            f"file ({_GEOCLIP_LOCATION_SHA256}); loading them anyway since the structure is "
            f"checked key by key.",
            UserWarning,
            stacklevel=2,
        )
    state = _safe_torch_load(io.BytesIO(data))
    if not isinstance(state, dict):
        raise ValueError(f"{where}: expected a state dict, got {type(state).__name__}.")
    n_branches = 0
    while f"LocEnc{n_branches}.capsule.0.b" in state:
        n_branches += 1
    expected = {f"LocEnc{i}.{k}": s for i in range(n_branches) for k, s in _GEOCLIP_SHAPES.items()}
    extra = sorted(set(state) - set(expected))
    if n_branches == 0 or extra:
        raise ValueError(
            f"{where}: not a GeoCLIP location encoder state dict (expected keys "
            f"LocEnc<i>.capsule.0.b, LocEnc<i>.capsule.1.weight, …; unexpected: {extra[:6]})."
        )
    for key, shape in expected.items():
        _expect(state, key, shape)
    # sigma only matters for drawing B, which is loaded; keep GeoCLIP's nominal values
    sigmas = (
        (2.0**0, 2.0**4, 2.0**8)
        if n_branches == 3
        else tuple(
            round(float(state[f"LocEnc{i}.capsule.0.b"].std()), 3) for i in range(n_branches)
        )
    )
    rff = RandomFourierFeatures(sigmas=sigmas, n_frequencies=256, projection="equal_earth")
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        net = BranchedMLP(rff.out_features, 512, n_branches=n_branches, hidden=(1024, 1024, 1024))
    mapped = {
        "positional.b": torch.stack(
            [state[f"LocEnc{i}.capsule.0.b"] for i in range(n_branches)]
        ).float()
    }
    for i in range(n_branches):
        for src, dst in _GEOCLIP_LAYER.items():
            for p in ("weight", "bias"):
                mapped[f"network.branches.{i}.{dst}.{p}"] = state[f"LocEnc{i}.{src}.{p}"].float()
    encoder = LocationEncoder(rff, net)
    encoder.load_state_dict(mapped, strict=True, assign=True)
    return encoder.eval()
