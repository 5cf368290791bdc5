"""python -m metalnn.metal_lint: every violation of a .metal file as `file:line: rule: message` and a
non-zero status; a file that follows the rules passes with status 0."""
import subprocess
import sys

import pytest

from metalnn.metal_lint import lint
from metalnn.sim.msl_translator import find_clang

HEADER = "#include <metal_stdlib>\nusing namespace metal;\n"
GOOD = HEADER + """constant float kScale = 2.0f;
inline void put(threadgroup float* t, uint i, float v) { t[i] = v; }
kernel void scale(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  uint gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]]) {
  threadgroup float tile[64];
  put(tile, tid, x[gid] * kScale);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  y[gid] = tile[tid];
}
"""
# The same kernel, broken: a program-scope variable outside constant (line 3), a scalar threadgroup
# size beside a vector grid position (line 7), a double (line 10).
BAD = HEADER + """float kScale = 2.0f;
inline void put(threadgroup float* t, uint i, float v) { t[i] = v; }
kernel void scale(device const float* x [[buffer(0)]], device float* y [[buffer(1)]],
                  uint2 gid [[thread_position_in_grid]], uint tid [[thread_index_in_threadgroup]],
                  uint size [[threads_per_threadgroup]]) {
  threadgroup float tile[64];
  put(tile, tid, x[gid.x] * kScale);
  double unused = 0;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  y[gid.x] = tile[tid];
}
"""


def run_lint(tmp_path, source, *flags):
    path = tmp_path / "kernel.metal"
    path.write_text(source)
    return subprocess.run([sys.executable, "-m", "metalnn.metal_lint", *flags, str(path)], capture_output=True,
                          text=True, cwd=tmp_path)


def test_violations_are_listed_with_file_line_and_rule(tmp_path):
    result = run_lint(tmp_path, BAD, "--no-address-spaces")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path}/kernel.metal:3: program-scope-variable: ") for line in lines), lines
    assert any(":7: builtin-width: kernel 'scale'" in line for line in lines), lines
    assert any(":10: double: " in line for line in lines), lines
    assert len(lines) == 3, lines


def test_correct_kernel_passes(tmp_path):
    result = run_lint(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(find_clang() is None, reason="the address-space check needs clang++ 14 or later")
def test_address_spaces_are_checked(tmp_path):
    result = run_lint(tmp_path, GOOD.replace("put(threadgroup float* t", "put(device float* t"))
    assert result.returncode == 1
    assert ":8: address-space: no matching function for call to 'put'" in result.stdout, result.stdout


def test_lint_function_returns_violations(tmp_path):
    path = tmp_path / "kernel.metal"
    path.write_text(BAD)
    assert {v.rule for v in lint([str(path)], address_spaces=False)} == {"program-scope-variable", "builtin-width",
                                                                           "double"}
