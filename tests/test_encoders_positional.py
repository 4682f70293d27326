"""Tests for sdmkit.encoders.positional (all synthetic, fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sdmkit._validation import ValidationError
from sdmkit.encoders import positional as pe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


RNG = np.random.default_rng(0)
POINTS = np.column_stack([RNG.uniform(-180, 180, 50), RNG.uniform(-90, 90, 50)])
POINTS = np.vstack([POINTS, [[180, 0], [-180, 0], [0, 90], [0, -90], [180, 90]]])

# class, numpy function, width (fixed encodings) or features per scale (multi-scale)
SIMPLE = [(pe.Wrap, pe.wrap, 4), (pe.Direct, pe.direct, 2), (pe.Cartesian3D, pe.cartesian3d, 3)]
MULTISCALE = [
    (pe.Space2VecGrid, pe.space2vec_grid, 4),
    (pe.Space2VecTheory, pe.space2vec_theory, 6),
    (pe.SphereC, pe.sphere_c, 3),
    (pe.SphereCPlus, pe.sphere_c_plus, 6),
    (pe.SphereM, pe.sphere_m, 5),
    (pe.SphereMPlus, pe.sphere_m_plus, 8),
]
ALL_MODULES = [
    pe.Wrap(),
    pe.Direct(),
    pe.Cartesian3D(),
    *(cls(frequency_num=5) for cls, _, _ in MULTISCALE),
    pe.RandomFourierFeatures(n_frequencies=16),
]


# --------------------------------------------------------------------------- shapes, dtypes


@pytest.mark.parametrize(("cls", "fn", "width"), SIMPLE)
def test_simple_shapes_and_numpy_function(cls, fn, width):
    mod = cls()
    assert mod.out_features == width
    out = mod(torch.from_numpy(POINTS))
    assert out.shape == (len(POINTS), width)
    np.testing.assert_allclose(fn(POINTS), out.numpy(), atol=1e-12)


@pytest.mark.parametrize(("cls", "fn", "per_scale"), MULTISCALE)
@pytest.mark.parametrize("frequency_num", [1, 7])
def test_multiscale_shapes_and_numpy_function(cls, fn, per_scale, frequency_num):
    mod = cls(frequency_num=frequency_num, min_radius=2.0, max_radius=200.0)
    assert mod.out_features == per_scale * frequency_num
    out = mod(torch.from_numpy(POINTS))
    assert out.shape == (len(POINTS), mod.out_features)
    assert torch.isfinite(out).all()
    got = fn(POINTS, frequency_num=frequency_num, min_radius=2.0, max_radius=200.0)
    np.testing.assert_allclose(got, out.numpy(), atol=1e-12)


@pytest.mark.parametrize("mod", ALL_MODULES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_preserved(mod, dtype):
    x = torch.from_numpy(POINTS).to(dtype)
    out = mod(x)
    assert out.dtype == dtype
    assert out.shape == (len(POINTS), mod.out_features)
    # float32 agrees with float64 (RFF's sigma = 256 branch has phases ~1e4 rad, so
    # float32 rounding of the phase alone is ~1e-3)
    ref = mod(torch.from_numpy(POINTS)).to(dtype)
    atol = 2e-3 if isinstance(mod, pe.RandomFourierFeatures) else 2e-4
    torch.testing.assert_close(out, ref, atol=atol, rtol=0)


@pytest.mark.parametrize("fn", [pe.wrap, pe.sphere_m, pe.random_fourier_features, pe.equal_earth])
def test_numpy_functions_keep_dtype_and_accept_ints(fn):
    assert fn(POINTS.astype(np.float32)).dtype == np.float32
    assert fn(POINTS).dtype == np.float64
    assert fn(np.array([[10, 20]])).dtype == np.float64  # integers become float64
    assert fn(POINTS[:, ::-1][:, ::-1]).shape[0] == len(POINTS)  # non-contiguous view


@pytest.mark.parametrize("mod", ALL_MODULES, ids=lambda m: type(m).__name__)
def test_gradients_flow(mod):
    x = torch.tensor([[12.5, 41.9], [-70.0, -33.4]], dtype=torch.float64, requires_grad=True)
    out = mod(x)
    weights = torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)  # not a norm: wrap has |.|=1
    (out * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_empty_input_gives_empty_output():
    assert pe.SphereC(frequency_num=3)(torch.zeros(0, 2)).shape == (0, 9)


# --------------------------------------------------------------------------- values


def test_wrap_degrees_not_radians():
    out = pe.wrap(np.array([[0.0, 0.0], [90.0, 0.0], [-90.0, 30.0], [180.0, -90.0]]))
    expected = np.array(
        [
            [1, 0, 1, 0],
            [0, 1, 1, 0],
            [0, -1, math.sqrt(3) / 2, 0.5],
            [-1, 0, 0, -1],
        ]
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)
    # reading 90 as radians would give cos(90) = -0.448..., not 0
    assert not np.isclose(out[1, 0], math.cos(90.0))


def test_direct_scaling():
    np.testing.assert_allclose(pe.direct([[-180.0, 90.0], [45.0, -45.0]]), [[-1, 1], [0.25, -0.5]])


def test_cartesian3d_poles_and_antimeridian():
    out = pe.cartesian3d(
        np.array([[0.0, 90.0], [123.0, 90.0], [0.0, -90.0], [180.0, 10.0], [-180.0, 10.0]])
    )
    np.testing.assert_allclose(out[0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(out[1], [0, 0, 1], atol=1e-12)  # any lon at the pole
    np.testing.assert_allclose(out[2], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(out[3], out[4], atol=1e-12)  # lon = 180 and -180 coincide
    np.testing.assert_allclose(np.linalg.norm(pe.cartesian3d(POINTS), axis=1), 1.0)
    np.testing.assert_allclose(pe.cartesian3d([[90.0, 0.0]]), [[0, 1, 0]], atol=1e-12)


def test_geometric_frequencies():
    mod = pe.Space2VecGrid(frequency_num=3, min_radius=1.0, max_radius=100.0)
    np.testing.assert_allclose(mod.frequencies, [1.0, 0.1, 0.01])
    assert pe.SphereC(frequency_num=1, min_radius=4.0).frequencies == [0.25]
    defaults = pe.SphereC()
    assert (defaults.frequency_num, defaults.min_radius, defaults.max_radius) == (10, 1.0, 360.0)
    with pytest.raises(ValueError, match="min_radius"):
        pe.SphereC(min_radius=10.0, max_radius=1.0)
    with pytest.raises(ValueError, match="frequency_num"):
        pe.Space2VecTheory(frequency_num=0)


def test_grid_hand_computed():
    lon, lat = 30.0, -20.0
    out = pe.space2vec_grid([[lon, lat]], frequency_num=2, min_radius=2.0, max_radius=8.0)[0]
    f = [0.5, 0.125]
    expected = []
    for c in (lon, lat):
        for fs in f:
            expected += [math.sin(c * fs), math.cos(c * fs)]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_theory_hand_computed():
    lon, lat = 30.0, -20.0
    out = pe.space2vec_theory([[lon, lat]], frequency_num=2, min_radius=2.0, max_radius=8.0)[0]
    d = [
        lon,
        -0.5 * lon + math.sqrt(3) / 2 * lat,
        -0.5 * lon - math.sqrt(3) / 2 * lat,
    ]
    expected = []
    for fs in (0.5, 0.125):
        for dj in d:
            expected += [math.sin(dj * fs), math.cos(dj * fs)]
    np.testing.assert_allclose(out, expected, atol=1e-12)


def _sphere_reference(lon, lat, f, kind):
    """Scalar transcription of Sphere2Vec (TorchSpatial formulas, sdmkit radius units)."""
    lam, phi = math.radians(lon), math.radians(lat)
    ls, ps = lon * f, lat * f
    s, c = math.sin, math.cos
    return {
        "c": [s(ps), c(ps) * c(ls), c(ps) * s(ls)],
        "c+": [s(ps), c(ps), s(ls), c(ls), c(ps) * c(ls), c(ps) * s(ls)],
        "m": [s(ps), c(ps) * c(lam), c(phi) * c(ls), c(ps) * s(lam), c(phi) * s(ls)],
        "m+": [
            s(ps), c(ps), s(ls), c(ls),
            c(ps) * c(lam), c(phi) * c(ls), c(ps) * s(lam), c(phi) * s(ls),
        ],
    }[kind]  # fmt: skip


@pytest.mark.parametrize(
    ("fn", "kind"),
    [(pe.sphere_c, "c"), (pe.sphere_c_plus, "c+"), (pe.sphere_m, "m"), (pe.sphere_m_plus, "m+")],
)
def test_sphere2vec_hand_computed(fn, kind):
    pts = [(30.0, 60.0), (-150.0, -45.0), (180.0, 89.0)]
    out = fn(np.array(pts), frequency_num=3, min_radius=1.0, max_radius=100.0)
    for row, (lon, lat) in zip(out, pts):
        expected = []
        for f in (1.0, 0.1, 0.01):  # finest scale first
            expected += _sphere_reference(lon, lat, f, kind)
        np.testing.assert_allclose(row, expected, atol=1e-12)


def test_spherec_at_unit_radius_is_the_sphere():
    # r = 180/pi degrees turns the scaled angle into radians: sphereC = (z, x, y).
    out = pe.sphere_c(POINTS, frequency_num=1, min_radius=180 / math.pi, max_radius=180 / math.pi)
    xyz = pe.cartesian3d(POINTS)
    np.testing.assert_allclose(out, xyz[:, [2, 0, 1]], atol=1e-12)
    # and it is continuous across the antimeridian
    np.testing.assert_allclose(
        pe.sphere_m([[180.0, 5.0]], min_radius=180 / math.pi, frequency_num=1),
        pe.sphere_m([[-180.0, 5.0]], min_radius=180 / math.pi, frequency_num=1),
        atol=1e-12,
    )


# --------------------------------------------------------------------------- RFF / Equal Earth


def test_equal_earth_matches_pyproj():
    pyproj = pytest.importorskip("pyproj")
    x, y = pyproj.Proj("+proj=eqearth +R=1")(POINTS[:, 0], POINTS[:, 1])
    np.testing.assert_allclose(pe.equal_earth(POINTS), np.column_stack([x, y]), atol=1e-9)


def test_equal_earth_geoclip_scaling():
    rff = pe.RandomFourierFeatures(n_frequencies=4)
    v = rff.project(torch.tensor([[180.0, 0.0], [-180.0, 0.0], [0.0, 90.0]], dtype=torch.float64))
    np.testing.assert_allclose(v[:, 0].numpy(), [1.0, -1.0, 0.0], atol=1e-5)
    assert 0.48 < v[2, 1] < 0.49


def _geoclip_style_equal_earth(latlon: torch.Tensor) -> torch.Tensor:
    """GeoCLIP's formulas written out independently: input (lat, lon) degrees."""
    a1, a2, a3, a4, sf = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336
    lat, lon = torch.deg2rad(latlon[:, 0]), torch.deg2rad(latlon[:, 1])
    theta = torch.asin(math.sqrt(3) / 2 * torch.sin(lat))
    den = 3 * (9 * a4 * theta**8 + 7 * a3 * theta**6 + 3 * a2 * theta**2 + a1)
    x = 2 * math.sqrt(3) * lon * torch.cos(theta) / den
    y = a4 * theta**9 + a3 * theta**7 + a2 * theta**3 + a1 * theta
    return torch.stack([x, y], dim=1) * sf / 180


def test_rff_matches_geoclip_formula():
    rff = pe.RandomFourierFeatures(sigmas=(1.0, 16.0), n_frequencies=8, seed=3)
    lonlat = torch.from_numpy(POINTS)
    v = _geoclip_style_equal_earth(lonlat[:, [1, 0]])  # GeoCLIP takes (lat, lon)
    out = rff(lonlat)
    for k, branch in enumerate(rff.split(out)):
        vp = 2 * math.pi * v @ rff.b[k].double().T
        torch.testing.assert_close(branch, torch.cat([vp.cos(), vp.sin()], dim=-1))


def test_rff_branches_seed_and_sigma():
    a = pe.RandomFourierFeatures(n_frequencies=32, seed=1)
    b = pe.RandomFourierFeatures(n_frequencies=32, seed=1)
    c = pe.RandomFourierFeatures(n_frequencies=32, seed=2)
    x = torch.from_numpy(POINTS).float()
    torch.testing.assert_close(a(x), b(x))
    assert not torch.allclose(a(x), c(x))
    assert (a.n_branches, a.branch_features, a.out_features) == (3, 64, 192)
    assert a.b.shape == (3, 32, 2)
    assert "b" in a.state_dict()
    ratios = a.b.std(dim=(1, 2)) / torch.tensor([1.0, 16.0, 256.0])
    assert torch.all((ratios > 0.6) & (ratios < 1.4))
    listed = pe.RandomFourierFeatures(n_frequencies=32, seed=1, concat=False)(x)
    assert isinstance(listed, list) and len(listed) == 3
    torch.testing.assert_close(torch.cat(listed, dim=-1), a(x))
    # (cos, sin) halves: cos^2 + sin^2 = 1 per frequency
    br = a.split(a(x))[0]
    torch.testing.assert_close(br[:, :32] ** 2 + br[:, 32:] ** 2, torch.ones(len(x), 32))


def test_rff_projection_none_and_bad_args():
    rff = pe.RandomFourierFeatures(sigmas=(1.0,), n_frequencies=4, projection="none")
    v = rff.project(torch.tensor([[90.0, 45.0]]))
    torch.testing.assert_close(v, torch.tensor([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="projection"):
        pe.RandomFourierFeatures(projection="mercator")
    with pytest.raises(ValueError, match="sigmas"):
        pe.RandomFourierFeatures(sigmas=(1.0, -2.0))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array([[0.0, 0.0], [np.nan, 1.0]]), r"non-finite coordinates in rows \[1\]"),
        (np.array([[0.0, 0.0], [1.0, np.inf]]), r"rows \[1\]"),
        (np.array([[0.0, 0.0], [181.0, 0.0], [-200.0, 3.0]]), r"longitude .* rows \[1, 2\]"),
        (np.array([[100.0, 95.0]]), r"latitude outside \[-90, 90\] in rows \[0\]"),
        (np.array([[45.0, 120.0]]), r"look like \(lat, lon\)"),
        (np.array([[0.0, 0.0], [4.5e5, 5.2e6]]), r"rows \[1\] .* projected coordinates"),
        (np.zeros((3, 3)), r"shape \(n, 2\)"),
        (np.zeros(2), r"shape \(n, 2\)"),
        (np.array([["a", "b"]]), "dtype"),
    ],
)
def test_bad_input_numpy(bad, match):
    with pytest.raises(ValidationError, match=match):
        pe.wrap(bad)


def test_bad_input_modules():
    mod = pe.SphereM(frequency_num=2)
    with pytest.raises(ValidationError, match=r"rows \[2\]"):
        mod(torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, -91.0]]))
    with pytest.raises(ValidationError, match="floating-point"):
        mod(torch.tensor([[1, 2]]))
    with pytest.raises(ValidationError, match=r"shape \(n, 2\)"):
        mod(torch.zeros(4, 2, 1))
    assert issubclass(ValidationError, ValueError)
    # a swap hint only when the lon column could be latitudes
    with pytest.raises(ValidationError) as err:
        pe.cartesian3d(np.array([[150.0, 100.0]]))
    assert "(lat, lon)" not in str(err.value)
    # validation can be switched off by a caller that already checked
    mod.validate = False
    assert mod(torch.tensor([[0.0, -91.0]])).shape == (1, 10)


def test_check_lonlat_ok_and_tensor_on_grad():
    pe.check_lonlat(POINTS)
    pe.check_lonlat(torch.from_numpy(POINTS).requires_grad_())


# --------------------------------------------------------------------------- factory


@pytest.mark.parametrize(
    ("name", "kwargs", "cls", "width"),
    [
        ("wrap", {}, pe.Wrap, 4),
        ("direct", {}, pe.Direct, 2),
        ("cartesian3d", {}, pe.Cartesian3D, 3),
        ("grid", {"frequency_num": 4}, pe.Space2VecGrid, 16),
        ("theory", {"frequency_num": 4}, pe.Space2VecTheory, 24),
        ("spherec", {"frequency_num": 4}, pe.SphereC, 12),
        ("spherec+", {"frequency_num": 4}, pe.SphereCPlus, 24),
        ("SphereM", {"frequency_num": 4}, pe.SphereM, 20),
        ("spherem+", {"frequency_num": 4}, pe.SphereMPlus, 32),
        ("rff", {"n_frequencies": 8}, pe.RandomFourierFeatures, 48),
    ],
)
def test_factory_names(name, kwargs, cls, width):
    mod = pe.encoding(name, **kwargs)
    assert isinstance(mod, cls)
    assert mod.out_features == width
    assert mod(torch.from_numpy(POINTS)).shape == (len(POINTS), width)


def test_factory_unknown_name():
    with pytest.raises(ValueError, match="unknown positional encoding 'mercator'.*spherec"):
        pe.encoding("mercator")


# --------------------------------------------------------------------------- SH re-export (last)


@pytest.mark.parametrize("name", ["sh", "spherical_harmonics"])
def test_factory_spherical_harmonics(name):
    from sdmkit.encoders import harmonics

    assert pe.SphericalHarmonics is harmonics.SphericalHarmonics
    assert pe.spherical_harmonics is harmonics.spherical_harmonics
    mod = pe.encoding(name, L=4)
    assert isinstance(mod, harmonics.SphericalHarmonics)
    out = mod(torch.from_numpy(POINTS))
    assert out.shape == (len(POINTS), 16)
