"""metal-sim's MSL translator: turns a .metal source into C++ for the MSL compatibility layer
(msl/msl_compat.h) and enforces the MSL rules a C++ compiler would not. Used by the build (through
`python -m msl_translator`), by `python -m metalnn.metal_lint` and by custom kernels.

    translate_file(path, table=...)  -> C++ text
    translate_source(text, name, table=...) -> C++ text
Both raise TranslationError, whose `violations` are (file, line, rule, message). The rules:
  builtin-type, builtin-width   kernel builtins typed as the specification lists them; position and
                                size builtins all scalars or all vectors of one width (builtins.py)
  address-space-missing         pointer and reference parameters name their address space
  address-space                 kernel buffers device/constant; a pointer or reference of one address
                                space never used where another is declared (address_spaces.py, clang)
  threadgroup-scope             threadgroup variables only in kernel functions
  program-scope-variable        program-scope variables only in the constant address space
  std-library, recursion, virtual-function, exception, new-delete, goto, function-pointer, double,
  static-local, rtti, atomic-memory-order      what MSL does not have (checks.py, call_graph.py)
  simdgroup-matrix              float/half 8x8 matrices; loads and stores of device or threadgroup
                                memory of the element type (checks.py, msl/msl_simdgroup_matrix.h)
  unsupported, syntax           what metal-sim cannot translate
  compile                       other errors clang finds in the address-space check"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

from . import address_spaces
from .address_spaces import find_clang
from .errors import TranslationError, Violation
from .source import Source
from .translate import Translator

SIM_DIR = address_spaces.SIM_DIR
MSL_INCLUDE_DIR = SIM_DIR / "msl_include"  # <metal_stdlib> and friends, for preprocessing
PREPROCESSOR_FLAGS = ["-E", "-x", "c++", "-std=c++17", "-nostdinc", "-D__METAL_VERSION__=240", "-D__METAL_SIM__=1",
                      "-D__HAVE_SIMDGROUP_MATRIX__=1"]
AUTO = "auto"

__all__ = ["TranslationError", "Violation", "find_clang", "translate_file", "translate_source", "AUTO",
           "compile_flags", "racecheck_compile_flags", "half_compile_flags"]


def compile_flags() -> list[str]:
    """Flags for compiling translated C++ into metal-sim's plain (fast) copy of its kernels."""
    return ["-std=c++17", "-include", str(SIM_DIR / "msl" / "msl_compat.h"), "-fno-strict-aliasing"]


def racecheck_compile_flags(cxx: str) -> list[str]:
    """Flags for compiling the same translated C++ a second time, into the race-check copy that the
    simulator runs under METALNN_SIM_RACECHECK=1 (and that defines `<table>_racecheck`): every load
    and store is instrumented as for ThreadSanitizer, whose callbacks metal-sim implements (no TSan
    runtime is linked), with line tables so races name their .metal lines. GCC or clang."""
    flags = ["-std=c++17", "-include", str(SIM_DIR / "msl" / "msl_racecheck.h"), "-fno-strict-aliasing",
             "-fsanitize=thread"]
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    if "clang" in version:
        flags += ["-mllvm", "-tsan-instrument-func-entry-exit=false", "-mllvm", "-tsan-instrument-atomics=false",
                  "-gline-tables-only"]
    else:
        flags += ["--param=tsan-instrument-func-entry-exit=0", "-g1"]
    return flags


_half_flags: dict[str, list[str]] = {}


def half_compile_flags(cxx: str) -> list[str]:
    """Flags that make every `half` (_Float16) operation round to half, as a GPU computes it: on x86-64,
    clang (and GCC 13 in ISO mode) otherwise evaluate a whole half expression in float and round once
    at the end, so (half(2048) + half(1)) - half(2048) would be 1 instead of 0. The first set `cxx`
    accepts; none for a compiler that has neither option (GCC 12 rounds every operation already)."""
    if cxx not in _half_flags:
        _half_flags[cxx] = []
        for flags in (["-Xclang", "-ffloat16-excess-precision=none"], ["-fexcess-precision=16"]):
            probe = subprocess.run([cxx, *flags, "-Werror", "-fsyntax-only", "-x", "c++", "-"], input="",
                                   capture_output=True, text=True)
            if probe.returncode == 0:
                _half_flags[cxx] = flags
                break
    return _half_flags[cxx]


def default_cxx() -> str:
    """The C++ compiler used as preprocessor: $CXX, else c++, g++ or clang++ from PATH."""
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    raise TranslationError([Violation("?", 0, "setup", "no C++ compiler found to preprocess MSL (set CXX)")])


def translate_file(path: str | os.PathLike, table: str = "metal_sim_table", *, output_path: str | None = None,
                   include_dirs: Iterable[str] = (), defines: Iterable[str] = (), cxx: str | None = None,
                   clang: str | None = AUTO, depfile: str | None = None) -> str:
    """Translates the .metal file at `path` into C++ defining KernelTable `table`.

    `clang`: the clang++ for the address-space check, AUTO to use one from PATH when there is one, or
    None to skip the check. Raises TranslationError listing every violation found."""
    command = [cxx or default_cxx(), *PREPROCESSOR_FLAGS, f"-I{MSL_INCLUDE_DIR}"]
    command += [f"-I{d}" for d in include_dirs] + [f"-D{d}" for d in defines] + [str(path)]
    if depfile:
        command += ["-MD", "-MF", depfile, "-MT", output_path or "output"]
    return _translate(_preprocess(command, None, str(path)), table, output_path or f"{path}.cpp", clang)


def translate_source(text: str, name: str = "kernel.metal", table: str = "metal_sim_table", *,
                     include_dirs: Iterable[str] = (), defines: Iterable[str] = (), cxx: str | None = None,
                     clang: str | None = AUTO, bounds_check: bool = False) -> str:
    """Translates MSL source text; diagnostics name `name` and the text's own line numbers.

    `bounds_check`: kernel buffer pointers check every index against the bound buffer's size
    (msl/msl_checked_ptr.h), as custom kernels are run."""
    command = [cxx or default_cxx(), *PREPROCESSOR_FLAGS, f"-I{MSL_INCLUDE_DIR}"]
    command += [f"-I{d}" for d in include_dirs] + [f"-D{d}" for d in defines] + ["-"]
    preprocessed = _preprocess(command, text, name).replace('"<stdin>"', '"' + name.replace('"', "") + '"')
    return _translate(preprocessed, table, f"{name}.cpp", clang, bounds_check)


def _preprocess(command, stdin, name):
    result = subprocess.run(command, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise TranslationError([Violation(name, 0, "preprocessor", result.stderr.strip())])
    return result.stdout


def _translate(preprocessed, table, output_path, clang, bounds_check=False):
    translator = Translator(Source(preprocessed), bounds_check)
    violations = translator.run()
    if clang == AUTO:
        clang = find_clang()
    if clang:  # clang's errors at lines already reported are mostly echoes of those
        reported = {(v.file, v.line) for v in violations}
        violations += [v for v in address_spaces.check(translator.output(table, output_path, registration=False), clang)
                       if (v.file, v.line) not in reported]
    if violations:
        raise TranslationError(violations)
    return translator.output(table, output_path)
