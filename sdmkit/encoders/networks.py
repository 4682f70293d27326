"""Networks that turn a positional encoding into a location embedding.

* :class:`SIREN` — sine-activated MLP (Sitzmann et al. 2020) laid out like
  SatCLIP's ``SirenNet`` so its checkpoints map key for key.
* :class:`ResidualFCNet` — SINR's residual MLP (Cole et al. 2023), same keys as
  SINR's and SatCLIP's ``FCNet``.
* :class:`MLP` — a plain multilayer perceptron.

All are ordinary :class:`torch.nn.Module` s with ``in_features`` / ``out_features``;
they run in the dtype of their parameters (call ``.double()`` for SatCLIP's float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MLP", "SIREN", "ResidualFCNet", "SineLayer"]


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _check_dropout(p) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {p!r}.")
    return float(p)


class SineLayer(nn.Module):
    """Linear map followed by ``sin(w0 * x)`` (one SIREN layer).

    Parameters ``weight`` (out, in) and ``bias`` (out,) are held directly (no
    nested ``nn.Linear``), as in SatCLIP's ``Siren``. Initialisation, weight then
    bias, both uniform in [-b, b] with b = 1 / in_features for the first layer and
    b = sqrt(c / in_features) / w0 otherwise. Dropout (if any) acts on the linear
    output before the sine, as in SatCLIP.

    Parameters
    ----------
    in_features, out_features : int
        Layer sizes.
    w0 : float
        Frequency factor of the sine.
    is_first : bool
        Use the first-layer initialisation.
    dropout : float
        Dropout probability (training only).
    activation : bool
        False gives a plain linear layer with SIREN initialisation (the output layer).
    c : float
        Constant of the non-first initialisation (6 in the SIREN paper).

    Examples
    --------
    >>> import torch
    >>> SineLayer(2, 8, w0=30.0, is_first=True)(torch.zeros(5, 2)).shape
    torch.Size([5, 8])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        w0: float = 1.0,
        is_first: bool = False,
        dropout: float = 0.0,
        activation: bool = True,
        c: float = 6.0,
    ):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        self.w0 = float(w0)
        self.is_first = bool(is_first)
        self.dropout = _check_dropout(dropout)
        self.activation = bool(activation)
        self.c = float(c)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.empty(self.out_features))
        self.reset_parameters()

    @property
    def init_bound(self) -> float:
        """Half-width b of the uniform initialisation."""
        if self.is_first:
            return 1.0 / self.in_features
        return math.sqrt(self.c / self.in_features) / self.w0

    def reset_parameters(self) -> None:
        """Re-draw weight then bias from U(-b, b)."""
        b = self.init_bound
        with torch.no_grad():
            self.weight.uniform_(-b, b)
            self.bias.uniform_(-b, b)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer to ``x`` (..., in_features)."""
        out = F.linear(x, self.weight, self.bias)
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        if not self.activation:
            return out
        if not torch.is_grad_enabled():  # nothing to keep for backward: work in place
            return (out.mul_(self.w0) if self.w0 != 1.0 else out).sin_()
        return torch.sin(self.w0 * out)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"w0={self.w0}, is_first={self.is_first}, dropout={self.dropout}, "
            f"activation={'sine' if self.activation else 'identity'}"
        )


class SIREN(nn.Module):
    """Sinusoidal representation network, SatCLIP-compatible.

    ``n_layers`` sine layers (the first ``in_features -> hidden`` with
    ``w0_initial``, the rest ``hidden -> hidden`` with ``w0``), then a linear output
    layer ``hidden -> out_features`` (SIREN-initialised, no activation, no dropout).
    ``n_layers`` counts hidden layers exactly like SatCLIP's ``num_hidden_layers``:
    SatCLIP's released L=10 / L=40 checkpoints are ``SIREN(100 or 1600, 256,
    hidden=512, n_layers=2)``, i.e. 100/1600 -> 512 -> 512 -> 256.

    State-dict keys (identical to SatCLIP's ``SirenNet``, whose checkpoint keys
    are ``model.location.nnet.<key>`` in the Lightning ``.ckpt``)::

        layers.0.weight  (hidden, in_features)    layers.0.bias  (hidden,)
        layers.i.weight  (hidden, hidden)         layers.i.bias  (hidden,)   i = 1..n_layers-1
        last_layer.weight (out_features, hidden)  last_layer.bias (out_features,)

    Parameters
    ----------
    in_features : int
        Width of the positional encoding.
    out_features : int
        Embedding size (SatCLIP: 256).
    hidden : int
        Hidden width (SatCLIP released checkpoints: 512).
    n_layers : int
        Number of hidden sine layers (>= 1).
    w0_initial, w0 : float
        Sine frequency of the first and of the other layers (30 and 1 as SatCLIP).
    dropout : float
        Dropout probability in the hidden layers (SatCLIP trains with 0.5; it has no
        effect in ``eval()`` mode).

    Examples
    --------
    >>> import torch
    >>> net = SIREN(100, 256, hidden=512, n_layers=2)
    >>> net(torch.randn(4, 100)).shape
    torch.Size([4, 256])
    >>> list(net.state_dict())
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', \
'last_layer.weight', 'last_layer.bias']
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 256,
        hidden: int = 512,
        n_layers: int = 2,
        w0_initial: float = 30.0,
        w0: float = 1.0,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        self.hidden = _check_positive_int(hidden, "hidden")
        self.n_layers = _check_positive_int(n_layers, "n_layers")
        self.w0_initial = float(w0_initial)
        self.w0 = float(w0)
        self.dropout = _check_dropout(dropout)
        self.layers = nn.ModuleList(
            SineLayer(
                self.in_features if i == 0 else self.hidden,
                self.hidden,
                w0=self.w0_initial if i == 0 else self.w0,
                is_first=i == 0,
                dropout=self.dropout,
            )
            for i in range(self.n_layers)
        )
        self.last_layer = SineLayer(self.hidden, self.out_features, w0=self.w0, activation=False)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` (n, in_features) to (n, out_features)."""
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)


class ResLayer(nn.Module):
    """SINR residual block: ``x + relu(w2(dropout(relu(w1(x)))))``."""

    def __init__(self, width: int, dropout: float = 0.0):
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.w2 = nn.Linear(width, width)
        self.dropout1 = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block."""
        y = F.relu(self.w1(x))
        y = F.relu(self.w2(self.dropout1(y)))
        return x + y


class ResidualFCNet(nn.Module):
    """SINR's residual fully connected network (Cole et al. 2023).

    ``Linear(in, hidden) -> ReLU -> n_blocks x ResLayer(hidden)`` gives the
    features; a linear head without bias maps them to ``out_features`` (SINR's
    per-species ``class_emb``; here the embedding). No sigmoid is applied (SINR
    applies one to get presence probabilities; do it in the loss or the caller).

    State-dict keys (as SINR's ``ResidualFCNet`` and SatCLIP's ``FCNet``)::

        feats.0.weight (hidden, in_features)   feats.0.bias (hidden,)
        feats.{k}.w1.weight / .w1.bias / .w2.weight / .w2.bias   k = 2..n_blocks+1
        class_emb.weight (out_features, hidden)

    Parameters
    ----------
    in_features : int
        Width of the positional encoding (SINR: 4 for wrap).
    out_features : int
        Width of the head (embedding size, or number of species as in SINR).
    hidden : int
        Width of the residual blocks (SINR: 256).
    n_blocks : int
        Number of residual blocks (SINR: 4).
    dropout : float
        Dropout probability inside each block (SINR uses ``nn.Dropout()``, p = 0.5).

    Examples
    --------
    >>> import torch
    >>> net = ResidualFCNet(4, 10, hidden=32, n_blocks=2)
    >>> net(torch.randn(3, 4)).shape, net(torch.randn(3, 4), return_features=True).shape
    (torch.Size([3, 10]), torch.Size([3, 32]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 256,
        hidden: int = 256,
        n_blocks: int = 4,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        self.hidden = _check_positive_int(hidden, "hidden")
        self.n_blocks = _check_positive_int(n_blocks, "n_blocks", minimum=0)
        self.dropout = _check_dropout(dropout)
        self.feats = nn.Sequential(
            nn.Linear(self.in_features, self.hidden),
            nn.ReLU(),
            *(ResLayer(self.hidden, self.dropout) for _ in range(self.n_blocks)),
        )
        self.class_emb = nn.Linear(self.hidden, self.out_features, bias=False)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor:
        """Map ``x`` (n, in_features) to (n, out_features), or (n, hidden) features."""
        feats = self.feats(x)
        return feats if return_features else self.class_emb(feats)


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


class MLP(nn.Module):
    """Multilayer perceptron: ``[Linear -> activation -> Dropout] * len(hidden) -> Linear``.

    State-dict keys are ``layers.{3 k}.weight`` / ``.bias`` for the k-th linear layer
    (a Dropout module is always present, so keys do not depend on ``dropout``).

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    hidden : int or sequence of int
        Hidden widths; ``()`` gives a single linear layer.
    activation : {"relu", "gelu", "silu", "tanh", "leaky_relu"}
        Hidden activation.
    dropout : float
        Dropout probability after each hidden activation.

    Examples
    --------
    >>> import torch
    >>> MLP(4, 3, hidden=(16, 16))(torch.randn(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int | Sequence[int] = (256, 256),
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        self.hidden = tuple(_check_positive_int(h, "hidden width") for h in hidden)
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}."
            )
        self.activation = activation
        self.dropout = _check_dropout(dropout)
        widths = (self.in_features, *self.hidden)
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), _ACTIVATIONS[activation](), nn.Dropout(self.dropout)]
        layers.append(nn.Linear(widths[-1], self.out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``x`` (n, in_features) to (n, out_features)."""
        return self.layers(x)
