"""Tests for sdmkit.encoders.networks (all synthetic, fast)."""

from __future__ import annotations

import math

import pytest
import torch

from sdmkit.encoders.networks import MLP, SIREN, ResidualFCNet, SineLayer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _siren_satclip_reference(x, params, w0_initial=30.0, w0=1.0, n_layers=2):
    """SatCLIP's SirenNet forward written out: sin(w0 * (W x + b)) per hidden layer."""
    for i in range(n_layers):
        w, b = params[f"layers.{i}.weight"], params[f"layers.{i}.bias"]
        x = torch.sin((w0_initial if i == 0 else w0) * (x @ w.T + b))
    return x @ params["last_layer.weight"].T + params["last_layer.bias"]


# --------------------------------------------------------------------------- SIREN


def test_siren_satclip_layout_and_keys():
    net = SIREN(100, 256, hidden=512, n_layers=2)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {
        "layers.0.weight": (512, 100),
        "layers.0.bias": (512,),
        "layers.1.weight": (512, 512),
        "layers.1.bias": (512,),
        "last_layer.weight": (256, 512),
        "last_layer.bias": (256,),
    }
    # SatCLIP L=40 checkpoint: 1600 -> 512 -> 512 -> 256
    n_params = sum(p.numel() for p in SIREN(1600, 256, hidden=512).parameters())
    assert n_params == 1600 * 512 + 512 + 512 * 512 + 512 + 512 * 256 + 256
    assert net.layers[0].w0 == 30.0 and net.layers[1].w0 == 1.0
    assert not net.last_layer.activation


def test_siren_forward_matches_reference_formula():
    torch.manual_seed(0)
    net = SIREN(16, 8, hidden=32, n_layers=3).double().eval()
    x = torch.randn(20, 16, dtype=torch.float64)
    ref = _siren_satclip_reference(x, net.state_dict(), n_layers=3)
    torch.testing.assert_close(net(x), ref)


def test_siren_in_place_activation_without_grad_is_the_same_function():
    torch.manual_seed(0)
    net = SIREN(16, 8, hidden=32, n_layers=3).eval()
    x = torch.randn(20, 16, requires_grad=True)
    with_grad = net(x)
    with torch.no_grad():
        no_grad = net(x)
    with torch.inference_mode():
        inference = net(x.detach())
    torch.testing.assert_close(no_grad, with_grad.detach(), rtol=0, atol=0)
    torch.testing.assert_close(inference, with_grad.detach(), rtol=0, atol=0)
    with_grad.sum().backward()  # the autograd path still works
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_siren_init_statistics():
    torch.manual_seed(1)
    net = SIREN(100, 256, hidden=512, n_layers=2, w0=2.0)
    first, hidden, last = net.layers[0], net.layers[1], net.last_layer
    for layer, bound in [
        (first, 1 / 100),
        (hidden, math.sqrt(6 / 512) / 2.0),
        (last, math.sqrt(6 / 512) / 2.0),
    ]:
        w = layer.weight.detach()
        assert layer.init_bound == pytest.approx(bound)
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.98 * bound  # fills the range
        # uniform(-b, b): std = b / sqrt(3), mean ~ 0
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
        assert abs(w.mean().item()) < 0.02 * bound
        assert layer.bias.detach().abs().max() <= bound


def test_siren_determinism_and_dtype():
    torch.manual_seed(7)
    a = SIREN(9, 4, hidden=16)
    torch.manual_seed(7)
    b = SIREN(9, 4, hidden=16)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    x = torch.randn(3, 9)
    assert a(x).dtype == torch.float32
    assert a.double()(x.double()).dtype == torch.float64


def test_siren_dropout_only_in_training():
    torch.manual_seed(0)
    net = SIREN(4, 3, hidden=64, dropout=0.5)
    x = torch.randn(10, 4)
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    net.train()
    assert not torch.allclose(net(x), net(x))
    with pytest.raises(ValueError, match="dropout"):
        SIREN(4, 3, dropout=1.0)
    with pytest.raises(ValueError, match="n_layers"):
        SIREN(4, 3, n_layers=0)


def test_siren_fits_a_sine():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    y = torch.sin(3 * math.pi * x)
    net = SIREN(1, 1, hidden=64, n_layers=2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(200):
        opt.zero_grad()
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3


# --------------------------------------------------------------------------- ResidualFCNet


def test_residual_fcnet_sinr_keys_and_shapes():
    net = ResidualFCNet(4, 10, hidden=32, n_blocks=4)
    keys = list(net.state_dict())
    assert keys[:2] == ["feats.0.weight", "feats.0.bias"]
    for k in range(2, 6):
        for name in ("w1.weight", "w1.bias", "w2.weight", "w2.bias"):
            assert f"feats.{k}.{name}" in keys
    assert keys[-1] == "class_emb.weight" and "class_emb.bias" not in keys
    x = torch.randn(5, 4)
    assert net(x).shape == (5, 10)
    feats = net(x, return_features=True)
    assert feats.shape == (5, 32)
    torch.testing.assert_close(net(x), feats @ net.class_emb.weight.T)


def test_residual_block_is_a_skip_connection():
    torch.manual_seed(0)
    net = ResidualFCNet(3, 2, hidden=8, n_blocks=1).eval()
    block = net.feats[2]
    with torch.no_grad():
        block.w2.weight.zero_()
        block.w2.bias.zero_()
    x = torch.randn(4, 3)
    h = torch.relu(net.feats[0](x))
    torch.testing.assert_close(net(x, return_features=True), h)


def test_residual_fcnet_gradients_and_determinism():
    torch.manual_seed(3)
    a = ResidualFCNet(4, 6, hidden=16, n_blocks=2, dropout=0.2)
    torch.manual_seed(3)
    b = ResidualFCNet(4, 6, hidden=16, n_blocks=2, dropout=0.2)
    x = torch.randn(7, 4, requires_grad=True)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))
    a.train()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in a.parameters())


# --------------------------------------------------------------------------- MLP


def test_mlp_layers_and_activation():
    net = MLP(4, 3, hidden=(16, 8), activation="tanh", dropout=0.1)
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 16), (16, 8), (8, 3)]
    assert sum(isinstance(m, torch.nn.Tanh) for m in net.layers) == 2
    assert net(torch.randn(2, 4)).shape == (2, 3)
    # keys do not depend on dropout
    assert list(MLP(4, 3, hidden=(16, 8)).state_dict()) == list(net.state_dict())
    assert MLP(4, 3, hidden=()).layers[0].in_features == 4
    assert MLP(4, 3, hidden=5)(torch.randn(1, 4)).shape == (1, 3)
    with pytest.raises(ValueError, match="activation"):
        MLP(4, 3, activation="swish2")


def test_mlp_gradient_flow():
    torch.manual_seed(0)
    net = MLP(2, 1, hidden=(8,))
    x = torch.randn(5, 2, requires_grad=True)
    net(x).sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("cls", [SIREN, ResidualFCNet, MLP])
def test_out_features_attribute(cls):
    net = cls(6, 5)
    assert (net.in_features, net.out_features) == (6, 5)
    assert net(torch.randn(2, 6)).shape == (2, 5)


def test_sine_layer_plain_linear_when_no_activation():
    layer = SineLayer(3, 2, activation=False)
    x = torch.randn(4, 3)
    torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)
