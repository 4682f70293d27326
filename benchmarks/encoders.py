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
        "_geoclip_le", pkg / "__init__.py", submodule_search_locations=[str(pkg)]
    )
    sys.modules["_geoclip_le"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["_geoclip_le"])
    module = importlib.import_module("_geoclip_le.location_encoder")
    model = module.LocationEncoder(from_pretrained=False)
    model.load_state_dict(state)
    return model.eval()


def _macs_per_point(network: torch.nn.Module) -> int:
    """Multiply-accumulates per point of a network's linear layers (= their weight sizes)."""
    return int(sum(p.numel() for name, p in network.named_parameters() if name.endswith("weight")))


def _timed(fn) -> dict:
    load = os.getloadavg()[0]
    w, c = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c, "load1": load}


def embed_throughput(n: int, repeat: int, batch_size: int = 16384) -> dict:
    """sdmkit SH(L=40)+SIREN(512) ``embed`` vs GeoCLIP's own module, interleaved, one process."""
    from sdmkit.encoders.pretrain import sh_siren_encoder
    from sdmkit.encoders.weights import load_geoclip

    ll = _lonlat(n, seed=3)
    torch.manual_seed(0)
    enc = sh_siren_encoder(L=40, out_features=256, hidden=512, n_layers=2).float().eval()
    enc.embed(ll[: 2 * batch_size], progress=False)  # warm-up: numba cache, torch kernels
    sub = torch.from_numpy(ll[:2000])
    with torch.inference_mode():  # embed() must equal the module's own forward pass
        ref = enc.double()(sub).numpy()
        enc.float()
        fwd32 = enc(sub.float()).numpy()
    emb = enc.embed(ll[:2000], progress=False)
    out = {
        "n_points": n,
        "batch_size": batch_size,
        "threads": {
            "torch": torch.get_num_threads(),
            "numba": __import__("numba").get_num_threads(),
        },
        "sdmkit_macs_per_point": _macs_per_point(enc.network),
        "sdmkit_embed_max_abs_diff_vs_float64_forward": float(np.abs(emb - ref).max()),
        "sdmkit_embed_max_abs_diff_vs_float32_forward": float(np.abs(emb - fwd32).max()),
    }
    wheel = Path(
        os.environ.get("SDMKIT_GEOCLIP_WHEEL", ".cache/weights/geoclip-1.3.0-py3-none-any.whl")
    )
    original = None
    tmp = tempfile.TemporaryDirectory()
    if wheel.is_file():
        original = geoclip_original(wheel, Path(tmp.name))
        latlon = torch.from_numpy(ll[:, ::-1].copy()).float()  # GeoCLIP takes (lat, lon)
        out["geoclip_macs_per_point"] = _macs_per_point(original)

        def run_geoclip():
            with torch.inference_mode():
                for i in range(0, n, batch_size):
                    original(latlon[i : i + batch_size])

        with torch.inference_mode():
            original(latlon[:batch_size])  # warm-up
    else:
        out["geoclip"] = f"skipped: GeoCLIP wheel not found at {wheel} (run `make weights`)"
    runs = {"sdmkit": [], "geoclip": []}
    for _ in range(repeat):  # interleaved, so both see the same load
        runs["sdmkit"].append(_timed(lambda: enc.embed(ll, batch_size=batch_size, progress=False)))
        print("sdmkit", runs["sdmkit"][-1], flush=True)
        if original is not None:
            runs["geoclip"].append(_timed(run_geoclip))
            print("geoclip", runs["geoclip"][-1], flush=True)
    tmp.cleanup()
    best = min(r["wall_s"] for r in runs["sdmkit"])
    out.update(
        {
            "runs": runs,
            "sdmkit_sh40_siren512_seconds": best,
            "embed_points_per_s": n / best,
            "sdmkit_cpu_seconds": min(r["cpu_s"] for r in runs["sdmkit"]),
        }
    )
    if original is None:
        return out
    geoclip_s = min(r["wall_s"] for r in runs["geoclip"])
    geoclip_cpu = min(r["cpu_s"] for r in runs["geoclip"])
    ours = load_geoclip(wheel)
    port = _timed(lambda: ours.embed(ll, batch_size=batch_size, progress=False))
    with torch.inference_mode():
        diff = ours.embed(ll[:2000], progress=False) - original(latlon[:2000]).numpy()
    # opt-in half precision: the network in bfloat16 (AVX512-BF16 here), harmonics float32
    bf16 = _timed(lambda: enc.embed(ll, batch_size=batch_size, dtype="bfloat16", progress=False))
    bf16_err = float(np.abs(enc.embed(ll[:2000], dtype="bfloat16", progress=False) - emb).max())
    out.update(
        {
            "geoclip_original_seconds": geoclip_s,
            "geoclip_points_per_s": n / geoclip_s,
            "geoclip_cpu_seconds": geoclip_cpu,
            "sdmkit_geoclip_port_seconds": port["wall_s"],
            "sdmkit_geoclip_port_max_abs_diff": float(np.abs(diff).max()),
            "embed_speedup_vs_geoclip": geoclip_s / best,
            "embed_speedup_vs_geoclip_cpu_time": geoclip_cpu / out["sdmkit_cpu_seconds"],
            "macs_ratio_geoclip_over_sdmkit": out["geoclip_macs_per_point"]
            / out["sdmkit_macs_per_point"],
            "bfloat16_network": {
                "seconds": bf16["wall_s"],
                "load1": bf16["load1"],
                "points_per_s": n / bf16["wall_s"],
                "max_abs_diff_vs_float32": bf16_err,
            },
            "note": "speedup = best wall time of GeoCLIP's original module over best wall time of "
            "sdmkit's SH40+SIREN(512) embed(), float32, same points, same batch size, "
            "runs interleaved in one process. GeoCLIP does macs_ratio_geoclip_over_sdmkit "
            "times more multiply-accumulates per point, so at equal GEMM efficiency the "
            "speedup cannot exceed about that ratio.",
        }
    )
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
    proc = subprocess.run(
        [sys.executable, "-c", _GRID_CHILD, str(resolution)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument(
        "--parts",
        default="sh,embed,grid",
        help="comma-separated parts to run (sh, embed, grid); parts not run are "
        "carried over from the existing --out file, marked as such",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="embedding timings per encoder (default 3, 1 with --quick)",
    )
    p.add_argument(
        "--n-embed",
        type=int,
        default=None,
        help="points for the embedding part (default 1e5, 2e4 with --quick)",
    )
    args = p.parse_args(argv)
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    if not parts <= {"sh", "embed", "grid"}:
        p.error(f"--parts takes sh, embed and grid; got {args.parts!r}")
    sys.path.insert(0, str(HERE))
    previous = {}
    if parts != {"sh", "embed", "grid"} and Path(args.out).is_file():
        previous = json.loads(Path(args.out).read_text())

    def carried(key: str) -> dict:
        if key not in previous:
            return {"skipped": f"not run (--parts {args.parts}) and none in {args.out}"}
        old = dict(previous[key])
        old.setdefault("carried_over", "from an earlier run of this script (not re-run)")
        return old

    t0 = time.perf_counter()
    machine = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loadavg_start": os.getloadavg(),
    }
    if "sh" in parts:
        import sh_speed

        n_peer = 10_000 if args.quick else 100_000
        sh = sh_speed.main(
            ["--closed-form-n", str(n_peer), "--scipy-n", str(n_peer)]
            + (["--quick"] if args.quick else [])
        )
    else:
        sh = carried("spherical_harmonics")
    if "embed" in parts:
        embed = embed_throughput(
            args.n_embed or (20_000 if args.quick else 100_000),
            repeat=args.repeat or (1 if args.quick else 3),
        )
    else:
        embed = carried("embedding")
    resolution = 2.0 if args.quick else 0.1
    if "grid" in parts:
        grid = grid_peak_rss(resolution)
        grid["resolution_deg"] = resolution
    else:
        grid = carried("embed_grid")
    machine["loadavg_end"] = os.getloadavg()
    summary = dict(sh.get("summary", {}))
    summary.pop("note", None)
    summary.update(
        {
            "embed_points_per_s": embed.get("embed_points_per_s"),
            "embed_speedup_vs_geoclip": embed.get("embed_speedup_vs_geoclip"),
            "embed_grid_peak_rss_mb": grid.get("peak_rss_mb"),
            "embed_grid_resolution_deg": grid.get(
                "resolution_deg", previous.get("embed_grid_resolution_deg")
            ),
        }
    )
    carried = [k for k, v in (("sh", sh), ("embed", embed), ("grid", grid)) if "carried_over" in v]
    note = (
        f"shared 2-core machine: load average {machine['loadavg_start'][0]:.1f} at the start, "
        f"{machine['loadavg_end'][0]:.1f} at the end (each timing records its own); "
        "the embedding speedup compares runs interleaved in one process"
        + (
            f"; carried over from an earlier run, not re-run: {', '.join(carried)}"
            if carried
            else ""
        )
    )
    result = {
        "benchmark": "encoders",
        **summary,
        "note": note,
        "targets": {
            "sh_L40_1e5_seconds": "<= 0.4",
            "sh_L40_speedup_vs_closed_form": ">= 45",
            "sh_L40_float32_max_abs_err": "<= 1e-5",
            "embed_speedup_vs_geoclip": ">= 20",
            "embed_grid_peak_rss_mb": "<= 2048",
        },
        "parts_run": sorted(parts),
        "machine": machine,
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
