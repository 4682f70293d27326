"""Notebooks: each .ipynb is paired with a py:percent file and has one parameters cell."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert [p.stem for p in NOTEBOOKS][:1] == ["00_quickstart"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_and_in_sync(path):
    nb = jupytext.read(path)
    assert "py:percent" in nb.metadata.get("jupytext", {}).get("formats", ""), path
    py = jupytext.read(path.with_suffix(".py"))
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code == [c.source for c in py.cells if c.cell_type == "code"], (
        f"{path.name} and {path.with_suffix('.py').name} differ: run `make format` "
        f"(jupytext --sync)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_with_a_smoke_setting(path):
    nb = jupytext.read(path)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert "SDMKIT_NB_SIZE" in params[0].source and "smoke" in params[0].source
