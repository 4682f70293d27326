"""BYM2 recovery on Brazil's 558 microregions: a SIMULATED panel with known spatial truth.

Simulates weekly dengue counts over the microregions' adjacency graph
(``sdmkit.datasets.simulate.dengue_panel``: scaled-ICAR spatial effect, per-location
seasonality, a 4-week-lagged temperature effect, latent AR(1) noise, negative
binomial counts), fits :class:`sdmkit.forecast.bayes.BayesianNegBinomialForecaster`
with ``spatial="bym2"`` and reports how well the posterior recovers the spatial
effect, the MCMC diagnostics and the fit time.

Recovery is measured three ways (Pearson correlations):

* ``structured`` — posterior mean of the BYM2 structured component
  ``σ sqrt(ρ / s) φ`` vs ``truth["spatial_effect"]`` over the 557 connected
  microregions (the island has no structured component by construction);
* ``area_total`` — posterior mean of the whole area effect (structured +
  unstructured) vs ``truth["spatial_effect"]`` over all 558;
* ``area_vs_area_truth`` — the same posterior mean vs the simulated total area
  deviation ``spatial_effect + unstructured_effect``.

Run: ``sdmkit bench bym2`` (or ``python benchmarks/bym2.py --weeks 104 --chains 4``)
with ``SDMKIT_DATA_DIR`` set. Writes ``benchmarks/results/bym2.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("results") / "bym2.json"
HYPER = ["intercept", "sigma_area", "rho", "season", "season_sd", "climate", "climate_sd",
         "temporal_sd", "temporal_phi", "inv_sqrt_dispersion"]  # fmt: skip


def _corr(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


def main(argv=None) -> dict:
    import arviz as az
    import pymc
    from threadpoolctl import threadpool_limits

    import sdmkit
    from sdmkit.datasets import load_brazil_microregions
    from sdmkit.datasets.simulate import dengue_panel
    from sdmkit.forecast.bayes import BayesianNegBinomialForecaster
    from sdmkit.forecast.graph import graph_summary

    if argv is None:  # `sdmkit bench bym2` leaves "bench bym2" in sys.argv
        argv = sys.argv[1:]
        while argv and argv[0] in ("bench", "bym2"):
            argv = argv[1:]
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weeks", type=int, default=52, help="simulated weeks (52-104 suggested)")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--sampler", default="nutpie", choices=["nutpie", "pymc"])
    p.add_argument("--target-accept", type=float, default=0.95)
    p.add_argument("--harmonics", type=int, default=1, help="Fourier pairs (the truth has 1)")
    p.add_argument("--parameterization", default="auto",
                   choices=["auto", "centered", "noncentered"])  # fmt: skip
    p.add_argument("--low-rank", action="store_true",
                   help="nutpie's low-rank modified mass matrix adaptation")  # fmt: skip
    p.add_argument("--spatial-sd", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--save-idata", default=None, help="also write the InferenceData (netCDF)")
    args = p.parse_args(argv)

    micro = load_brazil_microregions()
    t0 = time.perf_counter()
    graph = graph_summary(micro.adjacency)
    t_scale = time.perf_counter() - t0
    sim = dengue_panel(micro.adjacency, n_weeks=args.weeks, spatial_sd=args.spatial_sd,
                       random_state=args.seed)  # fmt: skip
    truth = sim.truth
    model = BayesianNegBinomialForecaster(
        spatial="bym2", adjacency=sim.adjacency, climate={"temperature": truth["climate_lag"]},
        n_harmonics=args.harmonics, temporal="ar1", sampler=args.sampler,
        parameterization=args.parameterization, draws=args.draws, tune=args.tune,
        sampler_kwargs={"low_rank_modified_mass_matrix": True} if args.low_rank else None,
        chains=args.chains, cores=args.cores, target_accept=args.target_accept,
        random_state=args.seed, on_bad_fit="ignore",
    )  # fmt: skip
    load_start = os.getloadavg()
    t0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        model.fit(sim.panel)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    diag = model.diagnostics_
    post = model.idata_.posterior
    if args.save_idata:
        model.idata_.to_netcdf(args.save_idata)
    sampling_s = float(post.attrs.get("sampling_time", np.nan))

    se = model.spatial_effects()
    connected = se["scaling_factor"].to_numpy() != 1.0
    spatial = truth["spatial_effect"]
    area_truth = spatial + truth["unstructured_effect"]
    stats = model.idata_.sample_stats
    hyper = [v for v in HYPER if v in post]
    free = [rv.name for rv in model.model_.free_RVs if rv.name in post]
    dets = [v for v in diag["variables"] if v not in free]
    with np.errstate(all="ignore"):
        rhat_h = az.rhat(model.idata_, var_names=hyper)
        rhat_all = az.rhat(model.idata_, var_names=free)
        rhat_det = az.rhat(model.idata_, var_names=dets)
        ess_h = az.ess(model.idata_, var_names=hyper)
        ess_free = az.ess(model.idata_, var_names=free, method="bulk")
    sd_temp = model._data.col_sd["temperature"]
    result = {
        "benchmark": "bym2",
        "data": "SIMULATED panel (sdmkit.datasets.simulate.dengue_panel) on the real adjacency "
        "graph of Brazil's 558 microregions (load_brazil_microregions)",
        "graph": {
            "n_nodes": int(micro.adjacency.shape[0]),
            "n_edges": int(micro.adjacency.nnz // 2),
            "components": graph.to_dict(orient="records"),
            "scaling_factor_seconds": round(t_scale, 3),
        },
        "simulation": {
            "n_weeks": args.weeks,
            "n_obs_in_likelihood": int(len(model._data.y)),
            "spatial_sd": args.spatial_sd,
            "climate_effect_per_degC": truth["climate_effect"],
            "climate_lag": truth["climate_lag"],
            "dispersion": truth["dispersion"],
            "ar_sd": truth["ar_sd"],
            "seed": args.seed,
        },  # fmt: skip
        "model": {
            "spatial": "bym2",
            "constraint": model.constraint,
            "parameterization": model.parameterization_,
            "temporal": "ar1 (one series)",
            "n_harmonics": args.harmonics,
            "climate": {"temperature": truth["climate_lag"]},
            "sampler": diag["sampler"],
            "draws": args.draws,
            "tune": args.tune,
            "chains": args.chains,
            "cores": args.cores,
            "target_accept": args.target_accept,
            "low_rank_mass_matrix": args.low_rank,
        },  # fmt: skip
        "recovery": {
            "corr_structured_vs_truth_spatial_connected": _corr(
                se.loc[connected, "spatial_structured"], spatial[connected]
            ),
            "corr_area_total_vs_truth_spatial": _corr(se["location_effect"], spatial),
            "corr_area_total_vs_truth_area": _corr(se["location_effect"], area_truth),
            "rmse_area_total_vs_truth_area_centred": float(
                np.sqrt(
                    np.mean(
                        (
                            (se["location_effect"] - se["location_effect"].mean())
                            - (area_truth - area_truth.mean())
                        )
                        ** 2
                    )
                )
            ),  # fmt: skip
            "rho_posterior_mean": float(post["rho"].mean()),
            "sigma_area_posterior_mean": float(post["sigma_area"].mean()),
            "climate_effect_per_degC_posterior_mean": float(post["climate"].mean()) / sd_temp,
            "climate_effect_per_degC_truth": truth["climate_effect"],
            "dispersion_posterior_mean": float(post["dispersion"].mean()),
        },
        "diagnostics": {
            "diagnosed": "every free variable and every deterministic (intercept, area effects, "
            "seasonal/climate coefficients, latent series); entries fixed by construction (the "
            "island's structured effect, 0) skipped",
            "max_r_hat": diag["max_r_hat"],
            "worst_r_hat_variable": diag["worst_r_hat"],
            "max_r_hat_free_variables": float(
                max(float(v.max()) for v in rhat_all.data_vars.values())
            ),
            "max_r_hat_hyperparameters": float(
                max(float(v.max()) for v in rhat_h.data_vars.values())
            ),
            "min_ess_bulk": diag["min_ess_bulk"],
            "min_ess_tail": diag["min_ess_tail"],
            "min_ess_bulk_free_variables": float(
                min(float(v.min()) for v in ess_free.data_vars.values())
            ),
            "min_ess_bulk_hyperparameters": float(
                min(float(v.min()) for v in ess_h.data_vars.values())
            ),
            "n_divergences": diag["n_divergences"],
            "ok": diag["ok"],
            "problems": diag["problems"],
            "max_r_hat_by_free_variable": {
                k: round(float(v.max()), 4) for k, v in rhat_all.data_vars.items()
            },
            "max_r_hat_by_deterministic": {
                k: round(float(np.nanmax(v.values)), 4) for k, v in rhat_det.data_vars.items()
            },
            "min_ess_bulk_by_free_variable": {
                k: round(float(v.min())) for k, v in ess_free.data_vars.items()
            },
            "r_hat_by_hyperparameter": {
                k: round(float(v.max()), 4) for k, v in rhat_h.data_vars.items()
            },
            "mean_leapfrog_steps": float(stats["n_steps"].mean()) if "n_steps" in stats else None,
            "mean_step_size": float(stats["step_size"].mean()) if "step_size" in stats else None,
        },  # fmt: skip
        "timing": {
            "fit_wall_seconds": round(wall, 1),
            "fit_cpu_seconds_main_process": round(cpu, 1),
            "sampling_seconds": round(sampling_s, 1),
            "compile_and_setup_seconds": round(wall - sampling_s, 1),
            "cores": args.cores,
            "loadavg_at_start": load_start,
            "loadavg_at_end": os.getloadavg(),
            "note": "wall time of fit() incl. model build and nutpie/numba compilation; CPU "
            "seconds count nutpie's sampling threads (same process). The machine may be shared: "
            "a 1-minute load average above the core count means the fit got less than its "
            "cores, and the wall times are upper bounds",
        },
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
        },  # fmt: skip
        "versions": {
            "sdmkit": sdmkit.__version__,
            "pymc": pymc.__version__,
            "arviz": az.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
        "targets": {"corr_min": 0.9, "r_hat_max": 1.01},
    }
    try:
        import nutpie

        result["versions"]["nutpie"] = nutpie.__version__
    except ImportError:  # pragma: no cover
        pass
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    r, dg = result["recovery"], result["diagnostics"]
    print(f"corr structured {r['corr_structured_vs_truth_spatial_connected']:.3f}, area total "
          f"{r['corr_area_total_vs_truth_spatial']:.3f}; max r_hat {dg['max_r_hat']:.4f} "
          f"({dg['worst_r_hat_variable']}), min ESS bulk {dg['min_ess_bulk']:.0f}, "
          f"divergences {dg['n_divergences']}; fit {wall:.0f} s -> {out}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
