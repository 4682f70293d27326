"""Spherical harmonics: accuracy against scipy, SatCLIP's conventions, both paths, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from sdmkit._validation import ValidationError
from sdmkit.encoders.harmonics import (
    CONVENTIONS,
    SphericalHarmonics,
    closed_form_reference,
    spherical_harmonics,
)

# poles, the antimeridian from both sides, and their corners
EDGES = np.array(
    [
        [-180, 0],
        [180, 0],
        [0, 90],
        [0, -90],
        [-180, 90],
        [180, -90],
        [37.5, 90],
        [-37.5, -90],
        [180, 45.0],
        [-180, -45.0],
        [0, 0],
        [-179.999, 89.999],
        [179.999, -89.999],
    ],
    dtype=np.float64,
)


def points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rand = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])
    return np.concatenate([rand, EDGES])


def scipy_real_sh(lonlat: np.ndarray, L: int, convention: str) -> np.ndarray:
    """Real SH built from scipy's complex sph_harm_y (which includes the CS phase)."""
    theta = np.deg2rad(lonlat[:, 1] + 90.0)  # SatCLIP: polar angle from lat + 90°
    phi = np.deg2rad(lonlat[:, 0] + 180.0)  # azimuth from lon + 180°
    out = np.empty((len(lonlat), L * L))
    for ell in range(L):
        for m in range(-ell, ell + 1):
            y = sph_harm_y(ell, abs(m), theta, phi)  # (n, m, polar, azimuth)
            phase = 1.0 if convention == "cs" else (-1.0) ** abs(m)  # undo CS unless wanted
            if m > 0:
                v = math.sqrt(2) * phase * y.real
            elif m < 0:
                v = math.sqrt(2) * phase * y.imag
            else:
                v = y.real * (math.pi if convention == "satclip" else 1.0)
            out[:, ell * ell + ell + m] = v
    return out


def orders(L: int) -> np.ndarray:
    return np.array([m for ell in range(L) for m in range(-ell, ell + 1)])


# --------------------------------------------------------------------------- accuracy


@pytest.fixture(scope="module")
def scipy_L40():
    ll = points(300)
    return ll, {c: scipy_real_sh(ll, 40, c) for c in CONVENTIONS}


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_float64_matches_scipy_at_L40_with_poles_and_antimeridian(convention, scipy_L40):
    ll, ref = scipy_L40[0], scipy_L40[1][convention]
    got = spherical_harmonics(ll, 40, convention=convention, dtype=np.float64)
    assert got.dtype == np.float64 and got.shape == (len(ll), 1600)
    assert np.abs(got - ref).max() <= 1e-12
    torch_path = SphericalHarmonics(40, convention, backend="torch")(torch.from_numpy(ll))
    assert np.abs(torch_path.numpy() - ref).max() <= 1e-12


def test_float32_error_at_L40_is_below_1e5(scipy_L40):
    ll, ref = scipy_L40[0], scipy_L40[1]["satclip"]
    got = spherical_harmonics(ll, 40)  # float32 by default
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() <= 1e-5
    # float32 *input* through torch: compare at the coordinates float32 can hold
    ll32 = torch.from_numpy(ll).float()
    ref32 = scipy_real_sh(ll32.double().numpy(), 40, "satclip")
    for backend in ("numba", "torch"):
        out = SphericalHarmonics(40, backend=backend)(ll32)
        assert out.dtype == torch.float32
        assert np.abs(out.double().numpy() - ref32).max() <= 1e-5


def test_L100_has_no_overflow_and_matches_scipy():
    ll = np.concatenate([points(20, seed=2), [[12.0, 89.9999], [-77.0, -89.9999], [5.0, 1e-9]]])
    ref = scipy_real_sh(ll, 100, "cs")
    for backend in ("numba", "torch"):
        got = SphericalHarmonics(100, "cs", backend=backend)(torch.from_numpy(ll)).numpy()
        assert np.isfinite(got).all()
        assert np.abs(got - ref).max() <= 1e-10
    assert np.isfinite(spherical_harmonics(ll, 100, dtype=np.float32)).all()


def test_satclip_convention_matches_its_analytic_formulas_up_to_l3():
    # SatCLIP's SymPy-generated functions (spherical_harmonics_ylm.py), written out by hand;
    # θ = radians(lat + 90), φ = radians(lon + 180); note the π on every m = 0 term.
    # Upstream writes sin θ as (1 - cos²θ)**0.5, which is equal on [0, π] but loses
    # digits near the poles (~1e-12 here): sin θ is used instead.
    def satclip_l3(theta, phi):
        c, s = np.cos(theta), np.sin(theta)
        return np.column_stack(
            [
                np.full_like(theta, 0.886226925452758),
                0.48860251190292 * s * np.sin(phi),
                1.53499006191973 * c,
                0.48860251190292 * s * np.cos(phi),
                0.18209140509868 * (3.0 - 3.0 * c**2) * np.sin(2 * phi),
                1.09254843059208 * s * np.sin(phi) * c,
                2.97249547320451 * c**2 - 0.990831824401503,
                1.09254843059208 * s * np.cos(phi) * c,
                0.18209140509868 * (3.0 - 3.0 * c**2) * np.cos(2 * phi),
                0.590043589926644 * s**3 * np.sin(3 * phi),
                1.44530572132028 * s**2 * np.sin(2 * phi) * c,
                0.304697199642977 * s * (7.5 * c**2 - 1.5) * np.sin(phi),
                5.86184012479344 * c**3 - 3.51710407487606 * c,
                0.304697199642977 * s * (7.5 * c**2 - 1.5) * np.cos(phi),
                1.44530572132028 * s**2 * np.cos(2 * phi) * c,
                0.590043589926644 * s**3 * np.cos(3 * phi),
            ]
        )

    ll = points(200, seed=3)
    want = satclip_l3(np.deg2rad(ll[:, 1] + 90), np.deg2rad(ll[:, 0] + 180))
    got = spherical_harmonics(ll, 4, dtype=np.float64)
    assert np.abs(got - want).max() <= 1e-12
    # Y_1^1 = +sqrt(3/4π) sin θ cos φ: positive where cos φ > 0, i.e. |lon| > 90° on the equator
    assert spherical_harmonics([[135.0, 0.0]], 2, dtype=np.float64)[0, 3] > 0


def test_conventions_differ_exactly_by_phase_and_the_m0_factor():
    ll = points(100, seed=4)
    m = orders(12)
    y = {c: spherical_harmonics(ll, 12, convention=c, dtype=np.float64) for c in CONVENTIONS}
    odd, zero = m % 2 == 1, m == 0
    np.testing.assert_array_equal(y["cs"][:, odd], -y["nocs"][:, odd])
    np.testing.assert_array_equal(y["cs"][:, ~odd], y["nocs"][:, ~odd])
    np.testing.assert_allclose(y["satclip"][:, zero], math.pi * y["nocs"][:, zero], atol=1e-14)
    np.testing.assert_array_equal(y["satclip"][:, ~zero], y["nocs"][:, ~zero])


def test_features_are_geographic_harmonics_up_to_minus_one_to_the_l():
    # θ = lat + 90° and φ = lon + 180° turn the usual colatitude/longitude harmonic
    # (no CS phase) into (-1)^l times it: P_l^m(-x) = (-1)^(l+m) P_l^m(x), and (-1)^m from φ.
    ll = points(50, seed=5)
    L = 8
    colat, lon = np.deg2rad(90 - ll[:, 1]), np.deg2rad(ll[:, 0])
    want = np.empty((len(ll), L * L))
    for ell in range(L):
        for m in range(-ell, ell + 1):
            y = (-1.0) ** abs(m) * sph_harm_y(ell, abs(m), colat, lon)
            v = math.sqrt(2) * (y.real if m > 0 else y.imag) if m else y.real
            want[:, ell * ell + ell + m] = (-1.0) ** ell * v
    got = spherical_harmonics(ll, L, convention="nocs", dtype=np.float64)
    np.testing.assert_allclose(got, want, atol=1e-13)


def test_input_is_degrees():
    y = spherical_harmonics([[90.0, 0.0]], 2, dtype=np.float64)[0]
    k = math.sqrt(3 / (4 * math.pi))
    # φ = 270°, θ = 90°: [sqrt(π)/2, k sin 270°, π k cos 90°, k cos 270°]
    np.testing.assert_allclose(y, [math.sqrt(math.pi) / 2, -k, 0.0, 0.0], atol=1e-15)
    radians = spherical_harmonics([[math.pi / 2, 0.0]], 2, dtype=np.float64)[0]
    assert not np.allclose(radians, y)


# --------------------------------------------------------------------------- the two paths


@pytest.mark.parametrize("n", [1, 15, 16, 17, 100])
def test_numba_and_torch_paths_agree(n):
    ll = torch.from_numpy(points(n, seed=6)[:n])
    a = SphericalHarmonics(40, "satclip", backend="numba")(ll)
    b = SphericalHarmonics(40, "satclip", backend="torch")(ll)
    assert a.shape == b.shape == (n, 1600)
    assert (a - b).abs().max().item() <= 1e-12


def test_auto_backend_uses_numba_unless_a_gradient_is_needed():
    sh = SphericalHarmonics(10)
    ll = torch.tensor([[10.0, 20.0], [-30.0, 40.0]], dtype=torch.float64)
    assert sh._uses_numba(ll)
    with torch.no_grad():
        assert sh._uses_numba(ll.clone().requires_grad_())
    needs_grad = ll.clone().requires_grad_()
    assert not sh._uses_numba(needs_grad)
    out = sh(needs_grad)
    assert out.requires_grad
    out.sum().backward()
    assert torch.isfinite(needs_grad.grad).all()
    assert sh(ll.float()).dtype == torch.float32 and sh(ll).dtype == torch.float64
    assert sh.out_features == 100 and len(sh.state_dict()) == 0 and "L=10" in repr(sh)


@pytest.mark.parametrize("convention", ["satclip", "cs"])
def test_gradcheck(convention):
    sh = SphericalHarmonics(5, convention, backend="torch")
    ll = torch.tensor(
        [[10.0, 20.0], [-170.0, -80.0], [100.0, 89.0], [0.5, -0.5]], dtype=torch.float64
    ).requires_grad_()
    assert torch.autograd.gradcheck(sh, (ll,), eps=1e-6, atol=1e-7)


def test_gradient_is_finite_at_the_poles():
    ll = torch.tensor([[0.0, 90.0], [45.0, -90.0]], dtype=torch.float64, requires_grad=True)
    SphericalHarmonics(10, backend="torch")(ll).pow(2).sum().backward()
    assert torch.isfinite(ll.grad).all()


def test_closed_form_reference_is_the_cs_convention():
    ll = points(40, seed=7)
    got = closed_form_reference(torch.from_numpy(ll), 12)
    want = spherical_harmonics(ll, 12, convention="cs", dtype=np.float64)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_out_argument_and_empty_input():
    ll = points(10)
    out = np.full((len(ll), 25), np.nan, dtype=np.float64)
    res = spherical_harmonics(ll, 5, dtype=np.float64, out=out)
    assert res is out and np.isfinite(out).all()
    assert spherical_harmonics(np.empty((0, 2)), 5).shape == (0, 25)
    assert SphericalHarmonics(5)(torch.empty(0, 2)).shape == (0, 25)
    assert SphericalHarmonics(5, backend="torch")(torch.empty(0, 2)).shape == (0, 25)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_matches_the_numba_kernel():
    ll = points(500, seed=8)
    cuda = torch.from_numpy(ll).cuda().requires_grad_()
    out = SphericalHarmonics(40, backend="auto")(cuda)
    assert out.is_cuda and out.requires_grad
    want = spherical_harmonics(ll, 40, dtype=np.float64)
    assert np.abs(out.detach().cpu().numpy() - want).max() <= 1e-12
    out.sum().backward()
    assert torch.isfinite(cuda.grad).all()
    out32 = SphericalHarmonics(40)(cuda.detach().float())
    ref32 = scipy_real_sh(cuda.detach().float().double().cpu().numpy(), 40, "satclip")
    assert out32.dtype == torch.float32
    assert np.abs(out32.cpu().double().numpy() - ref32).max() <= 1e-5


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("lonlat", "match"),
    [
        ([[0.0, np.nan], [1.0, 2.0]], r"NaN or infinite .* rows \[0\]"),
        ([[0.0, 0.0], [np.inf, 2.0]], r"NaN or infinite .* rows \[1\]"),
        ([[10.0, 95.0]], r"latitude .* rows \[0\] have \[95.0\].*swapped"),
        ([[-150.0, 0.0], [10.0, -91.0]], r"latitude .* rows \[1\]"),
        ([[190.0, 10.0]], r"longitude .* \[190.0\].*% 360"),
        ([[1.0, 2.0, 3.0]], r"shape \(n, 2\).*got shape \(1, 3\)"),
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], r"transposed"),
        ([1.0, 2.0], r"single point"),
        ([["a", "b"]], r"real numbers"),
    ],
)
def test_bad_coordinates_raise_validation_errors(lonlat, match):
    with pytest.raises(ValidationError, match=match):
        spherical_harmonics(lonlat, 3)
    if np.asarray(lonlat).dtype.kind == "f":
        with pytest.raises(ValidationError, match=match):
            SphericalHarmonics(3)(torch.tensor(lonlat, dtype=torch.float64))


@pytest.mark.parametrize("L", [0, 101, 2.5, True, "10"])
def test_bad_degree(L):
    with pytest.raises(ValueError, match="L must"):
        spherical_harmonics([[0.0, 0.0]], L)
    with pytest.raises(ValueError, match="L must"):
        SphericalHarmonics(L)


def test_bad_options():
    with pytest.raises(ValueError, match="Unknown convention 'wiki'"):
        spherical_harmonics([[0.0, 0.0]], 3, convention="wiki")
    with pytest.raises(ValueError, match="Unknown convention"):
        SphericalHarmonics(3, "CS")
    with pytest.raises(ValueError, match="dtype must be"):
        spherical_harmonics([[0.0, 0.0]], 3, dtype=np.int32)
    with pytest.raises(ValueError, match="out must be"):
        spherical_harmonics([[0.0, 0.0]], 3, out=np.empty((1, 9), np.float64))
    with pytest.raises(ValueError, match="backend"):
        SphericalHarmonics(3, backend="jax")


@pytest.mark.parametrize("dtype", [torch.int64, torch.float16])
def test_module_rejects_other_tensor_dtypes(dtype):
    with pytest.raises(ValidationError, match="float32 or float64"):
        SphericalHarmonics(3)(torch.zeros(2, 2, dtype=dtype))
