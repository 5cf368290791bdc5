"""Fixtures shared by the metalnn Python tests."""

import zlib

import numpy as np
import pytest

import op_check


@pytest.fixture(params=op_check.TARGETS, ids=str)
def target(request) -> op_check.Target:
    """Every device (and precision) metalnn can use on this machine."""
    return request.param


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A random generator seeded from the test's id, so failures reproduce."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_sessionfinish(session, exitstatus):
    """A full run fails when a GPU kernel is never dispatched (gpu_coverage.py)."""
    import gpu_coverage
    gpu_coverage.check_session(session)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist: a worker's dispatched kernels count towards the coverage check."""
    import gpu_coverage
    gpu_coverage.collect_worker(node)
