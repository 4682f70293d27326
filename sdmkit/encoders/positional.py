"""Positional encodings: (lon, lat) in degrees -> a fixed feature vector.

Every encoding comes twice: as a :class:`torch.nn.Module` (differentiable, any
device, exposes ``out_features``) and as a plain function on numpy arrays.

Conventions shared by all of them
---------------------------------
* Input is an ``(n, 2)`` array or tensor of **(lon, lat) in degrees**, lon first,
  lon in [-180, 180] and lat in [-90, 90]. Encodings that need radians convert
  internally (each docstring says where). GeoCLIP expects (lat, lon); sdmkit does
  not: :class:`RandomFourierFeatures` takes (lon, lat) like everything else.
* float32 in -> float32 out, float64 in -> float64 out. Torch modules refuse
  integer tensors; the numpy functions turn integer arrays into float64.
* Bad input (wrong shape, NaN/inf, out-of-range coordinates, an obvious
  (lat, lon) swap) raises :class:`sdmkit._validation.ValidationError` (a
  ``ValueError``) naming the offending rows. Set ``module.validate = False`` to
  skip the check when the caller has already validated (it costs a pass over
  the input and, on CUDA, a device sync).
* Multi-scale encodings (Space2Vec grid/theory, Sphere2Vec) use the geometric
  scale list of Space2Vec: ``frequency_num`` radii r_s from ``min_radius`` to
  ``max_radius`` **in degrees**, frequency 1/r_s, finest scale first. Defaults
  are those SatCLIP's ``get_positional_encoding`` passes (min_radius=1,
  max_radius=360, frequency_num=10).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from sdmkit._validation import ValidationError, check_lonlat

from .harmonics import SphericalHarmonics, spherical_harmonics

__all__ = [
    "Cartesian3D",
    "Direct",
    "PositionalEncoding",
    "RandomFourierFeatures",
    "Space2VecGrid",
    "Space2VecTheory",
    "SphereC",
    "SphereCPlus",
    "SphereM",
    "SphereMPlus",
    "SphericalHarmonics",
    "Wrap",
    "cartesian3d",
    "check_lonlat",
    "direct",
    "encoding",
    "equal_earth",
    "random_fourier_features",
    "space2vec_grid",
    "space2vec_theory",
    "sphere_c",
    "sphere_c_plus",
    "sphere_m",
    "sphere_m_plus",
    "spherical_harmonics",
    "wrap",
]

# Equal Earth polynomial coefficients (Šavrič, Patterson & Jenny 2018).
_EE_A1, _EE_A2, _EE_A3, _EE_A4 = 1.340264, -0.081106, 0.000893, 0.003796
# GeoCLIP divides the unit-sphere Equal Earth (x, y) by 180 / 66.50336, which maps
# x to [-1, 1] (66.50336 = 180 / max|x|).
_GEOCLIP_SCALE = 66.50336 / 180.0


def _as_float_array(lonlat) -> np.ndarray:
    if isinstance(lonlat, Tensor):
        lonlat = lonlat.detach().cpu().numpy()
    x = np.asarray(lonlat)
    if x.dtype.kind in "iub":
        x = x.astype(np.float64)
    if x.dtype not in (np.float32, np.float64):
        raise ValidationError(
            f"lonlat: expected float32 or float64 (lon, lat) in degrees; got dtype {x.dtype}."
        )
    return np.ascontiguousarray(x)


def _run_numpy(module: nn.Module, lonlat) -> np.ndarray:
    x = _as_float_array(lonlat)
    check_lonlat(x)
    module.validate = False
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# --------------------------------------------------------------------------- base


class PositionalEncoding(nn.Module):
    """Base class: validates ``(n, 2)`` (lon, lat) degrees, then calls ``_encode``."""

    out_features: int
    validate: bool = True

    def forward(self, lonlat: Tensor) -> Tensor:
        """Encode ``lonlat`` (n, 2) (lon, lat) in degrees -> (n, out_features)."""
        if self.validate:
            check_lonlat(lonlat)
        return self._encode(lonlat)

    def _encode(self, lonlat: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Wrap(PositionalEncoding):
    """The "wrap" encoding: ``[cos λ, sin λ, cos φ, sin φ]`` (4 features).

    λ = lon and φ = lat converted from degrees to radians internally. Feature order
    as SatCLIP's ``Wrap`` (Mac Aodha et al. 2019; TorchSpatial "wrap").

    Examples
    --------
    >>> import torch
    >>> Wrap()(torch.tensor([[90.0, 0.0]])).round(decimals=6).abs()
    tensor([[0., 1., 1., 0.]])
    """

    out_features = 4

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam, phi = torch.deg2rad(lonlat).unbind(-1)
        return torch.stack([lam.cos(), lam.sin(), phi.cos(), phi.sin()], dim=-1)


class Direct(PositionalEncoding):
    """Raw coordinates scaled to [-1, 1]: ``[lon / 180, lat / 90]`` (2 features).

    (SatCLIP's ``Direct`` instead returns ``radians(coords) - π``; sdmkit uses the
    symmetric scaling.)

    Examples
    --------
    >>> import torch
    >>> Direct()(torch.tensor([[90.0, -45.0]]))
    tensor([[ 0.5000, -0.5000]])
    """

    out_features = 2

    def _encode(self, lonlat: Tensor) -> Tensor:
        return lonlat / lonlat.new_tensor([180.0, 90.0])


class Cartesian3D(PositionalEncoding):
    """Unit-sphere coordinates ``[cos φ cos λ, cos φ sin λ, sin φ]`` (3 features).

    Radians internally. Continuous across the antimeridian (lon = ±180 give the same
    point) and single-valued at the poles.

    Examples
    --------
    >>> import torch
    >>> Cartesian3D()(torch.tensor([[0.0, 90.0]])).round(decimals=6).abs()
    tensor([[0., 0., 1.]])
    """

    out_features = 3

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam, phi = torch.deg2rad(lonlat).unbind(-1)
        return torch.stack([phi.cos() * lam.cos(), phi.cos() * lam.sin(), phi.sin()], dim=-1)


# --------------------------------------------------------------------------- multi-scale


class _MultiScale(PositionalEncoding):
    """Holds the geometric scale list shared by Space2Vec and Sphere2Vec."""

    features_per_scale: int

    def __init__(self, frequency_num: int = 10, min_radius: float = 1.0, max_radius: float = 360.0):
        super().__init__()
        if int(frequency_num) != frequency_num or frequency_num < 1:
            raise ValueError(f"frequency_num must be a positive integer; got {frequency_num!r}.")
        if not 0 < min_radius <= max_radius:
            raise ValueError(
                "need 0 < min_radius <= max_radius (radii in degrees); got "
                f"min_radius={min_radius!r}, max_radius={max_radius!r}."
            )
        self.frequency_num = int(frequency_num)
        self.min_radius = float(min_radius)
        self.max_radius = float(max_radius)
        self.out_features = self.features_per_scale * self.frequency_num

    @property
    def frequencies(self) -> list[float]:
        """Frequencies 1 / r_s (per degree), r_s geometric from min to max radius."""
        n = self.frequency_num
        if n == 1:
            return [1.0 / self.min_radius]
        step = math.log(self.max_radius / self.min_radius) / (n - 1)
        return [1.0 / (self.min_radius * math.exp(s * step)) for s in range(n)]

    def _freqs(self, x: Tensor) -> Tensor:
        return torch.tensor(self.frequencies, dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        return (
            f"frequency_num={self.frequency_num}, min_radius={self.min_radius}, "
            f"max_radius={self.max_radius}, out_features={self.out_features}"
        )


class Space2VecGrid(_MultiScale):
    """Space2Vec "grid" (Mai et al. 2020): multi-scale sinusoids of lon and lat.

    Features ``sin(c / r_s), cos(c / r_s)`` for c in (lon, lat) in **degrees** (the
    angle is c / r_s with r_s in degrees; no radian conversion, as in SatCLIP and
    TorchSpatial). Order: coordinate (lon, lat), then scale (finest first), then
    (sin, cos); ``4 * frequency_num`` features, identical to SatCLIP's ``grid``.

    Parameters
    ----------
    frequency_num : int
        Number of scales S.
    min_radius, max_radius : float
        Smallest and largest radius r_s in degrees (wavelength 2π r_s).

    Examples
    --------
    >>> import torch
    >>> Space2VecGrid(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 16])
    """

    features_per_scale = 4

    def _encode(self, lonlat: Tensor) -> Tensor:
        a = lonlat.unsqueeze(-1) * self._freqs(lonlat)  # (n, 2, S)
        return torch.stack([a.sin(), a.cos()], dim=-1).flatten(1)


# Space2Vec theory: three unit vectors 120 degrees apart.
_THEORY_DIRECTIONS = (
    (1.0, 0.0),
    (-0.5, math.sqrt(3.0) / 2.0),
    (-0.5, -math.sqrt(3.0) / 2.0),
)


class Space2VecTheory(_MultiScale):
    """Space2Vec "theory" (Mai et al. 2020): sinusoids along 3 directions 120° apart.

    With d_j = <(lon, lat), u_j> (degrees) for unit vectors u_j at 0°, 120°, 240°,
    features per scale are ``sin(d_j / r_s), cos(d_j / r_s)`` for j = 1, 2, 3; order
    scale (finest first), then direction, then (sin, cos); ``6 * frequency_num``
    features, identical to SatCLIP's ``theory``.

    Examples
    --------
    >>> import torch
    >>> Space2VecTheory(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 24])
    """

    features_per_scale = 6

    def _encode(self, lonlat: Tensor) -> Tensor:
        d = lonlat @ lonlat.new_tensor(_THEORY_DIRECTIONS).T  # (n, 3)
        a = d.unsqueeze(1) * self._freqs(lonlat)[:, None]  # (n, S, 3)
        return torch.stack([a.sin(), a.cos()], dim=-1).flatten(1)


class _Sphere2Vec(_MultiScale):
    """Sphere2Vec (Mai et al. 2023) family.

    Notation: λ, φ = lon, lat in radians (single scale); λ_s, φ_s = lon / r_s and
    lat / r_s with lon, lat and r_s in degrees (so r_s = 180/π ≈ 57.3° gives the
    true sphere, smaller radii finer scales). Features are grouped per scale
    (finest first). TorchSpatial computes the scaled angles as radians(c) / r; its
    radius r corresponds to sdmkit's ``r * 180 / π``. SatCLIP's ``GridAndSphere``
    uses the same scaled angles as sdmkit but (i) also feeds *degrees* to the
    single-scale sin/cos of sphereM/M+ and (ii) emits every feature twice; sdmkit
    follows the paper and TorchSpatial there (radians, no duplicates).
    """

    def _angles(self, lonlat: Tensor) -> tuple[Tensor, Tensor]:
        scaled = lonlat.unsqueeze(-1) * self._freqs(lonlat)  # (n, 2, S)
        return scaled[:, 0], scaled[:, 1]  # lam_s, phi_s: (n, S)


class SphereC(_Sphere2Vec):
    """Sphere2Vec sphereC: ``[sin φ_s, cos φ_s cos λ_s, cos φ_s sin λ_s]`` per scale.

    ``3 * frequency_num`` features; see :class:`_Sphere2Vec` for λ_s, φ_s (degrees
    over radii in degrees).

    Examples
    --------
    >>> import torch
    >>> SphereC(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 12])
    """

    features_per_scale = 3

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam_s, phi_s = self._angles(lonlat)
        cp = phi_s.cos()
        return torch.stack([phi_s.sin(), cp * lam_s.cos(), cp * lam_s.sin()], dim=-1).flatten(1)


class SphereCPlus(_Sphere2Vec):
    """Sphere2Vec sphereC+: sphereC plus the grid terms, 6 features per scale.

    Per scale ``[sin φ_s, cos φ_s, sin λ_s, cos λ_s, cos φ_s cos λ_s, cos φ_s sin λ_s]``.

    Examples
    --------
    >>> import torch
    >>> SphereCPlus(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 24])
    """

    features_per_scale = 6

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam_s, phi_s = self._angles(lonlat)
        sp, cp, sl, cl = phi_s.sin(), phi_s.cos(), lam_s.sin(), lam_s.cos()
        return torch.stack([sp, cp, sl, cl, cp * cl, cp * sl], dim=-1).flatten(1)


class SphereM(_Sphere2Vec):
    """Sphere2Vec sphereM: mixes one scaled and one single-scale (radian) angle.

    Per scale ``[sin φ_s, cos φ_s cos λ, cos φ cos λ_s, cos φ_s sin λ, cos φ sin λ_s]``
    (5 features) with λ, φ in radians.

    Examples
    --------
    >>> import torch
    >>> SphereM(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 20])
    """

    features_per_scale = 5

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam_s, phi_s = self._angles(lonlat)
        lam, phi = torch.deg2rad(lonlat).unsqueeze(-1).unbind(1)  # (n, 1) each
        cps, cp = phi_s.cos(), phi.cos()
        feats = [phi_s.sin(), cps * lam.cos(), cp * lam_s.cos(), cps * lam.sin(), cp * lam_s.sin()]
        return torch.stack(torch.broadcast_tensors(*feats), dim=-1).flatten(1)


class SphereMPlus(_Sphere2Vec):
    """Sphere2Vec sphereM+: sphereM plus the grid terms, 8 features per scale.

    Per scale ``[sin φ_s, cos φ_s, sin λ_s, cos λ_s, cos φ_s cos λ, cos φ cos λ_s,
    cos φ_s sin λ, cos φ sin λ_s]`` with λ, φ in radians.

    Examples
    --------
    >>> import torch
    >>> SphereMPlus(frequency_num=4)(torch.zeros(1, 2)).shape
    torch.Size([1, 32])
    """

    features_per_scale = 8

    def _encode(self, lonlat: Tensor) -> Tensor:
        lam_s, phi_s = self._angles(lonlat)
        lam, phi = torch.deg2rad(lonlat).unsqueeze(-1).unbind(1)
        sps, cps, sls, cls_ = phi_s.sin(), phi_s.cos(), lam_s.sin(), lam_s.cos()
        cp = phi.cos()
        feats = [sps, cps, sls, cls_, cps * lam.cos(), cp * cls_, cps * lam.sin(), cp * sls]
        return torch.stack(torch.broadcast_tensors(*feats), dim=-1).flatten(1)


# --------------------------------------------------------------------------- RFF


def _equal_earth_torch(lonlat: Tensor) -> Tensor:
    lam, phi = torch.deg2rad(lonlat).unbind(-1)
    theta = torch.asin(math.sqrt(3.0) / 2.0 * phi.sin())
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = (2.0 * math.sqrt(3.0) * lam * theta.cos()) / (
        3.0 * (9.0 * _EE_A4 * t6 * t2 + 7.0 * _EE_A3 * t6 + 3.0 * _EE_A2 * t2 + _EE_A1)
    )
    y = theta * (_EE_A1 + _EE_A2 * t2 + _EE_A3 * t6 + _EE_A4 * t6 * t2)
    return torch.stack([x, y], dim=-1)


def equal_earth(lonlat) -> np.ndarray:
    """Equal Earth projection (Šavrič et al. 2018) on the unit sphere.

    Same as PROJ's ``+proj=eqearth +R=1``: radians internally, output (x, y) with
    |x| ≤ 2.7066 and |y| ≤ 1.3174.

    Parameters
    ----------
    lonlat : array_like, shape (n, 2)
        (lon, lat) in degrees.

    Returns
    -------
    numpy.ndarray, shape (n, 2)
        Projected (x, y), same float dtype as the input.

    Examples
    --------
    >>> equal_earth([[0.0, 0.0], [180.0, 0.0]]).round(4)
    array([[0.    , 0.    ],
           [2.7066, 0.    ]])
    """
    x = _as_float_array(lonlat)
    check_lonlat(x)
    with torch.no_grad():
        return _equal_earth_torch(torch.from_numpy(x)).numpy()


class RandomFourierFeatures(PositionalEncoding):
    """GeoCLIP-style random Fourier features on the Equal Earth projection.

    For each σ in ``sigmas`` (one *branch*), a fixed matrix B ~ N(0, σ²) of shape
    (n_frequencies, 2) maps the projected point v to
    ``[cos(2π B v), sin(2π B v)]`` (``branch_features = 2 * n_frequencies``). GeoCLIP
    (Vivanco et al. 2023) runs one MLP per branch and sums their outputs; to build
    that, take the branches separately (``concat=False`` or :meth:`split`).

    Projection ``"equal_earth"`` is GeoCLIP's: Equal Earth on the unit sphere
    (radians internally), then times 66.50336 / 180 so that x spans [-1, 1] and y
    about [-0.487, 0.487]; v = (x, y). ``"none"`` uses v = (lon / 180, lat / 90).
    GeoCLIP's own modules take **(lat, lon)**; this one takes sdmkit's (lon, lat).

    Parameters
    ----------
    sigmas : sequence of float
        Standard deviation of B per branch (GeoCLIP: 2**0, 2**4, 2**8).
    n_frequencies : int
        Rows of each B (GeoCLIP: 256).
    projection : {"equal_earth", "none"}
        How (lon, lat) becomes v.
    seed : int
        Seed of the torch generator that draws B: same seed, same features.
    concat : bool
        True: ``forward`` returns ``(n, n_branches * branch_features)``. False: a list
        of ``n_branches`` tensors ``(n, branch_features)``.

    Attributes
    ----------
    b : Tensor, shape (n_branches, n_frequencies, 2)
        The frozen B matrices (a buffer, saved in the state dict; GeoCLIP's
        ``LocEnc{i}.capsule.0.b`` stacked over i), columns ordered (x, y).
    n_branches, branch_features, out_features : int
        ``out_features = n_branches * branch_features`` (the concatenated width).

    Examples
    --------
    >>> import torch
    >>> rff = RandomFourierFeatures(n_frequencies=8)
    >>> rff(torch.tensor([[2.35, 48.85]])).shape
    torch.Size([1, 48])
    >>> [t.shape[1] for t in rff.split(rff(torch.zeros(3, 2)))]
    [16, 16, 16]
    """

    def __init__(
        self,
        sigmas: Sequence[float] = (2**0, 2**4, 2**8),
        n_frequencies: int = 256,
        projection: str = "equal_earth",
        seed: int = 0,
        concat: bool = True,
    ):
        super().__init__()
        sigmas = tuple(float(s) for s in np.atleast_1d(sigmas))
        if not sigmas or min(sigmas) <= 0:
            raise ValueError(f"sigmas must be positive numbers; got {sigmas!r}.")
        if int(n_frequencies) != n_frequencies or n_frequencies < 1:
            raise ValueError(f"n_frequencies must be a positive integer; got {n_frequencies!r}.")
        if projection not in ("equal_earth", "none"):
            raise ValueError(f"projection must be 'equal_earth' or 'none'; got {projection!r}.")
        self.sigmas = sigmas
        self.n_frequencies = int(n_frequencies)
        self.projection = projection
        self.seed = int(seed)
        self.concat = bool(concat)
        self.n_branches = len(sigmas)
        self.branch_features = 2 * self.n_frequencies
        self.out_features = self.n_branches * self.branch_features
        gen = torch.Generator().manual_seed(self.seed)
        b = torch.stack([torch.randn(self.n_frequencies, 2, generator=gen) * s for s in sigmas])
        self.register_buffer("b", b)

    def project(self, lonlat: Tensor) -> Tensor:
        """(lon, lat) degrees -> the 2-D input v of the Fourier features."""
        if self.projection == "equal_earth":
            return _equal_earth_torch(lonlat) * _GEOCLIP_SCALE
        return lonlat / lonlat.new_tensor([180.0, 90.0])

    def _encode(self, lonlat: Tensor) -> Tensor | list[Tensor]:
        # Phases reach thousands of radians at sigma = 256: computed in float64 (where the
        # device has it) so float32 output carries only its own rounding, not the phase error.
        wide = torch.float64 if lonlat.device.type != "mps" else lonlat.dtype
        v = self.project(lonlat.to(wide))
        vp = 2.0 * math.pi * torch.einsum("nd,bfd->bnf", v, self.b.to(wide))
        branches = [torch.cat([p.cos(), p.sin()], dim=-1).to(lonlat.dtype) for p in vp]
        return torch.cat(branches, dim=-1) if self.concat else branches

    def split(self, features: Tensor) -> list[Tensor]:
        """Split concatenated features ``(n, out_features)`` into per-branch tensors."""
        return list(torch.split(features, self.branch_features, dim=-1))

    def extra_repr(self) -> str:
        return (
            f"sigmas={self.sigmas}, n_frequencies={self.n_frequencies}, "
            f"projection={self.projection!r}, seed={self.seed}, concat={self.concat}"
        )


# --------------------------------------------------------------------------- functions


def wrap(lonlat) -> np.ndarray:
    """Numpy version of :class:`Wrap`: ``[cos λ, sin λ, cos φ, sin φ]``, (n, 4).

    Examples
    --------
    >>> wrap([[0.0, 0.0]])
    array([[1., 0., 1., 0.]])
    """
    return _run_numpy(Wrap(), lonlat)


def direct(lonlat) -> np.ndarray:
    """Numpy version of :class:`Direct`: ``[lon / 180, lat / 90]``, (n, 2).

    Examples
    --------
    >>> direct([[90.0, 45.0]])
    array([[0.5, 0.5]])
    """
    return _run_numpy(Direct(), lonlat)


def cartesian3d(lonlat) -> np.ndarray:
    """Numpy version of :class:`Cartesian3D`: unit-sphere xyz, (n, 3).

    Examples
    --------
    >>> cartesian3d([[0.0, 0.0]])
    array([[1., 0., 0.]])
    """
    return _run_numpy(Cartesian3D(), lonlat)


def space2vec_grid(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`Space2VecGrid`, (n, 4 * frequency_num).

    Examples
    --------
    >>> space2vec_grid([[10.0, 20.0]], frequency_num=3).shape
    (1, 12)
    """
    return _run_numpy(Space2VecGrid(frequency_num, min_radius, max_radius), lonlat)


def space2vec_theory(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`Space2VecTheory`, (n, 6 * frequency_num).

    Examples
    --------
    >>> space2vec_theory([[10.0, 20.0]], frequency_num=3).shape
    (1, 18)
    """
    return _run_numpy(Space2VecTheory(frequency_num, min_radius, max_radius), lonlat)


def sphere_c(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`SphereC`, (n, 3 * frequency_num).

    Examples
    --------
    >>> sphere_c([[10.0, 20.0]], frequency_num=3).shape
    (1, 9)
    """
    return _run_numpy(SphereC(frequency_num, min_radius, max_radius), lonlat)


def sphere_c_plus(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`SphereCPlus`, (n, 6 * frequency_num).

    Examples
    --------
    >>> sphere_c_plus([[10.0, 20.0]], frequency_num=3).shape
    (1, 18)
    """
    return _run_numpy(SphereCPlus(frequency_num, min_radius, max_radius), lonlat)


def sphere_m(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`SphereM`, (n, 5 * frequency_num).

    Examples
    --------
    >>> sphere_m([[10.0, 20.0]], frequency_num=3).shape
    (1, 15)
    """
    return _run_numpy(SphereM(frequency_num, min_radius, max_radius), lonlat)


def sphere_m_plus(lonlat, *, frequency_num=10, min_radius=1.0, max_radius=360.0) -> np.ndarray:
    """Numpy version of :class:`SphereMPlus`, (n, 8 * frequency_num).

    Examples
    --------
    >>> sphere_m_plus([[10.0, 20.0]], frequency_num=3).shape
    (1, 24)
    """
    return _run_numpy(SphereMPlus(frequency_num, min_radius, max_radius), lonlat)


def random_fourier_features(
    lonlat,
    *,
    sigmas=(2**0, 2**4, 2**8),
    n_frequencies=256,
    projection="equal_earth",
    seed=0,
) -> np.ndarray:
    """Numpy version of :class:`RandomFourierFeatures` (branches concatenated).

    Returns an array (n, 2 * n_frequencies * len(sigmas)).

    Examples
    --------
    >>> random_fourier_features([[2.35, 48.85]], n_frequencies=8).shape
    (1, 48)
    """
    return _run_numpy(RandomFourierFeatures(sigmas, n_frequencies, projection, seed), lonlat)


# --------------------------------------------------------------------------- factory

_ENCODINGS = {
    "sh": SphericalHarmonics,
    "spherical_harmonics": SphericalHarmonics,
    "sphericalharmonics": SphericalHarmonics,
    "wrap": Wrap,
    "direct": Direct,
    "cartesian3d": Cartesian3D,
    "xyz": Cartesian3D,
    "grid": Space2VecGrid,
    "theory": Space2VecTheory,
    "spherec": SphereC,
    "spherec+": SphereCPlus,
    "spherecplus": SphereCPlus,
    "spherem": SphereM,
    "spherem+": SphereMPlus,
    "spheremplus": SphereMPlus,
    "rff": RandomFourierFeatures,
}


def encoding(name: str, **kwargs) -> nn.Module:
    """Build a positional encoding module by name.

    Parameters
    ----------
    name : str
        One of "sh" / "spherical_harmonics", "wrap", "direct", "cartesian3d" ("xyz"),
        "grid", "theory", "spherec", "spherec+", "spherem", "spherem+", "rff" (case
        insensitive; SatCLIP's "sphericalharmonics", "spherecplus", "spheremplus"
        also work).
    **kwargs
        Passed to the class, e.g. ``L=40`` for "sh", ``frequency_num=16`` for "grid".

    Returns
    -------
    torch.nn.Module
        The encoding; its ``out_features`` gives the feature count.

    Examples
    --------
    >>> encoding("spherec+", frequency_num=8).out_features
    48
    """
    key = str(name).strip().lower()
    if key not in _ENCODINGS:
        raise ValueError(
            f"unknown positional encoding {name!r}; choose one of {sorted(_ENCODINGS)}."
        )
    return _ENCODINGS[key](**kwargs)
