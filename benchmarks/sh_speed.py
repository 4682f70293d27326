"""Spherical harmonics speed and float32 accuracy: sdmkit's fused kernel vs its peers.

Peers, in the same process: sdmkit's own torch recurrence (the autograd/CUDA path),
a per-(l, m) torch loop in the style of SatCLIP's ``closed-form`` path
(:func:`sdmkit.encoders.harmonics.closed_form_reference`) and
:func:`scipy.special.sph_harm_y` looped over (l, m). Times are wall-clock seconds after
numba's JIT warm-up (the compile time is measured separately, in a fresh process with an
empty numba cache), best of ``--repeat`` runs, output allocation included. The machine's
load average is recorded: on a shared machine, the best run is the number to read.

Run: ``python benchmarks/sh_speed.py [--quick] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from scipy.special import sph_harm_y

from sdmkit.encoders.harmonics import (
    SphericalHarmonics,
    closed_form_reference,
    spherical_harmonics,
)

EDGES = np.array(
    [[-180, 0], [180, 0], [0, 90], [0, -90], [-180, 90], [180, -90], [180, 45.0], [-180, -45.0]],
    dtype=np.float64,
)


def lonlat(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])


def available_bytes() -> float:
    """MemAvailable from /proc/meminfo (inf where it cannot be read)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf


def timed(fn, repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        res = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        del res
    return {"best_s": min(walls), "median_s": float(np.median(walls)), "cpu_s": min(cpus)}


def scipy_loop(ll: np.ndarray, L: int) -> np.ndarray:
    """SatCLIP-convention real SH from scipy's complex harmonics, one (l, m) at a time."""
    theta, phi = np.deg2rad(ll[:, 1] + 90), np.deg2rad(ll[:, 0] + 180)
    out = np.empty((len(ll), L * L))
    for ell in range(L):
        for m in range(-ell, ell + 1):
            y = sph_harm_y(ell, abs(m), theta, phi) * (-1.0) ** abs(m)  # drop the CS phase
            v = math.sqrt(2) * (y.real if m > 0 else y.imag) if m else math.pi * y.real
            out[:, ell * ell + ell + m] = v
    return out


def compile_seconds() -> dict:
    """First-call time per output dtype in a fresh process with an empty numba cache."""
    code = (
        "import time, numpy as np\n"
        "from sdmkit.encoders.harmonics import spherical_harmonics\n"
        "for dt in (np.float32, np.float64):\n"
        "    t = time.perf_counter(); spherical_harmonics(np.zeros((20, 2)), 10, dtype=dt)\n"
        "    print(np.dtype(dt).name, time.perf_counter() - t)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        warm = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)

    def parse(proc):
        rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
        return {name: float(sec) for name, sec in rows}

    return {"compile_cold_cache_s": parse(cold), "first_call_from_cache_s": parse(warm)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1e5 points only, fewer repeats")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--closed-form-n", type=int, default=10_000)
    p.add_argument("--scipy-n", type=int, default=10_000)
    p.add_argument("--out", default=None, help="write the JSON here (default: stdout only)")
    args = p.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    res: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numba_threads": __import__("numba").get_num_threads(),
            "torch_threads": torch.get_num_threads(),
            "loadavg_start": os.getloadavg(),
        },
        "versions": {
            "numpy": np.__version__,
            "torch": torch.__version__,
            "numba": __import__("numba").__version__,
            "scipy": __import__("scipy").__version__,
        },
    }
    res["numba_compile"] = compile_seconds()
    spherical_harmonics(lonlat(64), 10)  # load the kernels (cache) before timing
    spherical_harmonics(lonlat(64), 10, dtype=np.float64)

    sizes = (100_000,) if args.quick else (100_000, 1_000_000)
    numba_times = {}
    for n in sizes:
        ll = lonlat(n)
        for L in (10, 40):
            for dt in (np.float32, np.float64):
                key = f"L{L}_n{n:.0e}_{np.dtype(dt).name}".replace("+0", "")
                reps = repeat if n * L * L <= 2e8 else 2
                need = n * L * L * np.dtype(dt).itemsize
                if need > 0.7 * available_bytes():
                    numba_times[key] = {"skipped": f"output needs {need / 1e9:.1f} GB"}
                    continue
                numba_times[key] = timed(
                    lambda ll=ll, L=L, dt=dt: spherical_harmonics(ll, L, dtype=dt), reps
                )
                print(key, numba_times[key], flush=True)
    res["numba"] = numba_times

    ll = torch.from_numpy(lonlat(100_000))
    torch_times = {}
    for dt in (torch.float32, torch.float64):
        sh = SphericalHarmonics(40, backend="torch")
        x = ll.to(dt)
        with torch.no_grad():
            torch_times[f"L40_n1e5_{str(dt)[6:]}"] = timed(lambda x=x, sh=sh: sh(x), 2)
    res["torch_recurrence"] = torch_times
    print("torch", torch_times, flush=True)

    cf = torch.from_numpy(lonlat(args.closed_form_n, seed=1))
    res["closed_form"] = {
        "n": args.closed_form_n,
        **timed(lambda: closed_form_reference(cf, 40), 1),
    }
    print("closed form", res["closed_form"], flush=True)

    sp = np.concatenate([lonlat(args.scipy_n, seed=2), EDGES])
    t = time.perf_counter()
    ref = scipy_loop(sp, 40)
    res["scipy_loop"] = {"n": len(sp), "best_s": time.perf_counter() - t}
    err32 = np.abs(spherical_harmonics(sp, 40) - ref).max()
    err64 = np.abs(spherical_harmonics(sp, 40, dtype=np.float64) - ref).max()
    res["accuracy_L40_vs_scipy"] = {"float32_max_abs_err": float(err32), "float64": float(err64)}
    print("scipy", res["scipy_loop"], res["accuracy_L40_vs_scipy"], flush=True)

    sh40 = numba_times["L40_n1e5_float32"]["best_s"]
    per_point = sh40 / 1e5
    res["summary"] = {
        "sh_L40_1e5_seconds": sh40,
        "sh_L40_speedup_vs_closed_form": res["closed_form"]["best_s"]
        / args.closed_form_n
        / per_point,
        "sh_L40_speedup_vs_scipy": res["scipy_loop"]["best_s"] / len(sp) / per_point,
        "sh_L40_float32_max_abs_err": float(err32),
        "note": "speedups compare seconds per point; peers ran on the point counts given",
    }
    res["machine"]["loadavg_end"] = os.getloadavg()
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return res


if __name__ == "__main__":
    main()
