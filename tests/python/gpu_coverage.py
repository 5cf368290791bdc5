"""Kernel coverage of the GPU path: every kernel host name in metal/*.metal must be dispatched by
some test. Called from conftest.py at the end of a session that ran the whole of tests/python; under
pytest-xdist each worker hands its dispatched kernels to the controller, which checks their union."""

from __future__ import annotations

import metalnn

_OUTPUT_KEY = "metalnn_gpu_dispatched"
_from_workers: set[str] = set()


def _has_sim() -> bool:
    return "metal-sim" in metalnn.devices()


def _dispatched_here() -> set[str]:
    from metalnn import _native
    return set(_native._gpu_dispatched_kernels())


def missing_kernels() -> list[str] | None:
    """Kernels never dispatched in this process or its workers, or None without a metal-sim device."""
    if not _has_sim():
        return None
    from metalnn import _native
    return sorted(set(_native._gpu_library_kernels()) - _dispatched_here() - _from_workers)


def collect_worker(node) -> None:
    """xdist controller: keeps what a finished worker dispatched."""
    _from_workers.update(getattr(node, "workeroutput", {}).get(_OUTPUT_KEY, ()))


def check_session(session) -> None:
    """Fails a full, otherwise passing session when some kernel was never dispatched."""
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: the controller decides
        if _has_sim():
            config.workeroutput[_OUTPUT_KEY] = sorted(_dispatched_here())
        return
    full_run = not config.getoption("keyword") and not config.getoption("markexpr") and \
        all(str(arg).rstrip("/").endswith("tests/python") for arg in config.args)
    if not full_run or session.testsfailed or session.shouldstop:
        return
    missing = missing_kernels()
    if missing:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"GPU kernel coverage: {len(missing)} kernels never dispatched: {missing}", red=True)
        session.exitstatus = 1
