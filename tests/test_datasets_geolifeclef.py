"""Tests for sdmkit.datasets.geolifeclef (a tiny GLC23-layout folder + the real sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sdmkit._validation import ValidationError, ValidationWarning
from sdmkit.datasets.geolifeclef import (
    LANDSAT_BANDS,
    GLCSample,
    load_glc23_sample,
    read_patch,
    species_matrix,
)

PATCH = 123456  # -> SatelliteImages/<band>/56/34/123456.jpeg
# 1587938400 s = 2020-04-26 22:00 UTC = 2020-04-27 00:00 in Paris (day 118 of 2020)
PA_CSV = """\
;glcID;gbifID;observer;datasetName;date;dayOfYear;year;lon;lat;x_EPSG3035;y_EPSG3035;geoUncertaintyInM;speciesId;patchID;timeSerieID
74594;5688737;;;CBNMed;1587938400;118;2020;6.48976;43.1676;4034867.0;2235568.0;10.0;1275;1012;11
20378;5211380;3473135737.0;(IGN);Inventaire forestier IGN;2017-06-13;164;2017;4.58967;47.97999;3917292.0;2777720.0;1.0;24;1013;12
20379;5211381;3473135738.0;(IGN);Inventaire forestier IGN;2017-06-13;164;2017;4.58967;47.97999;3917292.0;2777720.0;1.0;1275;1013;12
"""
PO_CSV = """\
glcID;gbifID;observer;datasetName;date;dayOfYear;year;year_ecodatacube_quarter;lon;lat;x_EPSG3035;y_EPSG3035;geoUncertaintyInM;speciesId;patchID;timeSerieID
2522017;1882956579.0;Bjørn;NOR Species Observation;2018-06-17;168;2018;2.0;10.95154;59.2511;4375406.0;4017067.0;10.0;9343;123456;21
3739843;2647953093.0;;Pl@ntNet automatic;2018-12-24;358;2018;;8.596808;52.02574;4224694.0;3213791.0;23.23;8126;5362196;22
"""
# series 21 is complete, series 22 ends early ("eos" padding, some cells quoted)
TS_CSV = """\
timeSerieID;2000_1;2000_2;2000_3;2000_4
21;12;11;14;11
22;"66";15;eos;"eos"
"""


def _jpeg(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)


def _tif(path, values, x0=0.0):
    import rioxarray  # noqa: F401
    import xarray as xr

    ny, nx = values.shape
    da = xr.DataArray(
        values, dims=("y", "x"), coords={"y": 50.5 - np.arange(ny), "x": x0 + 0.5 + np.arange(nx)}
    )
    da.rio.write_crs("EPSG:4326", inplace=True).rio.write_nodata(-9999.0, inplace=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    da.rio.to_raster(path)


@pytest.fixture
def glc_root(tmp_path):
    root = tmp_path / "glc"
    (root / "Presence_Absences_occurrences").mkdir(parents=True)
    (root / "Presence_Absences_occurrences/Presences_Absences_train_sample.csv").write_text(PA_CSV)
    (root / "Presence_only_occurrences").mkdir()
    (root / "Presence_only_occurrences/Presences_only_train_sample.csv").write_text(PO_CSV)
    (root / "SatelliteTimeSeries").mkdir()
    for band in ("red", "nir"):
        (root / f"SatelliteTimeSeries/time_series_{band}.csv").write_text(TS_CSV)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[...] = (200, 100, 50)
    _jpeg(root / f"SatelliteImages/rgb/56/34/{PATCH}.jpeg", rgb)
    _jpeg(root / f"SatelliteImages/nir/56/34/{PATCH}.jpeg", np.full((8, 8), 80, np.uint8))
    hf = root / "EnvironmentalRasters/HumanFootprint/detailed"
    _tif(hf / "Built2009_WGS84.tif", np.array([[0.0, 1.0, 2.0], [3.0, -9999.0, 5.0]]))
    _tif(hf / "Lights2009_WGS84.tif", np.array([[9.0, 8.0, 7.0], [6.0, 5.0, 4.0]]))
    return root


def _load(root, **kw):
    kw.setdefault("landsat_bands", ("red", "nir"))
    return load_glc23_sample(root, **kw)


# --------------------------------------------------------------------------- synthetic


def test_occurrences_are_typed_points(glc_root):
    glc = _load(glc_root)
    assert isinstance(glc, GLCSample) and glc.root == glc_root
    pa, po = glc.presence_absence, glc.presence_only
    assert len(pa) == 3 and len(po) == 2
    assert pa.crs.to_epsg() == 4326 and po.crs.to_epsg() == 4326
    assert pa.geometry.x.tolist() == pa["lon"].tolist()
    assert pa.geometry.y.tolist() == pa["lat"].tolist()
    assert pa["source_row"].tolist() == [74594, 20378, 20379]
    for col in ("glcID", "speciesId", "patchID", "timeSerieID", "dayOfYear", "year"):
        assert pa[col].dtype == "int64", col
    assert str(pa["gbifID"].dtype) == "Int64" and pa["gbifID"].isna().tolist() == [
        True,
        False,
        False,
    ]
    assert pa["gbifID"].iloc[1] == 3473135737
    # mixed upstream dates: Unix seconds (local midnight, Paris) and ISO strings
    assert pa["date"].tolist() == [
        pd.Timestamp("2020-04-27"),
        pd.Timestamp("2017-06-13"),
        pd.Timestamp("2017-06-13"),
    ]
    assert pd.api.types.is_string_dtype(pa["datasetName"])
    assert str(po["year_ecodatacube_quarter"].dtype) == "Int64"
    assert po["year_ecodatacube_quarter"].isna().tolist() == [False, True]
    assert po["observer"].iloc[0] == "Bjørn"


def test_landsat_is_tidy_and_drops_only_eos_padding(glc_root):
    ls = _load(glc_root).landsat
    assert list(ls.columns) == ["timeSerieID", "band", "year", "quarter", "date", "value"]
    assert ls["band"].cat.categories.tolist() == ["red", "nir"]
    # per band: 4 values for series 21, 2 for series 22 (2 cells of eos padding)
    assert len(ls) == 2 * (4 + 2)
    s22 = ls[(ls["timeSerieID"] == 22) & (ls["band"] == "red")]
    assert s22["value"].tolist() == [66.0, 15.0]
    assert s22["date"].tolist() == [pd.Timestamp("2000-01-01"), pd.Timestamp("2000-04-01")]
    assert s22["quarter"].tolist() == [1, 2]
    assert ls["timeSerieID"].dtype == "int64" and ls["value"].dtype == "float64"


def test_missing_landsat_band_is_skipped_with_warning(glc_root):
    with pytest.warns(ValidationWarning, match=r"\['blue', 'green', 'swir1', 'swir2'\] not found"):
        glc = load_glc23_sample(glc_root)
    assert set(glc.landsat["band"].unique()) == {"red", "nir"}
    assert glc.landsat["band"].cat.categories.tolist() == list(LANDSAT_BANDS)


def test_read_patch_follows_the_glc23_path_convention(glc_root):
    p = read_patch(PATCH, root=glc_root)
    assert p.shape == (4, 8, 8) and p.dtype == np.uint8
    assert np.abs(p[:, 4, 4].astype(int) - [200, 100, 50, 80]).max() <= 3
    assert read_patch(PATCH, bands="nir", root=glc_root).shape == (1, 8, 8)
    glc = _load(glc_root)
    np.testing.assert_array_equal(glc.read_patch(PATCH, bands=("nir", "rgb"))[0], p[3])
    with pytest.raises(FileNotFoundError, match=r"rgb/99/00/10099\.jpeg"):
        read_patch(10099, root=glc_root)


def test_human_footprint_is_stacked_with_crs(glc_root):
    hf = _load(glc_root).human_footprint
    assert hf.dims == ("band", "y", "x") and hf.shape == (2, 2, 3)
    assert hf["band"].values.tolist() == ["Built2009", "Lights2009"]
    assert hf.rio.crs.to_epsg() == 4326
    assert np.isnan(hf.sel(band="Built2009").values[1, 1])  # nodata -> NaN
    assert float(hf.sel(band="Lights2009").values[0, 0]) == 9.0


def test_human_footprint_on_different_grids_is_a_dict(glc_root):
    hf_dir = glc_root / "EnvironmentalRasters/HumanFootprint/detailed"
    _tif(hf_dir / "Lights2009_WGS84.tif", np.ones((2, 3)), x0=10.0)
    hf = _load(glc_root).human_footprint
    assert isinstance(hf, dict) and sorted(hf) == ["Built2009", "Lights2009"]
    assert hf["Lights2009"].rio.crs.to_epsg() == 4326


def test_full_data_file_names_and_explicit_files(glc_root):
    pa = glc_root / "Presence_Absences_occurrences/Presences_Absences_train_sample.csv"
    full = glc_root / "Presence_Absence_surveys/Presences_Absences_train.csv"
    full.parent.mkdir()
    pa.rename(full)
    assert len(_load(glc_root).presence_absence) == 3  # found at the full-data path
    other = glc_root / "my_pa.csv"
    full.rename(other)
    with pytest.raises(FileNotFoundError, match="Presence_Absence_surveys/Presences_Absences"):
        _load(glc_root)
    assert len(_load(glc_root, pa_file="my_pa.csv").presence_absence) == 3
    with pytest.raises(ValueError, match="need root"):
        load_glc23_sample(pa_file="my_pa.csv")


def test_bad_rows_are_reported(glc_root):
    pa = glc_root / "Presence_Absences_occurrences/Presences_Absences_train_sample.csv"
    pa.write_text(PA_CSV.replace(";118;2020;", ";119;2020;"))
    with pytest.warns(ValidationWarning, match=r"disagrees with dayOfYear/year in 1 rows \[0\]"):
        _load(glc_root)
    pa.write_text(PA_CSV.replace("2017-06-13;164", "13/13/2017;164", 1))
    with pytest.raises(ValidationError, match=r"rows \[1\]"):
        _load(glc_root)


def test_species_matrix():
    pa = pd.DataFrame({"patchID": [7, 5, 5, 5], "speciesId": [3, 1, 3, 3]})
    m = species_matrix(pa)
    assert m.index.tolist() == [5, 7] and m.columns.tolist() == [1, 3]
    assert m.to_numpy().tolist() == [[1, 1], [0, 1]]  # repeated listing is still 1
    assert m.dtypes.eq("uint8").all()
    assert (m.index.name, m.columns.name) == ("patchID", "speciesId")
    geoplant = pa.assign(surveyId=[1, 1, 1, 2])
    assert species_matrix(geoplant).index.tolist() == [1, 2]
    with pytest.raises(ValidationError, match="rows \\[1\\]"):
        species_matrix(
            pa.astype({"speciesId": "float64"}).assign(speciesId=[3.0, np.nan, 3.0, 3.0])
        )
    with pytest.raises(ValidationError, match="taxon"):
        species_matrix(pa, species="taxon")


def test_species_matrix_of_loaded_table(glc_root):
    m = species_matrix(_load(glc_root).presence_absence)
    assert m.loc[1013].tolist() == [1, 1] and m.loc[1012].tolist() == [0, 1]


# --------------------------------------------------------------------------- real data


@pytest.mark.data("glc23_sample_malpolon")
def test_real_sample():
    glc = load_glc23_sample()
    pa, po = glc.presence_absence, glc.presence_only
    assert len(pa) == 100 and len(po) == 100
    assert pa.crs.to_epsg() == 4326 and po.crs.to_epsg() == 4326
    assert pa["date"].notna().all() and po["date"].notna().all()
    assert (pa["date"].dt.day_of_year == pa["dayOfYear"]).all()
    assert pa["lon"].between(-32, 36).all() and pa["lat"].between(26, 73).all()
    # every presence-only occurrence has its Landsat series, in all six bands
    ls = glc.landsat
    assert set(po["timeSerieID"]) == set(ls["timeSerieID"])
    assert ls.groupby("band", observed=True).size().nunique() == 1
    assert ls["value"].between(0, 255).all()
    m = species_matrix(pa)
    assert m.to_numpy().sum() == len(pa.drop_duplicates(["patchID", "speciesId"]))


@pytest.mark.data("glc23_sample_malpolon")
def test_real_patches():
    glc = load_glc23_sample(landsat_bands=())
    assert glc.landsat.empty
    for pid in glc.presence_only["patchID"]:
        p = glc.read_patch(pid)
        assert p.shape == (4, 128, 128) and p.dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="presence-only patchIDs"):
        glc.read_patch(glc.presence_absence["patchID"].iloc[0])


@pytest.mark.data("glc23_sample_malpolon")
def test_real_human_footprint():
    hf = load_glc23_sample(landsat_bands=()).human_footprint
    assert hf.dims == ("band", "y", "x")
    assert hf["band"].values.tolist() == ["Built2009", "Lights2009"]
    assert hf.rio.crs.to_epsg() == 4326
    assert hf.shape == (2, 4605, 6860)
    assert float(hf.min()) >= 0 and float(hf.max()) <= 10
