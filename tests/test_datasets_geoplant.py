"""Tests for sdmkit.datasets.geoplant (tiny GLC24 / GeoPlant folders) and the F1@25 demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError, ValidationWarning
from sdmkit.datasets.geoplant import CUBE_DIMS, GeoPlant, load_geoplant, read_cube

torch = pytest.importorskip("torch")

# GLC24 Kaggle metadata: comma-separated, speciesId written as a float
PA_CSV = """\
lon,lat,year,geoUncertaintyInM,areaInM2,region,country,speciesId,surveyId
3.099038,43.134956,2021,5.0,100.0,MEDITERRANEAN,France,6874.0,212
3.099038,43.134956,2021,5.0,100.0,MEDITERRANEAN,France,476.0,212
3.099038,43.134956,2021,5.0,100.0,MEDITERRANEAN,France,11157.0,212
8.200,47.100,2019,10.0,,CONTINENTAL,Switzerland,476.0,3018575
-1.500,52.400,2018,,16.0,ATLANTIC,United Kingdom,,999
"""
PA_TEST_CSV = """\
lon,lat,year,geoUncertaintyInM,areaInM2,region,country,surveyId
2.5,45.1,2021,5.0,100.0,CONTINENTAL,France,642
"""
PO_CSV = """\
publisher,year,month,day,lat,lon,geoUncertaintyInM,taxonRank,date,dayOfYear,speciesId,surveyId
Pl@ntNet,2019,5,5,43.74,1.57,6.0,SPECIES,2019-05-05,125,3383,1
iNaturalist,2020,7,1,50.1,4.2,,SPECIES,2020-07-01,183,476,2
"""
BIOCLIM_CSV = "surveyId,Bio1,Bio2\n212,12.5,8.1\n3018575,7.0,inf\n"
ELEVATION_CSV = "surveyId,Elevation\n212,35.0\n3018575,612.0\n"
SOIL_CSV = "surveyId,Soilgrid-bdod,Soilgrid-phh2o\n212,120,65\n3018575,110,70\n999,130,55\n"

BIO_SHAPE, LANDSAT_SHAPE = (4, 19, 12), (6, 4, 21)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _cube(path, shape, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = torch.full(shape, float(value))
    t[0, 0, 0] = float("nan")
    torch.save(t, path)


@pytest.fixture
def glc24_root(tmp_path):
    """The Kaggle GLC24 layout."""
    root = tmp_path / "glc24"
    _write(root / "GLC24_PA_metadata_train.csv", PA_CSV)
    _write(root / "GLC24_PA_metadata_test.csv", PA_TEST_CSV)
    _write(root / "GLC24_P0_metadata_train.csv", PO_CSV)
    env = root / "EnvironmentalRasters/EnvironmentalRasters"
    _write(env / "Climate/Average 1981-2010/GLC24-PA-train-bioclimatic.csv", BIOCLIM_CSV)
    _write(env / "Elevation/GLC24-PA-train-elevation.csv", ELEVATION_CSV)
    cubes = root / "TimeSeries-Cubes/TimeSeries-Cubes"
    for sid in (212, 3018575):
        _cube(
            cubes / f"GLC24-PA-train-bioclimatic_monthly/GLC24-PA-train-bioclimatic_monthly_"
            f"{sid}_cube.pt",
            BIO_SHAPE,
            sid % 7,
        )
        _cube(
            cubes / f"GLC24-PA-train-landsat_time_series/GLC24-PA-train-landsat-time-series_"
            f"{sid}_cube.pt",
            LANDSAT_SHAPE,
            1,
        )
    _cube(
        cubes / "GLC24-PA-test-landsat_time_series/GLC24-PA-test-landsat_time_series_642_cube.pt",
        LANDSAT_SHAPE,
        2,
    )
    return root


@pytest.fixture
def geoplant_root(tmp_path):
    """The GeoPlant release layout (PO cubes in <id[-2:]>/<id[-4:-2]> sub-folders)."""
    root = tmp_path / "geoplant"
    _write(root / "PresenceAbsenceSurveys/PA_metadata_train.csv", PA_CSV)
    _write(root / "PresenceOnlyOccurrences/PO_metadata_train.csv", PO_CSV)
    _write(root / "EnvironmentalValues/Climate/PA-train-bioclimatic.csv", BIOCLIM_CSV)
    _write(root / "EnvironmentalValues/SoilGrids/v2/PA-train-soilgrids.csv", SOIL_CSV)
    _write(
        root / "EnvironmentalValues/Climate/PO-train-bioclimatic.csv",
        "surveyId,Bio1,Bio2\n1,14.0,9.0\n2,10.0,6.0\n",
    )
    _cube(
        root / "BioclimTimeSeries/cubes/PA-train/GLC25-PA-train-bioclimatic_monthly_212_cube.pt",
        BIO_SHAPE,
        3,
    )
    _cube(
        root / "BioclimTimeSeries/cubes/PO-train/01/00/PO-train-bioclimatic_monthly_1_cube.pt",
        BIO_SHAPE,
        4,
    )
    return root


def test_glc24_layout_tables(glc24_root):
    with pytest.warns(ValidationWarning) as rec:
        gp = load_geoplant(glc24_root, parts=("pa", "pa_test", "po", "environment"))
    msgs = " | ".join(str(w.message) for w in rec)
    assert "landcover, soilgrids, human_footprint" in msgs  # families not shipped here
    assert "'Bio2' has 1 infinite values" in msgs
    assert "1 of 3 surveys have no environment row (surveyId [999])" in msgs
    assert "No environmental value table for PA-test" in msgs  # skipped, with the names tried
    assert isinstance(gp, GeoPlant)

    pa = gp.presence_absence
    assert pa.crs.to_epsg() == 4326 and len(pa) == 5
    assert str(pa["surveyId"].dtype) == "int64"
    assert str(pa["speciesId"].dtype) == "Int64" and pa["speciesId"].isna().sum() == 1
    assert pa["region"].dtype == "category" and pa["country"].dtype == "category"
    assert pa["areaInM2"].dtype == "float64" and np.isnan(pa["areaInM2"].iloc[3])
    assert pa.geometry.iloc[0].x == pytest.approx(3.099038)

    test = gp.presence_absence_test
    assert test["surveyId"].tolist() == [642] and "speciesId" not in test.columns
    po = gp.presence_only
    assert str(po["date"].dtype).startswith("datetime64")
    assert po["month"].tolist() == [5, 7] and po["publisher"].dtype == "category"

    env = gp.environment["PA-train"]
    assert env.index.name == "surveyId" and env.index.tolist() == [212, 3018575]
    assert list(env.columns) == ["Bio1", "Bio2", "Elevation"]
    assert (env.dtypes == "float64").all()
    assert np.isnan(env.loc[3018575, "Bio2"]) and env.loc[3018575, "Elevation"] == 612.0
    assert list(gp.environment) == ["PA-train"]  # no PA-test / PO-train tables here
    assert gp.files["pa"].name == "GLC24_PA_metadata_train.csv"
    assert "environment/PA-train/elevation" in gp.files


def test_species_matrix_aligns_with_surveys(glc24_root):
    gp = load_geoplant(glc24_root, parts=("pa",))
    with pytest.warns(ValidationWarning, match="1 rows have no speciesId"):
        Y = gp.species_matrix
    assert Y.index.tolist() == gp.surveys["surveyId"].tolist() == [212, 999, 3018575]
    assert Y.columns.tolist() == [476, 6874, 11157] and Y.dtypes.eq("uint8").all()
    assert Y.to_numpy().tolist() == [[1, 1, 1], [0, 0, 0], [1, 0, 0]]
    assert "speciesId" not in gp.surveys.columns and len(gp.surveys) == 3
    with pytest.raises(ValueError, match="include 'pa'"):
        _ = load_geoplant(glc24_root, parts=("po",)).species_matrix


def test_cubes_index_and_read(glc24_root):
    gp = load_geoplant(glc24_root, parts=("pa", "bioclim_cubes", "landsat_cubes"))
    files = gp.cube_files
    assert set(files["kind"]) == {"bioclim", "landsat"}
    lt = files[files["kind"] == "landsat"]
    assert sorted(zip(lt["subset"], lt["surveyId"])) == [
        ("test", 642),
        ("train", 212),
        ("train", 3018575),
    ]
    cubes = gp.read_cubes("bioclim", [3018575, 212])
    assert cubes.dims == ("surveyId", *CUBE_DIMS["bioclim"])
    assert cubes.shape == (2, *BIO_SHAPE) and cubes.dtype == np.float32
    assert cubes["surveyId"].values.tolist() == [3018575, 212]
    assert float(cubes[0, 1, 1, 1]) == 3018575 % 7 and float(cubes[1, 2, 0, 0]) == 212 % 7
    assert np.isnan(float(cubes[0, 0, 0, 0]))  # upstream NaN kept
    assert gp.read_cubes("landsat", subset="test").shape == (1, *LANDSAT_SHAPE)
    with pytest.raises(FileNotFoundError, match=r"No bioclim cube for 1 of 2 .*\[999\]"):
        gp.read_cubes("bioclim", [212, 999])
    with pytest.warns(ValidationWarning, match="filled with NaN"):
        partial = gp.read_cubes("bioclim", [212, 999], missing="nan")
    assert np.isnan(partial.sel(surveyId=999)).all()


def test_geoplant_layout(geoplant_root):
    with pytest.warns(ValidationWarning) as rec:
        gp = load_geoplant(geoplant_root, parts=("pa", "po", "environment", "bioclim_cubes"))
    msgs = " | ".join(str(w.message) for w in rec)
    assert "PA-train: no elevation, landcover, human_footprint table found" in msgs
    assert "'Bio2' has 1 infinite values" in msgs
    assert gp.files["pa"].parts[-2:] == ("PresenceAbsenceSurveys", "PA_metadata_train.csv")
    assert list(gp.environment) == ["PA-train", "PO-train"]
    assert list(gp.environment["PA-train"].columns) == [
        "Bio1",
        "Bio2",
        "Soilgrid-bdod",
        "Soilgrid-phh2o",
    ]
    assert gp.environment["PO-train"].loc[2, "Bio1"] == 10.0
    pa_env = gp.environment["PA-train"]  # outer join: 999 has soil but no climate values
    assert pa_env.index.tolist() == [212, 999, 3018575] and np.isnan(pa_env.loc[999, "Bio1"])
    po_cubes = gp.read_cubes("bioclim", [1], source="PO")  # found in a nested sub-folder
    assert float(po_cubes[0, 1, 0, 0]) == 4.0
    assert gp.read_cubes("bioclim", [212]).shape == (1, *BIO_SHAPE)
    assert "GeoPlant(presence_absence=5 rows" in repr(gp)


def test_missing_files_list_expected_names(tmp_path, glc24_root):
    with pytest.raises(FileNotFoundError) as err:
        load_geoplant(tmp_path, parts=("pa",))
    msg = str(err.value)
    for name in ("GLC24_PA_metadata_train.csv", "PresenceAbsenceSurveys/PA_metadata_train.csv"):
        assert name in msg
    with pytest.raises(FileNotFoundError, match="GLC24_P0_metadata_train.csv"):
        load_geoplant(tmp_path, parts=("po",))
    _write(tmp_path / "GLC24_PA_metadata_train.csv", PA_CSV)
    with pytest.raises(FileNotFoundError, match="Average 1981-2010/GLC24-PA-train-bioclimatic"):
        load_geoplant(tmp_path, parts=("pa", "environment"))
    with pytest.raises(FileNotFoundError, match="BioclimTimeSeries/cubes/PA-train"):
        load_geoplant(tmp_path, parts=("pa", "bioclim_cubes"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_geoplant(glc24_root, parts=("pa",), files={"pa": "nope.csv"})
    with pytest.raises(ValueError, match="Unknown parts"):
        load_geoplant(glc24_root, parts=("pa", "sentinel"))
    with pytest.raises(ValueError, match="add 'pa'"):
        load_geoplant(glc24_root, parts=("environment",))


def test_explicit_paths_and_bad_values(tmp_path, glc24_root):
    other = tmp_path / "elsewhere"
    _write(other / "my_pa.csv", PA_CSV)
    gp = load_geoplant(
        tmp_path,
        parts=("pa", "bioclim_cubes"),
        files={"pa": other / "my_pa.csv"},
        cube_dirs={"bioclim": glc24_root / "TimeSeries-Cubes"},
    )
    assert len(gp.presence_absence) == 5 and len(gp.cube_files) == 2

    _write(tmp_path / "GLC24_PA_metadata_train.csv", PA_CSV.replace("6874.0", "68.5"))
    with pytest.raises(ValidationError, match="whole numbers"):
        load_geoplant(tmp_path, parts=("pa",))
    _write(tmp_path / "GLC24_PA_metadata_train.csv", PA_CSV)
    env = tmp_path / "EnvironmentalValues/Elevation/GLC24-PA-train-elevation.csv"
    _write(env, "surveyId,Elevation\n212,35.0\n212,36.0\n")
    with pytest.raises(ValidationError, match=r"surveyId \[212\] appear more than once"):
        load_geoplant(tmp_path, parts=("pa", "environment"))
    _write(env, "surveyId,Elevation\n212,high\n")
    with pytest.raises(ValidationError, match="non-numeric values"):
        load_geoplant(tmp_path, parts=("pa", "environment"))


class _NotATensor:
    pass


def test_read_cube_never_unpickles_objects(tmp_path):
    good = tmp_path / "ok_cube.pt"
    torch.save(torch.arange(6.0).reshape(1, 2, 3), good)
    assert read_cube(good).tolist() == [[[0, 1, 2], [3, 4, 5]]]
    evil = tmp_path / "evil_cube.pt"
    torch.save({"x": _NotATensor()}, evil)
    with pytest.raises(ValidationError, match="weights_only=True"):
        read_cube(evil)
    torch.save({"x": torch.zeros(2)}, tmp_path / "dict_cube.pt")
    with pytest.raises(ValidationError, match="holds a dict, not a tensor"):
        read_cube(tmp_path / "dict_cube.pt")


# --------------------------------------------------------------------------- GLC23 sample


@pytest.mark.data("glc23_sample_malpolon")
def test_glc23_sample_frequency_baseline_f1_at_25():
    """Samples-F1@25 of "predict the 25 most frequent species everywhere" on the GLC23 sample."""
    from sdmkit.datasets.geolifeclef import load_glc23_sample, species_matrix
    from sdmkit.sdm.metrics import f1_at_k_samples

    glc = load_glc23_sample(landsat_bands=())
    Y = species_matrix(glc.presence_absence)  # surveys (patchID) x species
    assert Y.shape == (99, 80)
    freq = Y.sum(axis=0).to_numpy().astype(float)
    scores = np.tile(freq, (len(Y), 1))
    f1 = f1_at_k_samples(Y.to_numpy(), scores, k=25)

    top25 = set(Y.columns[np.argsort(-freq, kind="stable")[:25]])
    per_site = []
    for _, row in Y.iterrows():
        true = set(row.index[row.to_numpy() == 1])
        per_site.append(2 * len(true & top25) / (25 + len(true)))
    assert f1 == pytest.approx(np.mean(per_site))
    # the sample holds ~1 species per survey, so the score is small but not zero
    assert 0.0 < f1 < 2 / 26 + 1e-12
    assert isinstance(pd.Series(per_site).mean(), float)
