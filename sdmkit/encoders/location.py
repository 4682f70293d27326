"""``LocationEncoder``: a positional encoding followed by a network.

A location encoder turns (lon, lat) in degrees into a vector that summarises the
place. sdmkit builds one from two torch modules,

* ``positional`` — a fixed encoding of the coordinates (spherical harmonics,
  random Fourier features, …, see :mod:`sdmkit.encoders.positional`), and
* ``network`` — a trainable network on top of it (SIREN, residual MLP, …, see
  :mod:`sdmkit.encoders.networks`),

and adds what a notebook needs around them: :meth:`LocationEncoder.embed` takes
a GeoDataFrame or an ``(n, 2)`` lon/lat array, checks it, and embeds it in
batches with a progress bar; :attr:`LocationEncoder.config` /
:meth:`LocationEncoder.from_config` describe the architecture as plain JSON; and
:meth:`LocationEncoder.save` / :meth:`LocationEncoder.load` write and read
safetensors files that carry that config (no pickle anywhere).
"""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._validation import ValidationError

__all__ = ["LocationEncoder", "register_module"]

_FORMAT = "sdmkit.LocationEncoder"
_FORMAT_VERSION = 1
_SHOW = 8  # how many offending rows an error message lists

# --------------------------------------------------------------------------- input checks


def _rows(idx) -> str:
    idx = list(idx)
    head = ", ".join(map(str, idx[:_SHOW]))
    return f"[{head}{f', … ({len(idx) - _SHOW} more)' if len(idx) > _SHOW else ''}]"


def _check_array(lonlat, name: str = "lonlat") -> np.ndarray:
    """Check an ``(n, 2)`` (lon, lat) array; return it as C-contiguous float64.

    The shape, type and emptiness checks are done here (with hints for a
    transposed array, a single point or a table); NaN, range and the obvious
    (lat, lon) swap are left to :func:`sdmkit.encoders.positional.check_lonlat`,
    the check every positional encoding runs.
    """
    from .positional import check_lonlat

    if isinstance(lonlat, torch.Tensor):
        lonlat = lonlat.detach().cpu().numpy()
    if hasattr(lonlat, "columns") and hasattr(lonlat, "index"):
        raise ValidationError(
            f"{name}: got a {type(lonlat).__name__}. Pass a GeoDataFrame of points (build one "
            f"with sdmkit.points_from_xy(table, x='lon', y='lat')) or an (n, 2) array such as "
            f"table[['lon', 'lat']].to_numpy()."
        )
    arr = np.asarray(lonlat)
    if arr.dtype.kind not in "iuf":
        raise ValidationError(
            f"{name} must hold numbers (integers or floats, in degrees); got dtype "
            f"{arr.dtype}. Fix any text, boolean or missing entries and convert it, e.g. "
            f"np.asarray(x, dtype=float)."
        )
    if arr.ndim == 1 and arr.shape[0] == 2:
        raise ValidationError(
            f"{name} has shape (2,): a single point must be shaped (1, 2); use "
            f"np.atleast_2d({name})."
        )
    if arr.ndim != 2 or arr.shape[1] != 2:
        hint = (
            f" It looks transposed: pass {name}.T." if arr.ndim == 2 and arr.shape[0] == 2 else ""
        )
        raise ValidationError(
            f"{name} must have shape (n, 2) with columns (lon, lat) in degrees; got shape "
            f"{arr.shape}.{hint}"
        )
    if arr.shape[0] == 0:
        raise ValidationError(f"{name} is empty: there are no points to embed.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    check_lonlat(arr, name=name)
    return arr


def _is_geo(points) -> bool:
    return any(c.__name__ in ("GeoDataFrame", "GeoSeries") for c in type(points).__mro__)


def _as_lonlat(points):
    """(lon/lat float64 array, index or None) from a GeoDataFrame/GeoSeries or an array."""
    if _is_geo(points):
        from .._validation import check_points

        frame = points.to_frame("geometry") if not hasattr(points, "columns") else points
        check_points(frame)
        if frame.crs.to_epsg() != 4326:
            frame = frame.to_crs("EPSG:4326")
        if len(frame) == 0:
            raise ValidationError("points is empty: there are no points to embed.")
        geom = frame.geometry
        lonlat = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
        return _check_array(lonlat, name="points (in EPSG:4326)"), points.index
    return _check_array(points), None


def _on(module: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    """Whether every floating tensor of ``module`` is on ``device`` in ``dtype``."""
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    return all(t.device == device and t.dtype == dtype for t in tensors)


def _fused_features(positional: nn.Module, device: torch.device, dtype: torch.dtype):
    """``(fill, width, numpy dtype)`` for an encoding with a fused CPU kernel, else None.

    ``fill(lonlat, out)`` writes the features of checked float64 ``(m, 2)`` coordinates
    into ``out`` and returns it. Only :class:`~sdmkit.encoders.harmonics.SphericalHarmonics`
    has one (its numba kernel); it is used on CPU in float32/float64 unless the module
    was told to use its torch path.
    """
    from . import harmonics

    if (
        type(positional) is not harmonics.SphericalHarmonics
        or harmonics.numba is None
        or positional.backend == "torch"
        or device.type != "cpu"
        or dtype not in (torch.float32, torch.float64)
    ):
        return None
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    L, convention = positional.L, positional.convention

    def fill(lonlat: np.ndarray, out: np.ndarray) -> np.ndarray:
        harmonics._fill(lonlat, L, convention, out)
        return out

    return fill, L * L, np_dtype


_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def _torch_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}.")
    return _DTYPES[name]


# --------------------------------------------------------------------------- config support

_REGISTERED: dict[str, type] = {}


def register_module(cls: type) -> type:
    """Make an ``nn.Module`` class usable in :meth:`LocationEncoder.from_config`.

    sdmkit's encodings and networks are found automatically; use this (as a
    class decorator) for your own modules. The class must take plain keyword
    arguments and keep each one as an attribute of the same name (or expose
    them as a ``config`` dict).
    """
    _REGISTERED[cls.__name__] = cls
    return cls


def _module_types() -> dict[str, type]:
    import importlib

    types: dict[str, type] = {}
    for mod_name in ("harmonics", "positional", "networks", "weights"):
        try:
            mod = importlib.import_module(f"sdmkit.encoders.{mod_name}")
        except ImportError:  # a sibling module not written / not importable
            continue
        for obj in vars(mod).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, nn.Module)
                and obj.__module__ == mod.__name__
            ):
                types[obj.__name__] = obj
    types.update(_REGISTERED)
    return types


def _plain(value, where: str):
    """``value`` as JSON-able plain data, or a ValueError naming ``where``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    raise ValueError(
        f"{where} is a {type(value).__name__}, not plain data; it cannot go into a JSON config."
    )


def _describe(module: nn.Module) -> dict:
    cls = type(module)
    if _module_types().get(cls.__name__) is not cls:
        raise ValueError(
            f"LocationEncoder.config only knows sdmkit's encoder modules (and classes "
            f"registered with sdmkit.encoders.location.register_module); got "
            f"{cls.__module__}.{cls.__qualname__}. Register it, or save its state_dict "
            f"with torch.save instead."
        )
    own = getattr(module, "config", None)
    if isinstance(own, dict):
        params = dict(own)
    else:
        params = {}
        for name, p in inspect.signature(cls.__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if hasattr(module, name):
                params[name] = getattr(module, name)
            elif hasattr(module, f"_{name}"):
                params[name] = getattr(module, f"_{name}")
            else:
                raise ValueError(
                    f"{cls.__name__} does not keep its argument {name!r} as an attribute, "
                    f"so its config cannot be recorded."
                )
    return {
        "type": cls.__name__,
        "params": {k: _plain(v, f"{cls.__name__}.{k}") for k, v in params.items()},
    }


def _build(spec: dict, role: str) -> nn.Module:
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"config[{role!r}] must be a dict with 'type' and 'params', got {spec!r}.")
    types = _module_types()
    if spec["type"] not in types:
        raise ValueError(
            f"config[{role!r}]: unknown module type {spec['type']!r}. Known: "
            f"{', '.join(sorted(types))}."
        )
    return types[spec["type"]](**spec.get("params", {}))


# --------------------------------------------------------------------------- the encoder


class LocationEncoder(nn.Module):
    """A positional encoding followed by a network: (lon, lat) degrees → embedding.

    Parameters
    ----------
    positional : torch.nn.Module
        Maps an ``(n, 2)`` tensor of (lon, lat) degrees to ``(n, k)`` features.
    network : torch.nn.Module
        Maps ``(n, k)`` features to ``(n, d)`` embeddings.

    Notes
    -----
    :meth:`forward` casts the positional features to the network's parameter
    dtype, so a float32 encoder also accepts float64 coordinates.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sdmkit.encoders.location import LocationEncoder
    >>> enc = LocationEncoder(torch.nn.Identity(), torch.nn.Linear(2, 4))
    >>> enc.embed(np.array([[10.0, 50.0], [-60.0, -3.0]])).shape
    (2, 4)
    """

    def __init__(self, positional: nn.Module, network: nn.Module):
        super().__init__()
        self.positional = positional
        self.network = network

    @property
    def out_features(self) -> int | None:
        """Embedding size ``d`` (None when the network does not say)."""
        out = getattr(self.network, "out_features", None)
        return int(out) if out is not None else None

    def _network_dtype(self) -> torch.dtype | None:
        for p in self.network.parameters():
            if p.is_floating_point():
                return p.dtype
        return None

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Embed an ``(n, 2)`` tensor of (lon, lat) degrees; returns ``(n, d)``."""
        feats = self.positional(lonlat)
        dtype = self._network_dtype()
        if dtype is not None and feats.dtype != dtype:
            feats = feats.to(dtype)
        return self.network(feats)

    # ------------------------------------------------------------------- embed

    def embed(
        self,
        points,
        *,
        batch_size: int = 16384,
        device="cpu",
        dtype=torch.float32,
        progress: bool | None = None,
        output: str = "numpy",
    ):
        """Embed points given as a GeoDataFrame or an ``(n, 2)`` lon/lat array.

        Parameters
        ----------
        points : geopandas.GeoDataFrame, geopandas.GeoSeries or array-like (n, 2)
            Points with a CRS (checked with :func:`sdmkit.check_points` and
            reprojected to EPSG:4326), or (lon, lat) degrees, lon first. Arrays
            are checked for shape, dtype, NaN, range and an obvious (lat, lon)
            swap; nothing is dropped.
        batch_size : int
            Points per forward pass (bounds memory: at L = 40 a batch of 16,384
            points holds 105 MB of harmonics in float32).
        device : str or torch.device
            Where to compute (``"cpu"``, ``"cuda"``, …).
        dtype : torch.dtype or str
            Precision of the network; also the dtype of the result (float32 for
            ``"bfloat16"``, which numpy lacks). The coordinates and the positional
            encoding stay in float32 (float64 when ``dtype`` is float64), never in a
            half-precision type. The encoder itself is left untouched (a converted
            copy is used when needed).
        progress : bool, optional
            Show a ``tqdm`` progress bar. Default: only for more than 100,000
            points in an interactive session.
        output : {"numpy", "dataframe"}
            ``"numpy"``: an ``(n, d)`` array. ``"dataframe"``: a DataFrame
            indexed like ``points`` (a RangeIndex for arrays) with columns
            ``emb_000``, ``emb_001``, ….

        Returns
        -------
        numpy.ndarray or pandas.DataFrame

        Notes
        -----
        Runs under :func:`torch.inference_mode` with the encoder in eval mode. With
        :class:`~sdmkit.encoders.harmonics.SphericalHarmonics` on CPU the harmonics
        come from the fused numba kernel, computed from the float64 coordinates
        into one buffer reused across batches (the module's torch path is kept for
        autograd and CUDA); the result equals ``self(torch.tensor(points))`` to
        float rounding.

        Examples
        --------
        >>> import numpy as np, torch
        >>> from sdmkit.encoders.location import LocationEncoder
        >>> enc = LocationEncoder(torch.nn.Identity(), torch.nn.Linear(2, 3))
        >>> enc.embed(np.array([[10.0, 50.0]]), output="dataframe").columns.tolist()
        ['emb_000', 'emb_001', 'emb_002']
        """
        if output not in ("numpy", "dataframe"):
            raise ValueError(f"output must be 'numpy' or 'dataframe', got {output!r}.")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        lonlat, index = _as_lonlat(points)
        dtype = _torch_dtype(dtype)
        device = torch.device(device)
        n = lonlat.shape[0]
        batch_size = min(int(batch_size), n)
        # None: tqdm decides (quiet when output is not a terminal or notebook)
        show = (None if n > 100_000 else False) if progress is None else bool(progress)

        # Coordinates are never rounded to a half-precision dtype: the positional
        # encoding runs in float32 (float64 when asked for) and only the network in
        # ``dtype``; forward() casts the features in between.
        coord_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        if _on(self.positional, device, coord_dtype) and _on(self.network, device, dtype):
            model = self
        else:  # a converted copy; the encoder itself is left alone
            model = copy.deepcopy(self)
            model.positional.to(device=device, dtype=coord_dtype)
            model.network.to(device=device, dtype=dtype)
        network = model.network
        fused = None
        if type(model).forward is LocationEncoder.forward:
            fused = _fused_features(model.positional, device, coord_dtype)
        was_training = model.training
        model.eval()
        out = None
        from tqdm.auto import tqdm

        try:
            with (
                torch.inference_mode(),
                tqdm(
                    total=n, disable=None if show is None else not show, unit="pt", desc="embedding"
                ) as bar,
            ):
                buf = None
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    if fused is not None:
                        # numba kernel straight from the float64 coordinates into one
                        # reused buffer; no autograd, no per-batch re-validation
                        if buf is None:
                            buf = np.empty((batch_size, fused[1]), fused[2])
                        feats = fused[0](lonlat[start:stop], buf[: stop - start])
                        feats = torch.from_numpy(feats)
                        if feats.dtype != dtype:
                            feats = feats.to(dtype)
                        y = network(feats)
                    else:
                        x = torch.from_numpy(lonlat[start:stop]).to(
                            device=device, dtype=coord_dtype
                        )
                        y = model(x)
                    y = y.to("cpu")
                    if y.dtype == torch.bfloat16:  # numpy has no bfloat16
                        y = y.float()
                    if out is None:
                        out = np.empty((n, y.shape[1]), dtype=y.numpy().dtype)
                    out[start:stop] = y.numpy()
                    bar.update(stop - start)
        finally:
            model.train(was_training)
        if output == "numpy":
            return out
        import pandas as pd

        width = max(3, len(str(out.shape[1] - 1)))
        columns = [f"emb_{j:0{width}d}" for j in range(out.shape[1])]
        return pd.DataFrame(
            out, index=index if index is not None else pd.RangeIndex(n), columns=columns
        )

    # ------------------------------------------------------------------- config and files

    @property
    def config(self) -> dict:
        """The architecture as plain JSON-able data (see :meth:`from_config`)."""
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "positional": _describe(self.positional),
            "network": _describe(self.network),
        }

    @classmethod
    def from_config(cls, config: dict) -> LocationEncoder:
        """Build an (untrained) encoder from :attr:`config` (a dict or its JSON text).

        Examples
        --------
        >>> from sdmkit.encoders.location import LocationEncoder
        >>> from sdmkit.encoders.harmonics import SphericalHarmonics
        >>> from sdmkit.encoders.networks import SIREN
        >>> enc = LocationEncoder(SphericalHarmonics(L=4), SIREN(16, 8, hidden=32))
        >>> enc.config["network"]["params"]["hidden"]
        32
        >>> LocationEncoder.from_config(enc.config).config == enc.config
        True
        """
        if isinstance(config, str):
            config = json.loads(config)
        if not isinstance(config, dict) or config.get("format", _FORMAT) != _FORMAT:
            raise ValueError(f"Not a LocationEncoder config: {config!r}.")
        return cls(
            _build(config.get("positional"), "positional"), _build(config.get("network"), "network")
        )

    def save(self, path) -> Path:
        """Write weights and config to a safetensors file; returns its path.

        The config goes into the file's metadata as JSON, so :meth:`load` needs
        nothing else (and never unpickles anything).

        Examples
        --------
        >>> import os, tempfile
        >>> from sdmkit.encoders.location import LocationEncoder
        >>> from sdmkit.encoders.positional import Wrap
        >>> from sdmkit.encoders.networks import MLP
        >>> enc = LocationEncoder(Wrap(), MLP(4, 8, hidden=(16,)))
        >>> path = enc.save(os.path.join(tempfile.mkdtemp(), "enc.safetensors"))
        >>> LocationEncoder.load(path).config == enc.config
        True
        """
        from safetensors.torch import save_file

        path = Path(path)
        meta = {"format": _FORMAT, "config": json.dumps(self.config)}
        state = {k: v.detach().to("cpu").clone().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata=meta)
        return path

    @classmethod
    def load(cls, path, *, map_location="cpu") -> LocationEncoder:
        """Read an encoder written by :meth:`save` (in eval mode, in the saved dtype).

        Examples
        --------
        >>> from sdmkit.encoders.location import LocationEncoder
        >>> enc = LocationEncoder.load("encoder.safetensors")  # doctest: +SKIP
        """
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No such encoder file: {path}")
        with safe_open(str(path), framework="pt", device=str(map_location)) as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
        if meta.get("format") != _FORMAT or "config" not in meta:
            raise ValueError(
                f"{path} is a safetensors file but not an sdmkit LocationEncoder (its metadata "
                f"has no sdmkit config). Build the encoder yourself and use "
                f"safetensors.torch.load_file + load_state_dict."
            )
        model = cls.from_config(json.loads(meta["config"]))
        floats = [t.dtype for t in state.values() if t.is_floating_point()]
        if floats:
            model = model.to(floats[0])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(f"{path}: weights do not match the config: {err}") from None
        return model.to(map_location).eval()
