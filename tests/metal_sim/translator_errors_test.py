"""The metal-sim translator rejects what it cannot translate with an error naming the construct and
its .metal line. Usage: translator_errors_test.py <translate_msl.py> <c++ compiler> <msl_include dir>"""
import os
import subprocess
import sys
import tempfile

CASES = [
    ("uint v [[vertex_id]]", "parameter attribute [[vertex_id]] is not supported"),
    ("uint v", "parameter 'v' has no [[attribute]]"),
    ("texture2d<float> t [[texture(0)]]", "textures and samplers are not supported"),
]
HEADER = "#include <metal_stdlib>\nusing namespace metal;\n"


def translate(translator, cxx, include, source, want_output=False):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.metal")
        with open(path, "w") as f:
            f.write(source)
        out = os.path.join(tmp, "out.cpp")
        result = subprocess.run([sys.executable, translator, path, out, "--table", "t",
                                 "--cxx", cxx, "-I", include], capture_output=True, text=True)
        if want_output:
            with open(out) as f:
                return result.returncode, f.read()
        return result.returncode, result.stderr


def main():
    translator, cxx, include = sys.argv[1:4]
    failures = 0
    for param, expected in CASES:
        source = HEADER + f"kernel void f(device float* x [[buffer(0)]],\n              {param}) {{ x[0] = 1; }}\n"
        rc, err = translate(translator, cxx, include, source)
        if rc == 0 or expected not in err or "bad.metal:4" not in err:
            print(f"FAIL: {param!r}: rc={rc}, stderr={err!r}")
            failures += 1
    rc, err = translate(translator, cxx, include, HEADER + "constant float4 v [[function_constant(0)]];\n")
    if rc == 0 or "function constant of type 'float4'" not in err:
        print(f"FAIL: vector function constant: rc={rc}, stderr={err!r}")
        failures += 1
    rc, err = translate(translator, cxx, include, HEADER + "kernel int f(device int* x [[buffer(0)]]) { return 0; }\n")
    if rc == 0 or "must return void" not in err:
        print(f"FAIL: non-void kernel: rc={rc}, stderr={err!r}")
        failures += 1
    # A threadgroup array sized by an expression is threadgroup memory, not a per-thread array.
    rc, out = translate(translator, cxx, include, HEADER + "kernel void f(device float* x [[buffer(0)]],\n"
                        "uint i [[thread_index_in_threadgroup]]) {\n  threadgroup float tile[4 * 8];\n"
                        "  tile[i] = 1; x[i] = tile[i]; }\n", want_output=True)
    if rc != 0 or "threadgroup_variable<float[4*8]>" not in out:
        print(f"FAIL: expression-sized threadgroup array: rc={rc}")
        failures += 1
    print("ok" if failures == 0 else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
