"""Kernel coverage of the GPU path: every kernel host name in metal/*.metal must be dispatched by
some test. Called from conftest.py at the end of a session that ran the whole of tests/python."""

from __future__ import annotations

import metalnn


def missing_kernels() -> list[str] | None:
    """Kernels never dispatched in this process, or None without a metal-sim device."""
    if "metal-sim" not in metalnn.devices():
        return None
    from metalnn import _native
    return sorted(set(_native._gpu_library_kernels()) - set(_native._gpu_dispatched_kernels()))


def check_session(session) -> None:
    """Fails a full, otherwise passing session when some kernel was never dispatched."""
    config = session.config
    full_run = not config.getoption("keyword") and not config.getoption("markexpr") and \
        all(str(arg).rstrip("/").endswith("tests/python") for arg in config.args)
    if not full_run or session.testsfailed or session.shouldstop:
        return
    missing = missing_kernels()
    if missing:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"GPU kernel coverage: {len(missing)} kernels never dispatched: {missing}", red=True)
        session.exitstatus = 1
