"""Development backtests of season-size ideas for the Brazil sprint (benchmarks/brazil.py).

Run: ``SDMKIT_DATA_DIR=... python benchmarks/brazil_dev_season_size.py`` (about 2 min on
one core). Writes ``benchmarks/results/brazil_season_size_dev.json``.

Origins EW25 of 2015..2020 (forecast EW41 Y .. EW40 Y+1, the sprint protocol; every
target week before the EW25 2022 cut-off of the first validation test) are the seasons
every choice is made on; origin 2021 is reported too (column ``2016_2021``, the seasons
of ``dev_backtests`` in brazil.json). Scores: relative WIS = geometric mean over
(origin, state) of mean WIS / mean WIS of the 8-season climatology; coverage of the 90%
and 50% intervals pooled over all target weeks. The 2022 and 2023 validation seasons
are never forecast here.

Candidates: :class:`~sdmkit.forecast.seasonal.SeasonalLevelForecaster` options (trend,
national predictors, leave-one-season-out level errors, empirical level errors,
per-state level sd), quantile averages (Vincentisation) of seasonal + lgbm +
climatology (weights on a 0.1 grid: the in-sample best, and chosen leave-one-origin-out)
and linear opinion pools (:func:`~sdmkit.forecast.seasonal.linear_pool_quantiles`).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import brazil as B  # noqa: E402

OUT = Path(__file__).with_name("results") / "brazil_season_size_dev.json"
PRIMARY = list(range(2015, 2021))
ALL = list(range(2015, 2022))
QS = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975]
P0 = ("recent", "partial")
VARIANTS = {
    "seasonal (recent+partial, residual sd; as in brazil.py)": {},
    "+ trend (EB-shrunk state slope)": {"predictors": (*P0, "trend")},
    "+ national": {"predictors": (*P0, "national")},
    "+ national + national_recent": {"predictors": (*P0, "national", "national_recent")},
    "+ trend + national": {"predictors": (*P0, "trend", "national")},
    "level_error=loso": {"level_error": "loso"},
    "level_error=loso, level_dist=empirical": {"level_error": "loso", "level_dist": "empirical"},
    "level_dist=empirical (residuals)": {"level_dist": "empirical"},
    "level_sd_prior=2": {"level_sd_prior": 2},
    "level_sd_prior=4": {"level_sd_prior": 4},
    "level_sd_prior=8": {"level_sd_prior": 8},
    "level_error=loso, level_sd_prior=4": {"level_error": "loso", "level_sd_prior": 4},
    "level_error=loso, level_dist=empirical, level_sd_prior=4": {
        "level_error": "loso",
        "level_dist": "empirical",
        "level_sd_prior": 4,
    },
}


def wide(fc):
    """(log1p quantiles, observed, location) per target week, sorted by (location, date)."""
    w = fc.pivot_table(index=["location", "date"], columns="quantile", values="value")
    w = w.sort_index()
    y = fc.drop_duplicates(["location", "date"]).set_index(["location", "date"])["observed"]
    return (
        np.log1p(np.clip(w[QS].to_numpy(), 0, None)),
        y.reindex(w.index).to_numpy(dtype="float64"),
        w.index.get_level_values(0).to_numpy(),
    )


def unit_wis(qlog, y, locs):
    """Mean WIS per location (WIS = twice the mean pinball loss over the 9 quantiles)."""
    q = np.expm1(np.sort(qlog, axis=1))
    d = y[:, None] - q
    tau = np.array(QS)
    w = 2 * np.mean(np.maximum(tau * d, (tau - 1) * d), axis=1)
    return pd.Series(w).groupby(locs).mean()


class Scorer:
    def __init__(self, clim):
        self.clim = clim  # origin -> wide tuple

    def __call__(self, arrays, years):
        """[relative WIS vs climatology, coverage_90, coverage_50] over ``years``."""
        logs, c90, c50 = [], [], []
        for y in years:
            qlog, obs, locs = arrays[y]
            ref = unit_wis(*self.clim[y])
            logs.append(np.log(unit_wis(qlog, obs, locs) / ref).to_numpy())
            q = np.expm1(np.sort(qlog, axis=1))
            c90.append((obs >= q[:, 1]) & (obs <= q[:, 7]))
            c50.append((obs >= q[:, 3]) & (obs <= q[:, 5]))
        return [
            round(float(np.exp(np.concatenate(logs).mean())), 4),
            round(float(np.concatenate(c90).mean()), 4),
            round(float(np.concatenate(c50).mean()), 4),
        ]

    def entry(self, arrays):
        return {
            "2015_2020": self(arrays, PRIMARY),
            "2016_2021": self(arrays, ALL[1:]),
            "per_origin_relative_wis": {str(y): self(arrays, [y])[0] for y in ALL},
        }


def main():
    from sdmkit.forecast.seasonal import SeasonalLevelForecaster, linear_pool_quantiles

    t0 = time.perf_counter()
    panel, cases, static_cols = B.load_panel()
    f = B.model_factories(static_cols)
    warnings.simplefilter("ignore")

    def run(factory):
        return {y: wide(B.run_one("x", factory, panel, cases, str(y))[2]) for y in ALL}

    base = {"climatology": run(f["climatology"]), "lgbm": run(f["lgbm"])}
    score = Scorer(base["climatology"])
    out = {"reference (no change)": {n: score.entry(a) for n, a in base.items()}}
    seasonal = {}
    for name, kw in VARIANTS.items():
        kw = {"n_seasons": 8, "predictors": P0, **kw}
        seasonal[name] = run(lambda kw=kw: SeasonalLevelForecaster(**kw))
    out["SeasonalLevelForecaster options"] = {n: score.entry(a) for n, a in seasonal.items()}
    s0 = seasonal["seasonal (recent+partial, residual sd; as in brazil.py)"]
    members = {"seasonal": s0, "lgbm": base["lgbm"], "climatology": base["climatology"]}
    names = list(members)

    def combine(weights, kind, mem=members):
        res = {}
        for y in ALL:
            qs = [mem[n][y][0] for n in weights]
            w = list(weights.values())
            if kind == "vincent":
                q = sum(wi * qi for wi, qi in zip(w, qs, strict=True)) / sum(w)
            else:
                q = linear_pool_quantiles(qs, w, QS)
            res[y] = (q, *members["climatology"][y][1:])
        return res

    grid = [
        dict(zip(names, np.array(c) / 10, strict=True))
        for c in itertools.product(range(11), repeat=3)
        if sum(c) == 10
    ]
    grid = [{k: v for k, v in g.items() if v > 0} for g in grid]
    vin = {tuple(g.items()): combine(g, "vincent") for g in grid}

    def label(g):
        return " ".join(f"{k} {v:.1f}" for k, v in g)

    ranked = sorted(vin, key=lambda g: score(vin[g], PRIMARY)[0])
    vt = {
        "in-sample best on 2015-2020: " + label(ranked[0]): score.entry(vin[ranked[0]]),
        "seasonal 0.5 lgbm 0.5": score.entry(vin[(("seasonal", 0.5), ("lgbm", 0.5))]),
        "thirds": score.entry(combine(dict.fromkeys(names, 1.0), "vincent")),
    }
    # honest: weights chosen on the other 5 origins, scored on the held-out one
    looo, chosen = {}, {}
    for y in PRIMARY:
        others = [o for o in PRIMARY if o != y]
        g = min(vin, key=lambda g: score(vin[g], others)[0])
        chosen[str(y)] = label(g)
        looo[y] = vin[g][y]
    vt["weights chosen leave-one-origin-out (2015-2020 only)"] = {
        "2015_2020": score(looo, PRIMARY),
        "weights": chosen,
    }
    out["quantile average (Vincentisation), log1p"] = vt
    lp = {}
    for ws in (0.3, 0.5, 0.7):
        key = f"seasonal {ws:.1f} lgbm {1 - ws:.1f}"
        lp[key] = score.entry(combine({"seasonal": ws, "lgbm": 1 - ws}, "pool"))
    loso = seasonal["level_error=loso"]
    lp["seasonal(level_error=loso) 0.5 lgbm 0.5"] = score.entry(
        combine({"seasonal": 0.5, "lgbm": 0.5}, "pool", {**members, "seasonal": loso})
    )
    lp["thirds (with climatology)"] = score.entry(combine(dict.fromkeys(names, 1.0), "pool"))
    lp["seasonal 0.5 climatology 0.5"] = score.entry(
        combine({"seasonal": 0.5, "climatology": 0.5}, "pool")
    )
    lp["lgbm 0.5 climatology 0.5"] = score.entry(combine({"lgbm": 0.5, "climatology": 0.5}, "pool"))
    out["linear pool (average of CDFs), log1p"] = lp
    lib = run(f["seasonal_lgbm_pool"])
    out["library model (benchmarks/brazil.py)"] = {"seasonal_lgbm_pool": score.entry(lib)}
    result = {
        "benchmark": "brazil season-size development",
        "protocol": __doc__.split("\n\n")[2].replace("\n", " "),
        "values": "[relative WIS vs climatology, coverage_90, coverage_50]",
        "results": out,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    for group, entries in out.items():
        print(group)
        for name, v in entries.items():
            if isinstance(v, dict) and "2015_2020" in v:
                print(f"  {name:62s} {v['2015_2020']}")
    print(f"wall {result['wall_seconds']} s, load {result['load_average']} -> {OUT}")


if __name__ == "__main__":
    main()
