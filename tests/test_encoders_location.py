"""sdmkit.encoders.location: LocationEncoder.embed, config round trips, safetensors files."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch

from sdmkit import ValidationError
from sdmkit.encoders.location import LocationEncoder
from sdmkit.encoders.networks import MLP, SIREN
from sdmkit.encoders.positional import RandomFourierFeatures, SphericalHarmonics, Wrap


def assert_close(actual, expected, rtol=1e-7, atol=1e-12):
    """numpy's check on tensors (torch.testing imports torch.distributed: ~2 s)."""
    np.testing.assert_allclose(
        actual.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=atol
    )


def lonlat(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])


def sh_siren(L=3, hidden=16, out=8, seed=0):
    torch.manual_seed(seed)
    return LocationEncoder(SphericalHarmonics(L=L), SIREN(L * L, out, hidden=hidden, n_layers=2))


def wrap_mlp(seed=0):
    torch.manual_seed(seed)
    return LocationEncoder(Wrap(), MLP(4, 5, hidden=(8,)))


# --------------------------------------------------------------------------- embed


def test_embed_matches_forward_and_defaults_to_float32():
    enc = sh_siren()
    x = lonlat()
    emb = enc.embed(x)
    assert emb.shape == (50, 8) and emb.dtype == np.float32
    with torch.no_grad():
        direct = enc(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(emb, direct, rtol=1e-6, atol=1e-6)


def test_embed_batches_give_the_same_result():
    enc = sh_siren()
    x = lonlat(37)
    # equal up to BLAS rounding (kernels differ with the batch size)
    np.testing.assert_allclose(
        enc.embed(x, batch_size=5), enc.embed(x, batch_size=1000), rtol=1e-5, atol=1e-6
    )


def test_embed_float64_uses_a_copy_and_leaves_the_encoder_alone():
    enc = sh_siren()
    enc.train()
    emb = enc.embed(lonlat(), dtype=torch.float64)
    assert emb.dtype == np.float64
    assert next(enc.parameters()).dtype == torch.float32
    assert enc.training, "embed must restore the training flag"
    np.testing.assert_allclose(emb, enc.embed(lonlat()), atol=1e-4)
    assert enc.embed(lonlat(), dtype="float64").dtype == np.float64


def test_embed_runs_in_eval_mode_without_grad():
    torch.manual_seed(0)
    enc = LocationEncoder(SphericalHarmonics(L=3), SIREN(9, 4, hidden=32, dropout=0.5))
    enc.train()  # dropout active in training, must be off in embed
    a, b = enc.embed(lonlat()), enc.embed(lonlat())
    np.testing.assert_array_equal(a, b)


def test_embed_uses_the_fused_kernel_and_matches_the_module_forward(monkeypatch):
    from sdmkit.encoders import harmonics

    enc = sh_siren(L=40, hidden=32, out=16)
    x = lonlat(300, seed=4)
    with torch.no_grad():
        ref64 = enc.double()(torch.from_numpy(x)).numpy()  # float64 reference
    enc.float()
    with torch.no_grad():
        ref32 = enc(torch.from_numpy(x).float()).numpy()  # the module's own forward
    calls = []
    monkeypatch.setattr(harmonics, "_sh_torch", lambda *a: calls.append(a) or 1 / 0)
    monkeypatch.setattr(
        harmonics.SphericalHarmonics, "forward", lambda *a: calls.append(a) or 1 / 0
    )
    emb = enc.embed(x, batch_size=64)  # 300 = 4 full batches + a remainder: buffer reuse
    assert not calls, "embed must not go through the module's forward on CPU"
    assert emb.dtype == np.float32
    np.testing.assert_allclose(emb, ref32, rtol=0, atol=1e-5)
    np.testing.assert_allclose(emb, ref64, rtol=0, atol=1e-5)
    emb64 = enc.embed(x, dtype="float64", batch_size=64)
    np.testing.assert_allclose(emb64, ref64, rtol=0, atol=1e-11)


def test_embed_keeps_the_torch_path_when_asked_for():
    torch.manual_seed(0)
    enc = LocationEncoder(SphericalHarmonics(L=6, backend="torch"), SIREN(36, 4, hidden=8))
    x = lonlat(40)
    with torch.no_grad():
        ref = enc(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(enc.embed(x), ref, rtol=0, atol=1e-6)


def test_embed_in_half_precision_keeps_the_coordinates_exact():
    # in float16/bfloat16 the coordinates themselves would be rounded (to 0.0625° near
    # ±100°, 0.5° in bfloat16); only the network may run in half precision
    enc = sh_siren(L=10, hidden=16, out=4)
    x = lonlat(20, seed=2)
    full = enc.embed(x)
    for dtype, tol in (("float16", 5e-3), ("bfloat16", 5e-2)):
        half = enc.embed(x, dtype=dtype)
        assert half.dtype == (np.float16 if dtype == "float16" else np.float32)
        np.testing.assert_allclose(half.astype(np.float32), full, rtol=0, atol=tol)
    assert next(enc.parameters()).dtype == torch.float32


def test_embed_dataframe_keeps_the_geodataframe_index_and_reprojects():
    x = lonlat(6)
    pts = gpd.GeoDataFrame(
        {"id": list("abcdef")},
        geometry=gpd.points_from_xy(x[:, 0], x[:, 1]),
        crs=4326,
        index=pd.Index([10, 11, 12, 20, 21, 22], name="site"),
    )
    enc = wrap_mlp()
    df = enc.embed(pts, output="dataframe")
    assert list(df.index) == [10, 11, 12, 20, 21, 22] and df.index.name == "site"
    assert list(df.columns) == [f"emb_{j:03d}" for j in range(5)]
    np.testing.assert_allclose(df.to_numpy(), enc.embed(x), atol=1e-6)
    # same points in a projected CRS give the same embeddings
    x_clip = x.copy()
    x_clip[:, 1] = np.clip(x_clip[:, 1], -80, 80)  # Web Mercator cannot hold the poles
    merc = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(x_clip[:, 0], x_clip[:, 1]), crs=4326
    ).to_crs(3857)
    np.testing.assert_allclose(enc.embed(merc), enc.embed(x_clip), atol=1e-4)
    # a GeoSeries works too
    assert enc.embed(pts.geometry).shape == (6, 5)


def test_embed_dataframe_for_arrays_has_a_range_index():
    df = wrap_mlp().embed(lonlat(4), output="dataframe")
    assert isinstance(df.index, pd.RangeIndex) and len(df) == 4


def test_embed_progress_bar(capsys):
    enc = wrap_mlp()
    enc.embed(lonlat(20), batch_size=4, progress=True)
    assert "embedding" in capsys.readouterr().err
    enc.embed(lonlat(20), batch_size=4)  # default: quiet for small inputs
    assert capsys.readouterr().err == ""


def test_forward_casts_float64_input_to_the_network_dtype():
    enc = sh_siren()
    out = enc(torch.from_numpy(lonlat(3)))  # float64 in, float32 network
    assert out.dtype == torch.float32 and out.shape == (3, 8)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "points, match",
    [
        (np.array([[10.0, 50.0], [np.nan, 1.0]]), r"non-finite coordinates in rows \[1\]"),
        (np.array([[10.0, 50.0], [200.0, 1.0]]), r"longitude outside \[-180, 180\] in rows \[1\]"),
        (np.array([[120.0, 95.0]]), r"latitude outside \[-90, 90\] in rows \[0\]"),
        (np.array([[48.85, 2.35], [-33.9, 151.2]]), r"\(lat, lon\)"),
        (np.array([["10", "50"]]), r"dtype"),
        (np.array([[True, False]]), r"dtype"),
        (np.array([[1.0, 2.0, 3.0]]), r"shape \(n, 2\)"),
        (np.array([10.0, 50.0]), r"single point must be shaped \(1, 2\)"),
        (np.zeros((2, 5)), r"transposed"),
        (np.empty((0, 2)), r"empty"),
        (pd.DataFrame({"lon": [1.0], "lat": [2.0]}), r"points_from_xy"),
    ],
)
def test_embed_rejects_bad_arrays(points, match):
    with pytest.raises(ValidationError, match=match):
        wrap_mlp().embed(points)


def test_swap_message_names_the_order():
    with pytest.raises(ValidationError) as err:
        wrap_mlp().embed(np.array([[48.85, 2.35], [-33.9, 151.2]]))
    assert "(lon, lat)" in str(err.value)


def test_embed_accepts_integer_degrees_and_tensors():
    enc = wrap_mlp()
    np.testing.assert_allclose(enc.embed(np.array([[10, 50]])), enc.embed(np.array([[10.0, 50.0]])))
    assert enc.embed(torch.tensor([[10.0, 50.0]])).shape == (1, 5)


def test_embed_rejects_bad_geodataframes():
    no_crs = gpd.GeoDataFrame(geometry=gpd.points_from_xy([1.0], [2.0]))
    with pytest.raises(ValidationError, match="no CRS"):
        wrap_mlp().embed(no_crs)
    empty = gpd.GeoDataFrame(geometry=gpd.points_from_xy([], []), crs=4326)
    with pytest.raises(ValidationError, match="empty"):
        wrap_mlp().embed(empty)
    swapped = gpd.GeoDataFrame(geometry=gpd.points_from_xy([48.0, 10.0], [2.0, 120.0]), crs=4326)
    with pytest.raises(ValidationError, match="swapped"):
        wrap_mlp().embed(swapped)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"output": "xarray"}, "output"),
        ({"dtype": "int32"}, "dtype"),
    ],
)
def test_embed_rejects_bad_options(kw, match):
    with pytest.raises(ValueError, match=match):
        wrap_mlp().embed(lonlat(3), **kw)


# --------------------------------------------------------------------------- config and files


def test_config_round_trip_rebuilds_the_same_architecture():
    enc = sh_siren(L=4, hidden=12, out=6)
    cfg = enc.config
    json.dumps(cfg)  # plain data
    assert cfg["positional"]["type"] == "SphericalHarmonics"
    assert cfg["network"] == {
        "type": "SIREN",
        "params": {
            "in_features": 16,
            "out_features": 6,
            "hidden": 12,
            "n_layers": 2,
            "w0_initial": 30.0,
            "w0": 1.0,
            "dropout": 0.0,
        },
    }
    again = LocationEncoder.from_config(json.loads(json.dumps(cfg)))
    assert again.config == cfg
    assert [k for k in again.state_dict()] == [k for k in enc.state_dict()]


def test_config_round_trip_for_rff_and_branched_mlp():
    from sdmkit.encoders.weights import BranchedMLP

    rff = RandomFourierFeatures(sigmas=(1.0, 8.0), n_frequencies=4, seed=3)
    enc = LocationEncoder(rff, BranchedMLP(16, 3, n_branches=2, hidden=(5,)))
    again = LocationEncoder.from_config(enc.config)
    assert again.config == enc.config
    assert_close(again.positional.b, rff.b)  # same seed, same B


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_save_load_round_trip(tmp_path, dtype):
    enc = sh_siren().to(dtype)
    path = enc.save(tmp_path / "enc.safetensors")
    back = LocationEncoder.load(path)
    assert next(back.parameters()).dtype == dtype and not back.training
    assert back.config == enc.config
    x = torch.from_numpy(lonlat()).to(dtype)
    with torch.no_grad():
        assert_close(back(x), enc(x), rtol=0, atol=0)


def test_save_load_keeps_random_fourier_matrices(tmp_path):
    from sdmkit.encoders.weights import BranchedMLP

    rff = RandomFourierFeatures(sigmas=(1.0, 8.0), n_frequencies=4, seed=3)
    enc = LocationEncoder(rff, BranchedMLP(16, 3, n_branches=2, hidden=(5,)))
    with torch.no_grad():
        enc.positional.b.mul_(2.0)  # e.g. loaded weights: no longer what the seed gives
    back = LocationEncoder.load(enc.save(tmp_path / "rff.safetensors"))
    assert_close(back.positional.b, enc.positional.b)


def test_load_rejects_foreign_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not an sdmkit LocationEncoder"):
        LocationEncoder.load(tmp_path / "other.safetensors")
    with pytest.raises(FileNotFoundError):
        LocationEncoder.load(tmp_path / "missing.safetensors")


def test_load_rejects_weights_that_do_not_fit_the_config(tmp_path):
    from safetensors.torch import save_file

    enc = sh_siren()
    state = {k: v.clone() for k, v in enc.state_dict().items()}
    state["network.layers.0.weight"] = torch.zeros(16, 5)
    save_file(
        state,
        str(tmp_path / "bad.safetensors"),
        metadata={"format": "sdmkit.LocationEncoder", "config": json.dumps(enc.config)},
    )
    with pytest.raises(ValueError, match="layers.0.weight"):
        LocationEncoder.load(tmp_path / "bad.safetensors")


def test_config_refuses_unknown_modules():
    enc = LocationEncoder(torch.nn.Identity(), torch.nn.Linear(2, 3))
    assert enc.embed(lonlat(2)).shape == (2, 3)  # embedding works with any modules …
    with pytest.raises(ValueError, match="register_module"):
        enc.config  # … but only sdmkit's can be described  # noqa: B018
    with pytest.raises(ValueError, match="unknown module type"):
        LocationEncoder.from_config(
            {
                "positional": {"type": "Nope", "params": {}},
                "network": {"type": "SIREN", "params": {"in_features": 4}},
            }
        )
