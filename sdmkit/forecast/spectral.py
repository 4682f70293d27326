"""Fourier convolutional network for in-season series (torch).

Spectral convolution in the spirit of the Fourier neural operator (Li et al.
2021) and of the fast Fourier convolutional network used for wheat yellow rust
and nitrogen stress from Sentinel-2 series: a block takes the FFT of its input
along time, multiplies the lowest ``modes`` frequencies by learnable complex
weights (mixing channels), transforms back, and adds a pointwise (1×1)
convolution of the input; a GELU follows. Stacked blocks see the whole
season at once with few parameters, and the low-mode truncation acts as a
smoothness prior that suits noisy vegetation-index series.

* :class:`SpectralConv1d`, :class:`FourierBlock`, :class:`FourierYieldNet` —
  torch modules;
* :class:`FourierNetRegressor` — a scikit-learn style regressor on a design
  frame (see :mod:`sdmkit.forecast.yield_models`) whose series columns are
  named ``"<variable>@<step>"`` (:func:`series_frame`); it fits the yield's
  ratio to the trend, ``y / trend − 1``, from the series, a mask of the steps
  known at the cut-off, and the tabular columns (trend included).

torch is an optional dependency (``pip install sdmkit[deep]``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from torch import nn

from .._validation import ValidationError, _show

__all__ = [
    "FourierBlock",
    "FourierNetRegressor",
    "FourierYieldNet",
    "SpectralConv1d",
    "period_series",
    "series_frame",
]

_SERIES = re.compile(r"^(?P<var>.+)@(?P<step>\d+)$")


class SpectralConv1d(nn.Module):
    """FFT along time → learnable complex weights on the lowest modes → inverse FFT.

    Parameters
    ----------
    in_channels, out_channels : int
    modes : int
        Number of lowest Fourier modes kept (at most ``n_steps // 2 + 1``).

    Examples
    --------
    >>> import torch
    >>> from sdmkit.forecast.spectral import SpectralConv1d
    >>> SpectralConv1d(3, 4, modes=2)(torch.zeros(5, 3, 16)).shape
    torch.Size([5, 4, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int):
        super().__init__()
        self.in_channels, self.out_channels, self.modes = in_channels, out_channels, modes
        scale = 1.0 / (in_channels * out_channels)
        self.weight = nn.Parameter(
            scale * torch.randn(in_channels, out_channels, modes, dtype=torch.cfloat)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        xf = torch.fft.rfft(x, dim=-1)
        m = min(self.modes, xf.shape[-1])
        out = torch.zeros(
            x.shape[0], self.out_channels, xf.shape[-1], dtype=xf.dtype, device=x.device
        )
        out[..., :m] = torch.einsum("bim,iom->bom", xf[..., :m], self.weight[..., :m])
        return torch.fft.irfft(out, n=n, dim=-1)


class FourierBlock(nn.Module):
    """Spectral convolution plus a pointwise convolution, then GELU.

    Examples
    --------
    >>> import torch
    >>> from sdmkit.forecast.spectral import FourierBlock
    >>> FourierBlock(8, modes=4)(torch.zeros(2, 8, 12)).shape
    torch.Size([2, 8, 12])
    """

    def __init__(self, width: int, modes: int):
        super().__init__()
        self.spectral = SpectralConv1d(width, width, modes)
        self.pointwise = nn.Conv1d(width, width, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.spectral(x) + self.pointwise(x))


class FourierYieldNet(nn.Module):
    """Lift → Fourier blocks → masked mean and max over time (+ tabular inputs) → MLP head.

    Parameters
    ----------
    in_channels : int
        Series channels (the mask of known steps included).
    n_tabular : int
        Tabular inputs joined after pooling (0 for none).
    width, modes, n_blocks : int
    dropout : float

    Examples
    --------
    >>> import torch
    >>> from sdmkit.forecast.spectral import FourierYieldNet
    >>> net = FourierYieldNet(3, n_tabular=2, width=8, modes=3)
    >>> net(torch.zeros(4, 3, 10), torch.ones(4, 10), torch.zeros(4, 2)).shape
    torch.Size([4])
    """

    def __init__(
        self,
        in_channels: int,
        n_tabular: int = 0,
        *,
        width: int = 16,
        modes: int = 4,
        n_blocks: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.lift = nn.Conv1d(in_channels, width, 1)
        self.blocks = nn.ModuleList([FourierBlock(width, modes) for _ in range(n_blocks)])
        self.head = nn.Sequential(
            nn.Linear(2 * width + n_tabular, width),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(width, 1),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, tab: torch.Tensor | None = None):
        h = self.lift(x)
        for b in self.blocks:
            h = b(h)
        w = mask[:, None, :]
        mean = (h * w).sum(-1) / w.sum(-1).clamp_min(1.0)
        mx = torch.where(w > 0, h, torch.full_like(h, -1e4)).amax(-1)
        z = torch.cat([mean, mx] + ([tab] if tab is not None and tab.shape[1] else []), dim=1)
        return self.head(z).squeeze(-1)


def series_frame(arr, *, anomalies: np.ndarray | None = None) -> pd.DataFrame:
    """A :class:`~sdmkit.forecast.yield_stress.SeasonArray` as design-frame columns.

    Columns ``"<variable>@<step>"`` (float64; NaN where nothing was observed or
    after the cut-off) next to ``adm_id`` and ``harvest_year``; with
    ``anomalies`` (same shape as ``arr.values``) also ``"<variable>~a@<step>"``.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import yield_panel
    >>> from sdmkit.forecast.yield_stress import season_panel
    >>> from sdmkit.forecast.spectral import series_frame
    >>> sim = yield_panel(n_regions=2, years=[2020], season_days=30, random_state=0)
    >>> cal = {"adm_id": sim.truth["adm_ids"], "sos": [244.0] * 2, "eos": [274.0] * 2}
    >>> arr = season_panel(sim.yields, sim.series, cal, variables=["ndvi"]).to_array(n_steps=4)
    >>> list(series_frame(arr).columns)
    ['adm_id', 'harvest_year', 'ndvi@0', 'ndvi@1', 'ndvi@2', 'ndvi@3']
    """
    n, nv, nt = arr.values.shape
    cols = {}
    for j, v in enumerate(arr.variables):
        for t in range(nt):
            cols[f"{v}@{t}"] = arr.values[:, j, t]
    if anomalies is not None:
        for j, v in enumerate(arr.variables):
            for t in range(nt):
                cols[f"{v}~a@{t}"] = anomalies[:, j, t]
    return pd.concat([arr.keys.reset_index(drop=True), pd.DataFrame(cols)], axis=1)


def period_series(X: pd.DataFrame, *, prefix: str = "a_") -> pd.DataFrame:
    """Rename CY-Bench period features ``<prefix><VAR>p<k>`` to series columns ``<VAR>@<k>``.

    Lets :class:`FourierNetRegressor` read designed weather features by
    crop-calendar period (``p0`` … ``p4``) as a 5-step series per variable
    (cells a table lacks stay missing, i.e. 0 after standardising).

    Examples
    --------
    >>> import pandas as pd
    >>> from sdmkit.forecast.spectral import period_series
    >>> list(period_series(pd.DataFrame(columns=["trend", "a_avgTAVGp0", "a_Z+PRECp3"])).columns)
    ['trend', 'avgTAVG@0', 'Z+PREC@3']
    """
    pat = re.compile(rf"^{re.escape(prefix)}(?P<var>(?:avg|Z[-+])[A-Z0-9]+)p(?P<k>\d)$")
    ren = {c: f"{m['var']}@{m['k']}" for c in X.columns if (m := pat.match(str(c)))}
    return X.rename(columns=ren)


def _parse_series(columns) -> tuple[list[str], int, dict]:
    where: dict[tuple[str, int], str] = {}
    for c in columns:
        m = _SERIES.match(str(c))
        if m:
            where[(m["var"], int(m["step"]))] = c
    if not where:
        return [], 0, {}
    variables = sorted({v for v, _ in where})
    n_steps = max(t for _, t in where) + 1
    return variables, n_steps, where


class FourierNetRegressor(RegressorMixin, BaseEstimator):
    """Fourier convolutional network on in-season series, predicting ``y / trend − 1``.

    Series columns ``"<var>@<step>"`` of ``X`` (any subset of the
    (variable, step) grid; missing cells and NaN are 0 after standardising)
    become channels; a mask channel marks the steps where any series has a
    value (steps after the cut-off are all-NaN, hence masked out of the
    pooling). Every other numeric column of ``X`` (the trend, static soil, …)
    joins after pooling. An ensemble of ``n_ensemble`` nets with different
    seeds is averaged.

    Parameters
    ----------
    trend : str
        Trend column of ``X``.
    width, modes, n_blocks : int
        Network size (``modes`` ≤ ``n_steps // 2 + 1`` are used).
    epochs, lr, weight_decay, batch_size, dropout
        Training (Adam, squared error on the standardised target).
    n_ensemble : int
    tabular : bool
        Use the non-series columns.
    n_threads : int
        torch intra-op threads during fit/predict.
    random_state : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sdmkit.forecast.spectral import FourierNetRegressor
    >>> rng = np.random.default_rng(0)
    >>> S = rng.normal(size=(80, 8))
    >>> X = pd.DataFrame(S, columns=[f"v@{t}" for t in range(8)])
    >>> X.insert(0, "adm_id", "a"); X.insert(1, "harvest_year", range(80)); X["trend"] = 8.0
    >>> y = 8.0 * (1 - 0.05 * S[:, 4:].mean(1))
    >>> m = FourierNetRegressor(epochs=30, n_ensemble=1).fit(X, y)
    >>> m.predict(X).shape
    (80,)
    """

    def __init__(
        self,
        *,
        trend="trend",
        width=16,
        modes=4,
        n_blocks=2,
        epochs=200,
        lr=3e-3,
        weight_decay=1e-3,
        batch_size=256,
        dropout=0.1,
        n_ensemble=3,
        tabular=True,
        n_threads=1,
        random_state=0,
    ):
        self.trend = trend
        self.width = width
        self.modes = modes
        self.n_blocks = n_blocks
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.dropout = dropout
        self.n_ensemble = n_ensemble
        self.tabular = tabular
        self.n_threads = n_threads
        self.random_state = random_state

    # ------------------------------------------------------------------ arrays
    def _arrays(self, X: pd.DataFrame, fit: bool):
        if not isinstance(X, pd.DataFrame):
            raise ValidationError("X must be a pandas.DataFrame (a design frame).")
        if self.trend not in X.columns:
            raise ValidationError(f"X needs the trend yield in column {self.trend!r}.")
        if fit:
            variables, n_steps, where = _parse_series(X.columns)
            if not variables:
                raise ValidationError(
                    "X has no series columns named '<variable>@<step>' (see series_frame)."
                )
            self.variables_, self.n_steps_, self.where_ = variables, n_steps, where
            series_cols = set(where.values())
            self.tabular_ = (
                [
                    c
                    for c in X.columns
                    if c not in series_cols
                    and c not in ("adm_id", "harvest_year")
                    and pd.api.types.is_numeric_dtype(X[c])
                    and not pd.api.types.is_bool_dtype(X[c])
                ]
                if self.tabular
                else []
            )
        n = len(X)
        S = np.full((n, len(self.variables_), self.n_steps_), np.nan)
        for (v, t), c in self.where_.items():
            if c not in X.columns:
                raise ValidationError(f"X lacks series column {c!r} seen in fit.")
            S[:, self.variables_.index(v), t] = X[c].to_numpy(float)
        mask = np.isfinite(S).any(axis=1).astype(np.float32)
        T = X[self.tabular_].to_numpy(float) if self.tabular_ else np.zeros((n, 0))
        if fit:
            with np.errstate(all="ignore"):
                self.s_mean_ = np.nan_to_num(np.nanmean(S, axis=(0, 2)))
                self.s_sd_ = np.nan_to_num(np.nanstd(S, axis=(0, 2)), nan=1.0)
                self.t_mean_ = np.nan_to_num(np.nanmean(T, axis=0)) if T.shape[1] else T[:0].sum(0)
                self.t_sd_ = (
                    np.nan_to_num(np.nanstd(T, axis=0), nan=1.0) if T.shape[1] else T[:0].sum(0)
                )
            self.s_sd_[self.s_sd_ == 0] = 1.0
            if T.shape[1]:
                self.t_sd_[self.t_sd_ == 0] = 1.0
        S = np.nan_to_num((S - self.s_mean_[None, :, None]) / self.s_sd_[None, :, None])
        T = np.nan_to_num((T - self.t_mean_) / self.t_sd_) if T.shape[1] else T
        x = np.concatenate([S, mask[:, None, :]], axis=1).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(T.astype(np.float32))

    def fit(self, X, y):
        """Train the ensemble. Returns self."""
        y = np.asarray(y, dtype=float).ravel()
        t = X[self.trend].to_numpy(float) if self.trend in X.columns else None
        if t is None:
            raise ValidationError(f"X needs the trend yield in column {self.trend!r}.")
        bad = np.flatnonzero(~np.isfinite(y) | ~np.isfinite(t) | (t <= 0))
        if bad.size:
            raise ValidationError(
                f"y or the trend is NaN, infinite or (trend) non-positive at rows {_show(bad)}."
            )
        x, mask, tab = self._arrays(X, fit=True)
        z = y / t - 1.0
        self.z_mean_, self.z_sd_ = float(z.mean()), float(z.std()) or 1.0
        zt = torch.from_numpy(((z - self.z_mean_) / self.z_sd_).astype(np.float32))
        prev = torch.get_num_threads()
        torch.set_num_threads(int(self.n_threads))
        try:
            self.nets_ = [
                self._train(x, mask, tab, zt, self.random_state + k)
                for k in range(int(self.n_ensemble))
            ]
        finally:
            torch.set_num_threads(prev)
        return self

    def _train(self, x, mask, tab, z, seed):
        g = torch.Generator().manual_seed(int(seed))
        torch.manual_seed(int(seed))
        modes = min(int(self.modes), x.shape[-1] // 2 + 1)
        net = FourierYieldNet(
            x.shape[1],
            tab.shape[1],
            width=self.width,
            modes=modes,
            n_blocks=self.n_blocks,
            dropout=self.dropout,
        )
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(int(self.epochs), 1))
        n = x.shape[0]
        bs = min(int(self.batch_size), n)
        net.train()
        for _ in range(int(self.epochs)):
            perm = torch.randperm(n, generator=g)
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                opt.zero_grad()
                loss = torch.mean((net(x[idx], mask[idx], tab[idx]) - z[idx]) ** 2)
                loss.backward()
                opt.step()
            sched.step()
        net.eval()
        return net

    def predict(self, X) -> np.ndarray:
        """Predicted yield (t/ha)."""
        x, mask, tab = self._arrays(X, fit=False)
        t = X[self.trend].to_numpy(float)
        prev = torch.get_num_threads()
        torch.set_num_threads(int(self.n_threads))
        try:
            with torch.no_grad():
                z = np.mean([net(x, mask, tab).numpy() for net in self.nets_], axis=0)
        finally:
            torch.set_num_threads(prev)
        return t * (1.0 + self.z_mean_ + self.z_sd_ * z.astype(float))
