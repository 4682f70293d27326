"""Location-encoder benchmark: ``sdmkit bench encoders`` → ``benchmarks/results/encoders.json``.

Side by side, in one run on this machine:

* spherical harmonics at L = 10 and 40 for 1e5 and 1e6 points (sdmkit's fused numba
  kernel) vs a per-(l, m) torch loop equivalent to SatCLIP's closed form and vs
  ``scipy.special.sph_harm_y`` looped over (l, m) (``sh_speed.py`` next to this file);
* end-to-end embedding throughput of sdmkit's L = 40 SH + SIREN(512) encoder
  (SatCLIP's architecture: 1600 → 512 → 512 → 256) vs GeoCLIP's own location-encoder
  module (imported file by file from its wheel, with its published weights);
* peak resident memory of ``embed_grid`` streaming a global 0.1° grid (6.48 million
  cells) to Zarr, measured in a child process.

Run with ``make weights`` done (the GeoCLIP wheel) on a quiet machine.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).parent
OUT = HERE / "results" / "encoders.json"
_MEMBER = "geoclip/model/weights/location_encoder_weights.pth"


def _lonlat(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])


def geoclip_original(wheel: Path, where: Path):
    """GeoCLIP's LocationEncoder class from its wheel, without running geoclip/__init__."""
    pkg = where / "_geoclip_le"
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            rel = name.removeprefix("geoclip/model/")
            if rel in ("location_encoder.py", "misc.py") or rel.startswith("rff/"):
                target = pkg / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
        state = torch.load(io.BytesIO(zf.read(_MEMBER)), weights_only=True, map_location="cpu")
    (pkg / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location(
        "_geoclip_le", pkg / "__init__.py", submodule_search_locations=[str(pkg)])
    sys.modules["_geoclip_le"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["_geoclip_le"])
    module = importlib.import_module("_geoclip_le.location_encoder")
    model = module.LocationEncoder(from_pretrained=False)
    model.load_state_dict(state)
    return model.eval()


def embed_throughput(n: int, repeat: int) -> dict:
    from sdmkit.encoders.pretrain import sh_siren_encoder
    from sdmkit.encoders.weights import load_geoclip

    ll = _lonlat(n, seed=3)
    enc = sh_siren_encoder(L=40, out_features=256, hidden=512, n_layers=2).float().eval()
    enc.embed(ll[:1000])  # warm-up (numba cache, torch kernels)
    best = min(_time(lambda: enc.embed(ll, batch_size=32768, progress=False))
               for _ in range(repeat))
    out = {"n_points": n, "sdmkit_sh40_siren512_seconds": best,
           "embed_points_per_s": n / best}
    wheel = Path(os.environ.get("SDMKIT_GEOCLIP_WHEEL", ".cache/weights/geoclip-1.3.0-py3-none-any.whl"))
    if not wheel.is_file():
        out["geoclip"] = f"skipped: GeoCLIP wheel not found at {wheel} (run `make weights`)"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        original = geoclip_original(wheel, Path(tmp))
        latlon = torch.from_numpy(ll[:, ::-1].copy()).float()  # GeoCLIP takes (lat, lon)

        def run_geoclip():
            with torch.inference_mode():
                for i in range(0, n, 32768):
                    original(latlon[i:i + 32768])

        run_geoclip()  # warm-up on the same data size is too slow; one pass is the timing
        geoclip_s = _time(run_geoclip)
    ours = load_geoclip(wheel)
    ours_s = _time(lambda: ours.embed(ll, batch_size=32768, progress=False))
    out.update({
        "geoclip_original_seconds": geoclip_s,
        "geoclip_points_per_s": n / geoclip_s,
        "sdmkit_geoclip_port_seconds": ours_s,
        "embed_speedup_vs_geoclip": geoclip_s / best,
        "note": "speedup = sdmkit SH40+SIREN(512) points/s over GeoCLIP's original module's "
                "points/s, float32, same points, same batch size",
    })
    return out


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


_GRID_CHILD = r"""
import json, resource, sys, tempfile, time
import dask
from sdmkit.encoders.pretrain import sh_siren_encoder
from sdmkit.encoders.products import embed_grid
res = float(sys.argv[1])
enc = sh_siren_encoder(L=40, out_features=256, hidden=512).float().eval()
dask.config.set(scheduler="threads", num_workers=2)
t = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    ds = embed_grid(enc, resolution=res, chunks=128)
    ds.to_zarr(tmp + "/grid.zarr", mode="w")
wall = time.perf_counter() - t
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"cells": int(ds.sizes["x"] * ds.sizes["y"]), "features": 256,
                  "output_gb": ds.sizes["x"] * ds.sizes["y"] * 256 * 4 / 1e9,
                  "seconds": wall, "peak_rss_mb": peak_mb}))
"""


def grid_peak_rss(resolution: float) -> dict:
    proc = subprocess.run([sys.executable, "-c", _GRID_CHILD, str(resolution)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import sh_speed

    t0 = time.perf_counter()
    n_peer = 10_000 if args.quick else 100_000
    sh = sh_speed.main(["--closed-form-n", str(n_peer), "--scipy-n", str(n_peer)]
                       + (["--quick"] if args.quick else []))
    embed = embed_throughput(20_000 if args.quick else 100_000, repeat=1 if args.quick else 3)
    grid = grid_peak_rss(2.0 if args.quick else 0.1)
    summary = dict(sh["summary"])
    summary.update({
        "embed_points_per_s": embed["embed_points_per_s"],
        "embed_speedup_vs_geoclip": embed.get("embed_speedup_vs_geoclip"),
        "embed_grid_peak_rss_mb": grid.get("peak_rss_mb"),
        "embed_grid_resolution_deg": 2.0 if args.quick else 0.1,
    })
    result = {
        "benchmark": "encoders",
        **summary,
        "targets": {"sh_L40_1e5_seconds": "<= 0.4", "sh_L40_speedup_vs_closed_form": ">= 45",
                    "sh_L40_float32_max_abs_err": "<= 1e-5", "embed_speedup_vs_geoclip": ">= 20",
                    "embed_grid_peak_rss_mb": "<= 2048"},
        "spherical_harmonics": sh,
        "embedding": embed,
        "embed_grid": grid,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb_parent": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps({k: result[k] for k in summary}, indent=2, default=float))
    return result


if __name__ == "__main__":
    main()
