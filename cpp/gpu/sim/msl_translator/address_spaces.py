"""The address-space check: the translated file compiled by clang as C++ for OpenCL, where the MSL
address spaces become distinct OpenCL ones, so clang rejects a pointer or reference of one address
space used where another is declared, as Apple's clang-based compiler does.

OpenCL has three address spaces that convert to its generic one (which the compatibility layer's
member functions and references use): __global, __local, __private. MSL has four, so two passes map
them two ways and every pair of MSL address spaces differs in at least one:
  pass 1: device, constant -> __global   threadgroup -> __local             thread -> __private
  pass 2: constant -> __global           device, threadgroup -> __local     thread -> __private
(`constant` also adds `const`.) The mapping lives in msl/msl_compat.h and msl/msl_check.h."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from .errors import Violation

SIM_DIR = Path(__file__).resolve().parent.parent
COMPAT_HEADER = SIM_DIR / "msl" / "msl_compat.h"
CLANG_NAMES = [f"clang++-{v}" for v in range(24, 13, -1)] + ["clang++"]
EXTENSIONS = ["__cl_clang_variadic_functions", "__cl_clang_function_pointers", "__cl_clang_bitfields", "cl_khr_fp64",
              "__opencl_c_program_scope_global_variables", "__opencl_c_generic_address_space"]
DIAGNOSTIC = re.compile(r"^(.*?):(\d+):(?:\d+:)? (error|fatal error|note|warning): (.*)$")
# OpenCL's names for MSL's address spaces in clang's messages, per pass (see the module comment).
PASS1_NAMES = {"__local": "threadgroup", "__private": "thread", "__generic": "any"}
PASS2_NAMES = {"__global": "constant", "__local": "device", "__private": "thread", "__generic": "any"}


@functools.lru_cache(maxsize=None)
def usable(clang: str) -> bool:
    """Whether `clang` compiles C++ for OpenCL 2021 (clang 14 and later)."""
    result = subprocess.run([clang, "-x", "clcpp", "-cl-std=clc++2021", "-cl-no-stdinc", "-fsyntax-only", "-"],
                            input="void f(__global int* p) {}\n", capture_output=True, text=True)
    return result.returncode == 0


@functools.lru_cache(maxsize=None)
def find_clang() -> str | None:
    """The first clang++ on PATH that can run the address-space check, or None."""
    for name in CLANG_NAMES:
        path = shutil.which(name)
        if path and usable(path):
            return path
    return None


@functools.lru_cache(maxsize=None)
def system_include_dirs(clang: str) -> tuple[str, ...]:
    """clang's C++ include directories (OpenCL mode adds none of its own)."""
    result = subprocess.run([clang, "-E", "-x", "c++", "-", "-v"], input="", capture_output=True, text=True)
    lines = result.stderr.splitlines()
    try:
        start = lines.index("#include <...> search starts here:") + 1
        end = lines.index("End of search list.")
    except ValueError:
        return ()
    return tuple(line.strip() for line in lines[start:end] if not line.endswith("(framework directory)"))


def check(code: str, clang: str) -> list[Violation]:
    """Violations clang finds in translated code (registration table left out), at .metal lines."""
    found = [_compile(code, clang, space_pass) for space_pass in (1, 2)]
    second = {(v[0], v[1]): v[3] for v in found[1]}
    out = []
    for file, line, rule, message in found[0]:
        # __global is device or constant in pass 1: pass 2 tells which (there constant alone is __global).
        names = dict(PASS1_NAMES, __global="constant" if "__global" in second.get((file, line), "") else "device")
        out.append(Violation(file, line, rule, _rename(message, names)))
    first_lines = {(v[0], v[1]) for v in found[0]}
    for file, line, rule, message in found[1]:
        if (file, line) not in first_lines:
            out.append(Violation(file, line, rule, _rename(message, PASS2_NAMES)))
    return out


def _compile(code, clang, space_pass):
    command = [clang, "-x", "clcpp", "-cl-std=clc++2021", "-cl-no-stdinc", "-Xclang",
               "-cl-ext=" + ",".join("+" + e for e in EXTENSIONS)]
    command += [f"-isystem{d}" for d in system_include_dirs(clang)]
    command += [f"-DMETAL_SIM_ADDRESS_SPACE_CHECK={space_pass}", "-include", str(COMPAT_HEADER), "-fsyntax-only",
                "-ferror-limit=0", "-fno-caret-diagnostics", "-fno-color-diagnostics", "-w", "-"]
    result = subprocess.run(command, input=code, capture_output=True, text=True)
    violations = _parse(result.stderr, system_include_dirs(clang))
    if result.returncode != 0 and not violations:
        violations = [("?", 0, "address-space", "the address-space check failed: " + result.stderr.strip()[-2000:])]
    return violations


def _parse(stderr, system_dirs):
    """(file, line, rule, message) per error, at the innermost location in the user's source."""
    groups = []
    for line in stderr.splitlines():
        m = DIAGNOSTIC.match(line)
        if not m:
            continue
        file, number, kind, text = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        if kind in ("error", "fatal error"):
            groups.append([(file, number, text)])
        elif kind == "note" and groups and "expanded from macro" not in text:
            groups[-1].append((file, number, text))
    out = []
    for group in groups:
        where = next(((f, n) for f, n, _ in group if _user_file(f, system_dirs)), None)
        if where is None:
            continue
        text = group[0][2]
        notes = [t for _, _, t in group[1:]]
        detail = next((t for t in notes if "address space" in t or _address_spaces_differ(t)), None)
        if "address space" in text or detail or _address_spaces_differ(text):
            rule = "address-space"
        elif re.search(r"simdgroup[-_]", text):
            rule = "simdgroup-matrix"
        else:
            rule = "compile"
        detail = detail or next((t for t in notes if t.startswith("candidate")), None)
        if detail and "address space" not in text:
            text += ": " + detail
        out.append((where[0], where[1], rule, text))
    return out


def _address_spaces_differ(note):
    """A note comparing two types ('X' ... 'Y') that are the same but for their address spaces."""
    types = re.findall(r"'([^']*)'", re.sub(r"\(aka '[^']*'\)", "", note))
    if len(types) < 2 or not re.search(r"\b__(global|local|private|generic)\b", types[0] + types[1]):
        return False
    strip = [re.sub(r"\s+", "", re.sub(r"\b__(global|local|private|generic)\b|\bconst\b", "",
                                        re.sub(r"\[\d*\]", "*", t))) for t in types[:2]]
    return strip[0] == strip[1]


def _user_file(file, system_dirs):
    """Not the compatibility layer, a system header or clang's own."""
    if file.startswith("<") or not file:
        return False
    path = Path(file).resolve()
    return not any(Path(d).resolve() in (path, *path.parents)
                   for d in (SIM_DIR / "msl", SIM_DIR / "kernel_abi.h", *system_dirs))


def _rename(message, names):
    message = re.sub(r"\*\s*__private\b", "*", message).replace("_Float16", "half")  # `*thread`: the pointer's own
    return re.sub(r"__(global|local|private|generic|constant)\b", lambda m: names.get(m.group(0), m.group(0)), message)
