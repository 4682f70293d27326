"""The registry and the fetch layer: hashes, local copies, offline errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sdmkit.datasets import (
    DatasetNotAvailableError,
    _fetch,
    available,
    datasets,
    fetch,
    fetch_dataset,
    registry,
)

EXPECTED = {
    "blockcv_au", "brazil_imdc", "brazil_microregions", "cybench_sample", "dengai", "disdat",
    "dismo", "elapid", "glc23_sample_malpolon", "maxnet_bradypus", "phillips2006_coverages",
}


def test_registry_covers_every_dataset_with_pinned_urls():
    assert set(datasets()) == EXPECTED
    for entry in registry().values():
        assert len(entry.sha256) == 64
        assert entry.url.startswith("https://")
        # pinned: a 40-hex commit in GitHub URLs, a fixed file id elsewhere
        if "githubusercontent" in entry.url:
            assert any(len(p) == 40 for p in entry.url.split("/")), entry.url
        assert entry.licence and entry.citation


@pytest.fixture
def fake_dataset(tmp_path, monkeypatch):
    """A one-file dataset in a temporary data folder, registered on the fly."""
    content = b"lon,lat\n1,2\n"
    entry = _fetch.RegistryEntry(
        dataset="toy", file="sub/points.csv", sha256=hashlib.sha256(content).hexdigest(),
        url="https://example.invalid/toy/points.csv", licence="CC0", citation="nobody",
    )
    reg = dict(_fetch.registry())
    reg[entry.key] = entry
    monkeypatch.setattr(_fetch, "registry", lambda: reg)
    data = tmp_path / "data"
    monkeypatch.setenv("SDMKIT_DATA_DIR", str(data))
    monkeypatch.setenv("SDMKIT_CACHE_DIR", str(tmp_path / "cache"))
    return data, entry, content


def test_fetch_uses_local_copy_and_verifies_hash(fake_dataset):
    data, entry, content = fake_dataset
    (data / "toy" / "sub").mkdir(parents=True)
    (data / "toy" / "sub" / "points.csv").write_bytes(content)
    assert fetch("toy", "sub/points.csv") == data / "toy" / "sub" / "points.csv"
    assert available("toy")
    assert fetch_dataset("toy") == data / "toy"


def test_fetch_rejects_a_corrupt_copy(fake_dataset):
    data, entry, content = fake_dataset
    (data / "toy" / "sub").mkdir(parents=True)
    (data / "toy" / "sub" / "points.csv").write_bytes(content + b"3,4\n")
    with pytest.raises(OSError, match="sha256 mismatch for toy/sub/points.csv"):
        fetch("toy", "sub/points.csv")


def test_offline_without_copy_names_dataset_variable_and_url(fake_dataset):
    assert not available("toy")
    with pytest.raises(DatasetNotAvailableError) as err:
        fetch("toy", "sub/points.csv")
    msg = str(err.value)
    assert "'toy'" in msg and "SDMKIT_DATA_DIR" in msg
    assert "https://example.invalid/toy/points.csv" in msg


def test_unknown_dataset_and_file_errors_list_what_exists():
    with pytest.raises(KeyError, match="Registered datasets: blockcv_au"):
        fetch("nope", "x.csv")
    with pytest.raises(KeyError, match="not a registered file of dataset 'dismo'"):
        fetch("dismo", "nope.csv")


@pytest.mark.data(*sorted(EXPECTED))
def test_every_registered_file_verifies_against_the_local_copy():
    for entry in registry().values():
        path = fetch(entry.dataset, entry.file)
        assert isinstance(path, Path) and path.is_file()


def test_cli_lists_datasets(capsys, monkeypatch):
    from sdmkit.cli import main

    monkeypatch.delenv("SDMKIT_DATA_DIR", raising=False)
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED:
        assert name in out
    assert "licence:" in out and "citation:" in out
