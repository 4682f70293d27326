"""Find, verify and (if allowed) download the files of registered datasets.

Every real file sdmkit reads is listed in ``registry.csv`` beside this module
(dataset, file, sha256, pinned upstream URL, licence, citation). A file is looked
up, in order:

1. under ``$SDMKIT_DATA_DIR/<dataset>/<file>`` (a local copy laid out exactly like
   the upstream folders; never downloaded into, never written to);
2. in the pooch cache (``$SDMKIT_CACHE_DIR`` or the OS cache folder ``sdmkit``);
3. downloaded from its pinned URL into that cache through :mod:`pooch`.

The sha256 is verified in every case. Offline with no local copy, the error names
the dataset, the variable to set and the URL to download from.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DatasetNotAvailableError",
    "RegistryEntry",
    "available",
    "cache_dir",
    "data_dir",
    "datasets",
    "fetch",
    "fetch_dataset",
    "registry",
]

_REGISTRY_FILE = Path(__file__).with_name("registry.csv")


class DatasetNotAvailableError(FileNotFoundError):
    """A registered file is neither on disk nor downloadable (e.g. offline)."""


@dataclass(frozen=True)
class RegistryEntry:
    """One registered file: where it comes from and what it must hash to."""

    dataset: str
    file: str
    sha256: str
    url: str
    licence: str
    citation: str

    @property
    def key(self) -> str:
        """``<dataset>/<file>``: the path relative to a data folder or the cache."""
        return f"{self.dataset}/{self.file}"


@lru_cache(maxsize=1)
def registry() -> dict[str, RegistryEntry]:
    """Return the registry as ``{"<dataset>/<file>": RegistryEntry}``.

    Examples
    --------
    >>> from sdmkit.datasets import registry
    >>> entry = registry()["dismo/orig/inst_ex/bradypus.csv"]
    >>> entry.url.startswith("https://")
    True
    """
    with open(_REGISTRY_FILE, newline="") as fh:
        entries = [RegistryEntry(**row) for row in csv.DictReader(fh)]
    return {e.key: e for e in entries}


def datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    return sorted({e.dataset for e in registry().values()})


def data_dir() -> Path | None:
    """The local data folder from ``$SDMKIT_DATA_DIR``, or None when unset."""
    value = os.environ.get("SDMKIT_DATA_DIR", "").strip()
    return Path(value).expanduser().resolve() if value else None


def cache_dir() -> Path:
    """Where downloads go: ``$SDMKIT_CACHE_DIR`` or the OS cache folder for sdmkit."""
    value = os.environ.get("SDMKIT_CACHE_DIR", "").strip()
    if value:
        return Path(value).expanduser().resolve()
    import pooch

    return Path(pooch.os_cache("sdmkit"))


def _entry(dataset: str, file: str) -> RegistryEntry:
    key = f"{dataset}/{file}"
    try:
        return registry()[key]
    except KeyError:
        known = [k.split("/", 1)[1] for k in registry() if k.startswith(f"{dataset}/")]
        if not known:
            raise KeyError(
                f"Unknown dataset {dataset!r}. Registered datasets: {', '.join(datasets())}."
            ) from None
        raise KeyError(
            f"{file!r} is not a registered file of dataset {dataset!r}. "
            f"Registered files include: {', '.join(sorted(known)[:12])}"
            f"{' …' if len(known) > 12 else ''}."
        ) from None


@lru_cache(maxsize=4096)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the cache key so an edited file is hashed again
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, entry: RegistryEntry) -> Path:
    st = path.stat()
    got = _sha256(str(path), st.st_size, st.st_mtime_ns)
    if got != entry.sha256:
        raise OSError(
            f"sha256 mismatch for {entry.key} at {path}: expected {entry.sha256}, got {got}. "
            f"The file is corrupt or a different version; replace it with the file from "
            f"{entry.url}."
        )
    return path


def _local(entry: RegistryEntry) -> Path | None:
    for root in (data_dir(), cache_dir()):
        if root is not None and (root / entry.key).is_file():
            return root / entry.key
    return None


def available(dataset: str) -> bool:
    """True when every file of ``dataset`` is on disk (data folder or cache)."""
    entries = [e for e in registry().values() if e.dataset == dataset]
    if not entries:
        _entry(dataset, "")  # raises the "unknown dataset" error
    return all(_local(e) is not None for e in entries)


def fetch(dataset: str, file: str) -> Path:
    """Return the local path of one registered file, verified by sha256.

    Parameters
    ----------
    dataset : str
        Dataset folder name, e.g. ``"dismo"``.
    file : str
        Path of the file inside the dataset folder, e.g. ``"orig/inst_ex/bradypus.csv"``.

    Returns
    -------
    pathlib.Path
        Path under ``$SDMKIT_DATA_DIR`` when the file is there, else in the cache
        (downloaded first if needed).

    Raises
    ------
    DatasetNotAvailableError
        No local copy and the download failed (e.g. no network).
    OSError
        The file on disk does not match its registered sha256.

    Examples
    --------
    >>> from sdmkit.datasets import fetch
    >>> path = fetch("dismo", "orig/inst_ex/bradypus.csv")  # doctest: +SKIP
    """
    entry = _entry(dataset, file)
    local = _local(entry)
    if local is not None:
        return _verify(local, entry)
    import pooch

    cache = cache_dir()
    fetcher = pooch.create(
        path=cache,
        base_url="",
        registry={entry.key: f"sha256:{entry.sha256}"},
        urls={entry.key: entry.url},
    )
    try:
        return Path(fetcher.fetch(entry.key, progressbar=False))
    except Exception as err:  # network errors come in many types (requests, OSError, …)
        where = data_dir()
        raise DatasetNotAvailableError(
            f"Dataset {dataset!r}: {file!r} is not on this machine and could not be "
            f"downloaded ({type(err).__name__}: {err}).\n"
            f"Either set SDMKIT_DATA_DIR to a folder laid out as <dataset>/<file> that holds "
            f"it (looked in: {where / entry.key if where else 'SDMKIT_DATA_DIR is unset'}), "
            f"or download {entry.url} to {cache / entry.key}."
        ) from err


def fetch_dataset(dataset: str, files: list[str] | None = None) -> Path:
    """Fetch the files of ``dataset`` (all, or only ``files``) and return their folder.

    The returned folder is laid out ``<folder>/<file>`` exactly as upstream, which
    is what multi-file formats need (R ``.grd`` + ``.gri``, shapefiles).

    Examples
    --------
    >>> from sdmkit.datasets import fetch_dataset
    >>> root = fetch_dataset("maxnet_bradypus")  # doctest: +SKIP
    """
    if files is None:
        entries = [e for e in registry().values() if e.dataset == dataset]
        if not entries:
            _entry(dataset, "")
    else:
        entries = [_entry(dataset, f) for f in files]
    paths = [fetch(e.dataset, e.file) for e in entries]
    roots = {p.parents[len(Path(e.file).parts) - 1] for p, e in zip(paths, entries)}
    if len(roots) != 1:
        raise DatasetNotAvailableError(
            f"Dataset {dataset!r} is split between {sorted(map(str, roots))}; multi-file "
            f"formats need one folder. Copy the whole dataset under SDMKIT_DATA_DIR."
        )
    return roots.pop()
