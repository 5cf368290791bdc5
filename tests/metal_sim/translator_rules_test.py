"""The metal-sim translator's MSL rules: for each, a kernel that breaks it is rejected with its .metal
line and the rule's name, and a correct kernel of the same shape translates. Cases needing the
address-space check are skipped when no clang++ is given.
Usage: translator_rules_test.py <cpp/gpu/sim dir> <c++ compiler> [<clang++>]"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

SIM_DIR, CXX = sys.argv[1], sys.argv[2]
CLANG = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
sys.path.insert(0, SIM_DIR)
from msl_translator import TranslationError, translate_source  # noqa: E402

HEADER = "#include <metal_stdlib>\nusing namespace metal;\n"
MARK = "// <-"  # ends the line a bad kernel is expected to be reported at (comments vanish in preprocessing)


def kernel(params, body, helpers=""):
    return f"{helpers}\nkernel void f(device float* y [[buffer(0)]],\n              {params}\n) {{\n{body}\n}}\n"


# (rule, bad source, good source of the same shape); clang-only rules are checked by clang.
CASES = [
    ("builtin-width", kernel("uint3 group [[threadgroup_position_in_grid]],\n"
                             "              uint2 lid [[thread_position_in_threadgroup]]  " + MARK,
                             "  y[group.x] = float(lid.x);"),
     kernel("uint3 group [[threadgroup_position_in_grid]],\n"
            "              uint3 lid [[thread_position_in_threadgroup]]", "  y[group.x] = float(lid.x);")),
    ("builtin-width", kernel("uint gid [[thread_position_in_grid]],\n"
                             "              uint2 size [[threads_per_threadgroup]]  " + MARK, "  y[gid] = float(size.x);"),
     kernel("uint gid [[thread_position_in_grid]],\n"
            "              uint size [[threads_per_threadgroup]]", "  y[gid] = float(size);")),
    ("builtin-type", kernel("float lane [[thread_index_in_simdgroup]]  " + MARK, "  y[0] = lane;"),
     kernel("ushort lane [[thread_index_in_simdgroup]]", "  y[0] = float(lane);")),
    ("builtin-type", kernel("uint2 lane [[thread_index_in_simdgroup]]  " + MARK, "  y[0] = float(lane.x);"),
     kernel("uint lane [[thread_index_in_simdgroup]]", "  y[0] = float(lane);")),
    ("builtin-type", kernel("int gid [[thread_position_in_grid]]  " + MARK, "  y[gid] = 1.0f;"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = 1.0f;")),
    ("builtin-type", kernel("uint2 gid [[thread_position_in_grid]],\n"
                            "              ushort2 grid [[threads_per_grid]]  " + MARK, "  y[gid.y * grid.x + gid.x] = 1.0f;"),
     kernel("uint2 gid [[thread_position_in_grid]],\n"
            "              uint2 grid [[threads_per_grid]]", "  y[gid.y * grid.x + gid.x] = 1.0f;")),
    ("builtin-type", kernel("uint2 lid [[thread_position_in_threadgroup]],\n"
                            "              ushort tid [[thread_index_in_threadgroup]]  " + MARK, "  y[tid] = float(lid.x);"),
     kernel("uint2 lid [[thread_position_in_threadgroup]],\n"
            "              uint tid [[thread_index_in_threadgroup]]", "  y[tid] = float(lid.x);")),
    ("address-space-missing", kernel("uint gid [[thread_position_in_grid]]", "  store(y + gid, 1.0f);",
                                     f"inline void store(float* p, float v) {{ {MARK}\n  p[0] = v;\n}}"),
     kernel("uint gid [[thread_position_in_grid]]", "  store(y + gid, 1.0f);",
            "inline void store(device float* p, float v) {\n  p[0] = v;\n}")),
    ("address-space-missing", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = sum4(float4(1.0f));",
                                     f"inline float sum4(const float4& v) {{ {MARK}\n  return v.x + v.y + v.z + v.w;\n}}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = sum4(float4(1.0f));",
            "inline float sum4(thread const float4& v) {\n  return v.x + v.y + v.z + v.w;\n}")),
    ("address-space-missing", kernel("float* x [[buffer(1)]]  " + MARK, "  y[0] = x[0];"),
     kernel("device float* x [[buffer(1)]]", "  y[0] = x[0];")),
    ("address-space-missing", kernel("uint gid [[thread_position_in_grid]]", "  Acc a{0.0f};\n  a.add(1.0f);\n  y[gid] = a.v;",
                                     f"struct Acc {{\n  float v;\n  void add(const float& x) {{ v += x; }}  {MARK}\n}};"),
     kernel("uint gid [[thread_position_in_grid]]", "  Acc a{0.0f};\n  a.add(1.0f);\n  y[gid] = a.v;",
            "struct Acc {\n  float v;\n  void add(thread const float& x) { v += x; }\n};")),
    ("address-space", kernel("threadgroup float* x [[buffer(1)]]  " + MARK, "  y[0] = x[0];"),
     kernel("device float* x [[buffer(1)]]", "  y[0] = x[0];")),
    ("threadgroup-scope", kernel("uint tid [[thread_index_in_threadgroup]]", "  y[tid] = twice(tid);",
                                 f"inline float twice(uint i) {{\n  threadgroup float t[64];  {MARK}\n"
                                 "  t[i] = float(i);\n  return 2.0f * t[i];\n}"),
     kernel("uint tid [[thread_index_in_threadgroup]]",
            "  threadgroup float t[64];\n  t[tid] = float(tid);\n  y[tid] = 2.0f * t[tid];")),
    ("threadgroup-scope", kernel("uint tid [[thread_index_in_threadgroup]]", "  t[tid] = 1.0f;\n  y[tid] = t[tid];",
                                 f"threadgroup float t[64];  {MARK}"),
     kernel("uint tid [[thread_index_in_threadgroup]]",
            "  threadgroup float t[64];\n  t[tid] = 1.0f;\n  y[tid] = t[tid];")),
    ("program-scope-variable", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = scale;",
                                      f"float scale = 2.0f;  {MARK}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = scale;", "constant float scale = 2.0f;")),
    ("program-scope-variable", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(kCount);",
                                      f"constexpr uint kCount = 4;  {MARK}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(kCount);", "constant constexpr uint kCount = 4;")),
    ("std-library", kernel("uint gid [[thread_position_in_grid]]", f"  y[gid] = std::max(y[gid], 0.0f);  {MARK}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = metal::max(y[gid], 0.0f);")),
    ("recursion", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(fact(gid));",
                         f"inline uint fact(uint n) {{  {MARK}\n  return n < 2 ? 1 : n * fact(n - 1);\n}}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(fact(gid));",
            "inline uint fact(uint n) {\n  uint r = 1;\n  for (uint i = 2; i <= n; ++i) r *= i;\n  return r;\n}")),
    ("recursion", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(is_even(gid));",
                         f"bool is_odd(uint n);\ninline bool is_even(uint n) {{ return n == 0 || is_odd(n - 1); }}  {MARK}\n"
                         "inline bool is_odd(uint n) { return n != 0 && is_even(n - 1); }"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(is_even(gid));",
            "inline bool is_odd(uint n) { return n % 2 == 1; }\ninline bool is_even(uint n) { return !is_odd(n); }")),
    # Overloads of one name calling each other are not recursion (told apart by argument count only).
    ("recursion", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = act(act(float4(y[gid])).x);",
                         "inline float act(float x);\ninline float4 act(float4 v) { return v; }\n"
                         f"inline float act(float x, float s) {{ return act(x * s); }}  {MARK}\n"
                         "inline float act(float x) { return act(x, 2.0f); }"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = act(act(float4(y[gid])).x);",
            "inline float act(float x) { return max(x, 0.0f); }\n"
            "inline float4 act(float4 v) {\n  return float4(act(v.x), act(v.y), act(v.z), act(v.w));\n}")),
    # Compile-time recursion through explicit template arguments ends in a specialization.
    ("recursion", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(down(gid));",
                         f"template <typename T>\nT down(T n) {{ return n == 0 ? n : down(n - 1); }}  {MARK}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(tsum<4>());",
            "template <uint N>\nuint tsum() { return N + tsum<N - 1>(); }\ntemplate <>\nuint tsum<0>() { return 0; }")),
    ("virtual-function", kernel("uint gid [[thread_position_in_grid]]", "  Op op;\n  y[gid] = op.apply(y[gid]);",
                                f"struct Op {{\n  virtual float apply(float x) {{ return x; }}  {MARK}\n}};"),
     kernel("uint gid [[thread_position_in_grid]]", "  Op op;\n  y[gid] = op.apply(y[gid]);",
            "struct Op {\n  float apply(float x) { return x; }\n};")),
    ("exception", kernel("uint gid [[thread_position_in_grid]]", f"  if (gid > 1000) throw 1;  {MARK}\n  y[gid] = 0.0f;"),
     kernel("uint gid [[thread_position_in_grid]]", "  if (gid > 1000) return;\n  y[gid] = 0.0f;")),
    ("new-delete", kernel("uint gid [[thread_position_in_grid]]",
                          f"  thread float* t = new float(1.0f);  {MARK}\n  y[gid] = *t;"),
     kernel("uint gid [[thread_position_in_grid]]", "  float v = 1.0f;\n  thread float* t = &v;\n  y[gid] = *t;",
            "struct NoCopy {\n  NoCopy() = default;\n  NoCopy(thread const NoCopy&) = delete;\n};")),
    ("goto", kernel("uint gid [[thread_position_in_grid]]", f"  if (gid > 8) goto done;  {MARK}\n  y[gid] = 1.0f;\ndone:\n  return;"),
     kernel("uint gid [[thread_position_in_grid]]", "  if (gid > 8) return;\n  y[gid] = 1.0f;")),
    ("function-pointer", kernel("uint gid [[thread_position_in_grid]]",
                                f"  float (*op)(float) = negate;  {MARK}\n  y[gid] = op(y[gid]);",
                                "inline float negate(float x) { return -x; }"),
     kernel("uint gid [[thread_position_in_grid]]", "  float op = negate(y[gid]);\n  y[gid] = op;",
            "inline float negate(float x) { return -x; }")),
    ("double", kernel("uint gid [[thread_position_in_grid]]", f"  double d = y[gid];  {MARK}\n  y[gid] = float(d * 2);"),
     kernel("uint gid [[thread_position_in_grid]]", "  float d = y[gid];\n  y[gid] = float(d * 2);")),
    ("double", kernel("uint gid [[thread_position_in_grid]]", f"  long double d = y[gid];  {MARK}\n  y[gid] = float(d);"),
     kernel("uint gid [[thread_position_in_grid]]", "  long d = long(y[gid]);\n  y[gid] = float(d);")),
    ("static-local", kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = next();",
                            f"inline float next() {{\n  static float counter = 0.0f;  {MARK}\n  return counter += 1.0f;\n}}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = next();",
            "struct Counter {\n  static float start() { return 0.0f; }\n};\n"
            "inline float next() {\n  float counter = Counter::start();\n  return counter += 1.0f;\n}")),
    ("atomic-memory-order", "kernel void f(device atomic_uint* n [[buffer(0)]]) {\n"
                            f"  atomic_fetch_add_explicit(n, 1u, memory_order_seq_cst);  {MARK}\n}}\n",
     "kernel void f(device atomic_uint* n [[buffer(0)]]) {\n  atomic_fetch_add_explicit(n, 1u, memory_order_relaxed);\n}\n"),
    ("rtti", kernel("uint gid [[thread_position_in_grid]]", f"  y[gid] = float(sizeof(typeid(y)));  {MARK}"),
     kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = float(sizeof(y));")),
    ("simdgroup-matrix", kernel("uint gid [[thread_position_in_grid]]",
                                f"  simdgroup_matrix<int, 8, 8> m;  {MARK}\n  simdgroup_load(m, (device int*)y);"),
     kernel("uint gid [[thread_position_in_grid]]",
            "  simdgroup_matrix<float, 8, 8> m;\n  simdgroup_load(m, y);\n  simdgroup_store(m, y);")),
    ("simdgroup-matrix", kernel("uint gid [[thread_position_in_grid]]",
                                f"  simdgroup_matrix<float, 4, 4> m;  {MARK}\n  simdgroup_load(m, y);"),
     kernel("uint gid [[thread_position_in_grid]]", "  simdgroup_matrix<float, 8, 8> m;\n  simdgroup_load(m, y);")),
]
# Rules only the address-space check (clang) finds.
CLANG_CASES = [
    ("address-space", kernel("uint tid [[thread_index_in_threadgroup]]",
                             f"  threadgroup float t[64];\n  fill(t, tid);  {MARK}\n"
                             "  threadgroup_barrier(mem_flags::mem_threadgroup);\n  y[tid] = t[tid];",
                             "inline void fill(device float* p, uint i) { p[i] = 1.0f; }"),
     kernel("uint tid [[thread_index_in_threadgroup]]",
            "  threadgroup float t[64];\n  fill(t, tid);\n  threadgroup_barrier(mem_flags::mem_threadgroup);\n  y[tid] = t[tid];",
            "inline void fill(threadgroup float* p, uint i) { p[i] = 1.0f; }")),
    ("address-space", kernel("constant float* c [[buffer(1)]]", f"  y[0] = first(c);  {MARK}",
                             "inline float first(device const float* p) { return p[0]; }"),
     kernel("constant float* c [[buffer(1)]]", "  y[0] = first(c);",
            "inline float first(constant float* p) { return p[0]; }")),
    ("address-space", kernel("uint gid [[thread_position_in_grid]]", f"  inc(y[gid]);  {MARK}",
                             "inline void inc(thread float& v) { v += 1.0f; }"),
     kernel("uint gid [[thread_position_in_grid]]", "  inc(y[gid]);", "inline void inc(device float& v) { v += 1.0f; }")),
    ("address-space", kernel("uint gid [[thread_position_in_grid]]",
                             f"  threadgroup float* t = y;  {MARK}\n  t[gid] = 1.0f;"),
     kernel("uint gid [[thread_position_in_grid]]", "  device float* t = y;\n  t[gid] = 1.0f;")),
    ("address-space", kernel("uint gid [[thread_position_in_grid]]", f"  put(y, 1.0f);  {MARK}",
                             "template <typename T>\nvoid put(threadgroup T* t, T v) { t[0] = v; }"),
     kernel("uint gid [[thread_position_in_grid]]", "  put(y, 1.0f);",
            "template <typename T>\nvoid put(device T* t, T v) { t[0] = v; }")),
    ("address-space", "inline void bump(threadgroup atomic_uint* n) { atomic_fetch_add_explicit(n, 1u, memory_order_relaxed); }\n"
                      "kernel void f(device atomic_uint* c [[buffer(0)]], device atomic_float* s [[buffer(1)]]) {\n"
                      f"  bump(c);  {MARK}\n  atomic_fetch_add_explicit(s, 1.0f, memory_order_relaxed);\n}}\n",
     "inline void bump(threadgroup atomic_uint* n) { atomic_fetch_add_explicit(n, 1u, memory_order_relaxed); }\n"
     "kernel void f(device atomic_uint* c [[buffer(0)]], device atomic_float* s [[buffer(1)]]) {\n"
     "  threadgroup atomic_uint n;\n  bump(&n);\n  atomic_fetch_add_explicit(s, 1.0f, memory_order_relaxed);\n}\n"),
    # Template kernels are checked as instantiated.
    ("address-space", "template <typename T>\nkernel void f(device T* y [[buffer(0)]], constant T* c [[buffer(1)]]) {\n"
                      f"  device T* p = c;  {MARK}\n  y[0] = p[0];\n}}\n"
                      'template [[host_name("f_f32")]] kernel void f<float>(device float*, constant float*);\n',
     "template <typename T>\nkernel void f(device T* y [[buffer(0)]], constant T* c [[buffer(1)]]) {\n"
     "  constant T* p = c;\n  y[0] = p[0];\n}\n"
     'template [[host_name("f_f32")]] kernel void f<float>(device float*, constant float*);\n'),
    # Vectors in every address space, their members, swizzles and operators.
    ("address-space", kernel("device float4* v [[buffer(1)]], constant float4* b [[buffer(2)]],\n"
                             "              uint gid [[thread_position_in_grid]]",
                             f"  thread float4* t = &v[gid];  {MARK}\n  y[gid] = t->x;"),
     kernel("device float4* v [[buffer(1)]], constant float4* b [[buffer(2)]],\n"
            "              uint gid [[thread_position_in_grid]]",
            "  threadgroup float4 tile[32];\n  tile[gid % 32] = v[gid] + b[0];\n"
            "  threadgroup_barrier(mem_flags::mem_threadgroup);\n  v[gid].xy = tile[gid % 32].zw * b[1].x;\n"
            "  v[gid][2] = dot(v[gid], b[0]);\n  float4 local = b[0];\n  v[gid] += local;\n  y[gid] = local.w;")),
    ("simdgroup-matrix", "template <typename T>\nkernel void f(device T* y [[buffer(0)]]) {\n"
                         f"  simdgroup_matrix<T, 8, 8> m;  {MARK}\n  simdgroup_load(m, y);\n  simdgroup_store(m, y);\n}}\n"
                         'template [[host_name("f_i32")]] kernel void f<int>(device int*);\n',
     "template <typename T>\nkernel void f(device T* y [[buffer(0)]]) {\n"
     "  simdgroup_matrix<T, 8, 8> m;\n  simdgroup_load(m, y);\n  simdgroup_store(m, y);\n}\n"
     'template [[host_name("f_f16")]] kernel void f<half>(device half*);\n'),
    ("address-space", kernel("uint gid [[thread_position_in_grid]]",
                             f"  float local[64];\n  simdgroup_float8x8 m;\n  simdgroup_load(m, local);  {MARK}\n"
                             "  simdgroup_store(m, y);"),
     kernel("uint gid [[thread_position_in_grid]]",
            "  threadgroup float tile[64];\n  simdgroup_float8x8 m;\n  simdgroup_load(m, tile);\n"
            "  simdgroup_store(m, y);")),
    ("address-space", kernel("constant float* c [[buffer(1)]]",
                             f"  simdgroup_float8x8 m;\n  simdgroup_load(m, c);  {MARK}\n  simdgroup_store(m, y);"),
     kernel("device const float* c [[buffer(1)]]",
            "  simdgroup_float8x8 m;\n  simdgroup_load(m, c);\n  simdgroup_store(m, y);")),
]


def expected_line(source):
    lines = (HEADER + source).splitlines()
    return next(i + 1 for i, line in enumerate(lines) if MARK in line)


def translate(source, clang=None):
    return translate_source(HEADER + source, "case.metal", cxx=CXX, clang=clang)


class Rules(unittest.TestCase):
    def check_case(self, rule, bad, good, clang=None):
        line = expected_line(bad)
        with self.assertRaises(TranslationError) as caught:
            translate(bad, clang)
        found = [(v.file, v.line, v.rule) for v in caught.exception.violations]
        self.assertIn(("case.metal", line, rule), found, str(caught.exception))
        translate(good, clang)

    def test_rules(self):
        for rule, bad, good in CASES:
            with self.subTest(rule=rule, line=expected_line(bad)):
                self.check_case(rule, bad, good)

    def test_address_space_check(self):
        if not CLANG:
            self.skipTest("no clang++ for the address-space check")
        for rule, bad, good in CLANG_CASES:
            with self.subTest(rule=rule, line=expected_line(bad)):
                self.check_case(rule, bad, good, CLANG)

    def test_address_space_messages_name_msl_spaces(self):
        if not CLANG:
            self.skipTest("no clang++ for the address-space check")
        with self.assertRaises(TranslationError) as caught:
            translate(CLANG_CASES[1][1], CLANG)
        self.assertIn("'constant' as a pointer to address space 'device'", str(caught.exception))

    def test_all_violations_reported_together(self):
        source = kernel("float lane [[thread_index_in_simdgroup]]", "  double d = lane;\n  y[0] = float(d);",
                        "float scale = 2.0f;")
        with self.assertRaises(TranslationError) as caught:
            translate(source)
        self.assertEqual({"builtin-type", "double", "program-scope-variable"},
                         {v.rule for v in caught.exception.violations})

    def test_simdgroup_matrix_operations_are_collectives(self):
        # A kernel whose only SIMD-group operations are simdgroup_matrix ones runs on fibers.
        code = translate(kernel("uint gid [[thread_position_in_grid]]",
                                "  simdgroup_float8x8 m;\n  simdgroup_load(m, y);\n  simdgroup_store(m, y);"))
        self.assertRegex(code, r'\{"f", "case\.metal", \d+, &metal_sim_invoke_0, true,')
        code = translate(kernel("uint gid [[thread_position_in_grid]]", "  y[gid] = 1.0f;"))
        self.assertRegex(code, r'\{"f", "case\.metal", \d+, &metal_sim_invoke_0, false,')

    def test_untranslatable_constructs(self):
        cases = [("uint v [[vertex_id]]", "parameter attribute [[vertex_id]] is not supported"),
                 ("uint v", "parameter 'v' has no [[attribute]]"),
                 ("texture2d<float> t [[texture(0)]]", "textures and samplers are not supported")]
        for param, message in cases:
            with self.subTest(param=param), self.assertRaises(TranslationError) as caught:
                translate(kernel(param, "  y[0] = 1;"))
            self.assertIn(message, str(caught.exception))
            self.assertTrue(str(caught.exception).startswith("case.metal:5: unsupported:"), str(caught.exception))
        with self.assertRaisesRegex(TranslationError, "function constant of type 'float4'"):
            translate("constant float4 v [[function_constant(0)]];\n")
        with self.assertRaisesRegex(TranslationError, "must return void"):
            translate("kernel int f(device int* x [[buffer(0)]]) { return 0; }\n")

    def test_expression_sized_threadgroup_array(self):
        # A threadgroup array sized by an expression is threadgroup memory, not a per-thread array.
        code = translate(kernel("uint i [[thread_index_in_threadgroup]]",
                                "  threadgroup float tile[4 * 8];\n  tile[i] = 1; y[i] = tile[i];"))
        self.assertIn("threadgroup_variable<float[4*8]>", code)

    def test_build_command_reports_file_line_and_rule(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.metal")
            with open(path, "w") as f:
                f.write(HEADER + CASES[0][1])
            env = dict(os.environ, PYTHONPATH=SIM_DIR)
            result = subprocess.run([sys.executable, "-m", "msl_translator", path, os.path.join(tmp, "out.cpp"),
                                     "--table", "t", "--cxx", CXX], capture_output=True, text=True, env=env)
        self.assertEqual(1, result.returncode)
        self.assertRegex(result.stderr, rf"bad\.metal:{expected_line(CASES[0][1])}: error: builtin-width: kernel 'f'")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=1)
