r"""Real spherical harmonics of (lon, lat) in degrees: all L² features in one fused pass.

Feature ``j = l**2 + l + m`` (degree ``l = 0 … L-1``, order ``m = -l … l``, SatCLIP's
order) of a point given as (lon, lat) in **degrees** is

.. math::

    Y_{l,m} = c_m \, \bar P_l^{|m|}(\cos\theta) \, T_m(\varphi), \qquad
    \theta = \mathrm{lat} + 90°, \quad \varphi = \mathrm{lon} + 180°,

so :math:`\cos\theta = -\sin(\mathrm{lat})` and :math:`\sin\theta = \cos(\mathrm{lat})`
(θ is measured from the *south* pole: SatCLIP's mapping, kept for every convention), where

* :math:`\bar P_l^{m}(x) = \sqrt{\tfrac{2l+1}{4\pi}\tfrac{(l-m)!}{(l+m)!}}\,P_l^{m}(x)` and
  :math:`P_l^m(x) = (1-x^2)^{m/2} \tfrac{d^m}{dx^m} P_l(x)` **without** the Condon–Shortley
  phase (so :math:`P_1^1(x) = +\sqrt{1-x^2}`);
* :math:`T_m = \sqrt2\cos(m\varphi)` for m > 0, :math:`T_0 = 1`,
  :math:`T_m = \sqrt2\sin(|m|\varphi)` for m < 0 (m < 0 ↔ sine, m > 0 ↔ cosine);
* :math:`c_m` depends on ``convention``:

  ``"satclip"`` (default)
      SatCLIP's released checkpoints ("analytic" SymPy-generated functions,
      ``microsoft/satclip`` ``satclip/positional_encoding/spherical_harmonics_ylm.py``,
      made by ``spherical_harmonics_generate_ylms.py``): no Condon–Shortley phase, and the
      m = 0 features carry an extra factor π, because the generator normalises them with
      ``sqrt((2*l + 1) / 4 * pi)`` instead of ``sqrt((2l+1)/(4π))``: ``c_0 = π``,
      ``c_m = 1`` otherwise. E.g. feature 0 is ``sqrt(π)/2 = 0.8862…`` (SatCLIP's ``Yl0_m0``)
      and feature 2 is ``1.53499… cos θ`` (``Yl1_m0``).
  ``"cs"``
      Orthonormal real harmonics *with* the Condon–Shortley phase: ``c_m = (-1)**m``.
      This is what SatCLIP's ``closed-form`` path computes, and equals
      √2·Re (m > 0) and √2·Im (m < 0) of ``scipy.special.sph_harm_y(l, |m|, θ, φ)``
      (scipy includes the phase).
  ``"nocs"``
      Orthonormal real harmonics without the phase (``c_m = 1``): SatCLIP's analytic
      functions with the m = 0 slip corrected.

Relative to ``"nocs"``, ``"cs"`` flips the sign of exactly the odd-m features and
``"satclip"`` multiplies exactly the m = 0 features by π.

In the usual geographic frame (colatitude ϑ = 90° − lat, azimuth = lon) the ``"nocs"``
feature equals :math:`(-1)^l` times the standard no-phase real harmonic.

Algorithm: the stable recurrences for fully normalised associated Legendre functions
(as in Holmes & Featherstone 2002): the sectoral start
:math:`\bar P_m^m = \sqrt{(2m+1)/(2m)}\,\sin\theta\,\bar P_{m-1}^{m-1}`, then
:math:`\bar P_{m+1}^m = \sqrt{2m+3}\,\cos\theta\,\bar P_m^m` and
:math:`\bar P_l^m = a_{lm}\cos\theta\,\bar P_{l-1}^m - a_{lm} b_{lm}\bar P_{l-2}^m` with
:math:`a_{lm} = \sqrt{(4l^2-1)/(l^2-m^2)}`,
:math:`b_{lm} = \sqrt{((l-1)^2-m^2)/(4(l-1)^2-1)}`; sin θ = cos(lat) is computed directly
(never as √(1 − cos²θ)); cos mφ and sin mφ by the angle-addition recurrence. All of it is
accumulated in float64 and written once into the (n, L²) output (float32 or float64).
The numba kernel runs in parallel over points; a vectorised torch recurrence (loop over l,
vectorised over points and m) serves autograd and CUDA.
"""

from __future__ import annotations

import math
import types
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from sdmkit._validation import ValidationError, check_lonlat

try:  # numba is what makes the CPU path fast; without it the torch recurrence is used
    import numba
except ImportError:  # pragma: no cover - numba is installed wherever sdmkit is tested
    numba = None

__all__ = [
    "CONVENTIONS",
    "MAX_DEGREE",
    "SphericalHarmonics",
    "closed_form_reference",
    "spherical_harmonics",
]

MAX_DEGREE = 100
#: convention name -> (sign applied once per order m, factor on the m = 0 features)
_CONVENTION_FACTORS = {"satclip": (1.0, math.pi), "cs": (-1.0, 1.0), "nocs": (1.0, 1.0)}
CONVENTIONS = tuple(_CONVENTION_FACTORS)

_DEG = math.pi / 180.0
_Y00 = 0.5 / math.sqrt(math.pi)  # 1 / sqrt(4π)
_SQRT2 = math.sqrt(2.0)
_FLUSH = 1e-250  # sectoral values this small are set to 0 (avoids slow subnormals at poles)
_BLOCK = 32  # points handled together by one kernel step (independent chains for the CPU)


# --------------------------------------------------------------------------- checks


def _check_degree(L) -> int:
    if isinstance(L, bool) or not isinstance(L, (int, np.integer)):
        raise ValueError(f"L must be an integer number of degrees (1 … {MAX_DEGREE}); got {L!r}.")
    if not 1 <= L <= MAX_DEGREE:
        raise ValueError(
            f"L must be between 1 and {MAX_DEGREE} (L = 10 and 40 are SatCLIP's settings); "
            f"got {L}. L gives L² features: degrees l = 0 … L-1."
        )
    return int(L)


def _check_convention(convention) -> str:
    if convention not in _CONVENTION_FACTORS:
        raise ValueError(
            f"Unknown convention {convention!r}; use one of {list(CONVENTIONS)} ('satclip' "
            f"reproduces SatCLIP's released checkpoints, 'cs' adds the Condon–Shortley phase)."
        )
    return convention


def _as_lonlat_array(lonlat) -> np.ndarray:
    """Validated C-contiguous float64 copy/view of an (n, 2) lon/lat array in degrees."""
    arr = np.asarray(lonlat)
    check_lonlat(arr)
    return np.ascontiguousarray(arr, dtype=np.float64)


def _check_tensor(lonlat) -> torch.Tensor:
    if not isinstance(lonlat, torch.Tensor):  # array-like: floats keep their dtype
        arr = np.asarray(lonlat)
        if arr.dtype not in (np.float32, np.float64):
            arr = _as_lonlat_array(arr)  # validates, then casts to float64
        lonlat = torch.from_numpy(np.ascontiguousarray(arr))
    if lonlat.dtype not in (torch.float32, torch.float64):
        raise ValidationError(
            f"lonlat must be a float32 or float64 tensor of (lon, lat) degrees; got "
            f"{lonlat.dtype}. Cast it with lonlat.float() or lonlat.double()."
        )
    check_lonlat(lonlat)
    return lonlat


# --------------------------------------------------------------------------- coefficients


@lru_cache(maxsize=32)
def _coefficients(L: int):
    """Recurrence constants: a[l, m], a[l, m]*b[l, m] (valid for l >= m + 2), d[m], e[m]."""
    ell = np.arange(L, dtype=np.float64)[:, None]
    m = np.arange(L, dtype=np.float64)[None, :]
    valid = ell >= m + 2
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.sqrt((4 * ell**2 - 1) / (ell**2 - m**2))
        b = np.sqrt(((ell - 1) ** 2 - m**2) / (4 * (ell - 1) ** 2 - 1))
    a = np.where(valid, a, 0.0)
    ab = np.where(valid, a * b, 0.0)
    mm = np.arange(L, dtype=np.float64)
    d = np.ones(L)
    d[1:] = np.sqrt((2 * mm[1:] + 1) / (2 * mm[1:]))
    e = np.sqrt(2 * mm + 3)
    for arr in (a, ab, d, e):
        arr.setflags(write=False)
    return a, ab, d, e


# --------------------------------------------------------------------------- numba kernel


def _kernel(lonlat, L, a, ab, d, e, sign, m0, nchunk, out):  # pragma: no cover - jitted
    """Fill ``out`` (n, L²) for n a multiple of _BLOCK; chunks of blocks run in parallel.

    Each block's features are written feature-major into a small local buffer (contiguous
    stores the compiler vectorises) and copied into ``out``'s rows once at the end of the
    block; writing ``out`` column by column directly was 1.9× slower at L = 40.
    """
    nblk = lonlat.shape[0] // _BLOCK
    per = (nblk + nchunk - 1) // nchunk
    for c in prange(nchunk):
        x = np.empty(_BLOCK)
        s = np.empty(_BLOCK)
        c1 = np.empty(_BLOCK)
        s1 = np.empty(_BLOCK)
        cm = np.empty(_BLOCK)
        sm = np.empty(_BLOCK)
        pmm = np.empty(_BLOCK)
        p0 = np.empty(_BLOCK)
        p1 = np.empty(_BLOCK)
        buf = np.empty((L * L, _BLOCK), out.dtype)
        for blk in range(c * per, min(nblk, (c + 1) * per)):
            i0 = blk * _BLOCK
            for k in range(_BLOCK):  # angles, and the m = 0 column's start
                lat = lonlat[i0 + k, 1] * _DEG
                lon = lonlat[i0 + k, 0] * _DEG
                x[k] = -math.sin(lat)  # cos θ, θ = lat + 90°
                s[k] = math.cos(lat)  # sin θ, computed directly
                c1[k] = -math.cos(lon)  # cos φ, φ = lon + 180°
                s1[k] = -math.sin(lon)  # sin φ
                cm[k] = 1.0
                sm[k] = 0.0
                pmm[k] = _Y00
                p0[k] = _Y00 * m0
                buf[0, k] = p0[k]
            if L > 1:
                for k in range(_BLOCK):
                    p1[k] = e[0] * x[k] * p0[k]
                    buf[2, k] = p1[k]
                for ell in range(2, L):
                    al = a[ell, 0]
                    bl = ab[ell, 0]
                    r = ell * ell + ell
                    for k in range(_BLOCK):
                        v = (al * x[k]) * p1[k] - bl * p0[k]
                        buf[r, k] = v
                        p0[k] = p1[k]
                        p1[k] = v
            for m in range(1, L):
                dm = d[m] * sign
                r = m * m + m
                for k in range(_BLOCK):  # sectoral term l = m, and cos/sin of mφ
                    v = pmm[k] * dm * s[k]
                    if abs(v) < _FLUSH:
                        v = 0.0
                    pmm[k] = v
                    t = cm[k] * c1[k] - sm[k] * s1[k]
                    sm[k] = sm[k] * c1[k] + cm[k] * s1[k]
                    cm[k] = t
                    p0[k] = v * _SQRT2
                    buf[r + m, k] = p0[k] * cm[k]
                    buf[r - m, k] = p0[k] * sm[k]
                if m + 1 < L:
                    em = e[m]
                    r = (m + 1) * (m + 1) + m + 1
                    for k in range(_BLOCK):
                        p1[k] = em * x[k] * p0[k]
                        buf[r + m, k] = p1[k] * cm[k]
                        buf[r - m, k] = p1[k] * sm[k]
                    for ell in range(m + 2, L):
                        al = a[ell, m]
                        bl = ab[ell, m]
                        r = ell * ell + ell
                        for k in range(_BLOCK):
                            v = (al * x[k]) * p1[k] - bl * p0[k]
                            buf[r + m, k] = v * cm[k]
                            buf[r - m, k] = v * sm[k]
                            p0[k] = p1[k]
                            p1[k] = v
            for k in range(_BLOCK):  # the block's rows, each written contiguously
                for j in range(L * L):
                    out[i0 + k, j] = buf[j, k]


if numba is not None:
    prange = numba.prange
    # The same kernel compiled twice: threads pay off on large inputs, but on small
    # batches (training steps) waking them costs more than the work, and far more when
    # the cores are busy, so inputs below _PARALLEL_MIN points run serially.
    # numba names its on-disk cache after the function's qualified name and line, so
    # the serial copy gets its own name: otherwise both share one cache entry and the
    # "parallel" kernel can load the serial machine code.
    _serial_py = types.FunctionType(_kernel.__code__, _kernel.__globals__, "_kernel_serial")
    _serial_py.__qualname__ = "_kernel_serial"
    _kernel_serial = numba.njit(parallel=False, fastmath=False, cache=True)(_serial_py)
    _kernel = numba.njit(parallel=True, fastmath=False, cache=True)(_kernel)
else:  # pragma: no cover
    prange = range
    _kernel_serial = _kernel

_PARALLEL_MIN = 16384


def _fill(ll: np.ndarray, L: int, convention: str, out: np.ndarray) -> None:
    """Run the kernel on validated float64 (n, 2) ``ll`` into C-contiguous ``out``."""
    sign, m0 = _CONVENTION_FACTORS[convention]
    a, ab, d, e = _coefficients(L)
    n = ll.shape[0]
    nmain = n - n % _BLOCK
    if nmain >= _PARALLEL_MIN:
        nchunk = min(nmain // _BLOCK, 8 * numba.get_num_threads())
        _kernel(ll[:nmain], L, a, ab, d, e, sign, m0, nchunk, out[:nmain])
    elif nmain:
        _kernel_serial(ll[:nmain], L, a, ab, d, e, sign, m0, 1, out[:nmain])
    if nmain < n:  # pad the last few points to one full block
        pad = np.empty((_BLOCK, 2))
        pad[:] = ll[-1]
        pad[: n - nmain] = ll[nmain:]
        tmp = np.empty((_BLOCK, L * L), out.dtype)
        _kernel_serial(pad, L, a, ab, d, e, sign, m0, 1, tmp)
        out[nmain:] = tmp[: n - nmain]


# --------------------------------------------------------------------------- torch path


def _sh_torch(lonlat: torch.Tensor, L: int, convention: str) -> torch.Tensor:
    """Vectorised, differentiable recurrence (loop over l; points × m in each step)."""
    dev = lonlat.device
    cdt = torch.float32 if dev.type == "mps" else torch.float64  # MPS has no float64
    sign, m0 = _CONVENTION_FACTORS[convention]
    a, ab, d, e = (torch.tensor(c.tolist(), dtype=cdt, device=dev) for c in _coefficients(L))
    lon = lonlat[:, 0].to(cdt) * _DEG
    lat = lonlat[:, 1].to(cdt) * _DEG
    x = (-torch.sin(lat))[:, None]  # cos θ
    s = torch.cos(lat)[:, None]  # sin θ
    n = lonlat.shape[0]
    ones = torch.ones(n, 1, dtype=cdt, device=dev)
    if L > 1:  # sectoral terms P̄_m^m for all m at once
        sect = _Y00 * torch.cat([ones, torch.cumprod((sign * s) * d[1:], dim=1)], dim=1)
    else:
        sect = _Y00 * ones
    # √2 cos(mφ) and √2 sin(mφ) with φ = lon + 180°, i.e. √2 (-1)^m cos/sin(m lon)
    orders = torch.arange(L, dtype=cdt, device=dev)
    alt = _SQRT2 * (1 - 2 * (orders % 2))
    mlon = lon[:, None] * orders
    cos_m = torch.cos(mlon) * alt
    sin_rev = (torch.sin(mlon) * alt).flip(1)  # column j holds order m = L - 1 - j
    out = torch.empty(n, L * L, dtype=lonlat.dtype, device=dev)  # slices cast on write
    out[:, :1] = sect[:, :1] * m0
    prev2, prev1 = None, sect[:, :1]
    for ell in range(1, L):
        parts = []
        if ell >= 2:
            parts.append((a[ell, : ell - 1] * x) * prev1[:, : ell - 1] - ab[ell, : ell - 1] * prev2)
        parts.append((e[ell - 1] * x) * prev1[:, ell - 1 : ell])
        parts.append(sect[:, ell : ell + 1])
        cur = torch.cat(parts, dim=1)  # P̄_l^m, m = 0 … l
        r = ell * ell + ell  # column of order m = 0
        out[:, r - ell : r] = cur[:, 1:].flip(1) * sin_rev[:, L - 1 - ell : L - 1]  # m < 0
        out[:, r : r + 1] = cur[:, :1] * m0
        out[:, r + 1 : r + ell + 1] = cur[:, 1:] * cos_m[:, 1 : ell + 1]  # m > 0
        prev2, prev1 = prev1, cur
    return out


# --------------------------------------------------------------------------- public API


def spherical_harmonics(
    lonlat, L: int, *, convention: str = "satclip", dtype=np.float32, out=None
) -> np.ndarray:
    """Real spherical harmonics of degree < ``L`` at (lon, lat) points, in one fused pass.

    Parameters
    ----------
    lonlat : array_like, shape (n, 2)
        Longitude and latitude in **degrees**, lon first; lon in [-180, 180], lat in
        [-90, 90].
    L : int
        Number of degrees, 1 … 100; gives ``L * L`` features (l = 0 … L-1).
    convention : {"satclip", "cs", "nocs"}
        ``"satclip"`` (default) reproduces SatCLIP's released checkpoints (no
        Condon–Shortley phase, m = 0 features × π); ``"cs"`` is orthonormal with the
        Condon–Shortley phase; ``"nocs"`` orthonormal without it. See the module docstring
        for the exact functions.
    dtype : {numpy.float32, numpy.float64}
        Output dtype; the computation is float64 either way.
    out : numpy.ndarray, optional
        C-contiguous (n, L*L) array of ``dtype`` to write into.

    Returns
    -------
    numpy.ndarray, shape (n, L*L)
        Feature ``l**2 + l + m`` is :math:`Y_{l,m}` (order m = -l … l within each l).

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.encoders.harmonics import spherical_harmonics
    >>> Y = spherical_harmonics(np.array([[0.0, 0.0], [-73.9, 40.7]]), L=3)
    >>> Y.shape, Y.dtype
    ((2, 9), dtype('float32'))
    >>> round(float(Y[0, 0]), 4)  # SatCLIP's Yl0_m0 = sqrt(pi) / 2
    0.8862
    """
    L = _check_degree(L)
    convention = _check_convention(convention)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64; got {dtype}.")
    ll = _as_lonlat_array(lonlat)
    n = ll.shape[0]
    if out is None:
        out = np.empty((n, L * L), dtype)
    elif (
        not isinstance(out, np.ndarray)
        or out.shape != (n, L * L)
        or out.dtype != dtype
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        got = (getattr(out, "shape", None), getattr(out, "dtype", type(out).__name__))
        raise ValueError(
            f"out must be a writeable C-contiguous array of shape {(n, L * L)} and dtype "
            f"{dtype}; got shape/dtype {got}."
        )
    if n == 0:
        return out
    if numba is None:  # pragma: no cover
        out[...] = _sh_torch(torch.from_numpy(ll), L, convention).numpy()
        return out
    _fill(ll, L, convention, out)
    return out


class SphericalHarmonics(nn.Module):
    """Spherical-harmonic positional encoding as a torch module (SatCLIP's ``L²`` features).

    On CPU, when no gradient with respect to the coordinates is needed, the fused numba
    kernel computes the features (``torch.from_numpy`` of its output, no copy); otherwise a
    vectorised torch recurrence does, which is differentiable and runs on CUDA. Both
    accumulate in float64 and agree to ~1e-13.

    Parameters
    ----------
    L : int
        Number of degrees (1 … 100): ``out_features = L * L``.
    convention : {"satclip", "cs", "nocs"}
        See :func:`spherical_harmonics` and the module docstring.
    backend : {"auto", "numba", "torch"}
        Force one path (for tests and benchmarks); ``"auto"`` picks as described above.

    Examples
    --------
    >>> import torch
    >>> from sdmkit.encoders.harmonics import SphericalHarmonics
    >>> sh = SphericalHarmonics(L=10)
    >>> sh(torch.tensor([[2.35, 48.85]])).shape
    torch.Size([1, 100])
    """

    def __init__(self, L: int = 10, convention: str = "satclip", *, backend: str = "auto"):
        super().__init__()
        self.L = _check_degree(L)
        self.convention = _check_convention(convention)
        if backend not in ("auto", "numba", "torch"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'torch'; got {backend!r}.")
        if backend == "numba" and numba is None:  # pragma: no cover
            raise ImportError("backend='numba' needs numba: pip install numba")
        self.backend = backend
        self.out_features = self.L * self.L

    def _uses_numba(self, lonlat: torch.Tensor) -> bool:
        if self.backend != "auto":
            return self.backend == "numba"
        return (
            numba is not None
            and lonlat.device.type == "cpu"
            and (not torch.is_grad_enabled() or not lonlat.requires_grad)
        )

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Encode an (n, 2) tensor of (lon, lat) degrees into (n, L*L), same dtype."""
        lonlat = _check_tensor(lonlat)
        if not self._uses_numba(lonlat):
            return _sh_torch(lonlat, self.L, self.convention)
        if lonlat.device.type != "cpu":
            raise ValueError("backend='numba' runs on CPU tensors only; use backend='auto'.")
        arr = lonlat.detach().numpy()
        res = np.empty((arr.shape[0], self.out_features), arr.dtype)
        if arr.shape[0]:
            _fill(np.ascontiguousarray(arr, dtype=np.float64), self.L, self.convention, res)
        return torch.from_numpy(res)

    def extra_repr(self) -> str:
        return f"L={self.L}, convention={self.convention!r}, out_features={self.out_features}"


def closed_form_reference(lonlat, L: int) -> torch.Tensor:
    """Per-(l, m) torch loop in the style of SatCLIP's ``closed-form`` path (slow).

    Evaluates each feature separately: the textbook upward recurrence for the
    unnormalised :math:`P_l^m` with the Condon–Shortley phase, started from
    :math:`\\sqrt{1-\\cos^2\\theta}`, times a factorial normalisation. It computes the
    ``"cs"`` convention and exists as the peer in the benchmark. Above l + m ≈ 170 the
    factorial ratio underflows and the features come out as 0, as upstream.

    Parameters
    ----------
    lonlat : torch.Tensor or array_like, shape (n, 2)
        (lon, lat) in degrees; a float32 tensor is computed in float32.
    L : int
        Number of degrees (1 … 100).

    Returns
    -------
    torch.Tensor, shape (n, L*L)

    Examples
    --------
    >>> import torch
    >>> from sdmkit.encoders.harmonics import closed_form_reference
    >>> closed_form_reference(torch.tensor([[10.0, 20.0]], dtype=torch.float64), 2).shape
    torch.Size([1, 4])
    """
    L = _check_degree(L)
    t = _check_tensor(lonlat)
    phi = torch.deg2rad(t[:, 0] + 180)
    x = torch.cos(torch.deg2rad(t[:, 1] + 90))
    cols = []
    for ell in range(L):
        for m in range(-ell, ell + 1):
            am = abs(m)
            p = _legendre_cs(ell, am, x)
            k = math.sqrt(
                (2 * ell + 1)
                / (4 * math.pi)
                * (math.factorial(ell - am) / math.factorial(ell + am))
            )
            if m == 0:
                cols.append(k * p)
            elif m > 0:
                cols.append(_SQRT2 * k * torch.cos(m * phi) * p)
            else:
                cols.append(_SQRT2 * k * torch.sin(am * phi) * p)
    return torch.stack(cols, dim=-1)


def _legendre_cs(ell: int, m: int, x: torch.Tensor) -> torch.Tensor:
    """Unnormalised P_l^m(x) with the Condon–Shortley phase, by the textbook recurrence."""
    sectoral = torch.ones_like(x)
    if m:
        root = torch.sqrt((1 - x) * (1 + x))
        for k in range(1, m + 1):
            sectoral = sectoral * -(2 * k - 1) * root
    if ell == m:
        return sectoral
    lower, upper = sectoral, (2 * m + 1) * x * sectoral
    for ll in range(m + 2, ell + 1):
        lower, upper = upper, ((2 * ll - 1) * x * upper - (ll + m - 1) * lower) / (ll - m)
    return upper
