"""Shared test setup.

Real-data tests carry ``@pytest.mark.data("dataset", ...)``. Without the data
(no ``SDMKIT_DATA_DIR`` copy, nothing in the cache) they skip with a reason;
with ``--require-data`` (what CI passes) any skipped real-data test fails.
"""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--require-data",
        action="store_true",
        default=os.environ.get("SDMKIT_REQUIRE_DATA", "") == "1",
        help="fail (instead of skip) real-data tests whose dataset is not available",
    )


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("data")
    if marker is None:
        return
    from sdmkit.datasets import available, data_dir

    missing = [name for name in marker.args if not available(name)]
    if missing:
        where = data_dir() or "SDMKIT_DATA_DIR unset"
        msg = f"real data not available: {missing} (looked in {where} and the sdmkit cache)"
        if item.config.getoption("--require-data"):
            pytest.fail(msg + " and --require-data was given", pytrace=False)
        pytest.skip(msg)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and item.get_closest_marker("data") is not None
        and item.config.getoption("--require-data")
    ):
        report.outcome = "failed"
        report.longrepr = f"real-data test skipped under --require-data: {report.longrepr}"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny torch models on one thread, then restore the setting.

    Extra threads only add contention on a busy 2-core CI machine. Opt in with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
