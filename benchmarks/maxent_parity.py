"""MaxEnt parity and speed: sdmkit's ``MaxentModel`` against elapid's, side by side.

Run: ``python benchmarks/maxent_parity.py [--quick] [--repeats N] [--out PATH]`` with
``SDMKIT_DATA_DIR`` set and elapid installed. Prints JSON (and writes it to
``--out`` when given).

What is compared
----------------
elapid fits MaxEnt with glmnet when the ``glmnet`` package imports, else with
scikit-learn's liblinear: an L1 logistic regression with a single penalty
``1 / C``, ``C = 2 / (1 - exp(-beta_multiplier))``, for every feature (no
maxnet per-feature regularisation). glmnet has no wheels and needs a Fortran
compiler, so elapid here (as for most pip users) runs the liblinear path; the
JSON records which one ran.

* **Bradypus** (maxnet's table: 116 presences, 1000 background, ``ecoreg``
  categorical): for each setting both tools can express — feature classes,
  hinge knots, beta multiplier, cloglog output, background weight 100, no
  presences added to the background (elapid does not add them) — the Pearson
  correlation of cloglog predictions on the 1,116 points, in-sample AUCs and
  median fit times over ``--repeats`` interleaved fits. Two sdmkit variants:
  ``own`` (maxnet's regularisation, what sdmkit does) and ``matched`` (sdmkit
  with elapid's uniform penalty via ``regularization=``, i.e. the same
  objective as elapid's liblinear path).
* **disdat**: the species with most presence records in each region (``--quick``
  skips SWI, whose 5,822 records take elapid minutes), fitted once by each on
  its presences + the region's 10,000 background points and scored on the
  independent presence–absence sites (AUC). Three fits per species: elapid
  with its defaults (``lhp``, 10 hinges, beta 1.5), sdmkit with its defaults
  (maxnet's: ``auto`` classes, 50 hinges, beta 1), and sdmkit with elapid's
  nominal settings.

Headline numbers (``summary``): ``maxent_speedup_vs_elapid`` is elapid's total
disdat fit time over sdmkit's (defaults vs defaults), and
``maxent_auc_delta_vs_elapid`` the mean test-AUC difference (sdmkit - elapid).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from sdmkit.datasets import load_disdat, load_maxnet_bradypus
from sdmkit.sdm.maxent import MaxentModel

# settings both tools can express (no thresholds: the two define them differently)
BRADYPUS_SETTINGS = [
    {"name": "elapid_defaults", "feature_classes": "lhp", "n_hinge": 10, "beta": 1.5},
    {"name": "lqh_10", "feature_classes": "lqh", "n_hinge": 10, "beta": 1.0},
    {"name": "lqh_50", "feature_classes": "lqh", "n_hinge": 50, "beta": 1.0},
    {"name": "lqph_50", "feature_classes": "lqph", "n_hinge": 50, "beta": 1.0},
]
ELAPID_DEFAULTS = {"feature_classes": "lhp", "n_hinge": 10, "beta": 1.5}


def elapid_penalty(beta: float):
    """sdmkit ``regularization=`` that reproduces elapid's liblinear objective.

    elapid minimises ``|b|_1 + C sum_i w_i loss_i``; sdmkit's penalty is
    ``n_p * reg_j * |b_j|`` against ``sum_i w_i loss_i``, so ``reg_j = 1 / (C n_p)``.
    """
    C = 2.0 / (1.0 - np.exp(-beta))

    def reg(F, kinds, presence, sample_weight):
        return np.full(F.shape[1], 1.0 / (C * sample_weight[presence].sum()))

    return reg


def _elapid(setting):
    import elapid

    return elapid.MaxentModel(
        feature_types=setting["feature_classes"],
        n_hinge_features=setting["n_hinge"],
        beta_multiplier=setting["beta"],
        transform="cloglog",
        class_weights=100,
    )


def _sdmkit(setting, matched=False):
    return MaxentModel(
        feature_classes=setting["feature_classes"],
        n_hinge=setting["n_hinge"],
        beta_multiplier=1.0 if matched else setting["beta"],
        regularization=elapid_penalty(setting["beta"]) if matched else None,
        add_presences_to_background=False,
    )


def _timed_fit(model, X, y):
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    return time.perf_counter() - t0, len(caught)


def _elapid_predict(model, X):
    return np.asarray(model.predict(X.copy()), dtype=float)


def bradypus(repeats: int) -> dict:
    table = load_maxnet_bradypus()
    y = table.pop("presence").to_numpy()
    out = {}
    for s in BRADYPUS_SETTINGS:
        times = {"elapid": [], "own": [], "matched": []}
        for _ in range(repeats):  # interleaved, so load changes hit all three alike
            e = _elapid(s)
            times["elapid"].append(_timed_fit(e, table.copy(), y)[0])
            own = _sdmkit(s)
            times["own"].append(_timed_fit(own, table, y)[0])
            matched = _sdmkit(s, matched=True)
            times["matched"].append(_timed_fit(matched, table, y)[0])
        pe = _elapid_predict(e, table)
        po = own.predict_proba(table)[:, 1]
        pm = matched.predict_proba(table)[:, 1]
        med = {k: statistics.median(v) for k, v in times.items()}
        out[s["name"]] = {
            "setting": {k: v for k, v in s.items() if k != "name"},
            "corr_own": round(float(np.corrcoef(pe, po)[0, 1]), 4),
            "corr_matched": round(float(np.corrcoef(pe, pm)[0, 1]), 4),
            "auc_elapid": round(roc_auc_score(y, pe), 4),
            "auc_own": round(roc_auc_score(y, po), 4),
            "auc_matched": round(roc_auc_score(y, pm), 4),
            "fit_seconds_median": {k: round(v, 4) for k, v in med.items()},
            "speedup_own": round(med["elapid"] / med["own"], 2),
            "speedup_matched": round(med["elapid"] / med["matched"], 2),
        }
    # sdmkit's own defaults (auto = lqpht for 116 presences, 50 hinges, beta 1)
    t = [_timed_fit(MaxentModel(), table, y)[0] for _ in range(repeats)]
    m = MaxentModel().fit(table, y)
    out["sdmkit_defaults"] = {
        "feature_classes": m.features_.feature_classes_,
        "n_features": len(m.coef_),
        "n_nonzero": int((m.coef_ != 0).sum()),
        "auc": round(roc_auc_score(y, m.predict_proba(table)[:, 1]), 4),
        "fit_seconds_median": round(statistics.median(t), 4),
    }
    return out


def disdat(quick: bool) -> dict:
    records = []
    for region in ("AWT", "CAN", "NSW", "NZ", "SA", "SWI"):
        if quick and region == "SWI":
            continue
        d = load_disdat(region)
        spid = d.train_po["spid"].value_counts().idxmax()
        po, pa = d.species_data(spid)
        X = pd.concat([po[d.predictors], d.train_bg[d.predictors]], ignore_index=True)
        y = np.r_[np.ones(len(po)), np.zeros(len(d.train_bg))].astype(int)
        Xt = pa[d.predictors].reset_index(drop=True)
        rec = {"region": region, "species": spid, "n_presence": len(po), "n_test": len(pa)}
        e = _elapid(ELAPID_DEFAULTS)
        rec["elapid_fit_seconds"], rec["elapid_warnings"] = _timed_fit(e, X.copy(), y)
        rec["elapid_auc"] = roc_auc_score(pa["occ"], _elapid_predict(e, Xt))
        m = MaxentModel()
        rec["sdmkit_fit_seconds"], _ = _timed_fit(m, X, y)
        rec["sdmkit_auc"] = roc_auc_score(pa["occ"], m.predict_proba(Xt)[:, 1])
        rec["sdmkit_feature_classes"] = m.features_.feature_classes_
        n = MaxentModel(
            feature_classes="lhp",
            n_hinge=10,
            beta_multiplier=1.5,
            add_presences_to_background=False,
        )
        rec["sdmkit_nominal_fit_seconds"], _ = _timed_fit(n, X, y)
        rec["sdmkit_nominal_auc"] = roc_auc_score(pa["occ"], n.predict_proba(Xt)[:, 1])
        records.append({k: round(v, 4) if isinstance(v, float) else v for k, v in rec.items()})
    df = pd.DataFrame(records)
    return {
        "species": records,
        "elapid_fit_seconds_total": round(df["elapid_fit_seconds"].sum(), 3),
        "sdmkit_fit_seconds_total": round(df["sdmkit_fit_seconds"].sum(), 3),
        "sdmkit_nominal_fit_seconds_total": round(df["sdmkit_nominal_fit_seconds"].sum(), 3),
        "elapid_auc_mean": round(df["elapid_auc"].mean(), 4),
        "sdmkit_auc_mean": round(df["sdmkit_auc"].mean(), 4),
        "sdmkit_nominal_auc_mean": round(df["sdmkit_nominal_auc"].mean(), 4),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip SWI (elapid takes minutes there)")
    ap.add_argument("--repeats", type=int, default=5, help="Bradypus fits per tool and setting")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)

    import elapid
    import elapid.models

    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        },
        "elapid": {
            "version": getattr(elapid, "__version__", "unknown"),
            "solver": "sklearn liblinear (uniform L1 penalty)"
            if elapid.models.FORCE_SKLEARN
            else "glmnet (maxnet regularisation)",
        },
    }
    t0 = time.perf_counter()
    result["bradypus"] = bradypus(args.repeats)
    result["disdat"] = disdat(args.quick)
    b, dd = result["bradypus"], result["disdat"]
    result["summary"] = {
        "parity_corr_bradypus_matched": b["elapid_defaults"]["corr_matched"],
        "parity_corr_bradypus_own": b["elapid_defaults"]["corr_own"],
        "maxent_speedup_vs_elapid": round(
            dd["elapid_fit_seconds_total"] / dd["sdmkit_fit_seconds_total"], 2
        ),
        "maxent_auc_delta_vs_elapid": round(dd["sdmkit_auc_mean"] - dd["elapid_auc_mean"], 4),
        "maxent_speedup_vs_elapid_nominal_settings": round(
            dd["elapid_fit_seconds_total"] / dd["sdmkit_nominal_fit_seconds_total"], 2
        ),
        "maxent_auc_delta_vs_elapid_nominal_settings": round(
            dd["sdmkit_nominal_auc_mean"] - dd["elapid_auc_mean"], 4
        ),
        "disdat_species": len(dd["species"]),
    }
    result["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return result


if __name__ == "__main__":
    main()
