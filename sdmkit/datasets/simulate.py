"""SIMULATED data with known truth: virtual species, dengue panels, crop-yield panels.

Nothing here is real data. Every result carries ``source="simulated"`` and the
parameters that generated it (``response``, ``truth``), so tests can check that a
model recovers what was put in, and notebooks can run fully offline.

* :func:`virtual_species` — suitability / occurrence probability on a raster
  grid, presence–absence survey points and (biased) presence-only records;
* :func:`dengue_panel` — weekly negative-binomial dengue counts per location with
  seasonality, a lagged temperature effect and a spatially structured (scaled
  ICAR) effect over an adjacency graph;
* :func:`yield_panel` — yearly crop yields per region with a linear trend and a
  heat / drought stress effect computed from simulated daily in-season weather;
* :func:`epiweek` — CDC/MMWR epidemiological weeks of dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.signal import lfilter
from scipy.special import expit

from sdmkit._calendar import epiweek
from sdmkit._validation import ValidationError, _show, check_panel, check_points, check_raster
from sdmkit.forecast.graph import check_adjacency

__all__ = [
    "DenguePanel",
    "VirtualSpecies",
    "YieldPanel",
    "dengue_panel",
    "environment_grid",
    "virtual_species",
    "yield_panel",
]

SIMULATED = "simulated"
_WARNING = "SIMULATED data (sdmkit.datasets.simulate) — not observations"


def _rng(random_state) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along the last axis, marginal sd ``sd``."""
    e = rng.standard_normal(shape) * np.sqrt(1.0 - phi**2)
    e[..., 0] = rng.standard_normal(shape[:-1])  # start in the stationary distribution
    return sd * lfilter([1.0], [1.0, -phi], e, axis=-1)


# =========================================================================== virtual species


@dataclass(frozen=True, eq=False, repr=False)
class VirtualSpecies:
    """A SIMULATED species with known niche, occurrence probability and sampling bias.

    Attributes
    ----------
    suitability : xarray.DataArray
        (y, x) product of per-band Gaussian responses, in (0, 1]; NaN outside
        the domain (cells where any band is NaN).
    probability : xarray.DataArray
        (y, x) occurrence probability ``expit(intercept + log(suitability))``.
    bias : xarray.DataArray
        (y, x) sampling-effort surface used for the presence-only records.
    presence_absence : geopandas.GeoDataFrame
        Survey points: ``occ`` (int64, 0/1), ``row``/``col`` (int64 cell
        indices into the grid), point geometry jittered uniformly inside the cell.
    presence_only : geopandas.GeoDataFrame
        Presence records (``occ`` = 1), same columns, sampled with probability
        proportional to ``probability * bias**bias_strength``.
    response : dict
        Per band: ``{"optimum": float, "tolerance": float}``.
    intercept : float
        Logit intercept solved so the mean probability over the domain is
        ``prevalence``.
    prevalence : float
        Target (and exact) mean probability over valid cells.
    bias_strength : float
    source : str
        Always ``"simulated"``.
    """

    suitability: Any
    probability: Any
    bias: Any
    presence_absence: Any
    presence_only: Any
    response: dict
    intercept: float
    prevalence: float
    bias_strength: float = 1.0
    source: str = SIMULATED

    def __repr__(self) -> str:
        ny, nx = self.probability.shape
        return (
            f"VirtualSpecies({_WARNING}; grid {ny}×{nx}, bands {list(self.response)}, "
            f"prevalence={self.prevalence:g}, intercept={self.intercept:.3f}, "
            f"{len(self.presence_absence)} presence–absence points, "
            f"{len(self.presence_only)} presence-only records)"
        )


def virtual_species(
    rasters,
    *,
    prevalence: float = 0.3,
    n_presence_absence: int = 500,
    n_presence_only: int = 200,
    bias=None,
    bias_strength: float = 1.0,
    random_state=None,
) -> VirtualSpecies:
    """Simulate a virtual species with a known niche on an environmental raster.

    The result is SIMULATED (``source="simulated"``).

    Model, for each valid cell (every band finite):

    * per band ``k`` a Gaussian response ``exp(-0.5 * ((v_k - optimum_k) / tolerance_k)**2)``
      with ``optimum_k`` the band's ``q``-quantile over valid cells, ``q ~ U(0.2, 0.8)``,
      and ``tolerance_k = (q95_k - q05_k) * U(0.1, 0.3)``;
    * ``suitability`` = product of the responses, in (0, 1];
    * ``probability = expit(intercept + log(suitability))`` — exactly a logistic
      regression with linear and squared terms per band — with ``intercept``
      found by bisection so the mean probability over valid cells equals
      ``prevalence``.

    Presence–absence: ``n_presence_absence`` distinct valid cells drawn
    uniformly (without replacement), ``occ ~ Bernoulli(probability)``.
    Presence-only: ``n_presence_only`` cells drawn with replacement with
    probability proportional to ``probability * bias**bias_strength``, all
    ``occ = 1``. Point positions are jittered uniformly inside their cell (not
    cell centres); ``row``/``col`` give the cell.

    Parameters
    ----------
    rasters : xarray.DataArray or xarray.Dataset
        Environmental layers, dims (band, y, x) with a rioxarray CRS; NaN marks
        cells outside the domain. Checked by :func:`sdmkit.check_raster`.
    prevalence : float
        Mean occurrence probability over valid cells, in (0, 1).
    n_presence_absence : int
        Number of survey cells; at most the number of valid cells.
    n_presence_only : int
        Number of presence-only records.
    bias : xarray.DataArray, optional
        Sampling-effort surface (y, x) on the same grid and CRS, finite and
        >= 0 on valid cells. Default: ``exp(-d / L)`` with ``d`` the distance
        (in cells) from a random valid "city" cell and ``L`` an eighth of the
        grid diagonal, so presence-only records carry a real spatial bias.
    bias_strength : float
        Exponent on ``bias``; 0 gives unbiased presence-only records.
    random_state : int, numpy.random.Generator or None
        Same seed, same output.

    Returns
    -------
    VirtualSpecies
        Frozen dataclass; see its attributes. Rasters are (y, x) DataArrays with
        the input CRS, NaN outside the domain; points are GeoDataFrames in the
        raster's CRS.

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray  # noqa: F401
    >>> from sdmkit.datasets.simulate import virtual_species
    >>> y, x = np.linspace(9.5, 0.5, 10), np.linspace(0.5, 19.5, 20)
    >>> env = xr.DataArray(
    ...     np.stack([np.add.outer(y, 0 * x), np.add.outer(0 * y, x)]),
    ...     dims=("band", "y", "x"), coords={"band": ["temp", "rain"], "y": y, "x": x},
    ... ).rio.write_crs("EPSG:4326")
    >>> vs = virtual_species(env, prevalence=0.3, n_presence_absence=50,
    ...                      n_presence_only=20, random_state=0)
    >>> vs.source
    'simulated'
    >>> round(float(vs.probability.mean()), 6)
    0.3
    >>> vs.presence_only["occ"].unique().tolist()
    [1]
    """
    raster = check_raster(rasters, name="rasters")
    if not 0.0 < prevalence < 1.0:
        raise ValueError(f"prevalence must be strictly between 0 and 1, got {prevalence!r}.")
    if not np.isfinite(bias_strength):
        raise ValueError(f"bias_strength must be finite, got {bias_strength!r}.")
    for nm, n in (("n_presence_absence", n_presence_absence), ("n_presence_only", n_presence_only)):
        if int(n) != n or n < 0:
            raise ValueError(f"{nm} must be a non-negative integer, got {n!r}.")
    rng = _rng(random_state)

    values = raster.to_numpy().astype(float)
    valid = np.all(np.isfinite(values), axis=0)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise ValidationError(
            "rasters have no valid cell (every cell is NaN in at least one band). Check the "
            "nodata masking, or drop an all-NaN band."
        )
    if n_presence_absence > n_valid:
        raise ValueError(
            f"n_presence_absence={n_presence_absence} exceeds the {n_valid} valid cells; "
            f"survey cells are distinct. Lower it or use a finer grid."
        )

    # --- known niche
    response: dict = {}
    log_suit = np.zeros(valid.shape)
    for k, band in enumerate(raster["band"].to_numpy()):
        v = values[k][valid]
        q05, q95 = np.quantile(v, [0.05, 0.95])
        optimum = float(np.quantile(v, rng.uniform(0.2, 0.8)))
        spread = q95 - q05
        if spread <= 0:
            spread = float(np.std(v)) or 1.0
        tolerance = float(spread * rng.uniform(0.1, 0.3))
        key = band.item() if hasattr(band, "item") else band
        response[key] = {"optimum": optimum, "tolerance": tolerance}
        log_suit += -0.5 * ((values[k] - optimum) / tolerance) ** 2
    log_suit = np.where(valid, log_suit, np.nan)
    ls_valid = log_suit[valid]
    intercept = _solve_intercept(ls_valid, prevalence)
    prob = np.where(valid, expit(intercept + log_suit), np.nan)

    # --- sampling effort
    bias_arr = _bias_surface(bias, raster, valid, rng)
    if bias is not None:
        bad = valid & ~(np.isfinite(bias_arr) & (bias_arr >= 0))
        if bad.any():
            rows, cols = np.nonzero(bad)
            raise ValidationError(
                f"bias must be finite and >= 0 on every valid cell; {int(bad.sum())} cells are "
                f"not, at (row, col) {_show(zip(rows.tolist(), cols.tolist(), strict=True))}. Fill them "
                f"(e.g. bias.fillna(0)) or clip negatives."
            )
    bias_arr = np.where(valid, bias_arr, np.nan)

    # --- presence–absence survey
    rows_v, cols_v = np.nonzero(valid)
    pick = rng.choice(n_valid, size=int(n_presence_absence), replace=False)
    occ = (rng.random(pick.size) < prob[rows_v[pick], cols_v[pick]]).astype(np.int64)
    pa = _cell_points(raster, rows_v[pick], cols_v[pick], occ, rng)

    # --- presence-only records
    w = prob[valid] * bias_arr[valid] ** bias_strength
    if n_presence_only and not (np.isfinite(w).all() and w.sum() > 0):
        raise ValidationError(
            "probability * bias**bias_strength is zero (or not finite) on every valid cell, so "
            "no presence-only record can be drawn; give the bias surface positive values where "
            "the species occurs."
        )
    pick = rng.choice(n_valid, size=int(n_presence_only), replace=True, p=w / w.sum())
    po = _cell_points(raster, rows_v[pick], cols_v[pick], np.ones(pick.size, dtype=np.int64), rng)

    template = raster.isel(band=0, drop=True)

    def grid(arr, name, long_name):
        da = template.copy(data=arr).rename(name)
        da.attrs = {"long_name": long_name, "source": SIMULATED, "note": _WARNING}
        return da.rio.write_crs(raster.rio.crs)

    check_points(pa, raster, name="presence_absence")
    check_points(po, raster, name="presence_only")
    return VirtualSpecies(
        suitability=grid(np.exp(log_suit), "suitability", "simulated habitat suitability"),
        probability=grid(prob, "probability", "simulated occurrence probability"),
        bias=grid(bias_arr, "bias", "simulated sampling effort"),
        presence_absence=pa,
        presence_only=po,
        response=response,
        intercept=float(intercept),
        prevalence=float(prevalence),
        bias_strength=float(bias_strength),
    )


def _solve_intercept(log_suit: np.ndarray, prevalence: float) -> float:
    """Bisection for ``a`` with ``mean(expit(a + log_suit)) == prevalence`` (monotone in a)."""

    def f(a):
        return float(np.mean(expit(a + log_suit))) - prevalence

    lo, hi = -1.0, 1.0
    while f(lo) > 0:
        lo *= 2
    while f(hi) < 0:
        hi *= 2
        if hi > 1e6:  # pragma: no cover - only with absurd inputs
            raise ValueError(f"Could not reach prevalence={prevalence} on this grid.")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def _bias_surface(bias, raster, valid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ny, nx = valid.shape
    if bias is None:
        rows_v, cols_v = np.nonzero(valid)
        i = rng.integers(rows_v.size)
        rr, cc = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        d = np.hypot(rr - rows_v[i], cc - cols_v[i])
        scale = max(np.hypot(ny, nx) / 8.0, 1.0)
        return np.exp(-d / scale)
    b = check_raster(bias, name="bias")
    if b.sizes["band"] != 1:
        raise ValidationError(
            f"bias must be a single (y, x) layer; it has {b.sizes['band']} bands. Select one."
        )
    if b.rio.crs != raster.rio.crs:
        raise ValidationError(
            f"bias CRS {b.rio.crs} differs from the rasters' CRS {raster.rio.crs}. Reproject it "
            f"with bias.rio.reproject_match(rasters)."
        )
    same = (
        b.sizes["y"] == ny
        and b.sizes["x"] == nx
        and np.allclose(b["x"].to_numpy(), raster["x"].to_numpy())
        and np.allclose(b["y"].to_numpy(), raster["y"].to_numpy())
    )
    if not same:
        raise ValidationError(
            f"bias grid ({b.sizes['y']}×{b.sizes['x']}) is not the rasters' grid ({ny}×{nx}) or "
            f"its x/y coordinates differ. Align it with bias.rio.reproject_match(rasters)."
        )
    return b.isel(band=0).to_numpy().astype(float)


def _cell_points(raster, rows, cols, occ, rng):
    import geopandas as gpd

    xs, ys = raster["x"].to_numpy(), raster["y"].to_numpy()
    res = raster.rio.resolution() if (xs.size < 2 or ys.size < 2) else None
    dx = abs(xs[1] - xs[0]) if xs.size > 1 else abs(res[0])
    dy = abs(ys[1] - ys[0]) if ys.size > 1 else abs(res[1])
    px = xs[cols] + (rng.random(rows.size) - 0.5) * dx
    py = ys[rows] + (rng.random(rows.size) - 0.5) * dy
    table = pd.DataFrame(
        {
            "occ": np.asarray(occ, np.int64),
            "row": rows.astype(np.int64),
            "col": cols.astype(np.int64),
        }
    )
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(px, py), crs=raster.rio.crs)


# =========================================================================== epiweeks


# =========================================================================== dengue panel


@dataclass(frozen=True, eq=False, repr=False)
class DenguePanel:
    """A SIMULATED weekly dengue panel with the truth that generated it.

    Attributes
    ----------
    panel : pandas.DataFrame
        One row per (location, week): ``location`` (str), ``date``
        (datetime64, Sundays), ``epiweek`` (int64, MMWR ``YYYYWW``), ``cases``
        (int64), ``population`` (int64), ``temperature`` (float, °C),
        ``rainfall`` (float, mm/week). Sorted by (location, date).
    truth : dict
        Generating parameters and latent terms; arrays named ``*_rows`` or
        ``mu`` are aligned with ``panel`` rows, others with ``truth["locations"]``.
    adjacency : scipy.sparse.csr_matrix
        Symmetric 0/1 adjacency between locations (order of ``truth["locations"]``).
    source : str
        Always ``"simulated"``.
    """

    panel: pd.DataFrame
    truth: dict
    adjacency: Any
    source: str = SIMULATED

    def __repr__(self) -> str:
        return (
            f"DenguePanel({_WARNING}; {len(self.truth['locations'])} locations × "
            f"{self.truth['n_weeks']} weeks from {self.panel['date'].min().date()}, "
            f"climate_effect={self.truth['climate_effect']}, lag={self.truth['climate_lag']})"
        )


def dengue_panel(
    adjacency=None,
    *,
    n_locations: int = 20,
    n_weeks: int = 260,
    start: str = "2015-01-04",
    climate_effect: float = 0.3,
    climate_lag: int = 4,
    seasonal_amplitude: float = 1.0,
    dispersion: float = 5.0,
    spatial_sd: float = 0.7,
    ar_sd: float = 0.1,
    random_state=None,
) -> DenguePanel:
    """Simulate weekly dengue counts per location with known drivers.

    The result is SIMULATED (``source="simulated"``).

    ``cases[i, t] ~ NegBin(mean=mu, size=dispersion)`` with ::

        log mu[i, t] = log(population[i]) + intercepts[i]
                       + seasonal_amplitude * cos(2π (doy_t / 365.25 - peak[i]))
                       + climate_effect * temperature_anomaly[i, t - climate_lag]
                       + spatial_effect[i] + ar[i, t]

    * ``intercepts[i] = log_base_rate + u[i]``, ``u ~ N(0, 0.2²)`` (unstructured);
    * ``peak[i]`` (fraction of the year) = a shared peak + ``N(0, 0.03²)``;
    * ``temperature[i, t]`` = location mean (22–29 °C) + 3 °C annual cycle +
      ``temperature_anomaly``, a stationary AR(1) (φ = 0.6, sd 1 °C); the lagged
      anomaly before the first week is simulated too (burn-in);
    * ``spatial_effect``: scaled intrinsic CAR (BYM2-style) over ``adjacency``,
      sum-to-zero in each connected component, scaled so the geometric mean of
      its marginal variances is ``spatial_sd²``; isolated locations get an iid
      ``N(0, spatial_sd²)`` effect;
    * ``ar``: latent AR(1) per location (φ = 0.8, sd ``ar_sd``);
    * ``rainfall`` is seasonal gamma noise with NO effect on cases (a distractor);
    * ``dispersion=np.inf`` gives Poisson counts.

    Parameters
    ----------
    adjacency : scipy.sparse matrix or array-like, optional
        Symmetric 0/1 (n × n) neighbour matrix with zero diagonal; it sets the
        number of locations (``n_locations`` is then ignored). Default: a
        symmetrised 4-nearest-neighbour graph of ``n_locations`` random points
        in the unit square (their coordinates are in ``truth["coordinates"]``).
    n_locations : int
        Number of locations when ``adjacency`` is None.
    n_weeks : int
        Number of weeks.
    start : date-like
        First week, a Sunday (MMWR weeks start on Sunday).
    climate_effect : float
        Log-rate change per 1 °C of temperature anomaly, ``climate_lag`` weeks earlier.
    climate_lag : int
        Lag in weeks (>= 0).
    seasonal_amplitude : float
        Amplitude of the annual cycle on the log scale.
    dispersion : float
        Negative-binomial size (> 0); variance = mu + mu²/dispersion.
    spatial_sd : float
        Scale of the spatial effect (>= 0): the geometric mean of its marginal
        sds, as in BYM2. Nodes on the edge of a graph vary more than central
        ones, so the spread across locations is often somewhat above
        ``spatial_sd``.
    ar_sd : float
        Marginal sd of the latent AR(1) term (>= 0; 0 switches it off).
    random_state : int, numpy.random.Generator or None
        Same seed, same output.

    Returns
    -------
    DenguePanel
        ``panel`` passes ``check_panel(panel, location="location", time="date",
        freq="W", counts=["cases"])``; ``truth`` holds ``intercepts``,
        ``spatial_effect``, ``unstructured_effect``, ``peak_week``,
        ``climate_effect``, ``climate_lag``, ``dispersion``,
        ``seasonal_amplitude``, ``spatial_sd``, ``ar_sd``, ``ar_phi``,
        ``rainfall_effect`` (0.0), ``locations``, ``coordinates`` (or None),
        ``n_components``, and row-aligned ``mu``, ``temperature_anomaly_rows``,
        ``ar_rows``.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import dengue_panel
    >>> sim = dengue_panel(n_locations=5, n_weeks=60, random_state=1)
    >>> sim.panel.shape
    (300, 7)
    >>> sim.panel["epiweek"].iloc[0], sim.source
    (np.int64(201501), 'simulated')
    """
    rng = _rng(random_state)
    if int(n_weeks) != n_weeks or n_weeks < 1:
        raise ValueError(f"n_weeks must be a positive integer, got {n_weeks!r}.")
    if int(climate_lag) != climate_lag or climate_lag < 0:
        raise ValueError(f"climate_lag must be a non-negative integer, got {climate_lag!r}.")
    if not dispersion > 0:
        raise ValueError(f"dispersion must be > 0 (np.inf for Poisson), got {dispersion!r}.")
    if spatial_sd < 0 or ar_sd < 0:
        raise ValueError(f"spatial_sd and ar_sd must be >= 0, got {spatial_sd!r}, {ar_sd!r}.")
    start_ts = pd.Timestamp(start)
    if start_ts.day_of_week != 6:
        prev = start_ts - pd.Timedelta(days=(start_ts.day_of_week + 1) % 7)
        raise ValueError(
            f"start must be a Sunday (MMWR weeks start on Sunday); {start_ts.date()} is a "
            f"{start_ts.day_name()}. Use {prev.date()} instead."
        )
    n_weeks, lag = int(n_weeks), int(climate_lag)

    coords = None
    if adjacency is None:
        if int(n_locations) != n_locations or n_locations < 1:
            raise ValueError(f"n_locations must be a positive integer, got {n_locations!r}.")
        coords = rng.random((int(n_locations), 2))
        W = _knn_graph(coords, k=4)
    else:
        W = check_adjacency(adjacency)
    n = W.shape[0]
    width = max(2, len(str(n - 1)))
    locations = [f"loc_{i:0{width}d}" for i in range(n)]

    spatial, n_comp = _scaled_icar(W, rng)
    spatial = spatial_sd * spatial
    population = np.maximum(np.round(rng.lognormal(np.log(1e5), 1.0, n)), 1000).astype(np.int64)
    log_base_rate = np.log(1e-4)
    unstructured = rng.normal(0.0, 0.2, n)
    intercepts = log_base_rate + unstructured

    dates = pd.date_range(start_ts, periods=n_weeks, freq="7D")
    tau = dates.day_of_year.to_numpy() / 365.25  # fraction of the year
    peak_temp = rng.random()
    shared_peak = (peak_temp + 0.1) % 1.0  # cases follow temperature by ~5 weeks
    peak = (shared_peak + rng.normal(0.0, 0.03, n)) % 1.0
    season = seasonal_amplitude * np.cos(2 * np.pi * (tau[None, :] - peak[:, None]))

    t_mean = rng.uniform(22.0, 29.0, n)
    anomaly_full = _ar1(rng, (n, n_weeks + lag), phi=0.6, sd=1.0)
    anomaly = anomaly_full[:, lag:]
    lagged = anomaly_full[:, :n_weeks]
    temperature = t_mean[:, None] + 3.0 * np.cos(2 * np.pi * (tau[None, :] - peak_temp)) + anomaly

    rain_mean = rng.uniform(10.0, 60.0, n)
    peak_rain = (peak_temp + rng.normal(0.0, 0.05)) % 1.0
    rain_cycle = 1.0 + 0.8 * np.cos(2 * np.pi * (tau[None, :] - peak_rain))
    rainfall = rain_mean[:, None] * rain_cycle * rng.gamma(2.0, 0.5, (n, n_weeks))

    ar_phi = 0.8
    ar = _ar1(rng, (n, n_weeks), phi=ar_phi, sd=ar_sd)
    log_mu = (
        np.log(population)[:, None]
        + intercepts[:, None]
        + season
        + climate_effect * lagged
        + spatial[:, None]
        + ar
    )
    mu = np.exp(log_mu)
    if np.isinf(dispersion):
        cases = rng.poisson(mu)
    else:
        cases = rng.negative_binomial(dispersion, dispersion / (dispersion + mu))

    year, week = epiweek(dates)
    panel = pd.DataFrame(
        {
            "location": pd.Series(np.repeat(locations, n_weeks), dtype="str"),
            "date": np.tile(dates.to_numpy(), n),
            "epiweek": np.tile(year * 100 + week, n).astype(np.int64),
            "cases": cases.ravel().astype(np.int64),
            "population": np.repeat(population, n_weeks).astype(np.int64),
            "temperature": temperature.ravel(),
            "rainfall": rainfall.ravel(),
        }
    )
    panel = check_panel(panel, location="location", time="date", freq="W", counts=["cases"])
    truth = {
        "locations": locations,
        "coordinates": coords,
        "n_weeks": n_weeks,
        "intercepts": intercepts,
        "log_base_rate": float(log_base_rate),
        "unstructured_effect": unstructured,
        "spatial_effect": spatial,
        "spatial_sd": float(spatial_sd),
        "spatial_model": "scaled ICAR (BYM2-style), sum-to-zero per connected component; "
        "isolated locations iid",
        "n_components": n_comp,
        "peak_week": peak * 365.25 / 7.0,
        "seasonal_amplitude": float(seasonal_amplitude),
        "climate_effect": float(climate_effect),
        "climate_lag": lag,
        "rainfall_effect": 0.0,
        "dispersion": float(dispersion),
        "ar_sd": float(ar_sd),
        "ar_phi": ar_phi,
        "mu": mu.ravel(),
        "temperature_anomaly_rows": anomaly.ravel(),
        "ar_rows": ar.ravel(),
        "note": _WARNING,
    }
    return DenguePanel(panel=panel, truth=truth, adjacency=W)


def _knn_graph(coords: np.ndarray, k: int) -> sp.csr_matrix:
    """Symmetrised k-nearest-neighbour graph of points (0/1, zero diagonal)."""
    from scipy.spatial import cKDTree

    n = coords.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return sp.csr_matrix((n, n), dtype=float)
    _, nb = cKDTree(coords).query(coords, k=k + 1)
    rows = np.repeat(np.arange(n), k)
    A = sp.csr_matrix((np.ones(n * k), (rows, nb[:, 1:].ravel())), shape=(n, n))
    A = ((A + A.T) > 0).astype(float).tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    A.sort_indices()
    return A


def _scaled_icar(W: sp.csr_matrix, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Draw a unit-scaled ICAR field: per connected component, sum to zero and geometric
    mean of marginal variances 1; isolated nodes iid N(0, 1)."""
    from scipy.sparse.csgraph import connected_components

    n_comp, labels = connected_components(W, directed=False)
    x = np.zeros(W.shape[0])
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        if idx.size == 1:
            x[idx] = rng.standard_normal()
            continue
        Wc = W[idx][:, idx].toarray()
        lam, V = np.linalg.eigh(np.diag(Wc.sum(axis=1)) - Wc)
        lam, V = lam[1:], V[:, 1:]  # drop the constant null vector (connected component)
        xc = V @ (rng.standard_normal(lam.size) / np.sqrt(lam))
        marginal_var = (V**2) @ (1.0 / lam)
        x[idx] = xc / np.sqrt(np.exp(np.mean(np.log(marginal_var))))
    return x, int(n_comp)


# =========================================================================== yield panel


@dataclass(frozen=True, eq=False, repr=False)
class YieldPanel:
    """A SIMULATED crop-yield panel with daily in-season weather and known truth.

    Attributes
    ----------
    yields : pandas.DataFrame
        One row per (region, year): ``adm_id`` (str), ``harvest_year``
        (int64), ``yield`` (float, t/ha), ``trend_yield`` (float, t/ha, the
        true trend), ``stress_index`` (float), ``shortfall`` (bool: yield more
        than 10 % below ``trend_yield``).
    series : pandas.DataFrame
        CY-Bench-style daily in-season predictors: ``adm_id`` (str), ``date``
        (datetime64), ``harvest_year`` (int64), ``tmax`` (°C), ``prec``
        (mm/day), ``ndvi`` (0–1).
    truth : dict
        Generating parameters (see :func:`yield_panel`).
    source : str
        Always ``"simulated"``.
    """

    yields: pd.DataFrame
    series: pd.DataFrame
    truth: dict
    source: str = SIMULATED

    def __repr__(self) -> str:
        y = self.yields["harvest_year"]
        return (
            f"YieldPanel({_WARNING}; {self.yields['adm_id'].nunique()} regions × "
            f"{y.min()}–{y.max()}, trend={self.truth['trend']}, "
            f"stress_effect={self.truth['stress_effect']})"
        )


def yield_panel(
    n_regions: int = 30,
    years=range(2000, 2019),
    *,
    trend: float = 0.08,
    stress_effect: float = -0.6,
    noise_sd: float = 0.3,
    season_days: int = 180,
    random_state=None,
) -> YieldPanel:
    """Simulate yearly crop yields driven by a trend and in-season weather stress.

    The result is SIMULATED (``source="simulated"``).

    Per region ``r`` and harvest year ``y`` (season: the ``season_days`` days
    ending on 30 September of ``y``)::

        trend_yield = base[r] + trend * (y - years[0])          base ~ U(6, 11) t/ha
        yield       = max(trend_yield + stress_effect * stress_index + N(0, noise_sd²), 0)
        shortfall   = yield < 0.9 * trend_yield

    Daily weather: ``tmax`` = region mean (26–31 °C) + a 4 °C mid-season bump +
    a region-year heat shift ``N(0, 1.5²)`` + AR(1) daily noise (φ = 0.7, sd 2);
    ``prec``: wet days with probability 0.4, gamma amounts scaled by a
    region-year wetness factor around the region's normal ``prec_normal[r]``
    (mm/day). From them::

        heat    = mean over the season of max(tmax - 32, 0)
        drought = max(0, 1 - sum(prec) / (prec_normal[r] * season_days))
        stress_index = ((heat - heat_mean) / heat_sd + (drought - drought_mean) / drought_sd) / sqrt(2)

    with the means / sds taken over all region-years (stored in ``truth``), so
    the index is centred and ``trend_yield`` is the expected yield. ``ndvi`` is
    a seasonal greenness curve damped by positive stress, plus noise.

    Parameters
    ----------
    n_regions : int
        Number of regions (``adm_id``).
    years : iterable of int
        Harvest years, distinct.
    trend : float
        Yield gain per year (t/ha/year).
    stress_effect : float
        Yield change (t/ha) per unit of ``stress_index``.
    noise_sd : float
        Sd of the yield noise (t/ha).
    season_days : int
        Length of the in-season daily series.
    random_state : int, numpy.random.Generator or None
        Same seed, same output.

    Returns
    -------
    YieldPanel
        ``truth`` holds ``trend``, ``stress_effect``, ``noise_sd``,
        ``first_year``, ``adm_ids``, ``base_yield`` and ``prec_normal`` (per
        region, in ``adm_ids`` order), ``heat_threshold``, ``heat_mean``,
        ``heat_sd``, ``drought_mean``, ``drought_sd``, ``shortfall_threshold``
        (0.1) and ``season_end`` ("09-30").

    Examples
    --------
    >>> from sdmkit.datasets.simulate import yield_panel
    >>> sim = yield_panel(n_regions=3, years=range(2010, 2013), season_days=30, random_state=0)
    >>> sim.yields.shape, sim.series.shape
    ((9, 6), (270, 6))
    >>> sim.source
    'simulated'
    """
    rng = _rng(random_state)
    years = np.asarray(list(years))
    if years.size == 0 or years.ndim != 1:
        raise ValueError("years must be a non-empty 1-D sequence of integers.")
    if not np.all(years == np.round(years)) or np.unique(years).size != years.size:
        raise ValueError(f"years must be distinct integers, got {_show(years)}.")
    years = np.sort(years.astype(np.int64))
    if int(n_regions) != n_regions or n_regions < 1:
        raise ValueError(f"n_regions must be a positive integer, got {n_regions!r}.")
    if int(season_days) != season_days or season_days < 1:
        raise ValueError(f"season_days must be a positive integer, got {season_days!r}.")
    if noise_sd < 0:
        raise ValueError(f"noise_sd must be >= 0, got {noise_sd!r}.")
    R, Y, D = int(n_regions), years.size, int(season_days)
    width = max(2, len(str(R - 1)))
    adm_ids = [f"adm_{i:0{width}d}" for i in range(R)]

    base = rng.uniform(6.0, 11.0, R)
    t_region = rng.uniform(26.0, 31.0, R)
    prec_normal = rng.uniform(2.0, 5.0, R)
    heat_shift = rng.normal(0.0, 1.5, (R, Y))
    wetness = rng.lognormal(-0.5 * 0.35**2, 0.35, (R, Y))

    day = np.arange(D)
    bump = 4.0 * np.sin(np.pi * (day + 0.5) / D)
    tmax = t_region[:, None, None] + bump + heat_shift[..., None]
    tmax = tmax + _ar1(rng, (R, Y, D), phi=0.7, sd=2.0)
    p_wet, shape = 0.4, 0.8
    scale = (prec_normal[:, None] * wetness)[..., None] / (p_wet * shape)
    prec = np.where(rng.random((R, Y, D)) < p_wet, rng.gamma(shape, 1.0, (R, Y, D)) * scale, 0.0)

    heat_threshold = 32.0
    heat = np.maximum(tmax - heat_threshold, 0.0).mean(axis=-1)
    drought = np.maximum(0.0, 1.0 - prec.sum(axis=-1) / (prec_normal[:, None] * D))
    h_mean, h_sd = float(heat.mean()), float(heat.std()) or 1.0
    d_mean, d_sd = float(drought.mean()), float(drought.std()) or 1.0
    stress = ((heat - h_mean) / h_sd + (drought - d_mean) / d_sd) / np.sqrt(2.0)

    trend_yield = base[:, None] + trend * (years - years[0])[None, :]
    noise = rng.normal(0.0, noise_sd, (R, Y)) if noise_sd > 0 else np.zeros((R, Y))
    yld = np.maximum(trend_yield + stress_effect * stress + noise, 0.0)

    green = 0.6 * np.exp(-0.5 * ((day - 0.55 * D) / (0.2 * D)) ** 2)
    damp = 1.0 - 0.1 * np.clip(stress, 0.0, None)[..., None]
    ndvi = np.clip(0.15 + green * damp + rng.normal(0.0, 0.02, (R, Y, D)), 0.0, 1.0)

    season_end = pd.to_datetime([f"{y}-09-30" for y in years]).to_numpy()
    offsets = (day - (D - 1)).astype("timedelta64[D]")
    dates = season_end[:, None] + offsets[None, :]  # (Y, D)

    yields = pd.DataFrame(
        {
            "adm_id": pd.Series(np.repeat(adm_ids, Y), dtype="str"),
            "harvest_year": np.tile(years, R),
            "yield": yld.ravel(),
            "trend_yield": trend_yield.ravel(),
            "stress_index": stress.ravel(),
            "shortfall": (yld < 0.9 * trend_yield).ravel(),
        }
    )
    consecutive = bool(np.all(np.diff(years) == 1))
    yields = check_panel(
        yields, location="adm_id", time="harvest_year", freq="Y" if consecutive else None
    )
    series = pd.DataFrame(
        {
            "adm_id": pd.Series(np.repeat(adm_ids, Y * D), dtype="str"),
            "date": np.tile(dates.ravel(), R),
            "harvest_year": np.tile(np.repeat(years, D), R),
            "tmax": tmax.ravel(),
            "prec": prec.ravel(),
            "ndvi": ndvi.ravel(),
        }
    )
    truth = {
        "trend": float(trend),
        "stress_effect": float(stress_effect),
        "noise_sd": float(noise_sd),
        "first_year": int(years[0]),
        "adm_ids": adm_ids,
        "base_yield": base,
        "prec_normal": prec_normal,
        "heat_threshold": heat_threshold,
        "heat_mean": h_mean,
        "heat_sd": h_sd,
        "drought_mean": d_mean,
        "drought_sd": d_sd,
        "shortfall_threshold": 0.1,
        "season_end": "09-30",
        "season_days": D,
        "note": _WARNING,
    }
    return YieldPanel(yields=yields, series=series, truth=truth)


# =========================================================================== environment


def environment_grid(
    shape: tuple[int, int] = (80, 60),
    bounds: tuple[float, float, float, float] = (-82.0, -40.0, -34.0, 12.0),
    *,
    random_state=None,
):
    """A SIMULATED environment: smooth temperature, precipitation and elevation grids.

    Stands in for real bioclim rasters when a notebook runs on a machine without
    data. Each band is a smooth random field (a sum of a few random Gaussian
    bumps and a latitudinal gradient), masked outside a random blob-shaped
    "continent" so that the grid has nodata cells like real rasters.

    Parameters
    ----------
    shape : (ny, nx)
        Number of rows and columns.
    bounds : (west, south, east, north)
        Extent in degrees (EPSG:4326).
    random_state : int or numpy.random.Generator, optional

    Returns
    -------
    xarray.DataArray
        Float32, dims ``(band, y, x)`` with bands ``temperature`` (°C),
        ``precipitation`` (mm/yr), ``elevation`` (m), EPSG:4326, NaN outside the
        land mask, ``attrs["source"] == "simulated"``.

    Examples
    --------
    >>> from sdmkit.datasets.simulate import environment_grid
    >>> env = environment_grid((20, 15), random_state=0)
    >>> env.dims, env.sizes["band"]
    (('band', 'y', 'x'), 3)
    """
    import rioxarray  # noqa: F401
    import xarray as xr

    rng = _rng(random_state)
    ny, nx = shape
    west, south, east, north = bounds
    dx, dy = (east - west) / nx, (north - south) / ny
    x = west + dx * (np.arange(nx) + 0.5)
    y = north - dy * (np.arange(ny) + 0.5)
    xx, yy = np.meshgrid((x - west) / (east - west), (y - south) / (north - south))

    def field(n_bumps: int) -> np.ndarray:
        out = np.zeros(shape)
        for _ in range(n_bumps):
            cx, cy, w = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.35)
            out += rng.normal() * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * w**2))
        return out

    lat_gradient = np.abs(y[:, None]) / 90.0 * np.ones((1, nx))
    elevation = np.clip(1500 * field(6) + 800, 0, None)
    temperature = 28 - 30 * lat_gradient - 0.0065 * elevation + field(4)
    precipitation = np.clip(1500 + 700 * field(6), 50, None)
    shape_score = 0.5 * field(5) + np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.15)
    land = shape_score > np.quantile(shape_score, 0.35)  # 65% land, irregular coast
    data = np.stack([temperature, precipitation, elevation]).astype("float32")
    data[:, ~land] = np.nan
    da = xr.DataArray(
        data, dims=("band", "y", "x"), name="environment",
        coords={"band": ["temperature", "precipitation", "elevation"], "y": y, "x": x},
        attrs={"source": SIMULATED, "units": {"temperature": "degC",
                                             "precipitation": "mm/yr", "elevation": "m"}},
    )
    return da.rio.write_crs("EPSG:4326")
