"""Prints pass/fail/skip counts per op type and the unsupported op types after the conformance run."""
from __future__ import annotations

import re
from collections import defaultdict

_outcomes: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0})


def _case_name(nodeid: str) -> str | None:
    match = re.search(r"::(test_\w+)_cpu$", nodeid)
    return match.group(1) if match else None


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    import test_onnx_backend as suite

    name = _case_name(report.nodeid)
    if name is None or name not in suite.SELECTED:
        return
    for op in suite.SELECTED[name]:
        _outcomes[op][report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    try:
        import test_onnx_backend as suite
    except ImportError:
        return
    write = terminalreporter.write_line
    write(f"ONNX conformance on device '{suite.DEVICE}': per op type (passed/failed/skipped)")
    for op in sorted(_outcomes):
        o = _outcomes[op]
        write(f"  {op:24s} {o['passed']:4d} {o['failed']:4d} {o['skipped']:4d}")
    write("unsupported op types (cases not run): " +
          ", ".join(f"{op}({n})" for op, n in sorted(suite.UNSUPPORTED.items())))
