"""Rebuild ``sdmkit/datasets/registry.csv`` from a data folder's SHA256SUMS.

Maintainer tool, not part of the package. Run it after a dataset is added or its
pinned upstream commit changes::

    python data/make_registry.py ../shared/data/SHA256SUMS

Every file listed in SHA256SUMS becomes one registry row: the dataset folder, the
file path inside it, its sha256, the upstream URL pinned to a commit (or DOI),
the licence and the citation. The per-dataset facts (repository, commit, path
mapping, licence, citation) are written out below by hand, transcribed from each
dataset's SOURCE.txt; run it from the repository root.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

GH = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"

# dataset -> (repo, commit, function(local file) -> upstream path, licence, citation)
DATASETS = {
    "blockcv_au": dict(
        repo="rvalavi/blockCV",
        commit="17d91e3c279d43cf8466aa97662ad17692136b7e",
        path=lambda f: f if f in ("DESCRIPTION", "LICENSE.md") else f"inst/extdata/{f}",
        licence="GPL-3.0-or-later",
        citation="Valavi R, Elith J, Lahoz-Monfort JJ, Guillera-Arroita G (2019). blockCV: an R "
        "package for generating spatially or environmentally separated folds for k-fold "
        "cross-validation of species distribution models. Methods Ecol Evol 10:225-232.",
    ),
    "brazil_imdc": dict(
        repo=None,  # three upstream repositories, see _brazil_imdc_url
        commit=None,
        path=None,
        licence="GPL-3.0 (state_*, sprint2024_*); no licence stated (sprint2025_*): local "
        "benchmarking only",
        citation="Infodengue-Mosqlimate Dengue Challenge (IMDC) 2024/2025 sprints; case data "
        "SINAN (Brazil MoH) via InfoDengue/Mosqlimate; state covariates by the Imperial College "
        "team (hadrianang/imperial-mosqlimate-sprint2025).",
    ),
    "brazil_microregions": dict(
        repo="drrachellowe/hydromet_dengue",
        commit="23b4c8e5224475c8a5480e0f303a4702f4061255",
        path=lambda f: f"output/{f}" if f == "map.graph" else f"data/{f}",
        licence="GPL-3.0",
        citation="Lowe R, Lee SA, O'Reilly KM, et al. (2021). Combined effects of hydrometeorological "
        "hazards and urbanisation on dengue risk in Brazil. Lancet Planet Health 5:e209-e219. "
        "doi:10.5281/zenodo.4632205",
    ),
    "cybench_sample": dict(
        repo="BigDataWUR/sample_data",
        commit="1c73d18f223fea3e9e0a1f10df1ff7dfa1e08337",
        path=lambda f: f,
        licence="CC0 (US NASS) / CC BY 4.0 (JRC, MODIS) / CC BY 3.0 (WISE) / Copernicus (AgERA5)",
        citation="Paudel D, et al. (2025). CY-Bench: a comprehensive benchmark dataset for "
        "sub-national crop yield forecasting. Earth Syst Sci Data. doi:10.5281/zenodo.11502142",
    ),
    "dengai": dict(
        repo="BartBoerman/forecast-dengue-cases-dengai",
        commit="b48fa9d758ff8270b61cfb4e82498d9f79046f14",
        path=lambda f: f,
        licence="DrivenData competition data (underlying CDC case counts CC BY 4.0): local use",
        citation="DrivenData (2016). DengAI: Predicting Disease Spread. "
        "https://www.drivendata.org/competitions/44/",
    ),
    "disdat": dict(
        repo="rspatial/disdat",
        commit="d0bbc328a46aaf5ba70793f4450dfdd8424abeef",
        path=lambda f: (
            f"inst/extdata/{f[4:]}" if f.startswith("rds/")
            else f"inst/extdata/{f}" if f.startswith("borders/") else f
        ),
        licence="GPL-3.0-or-later",
        citation="Elith J, Graham CH, Valavi R, et al. (2020). Presence-only and presence-absence "
        "data for comparing species distribution modeling methods. Biodiversity Informatics "
        "15:69-80. doi:10.17161/bi.v15i2.13384",
    ),
    "dismo": dict(
        repo="rspatial/dismo",
        commit="30385aeeca307f676f8bf6ff36001a0529fd583b",
        path=lambda f: (
            f"inst/ex/{f[len('orig/inst_ex/'):]}" if f.startswith("orig/inst_ex/")
            else f"data/{f[len('orig/data/'):]}" if f.startswith("orig/data/") else f
        ),
        licence="GPL-3.0-or-later (WorldClim-derived grids: test fixture only, do not re-publish)",
        citation="Hijmans RJ, Phillips S, Leathwick J, Elith J (2024). dismo: Species Distribution "
        "Modeling. R package 1.3-15. Bradypus: Phillips SJ, Anderson RP, Schapire RE (2006) "
        "Ecol Model 190:231-259. Anguilla: Elith J, Leathwick JR, Hastie T (2008) J Anim Ecol "
        "77:802-813.",
    ),
    "elapid": dict(
        repo="earth-chris/elapid",
        commit="359355ae38b38c88d755c056e42429789e75d095",
        path=lambda f: f if f == "LICENSE" else f"elapid/data/{f}",
        licence="MIT (ariolimax occurrences: GBIF per-record licences)",
        citation="Anderson CB (2023). elapid: Species distribution modeling tools for Python. "
        "J Open Source Softw 8(84):4930. doi:10.21105/joss.04930",
    ),
    "glc23_sample_malpolon": dict(
        repo="plantnet/malpolon",
        commit="c486e6917314302fc051c6da10ed2769bfa864c0",
        path=lambda f: (
            "LICENSE.md" if f == "LICENSE_malpolon.md"
            else f"examples/benchmarks/geolifeclef/geolifeclef2023/dataset/{f}"
            if f == "sample_data_SatelliteImages_rgb_mean_std.csv"
            else f"examples/benchmarks/geolifeclef/geolifeclef2023/dataset/sample_data/{f}"
        ),
        licence="MIT",
        citation="Botella C, Deneu B, Marcos D, et al. (2023). The GeoLifeCLEF 2023 dataset to "
        "evaluate plant species distribution models at high spatial resolution across Europe. "
        "arXiv:2308.05121. Sample shipped with malpolon (Larcher et al.).",
    ),
    "maxnet_bradypus": dict(
        repo="mrmaxent/maxnet",
        commit="271b85ec1c1476ac1af54da891ad8f885abb79b5",
        path=lambda f: f"data/{f}" if f.endswith(".rda") else f,
        licence="MIT",
        citation="Phillips SJ, Anderson RP, Dudik M, Schapire RE, Blair ME (2017). Opening the "
        "black box: an open-source release of Maxent. Ecography 40:887-893.",
    ),
    "phillips2006_coverages": dict(
        repo=None,
        commit=None,
        path=None,
        licence="No licence stated (Phillips/AMNH Maxent tutorial data): local test fixture only",
        citation="Phillips SJ, Anderson RP, Schapire RE (2006). Maximum entropy modeling of "
        "species geographic distributions. Ecol Model 190:231-259.",
    ),
}

_IMDC = {
    "state_": ("hadrianang/imperial-mosqlimate-sprint2025",
               "18c38c45bb5cdaeac0119f6a4651ef18e1cbcd86", "ModelInput/{stem}"),
    "sprint2024_dengue": ("Mosqlimate-project/sprint-template",
                          "c3e07614e2cfbbd92c076237f555703d07d5c858", "scores/data/{stem}"),
    "sprint2024_ranking": ("Mosqlimate-project/sprint-template",
                           "c3e07614e2cfbbd92c076237f555703d07d5c858", "scores/tables/{stem}"),
    "sprint2025_metrics": ("Mosqlimate-project/2nd_IMDC_sprint_results",
                           "6fc8184d25a15ecf1db3d2b945c4911843b12a5d", "results/{stem}"),
    "sprint2025_preds": ("Mosqlimate-project/2nd_IMDC_sprint_results",
                         "6fc8184d25a15ecf1db3d2b945c4911843b12a5d",
                         "predictions/preds_2nd_sprint.csv.gz"),
}


def _url(dataset: str, file: str) -> str:
    if dataset == "phillips2006_coverages":
        # scikit-learn's registered source for the byte-identical coverages.zip
        return "https://ndownloader.figshare.com/files/5976075"
    if dataset == "brazil_imdc":
        for prefix, (repo, commit, pattern) in _IMDC.items():
            if file.startswith(prefix):
                stem = file.split("_", 1)[1]
                return GH.format(repo=repo, commit=commit,
                                 path=pattern.format(name=file, stem=stem))
        raise KeyError(file)
    spec = DATASETS[dataset]
    return GH.format(repo=spec["repo"], commit=spec["commit"], path=spec["path"](file))


def main(sums: str, out: str = "sdmkit/datasets/registry.csv") -> None:
    rows = []
    for line in Path(sums).read_text().splitlines():
        sha, rel = line.split(maxsplit=1)
        dataset, file = rel.split("/", 1)
        spec = DATASETS[dataset]
        rows.append(dict(dataset=dataset, file=file, sha256=sha, url=_url(dataset, file),
                         licence=spec["licence"], citation=spec["citation"]))
    rows.sort(key=lambda r: (r["dataset"], r["file"]))
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
