"""metalnn.metal_kernel: user Metal kernels on NumPy arrays, checked against NumPy on every GPU device,
and each kind of mistake in a kernel caught (as a metalnn.Error, never a crash) next to a correct twin."""
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

import metalnn
from metalnn import metal_kernel as mk

DEVICES = [d for d in ("metal", "metal-sim") if d in metalnn.devices()]
SIM_ONLY = pytest.mark.skipif("metal-sim" not in metalnn.devices(), reason="needs metal-sim")


@pytest.fixture(autouse=True, scope="module")
def kernel_cache(tmp_path_factory):
    """One compiled-kernel cache for the module, away from the user's."""
    old = os.environ.get("METALNN_CACHE_DIR")
    path = tmp_path_factory.mktemp("kernel_cache")
    os.environ["METALNN_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        del os.environ["METALNN_CACHE_DIR"]
    else:
        os.environ["METALNN_CACHE_DIR"] = old


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


EXP_BODY = """
    uint i = thread_position_in_grid.x;
    out[i] = T(exp(float(inp[i])) * 2.0f);
"""


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("n", [1, 7, 129, 1001])
def test_elementwise_body_with_a_type_template(device, dtype, n, rng):
    k = metalnn.metal_kernel(EXP_BODY, "scaled_exp", ["inp"], ["out"], device=device)
    a = rng.uniform(-2, 2, n).astype(dtype)
    (out,) = k([a], grid=(n, 1, 1), threadgroup=(64, 1, 1), output_shapes=[a.shape], output_dtypes=[dtype],
               template=[("T", dtype)])
    assert out.dtype == dtype and out.shape == (n,)
    tol = 1e-6 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(out, (np.exp(a.astype(np.float64)) * 2).astype(dtype), rtol=tol, atol=tol)


REDUCE_ROWS = """
#include <metal_stdlib>
using namespace metal;

// One threadgroup per row: a strided partial sum per thread, then a tree in threadgroup memory.
kernel void row_sum(const device float* x [[buffer(0)]],
                    constant uint& cols [[buffer(1)]],
                    device float* sums [[buffer(2)]],
                    uint row [[threadgroup_position_in_grid]],
                    uint tid [[thread_position_in_threadgroup]],
                    uint width [[threads_per_threadgroup]]) {
  threadgroup float partial[256];
  float acc = 0.0f;
  for (uint c = tid; c < cols; c += width) acc += x[row * cols + c];
  partial[tid] = acc;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint stride = width / 2; stride > 0; stride /= 2) {
    if (tid < stride) partial[tid] += partial[tid + stride];
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  if (tid == 0) sums[row] = partial[0];
}
"""


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 1000), (5, 129)])
def test_threadgroup_reduction_with_barriers(device, rows, cols, rng):
    k = metalnn.metal_kernel(REDUCE_ROWS, "row_sum", ["x", "cols"], ["sums"], device=device)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    (sums,) = k([x, np.uint32(cols)], grid=(rows * 256, 1, 1), threadgroup=(256, 1, 1),
                output_shapes=[(rows,)], output_dtypes=[np.float32])
    np.testing.assert_allclose(sums, x.sum(axis=1), rtol=1e-5, atol=1e-4)


def test_several_outputs_shapes_and_a_scalar_input(device, rng):
    body = """
        uint3 p = thread_position_in_grid;
        if (p.x >= uint(a_shape[2]) || p.y >= uint(a_shape[1]) || p.z >= uint(a_shape[0])) return;
        uint i = (p.z * a_shape[1] + p.y) * a_shape[2] + p.x;
        total[i] = a[i] + b[i] * alpha;
        diff[i] = int(a[i] - b[i] > 0.0f);
    """
    k = metalnn.metal_kernel(body, "two_outputs", ["a", "b", "alpha"], ["total", "diff"], device=device)
    a = rng.standard_normal((3, 7, 13)).astype(np.float32)
    b = rng.standard_normal((3, 7, 13)).astype(np.float32)
    total, diff = k([a, b, np.float32(0.5)], grid=(13, 7, 3), threadgroup=(8, 4, 2),
                    output_shapes=[a.shape, a.shape], output_dtypes=[np.float32, np.int32])
    np.testing.assert_allclose(total, a + 0.5 * b, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(diff, (a - b > 0).astype(np.int32))


def test_int_and_bool_template_parameters_and_init_value(device):
    body = """
        uint i = thread_position_in_grid.x;
        if (i % 2 == 0) out[i] = SCALE ? inp[i] * N : inp[i] + N;
    """
    k = metalnn.metal_kernel(body, "templated", ["inp"], ["out"], device=device)
    a = np.arange(11, dtype=np.int32)
    for n, scale in ((3, True), (5, False)):
        (out,) = k([a], grid=(11, 1, 1), threadgroup=(4, 1, 1), output_shapes=[(11,)], output_dtypes=[np.int32],
                   template=[("N", n), ("SCALE", scale)], init_value=-7)
        want = np.where(a % 2 == 0, a * n if scale else a + n, -7)
        np.testing.assert_array_equal(out, want)


def test_partial_threadgroups_at_the_grid_edge(device):
    # dispatchThreads: 1001 threads in groups of 256 leave a last group of 233 threads.
    body = """
        uint i = thread_position_in_grid.x;
        sizes[i] = threads_per_threadgroup.x;
        grids[i] = threads_per_grid.x;
    """
    k = metalnn.metal_kernel(body, "edge", [], ["sizes", "grids"], device=device)
    sizes, grids = k([], grid=(1001, 1, 1), threadgroup=(256, 1, 1), output_shapes=[(1001,), (1001,)],
                     output_dtypes=[np.uint32, np.uint32])
    np.testing.assert_array_equal(sizes, np.where(np.arange(1001) < 768, 256, 233))
    assert (grids == 1001).all()


# --- mistakes: each kernel that makes one is caught, and its correct twin passes --------------------

def run_copy(k, n=100, grid=100, **kw):
    a = np.arange(n, dtype=np.float32)
    return a, k([a], grid=(grid, 1, 1), threadgroup=(32, 1, 1), output_shapes=[(n,)], output_dtypes=[np.float32],
                **kw)[0]


@SIM_ONLY
def test_an_msl_rule_broken_is_a_source_error_at_the_users_line():
    bad = """
        uint i = thread_position_in_grid.x;
        double twice = inp[i] * 2.0;
        out[i] = float(twice);
    """
    with pytest.raises(metalnn.KernelSourceError) as e:
        run_copy(metalnn.metal_kernel(bad, "uses_double", ["inp"], ["out"], device="metal-sim"))
    assert isinstance(e.value, ValueError) and isinstance(e.value, metalnn.Error)
    assert (3, "double") in [(line, rule) for line, rule, _ in e.value.violations], e.value.violations
    assert "uses_double.metal:3" in str(e.value)
    good = bad.replace("double", "float").replace("2.0", "2.0f")
    a, out = run_copy(metalnn.metal_kernel(good, "uses_float", ["inp"], ["out"], device="metal-sim"))
    np.testing.assert_array_equal(out, a * 2)


@SIM_ONLY
def test_a_compile_error_is_a_source_error_at_the_users_line():
    bad = """
        uint i = thread_position_in_grid.x;
        out[i] = inp[i] + undeclared_offset;
    """
    with pytest.raises(metalnn.KernelSourceError) as e:
        run_copy(metalnn.metal_kernel(bad, "typo", ["inp"], ["out"], device="metal-sim"))
    assert [line for line, _, _ in e.value.violations] == [3], str(e.value)
    assert "undeclared_offset" in str(e.value)
    good = bad.replace("undeclared_offset", "1.0f")
    a, out = run_copy(metalnn.metal_kernel(good, "no_typo", ["inp"], ["out"], device="metal-sim"))
    np.testing.assert_array_equal(out, a + 1)


@SIM_ONLY
def test_an_out_of_bounds_index_is_a_device_error_and_the_process_goes_on():
    bad = """
        uint i = thread_position_in_grid.x;
        out[i] = inp[i];
    """
    k = metalnn.metal_kernel(bad, "unguarded", ["inp"], ["out"], device="metal-sim")
    with pytest.raises(metalnn.DeviceError, match=r"out-of-bounds access to buffer\(0\) 'inp': element 100 "):
        run_copy(k, n=100, grid=128)  # the grid rounded up past the data
    good = "uint i = thread_position_in_grid.x;\nif (i >= uint(inp_shape[0])) return;\nout[i] = inp[i];\n"
    a, out = run_copy(metalnn.metal_kernel(good, "guarded", ["inp"], ["out"], device="metal-sim"), n=100, grid=128)
    np.testing.assert_array_equal(out, a)
    a, out = run_copy(k, n=100, grid=100)  # the faulting kernel still runs when used right
    np.testing.assert_array_equal(out, a)


@SIM_ONLY
def test_an_out_of_bounds_write_in_a_full_kernel_is_caught():
    source = """
#include <metal_stdlib>
using namespace metal;
kernel void shift(const device float* src [[buffer(0)]], device float* dst [[buffer(1)]],
                  uint i [[thread_position_in_grid]]) {
  dst[i + OFFSET] = src[i];
}
"""
    bad = metalnn.metal_kernel(source.replace("OFFSET", "1"), "shift", ["src"], ["dst"], device="metal-sim")
    with pytest.raises(metalnn.DeviceError, match=r"buffer\(1\) 'dst': element 100 "):
        run_copy(bad)
    good = metalnn.metal_kernel(source.replace("OFFSET", "0"), "shift", ["src"], ["dst"], device="metal-sim")
    a, out = run_copy(good)
    np.testing.assert_array_equal(out, a)


DIVERGENT = """
    uint i = thread_position_in_grid.x;
    uint t = thread_position_in_threadgroup.x;
    threadgroup float tile[32];
    tile[t] = inp[i];
    if (CONDITION) threadgroup_barrier(mem_flags::mem_threadgroup);
    out[i] = tile[31 - t];
"""


@SIM_ONLY
def test_a_divergent_barrier_is_a_device_error():
    bad = metalnn.metal_kernel(DIVERGENT.replace("CONDITION", "t < 16"), "divergent", ["inp"], ["out"],
                               device="metal-sim")
    with pytest.raises(metalnn.DeviceError, match="divergent threadgroup_barrier"):
        run_copy(bad, n=64, grid=64)
    good = metalnn.metal_kernel(DIVERGENT.replace("CONDITION", "true"), "uniform", ["inp"], ["out"],
                                device="metal-sim")
    a, out = run_copy(good, n=64, grid=64)
    np.testing.assert_array_equal(out, a.reshape(2, 32)[:, ::-1].reshape(-1))


RACY = """
    uint t = thread_position_in_threadgroup.x;
    threadgroup float tile[32];
    tile[t] = inp[t];
    BARRIER
    out[t] = tile[(t + 1) % 32];
"""


def run_under_racecheck(body: str, name: str, threads: int, outputs: int) -> str:
    """Runs a one-input kernel on metal-sim in a fresh process with METALNN_SIM_RACECHECK=1 (it must be
    set before the library is built): "ok <out>" or "DeviceError <message>"."""
    script = f"""
import numpy as np, metalnn
k = metalnn.metal_kernel({body!r}, {name!r}, ["inp"], ["out"], device="metal-sim")
a = np.arange({threads}, dtype=np.float32)
try:
    (out,) = k([a], grid=({threads}, 1, 1), threadgroup=(32, 1, 1), output_shapes=[({outputs},)],
               output_dtypes=[np.float32])
    print("ok", out.tolist())
except metalnn.DeviceError as e:
    print("DeviceError", e)
"""
    env = dict(os.environ, METALNN_SIM_RACECHECK="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    return done.stdout.strip() or done.stderr


@SIM_ONLY
def test_a_race_is_a_device_error_under_the_race_checker():
    racy = run_under_racecheck(RACY.replace("BARRIER", ""), "racy", 32, 32)
    assert racy.startswith("DeviceError") and "'racy'" in racy and "threadgroup variable 'tile'" in racy, racy
    fixed = run_under_racecheck(RACY.replace("BARRIER", "threadgroup_barrier(mem_flags::mem_threadgroup);"), "racy",
                                32, 32)
    assert fixed == "ok " + str(np.roll(np.arange(32, dtype=np.float32), -1).tolist()), fixed


RACY_DEVICE = """
    uint g = threadgroup_position_in_grid.x;
    if (thread_position_in_threadgroup.x == 0) out[OUT] = inp[g];
"""


@SIM_ONLY
def test_threadgroups_writing_one_device_byte_race_under_the_race_checker():
    racy = run_under_racecheck(RACY_DEVICE.replace("OUT", "0"), "racy_device", 64, 2)
    assert racy.startswith("DeviceError") and "buffer(1) 'out'" in racy and "between threadgroups" in racy, racy
    apart = run_under_racecheck(RACY_DEVICE.replace("OUT", "g"), "racy_device", 64, 2)
    assert apart == "ok [0.0, 1.0]", apart


def test_bad_calls_raise_metalnn_errors(device):
    k = metalnn.metal_kernel(EXP_BODY, "scaled_exp", ["inp"], ["out"], device=device)
    a = np.ones(4, np.float32)
    common = dict(grid=(4, 1, 1), threadgroup=(4, 1, 1), output_shapes=[(4,)], output_dtypes=[np.float32],
                  template=[("T", np.float32)])
    with pytest.raises(metalnn.ShapeError, match="0 inputs given, expected 1"):
        k([], **common)
    with pytest.raises(metalnn.DtypeError, match="complex"):
        k([a.astype(np.complex64)], **common)
    with pytest.raises(metalnn.DeviceError, match="threadgroup of 2048 threads"):
        k([a], **{**common, "threadgroup": (2048, 1, 1)})
    with pytest.raises(metalnn.DeviceError, match="'cuda'"):
        metalnn.metal_kernel(EXP_BODY, "scaled_exp", ["inp"], ["out"], device="cuda")


# --- the metal-sim build: cached on disk, built once however many threads ask ----------------------

@SIM_ONLY
def test_second_use_loads_from_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("METALNN_CACHE_DIR", str(tmp_path))
    body = "uint i = thread_position_in_grid.x;\nout[i] = inp[i] * 3.0f;\n"
    a, out = run_copy(metalnn.metal_kernel(body, "cached", ["inp"], ["out"], device="metal-sim"))
    np.testing.assert_array_equal(out, a * 3)
    libraries = list((tmp_path / "kernels").glob("*.so"))
    assert len(libraries) == 1

    from metalnn.sim import msl_translator

    def no_translation(*args, **kwargs):
        raise AssertionError("translated again despite the cache")
    monkeypatch.setattr(msl_translator, "translate_source", no_translation)
    a, out = run_copy(metalnn.metal_kernel(body, "cached", ["inp"], ["out"], device="metal-sim"))
    np.testing.assert_array_equal(out, a * 3)
    assert list((tmp_path / "kernels").glob("*")) == libraries  # no temporary build folder left


@SIM_ONLY
def test_first_use_from_many_threads_compiles_once(tmp_path, monkeypatch):
    monkeypatch.setenv("METALNN_CACHE_DIR", str(tmp_path))
    from metalnn.sim import msl_translator
    calls = []
    real = msl_translator.translate_source

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(msl_translator, "translate_source", counting)
    body = "uint i = thread_position_in_grid.x;\nout[i] = inp[i] + 42.0f;\n"
    kernels = [metalnn.metal_kernel(body, "shared_first_use", ["inp"], ["out"], device="metal-sim") for _ in range(2)]
    start = threading.Barrier(4)
    results, errors = [], []

    def use(k):
        start.wait()
        try:
            results.append(run_copy(k))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=use, args=(kernels[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 4 and all((out == a + 42).all() for a, out in results)
    assert len(calls) == 1


def _compilers():
    """The C++ compilers metal-sim can build custom kernels with here: GCC and clang where present."""
    from metalnn.sim import msl_translator
    found = [c for c in ("g++",) if shutil.which(c)]
    clang = msl_translator.find_clang()
    return found + ([clang] if clang else [])


SIM_COMPILERS = _compilers() if "metal-sim" in metalnn.devices() else []

DIVIDE = """
    uint i = thread_position_in_grid.x;
    q[i] = a[i] / b[i];
    r[i] = a[i] % b[i];
    uq[i] = uint(a[i]) / uint(b[i]);
"""


@SIM_ONLY
@pytest.mark.parametrize("cxx", SIM_COMPILERS)
def test_integer_division_by_zero_gives_a_value_and_the_process_goes_on(cxx, tmp_path, monkeypatch):
    monkeypatch.setenv("METALNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", cxx)
    a = np.array([7, -7, 0, np.iinfo(np.int32).min, np.iinfo(np.int32).min, 100, 9], np.int32)
    b = np.array([0, 0, 0, -1, 0, 7, -2], np.int32)  # zeros read from a buffer: no compile-time shortcut
    k = metalnn.metal_kernel(DIVIDE, "divide", ["a", "b"], ["q", "r", "uq"], device="metal-sim")
    q, r, uq = k([a, b], grid=(a.size, 1, 1), threadgroup=(4, 1, 1), output_shapes=[a.shape] * 3,
                 output_dtypes=[np.int32, np.int32, np.uint32])
    # metal-sim's values on every CPU (aarch64's): x / 0 = 0, x % 0 = x, INT_MIN / -1 = INT_MIN.
    np.testing.assert_array_equal(q, [0, 0, 0, np.iinfo(np.int32).min, 0, 14, -4])
    np.testing.assert_array_equal(r, [7, -7, 0, 0, np.iinfo(np.int32).min, 2, 1])
    np.testing.assert_array_equal(uq, [0, 0, 0, 0, 0, 14, 0])


HALF_ROUNDING = """
    half big = x[0], one = x[1], h300 = x[2];
    out[0] = (big + one) - big;
    out[1] = h300 * h300 / h300;
    out[2] = big + one + one + one + one + one + one + one + one - big;
"""


@pytest.mark.parametrize("cxx", SIM_COMPILERS + (["metal"] if "metal" in DEVICES else []))
def test_half_arithmetic_rounds_after_every_operation(cxx, tmp_path, monkeypatch):
    monkeypatch.setenv("METALNN_CACHE_DIR", str(tmp_path))
    device = "metal" if cxx == "metal" else "metal-sim"
    if device == "metal-sim":
        monkeypatch.setenv("CXX", cxx)
    k = metalnn.metal_kernel(HALF_ROUNDING, "half_rounding", ["x"], ["out"], device=device)
    (out,) = k([np.array([2048, 1, 300], np.float16)], grid=(1, 1, 1), threadgroup=(1, 1, 1), output_shapes=[(3,)],
               output_dtypes=[np.float16])
    # As on a GPU: 2049 rounds to 2048, and 300 * 300 overflows half before the division.
    assert out[0] == 0 and np.isinf(out[1]) and out[2] == 0, out


SHUFFLE = """
    uint gid = thread_position_in_grid.x;
    ushort lane = thread_index_in_simdgroup;
    ushort active = simdgroup_index_in_threadgroup == 0 ? 32 : 8;
    out[gid] = simd_shuffle(inp[gid], ushort((lane + SHIFT) % MODULO));
"""


@SIM_ONLY
def test_a_shuffle_from_an_inactive_lane_is_poison():
    # 40 threads: the second SIMD-group has 8 active lanes; reading lanes 8..31 of it is undefined.
    a = np.arange(40, dtype=np.float32)
    run = dict(grid=(40, 1, 1), threadgroup=(40, 1, 1), output_shapes=[(40,)], output_dtypes=[np.float32])
    broken = metalnn.metal_kernel(SHUFFLE.replace("SHIFT", "8").replace("MODULO", "32"), "shuffle_inactive",
                                  ["inp"], ["out"], device="metal-sim")
    (out,) = broken([a], **run)
    np.testing.assert_array_equal(out[:32], np.roll(a[:32], -8))
    assert np.isnan(out[32:]).all(), out[32:]
    correct = metalnn.metal_kernel(SHUFFLE.replace("SHIFT", "1").replace("MODULO", "active"), "shuffle_active",
                                   ["inp"], ["out"], device="metal-sim")
    (out,) = correct([a], **run)
    np.testing.assert_array_equal(out, np.concatenate([np.roll(a[:32], -1), np.roll(a[32:], -1)]))
