"""Custom Metal kernels from Python: `metal_kernel(source, name, ...)` returns a callable on NumPy arrays.

The shape of the API follows MLX's `mx.fast.metal_kernel`: `source` is either the body of a kernel
(its signature is generated from the input and output names, the arrays' dtypes and the thread
builtins the body mentions) or complete MSL with a kernel called `name`. On `metal` the source is
compiled by Metal (`newLibrary(source)`); on `metal-sim` it is translated by the simulator's
translator with its MSL rule checks, compiled with the system C++ compiler at first use (with every
buffer index checked against the buffer's size), and cached on disk.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from . import _native
from .errors import DeviceError, DtypeError, KernelSourceError, ShapeError

__all__ = ["MetalKernel", "metal_kernel", "cache_dir"]

#: A template argument: a dtype (becomes `typename`), an int or a bool.
TemplateArg = Union[np.dtype, type, int, bool]

_MSL_TYPES = {
    np.dtype(np.float32): "float", np.dtype(np.float16): "half", np.dtype(np.int32): "int",
    np.dtype(np.uint32): "uint", np.dtype(np.int16): "short", np.dtype(np.uint16): "ushort",
    np.dtype(np.int8): "char", np.dtype(np.uint8): "uchar", np.dtype(np.bool_): "bool",
    np.dtype(np.int64): "long", np.dtype(np.uint64): "ulong",
}
# Thread builtins a generated signature declares when the body names them (the MSL types they take).
_BUILTINS = {
    "thread_position_in_grid": "uint3", "threads_per_grid": "uint3", "thread_position_in_threadgroup": "uint3",
    "threads_per_threadgroup": "uint3", "threadgroup_position_in_grid": "uint3", "threadgroups_per_grid": "uint3",
    "thread_index_in_threadgroup": "uint", "thread_index_in_simdgroup": "uint",
    "simdgroup_index_in_threadgroup": "uint", "threads_per_simdgroup": "uint", "simdgroups_per_threadgroup": "uint",
    "thread_execution_width": "uint", "thread_index_in_quadgroup": "uint", "quadgroup_index_in_threadgroup": "uint",
}
_MAX_BY_VALUE = 4096  # setBytes limit
_COMPILE_FLAGS = ["-std=c++17", "-O1", "-fPIC", "-fvisibility=hidden", "-fno-strict-aliasing", "-fsigned-char", "-w"]
_TABLE = "metal_sim_custom_table"

_build_locks: dict[str, threading.Lock] = {}
_libraries: dict[tuple[str, str], Any] = {}  # (device, library key) -> _native._CustomLibrary
_state_lock = threading.Lock()
_toolchain_key: str | None = None


def cache_dir() -> Path:
    """Where metal-sim keeps compiled custom kernels: $METALNN_CACHE_DIR, else the user cache dir."""
    explicit = os.environ.get("METALNN_CACHE_DIR")
    if explicit:
        return Path(explicit) / "kernels"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "metalnn" / "kernels"


def metal_kernel(source: str, name: str, input_names: Sequence[str], output_names: Sequence[str], *,
                 header: str = "", device: str = "auto", ensure_row_contiguous: bool = True) -> MetalKernel:
    """A Metal kernel callable on NumPy arrays (see `MetalKernel.__call__`).

    `source`: the kernel body, or complete MSL defining kernel `name`. With a body, the signature is
    generated: each input as `const device T* <name>` (a 0-d input as `const constant T& <name>`),
    `<name>_shape`, `<name>_strides` and `<name>_ndim` when the body uses them, each output as
    `device T* <name>`, and the thread builtins the body names (`thread_position_in_grid` as uint3,
    ...). Complete MSL binds inputs to [[buffer(0)]], [[buffer(1)]], ... in order, then the outputs.
    `header`: MSL placed before the kernel (helper functions, structs). `device`: "metal",
    "metal-sim" or "auto" (metal where available). Source errors raise KernelSourceError at the first
    call, when the kernel is compiled for its dtypes and template arguments.
    """
    return MetalKernel(source, name, input_names, output_names, header=header, device=device,
                       ensure_row_contiguous=ensure_row_contiguous)


class MetalKernel:
    """A user Metal kernel; compiled once per input dtypes and template arguments, on first use."""

    def __init__(self, source: str, name: str, input_names: Sequence[str], output_names: Sequence[str], *,
                 header: str = "", device: str = "auto", ensure_row_contiguous: bool = True):
        if not isinstance(source, str) or not source.strip():
            raise KernelSourceError("metal_kernel: source must be non-empty MSL text")
        if not re.fullmatch(r"[A-Za-z_]\w*", name or ""):
            raise KernelSourceError(f"metal_kernel: name must be an identifier, got {name!r}")
        names = list(input_names) + list(output_names)
        for n in names:
            if not isinstance(n, str) or not re.fullmatch(r"[A-Za-z_]\w*", n):
                raise KernelSourceError(f"metal_kernel '{name}': input and output names must be identifiers, got {n!r}")
        if len(set(names)) != len(names):
            raise KernelSourceError(f"metal_kernel '{name}': input and output names must be distinct")
        if not output_names:
            raise KernelSourceError(f"metal_kernel '{name}': at least one output is needed")
        if device == "auto":
            device = "metal" if "metal" in _native.devices() else "metal-sim"
        if device not in ("metal", "metal-sim"):
            raise DeviceError(f"metal_kernel '{name}': device must be 'metal', 'metal-sim' or 'auto', got {device!r}")
        self.source, self.name, self.header, self.device = source, name, header, device
        self.input_names, self.output_names = list(input_names), list(output_names)
        self.ensure_row_contiguous = ensure_row_contiguous
        self.full_kernel = re.search(r"\[\[\s*kernel\s*\]\]|\bkernel\s+void\b", _strip_comments(source)) is not None
        self._compiled: dict[tuple, tuple[Any, str, set[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, inputs: Sequence[Any], *, grid: Sequence[int], threadgroup: Sequence[int],
                 output_shapes: Sequence[Sequence[int]], output_dtypes: Sequence[Any],
                 template: Sequence[tuple[str, TemplateArg]] = (), init_value: float | None = None) -> list[np.ndarray]:
        """Runs the kernel over `grid` threads (dispatchThreads: the last threadgroup of a dimension may
        be partial) in threadgroups of `threadgroup`, and returns the outputs as new arrays.

        `inputs`: arrays (or scalars) in the order of `input_names`; `output_shapes` / `output_dtypes`
        one per output; `template`: (name, dtype | int | bool) pairs for `template <...>` parameters;
        `init_value`: fills the outputs first (otherwise their contents are undefined: metal-sim fills
        them with NaN / all-ones bytes, so a kernel that leaves an element unwritten shows). Kernel
        faults on metal-sim (an index outside a buffer, a divergent barrier, a race with
        METALNN_SIM_RACECHECK=1) raise DeviceError naming the kernel and thread.
        """
        where = f"metal_kernel '{self.name}'"
        if len(inputs) != len(self.input_names):
            raise ShapeError(f"{where}: {len(inputs)} inputs given, expected {len(self.input_names)} "
                             f"({', '.join(self.input_names)})")
        if len(output_shapes) != len(self.output_names) or len(output_dtypes) != len(self.output_names):
            raise ShapeError(f"{where}: give one output shape and dtype per output ({', '.join(self.output_names)})")
        grid3, group3 = _size3(grid, "grid", where), _size3(threadgroup, "threadgroup", where)
        if 0 in group3:
            raise ShapeError(f"{where}: threadgroup sizes must be positive, got {tuple(threadgroup)}")
        arrays = []
        for n, x in zip(self.input_names, inputs):
            a = np.asarray(x)
            if a.dtype not in _MSL_TYPES:
                raise DtypeError(f"{where}: input '{n}' has dtype {a.dtype}, which MSL has no type for "
                                 f"(supported: {', '.join(sorted(str(d) for d in _MSL_TYPES))})")
            if a.ndim == 0:
                a = a.copy()  # np.ascontiguousarray would make it 1-d
            elif self.ensure_row_contiguous:
                a = np.ascontiguousarray(a)
            elif not a.flags.c_contiguous:
                raise ShapeError(f"{where}: input '{n}' is not C-contiguous (ensure_row_contiguous=False)")
            arrays.append(a)
        out_dtypes = []
        for n, d in zip(self.output_names, output_dtypes):
            dt = np.dtype(d)
            if dt not in _MSL_TYPES:
                raise DtypeError(f"{where}: output '{n}' has dtype {dt}, which MSL has no type for")
            out_dtypes.append(dt)
        targs = _template_args(template, where)
        library, host_name, used = self._library(arrays, out_dtypes, targs)

        outputs = []
        for n, shape, dt in zip(self.output_names, output_shapes, out_dtypes):
            shape = tuple(int(s) for s in shape)
            if any(s < 0 for s in shape):
                raise ShapeError(f"{where}: output '{n}' has a negative dimension in {shape}")
            out = np.empty(shape, dt)
            if init_value is not None:
                out.fill(init_value)
            elif self.device == "metal-sim":
                out.view(np.uint8).fill(0xFF)
            outputs.append(out)
        args: list[tuple[np.ndarray, int, bool, bool]] = []
        index = 0
        for n, a in zip(self.input_names, arrays):
            by_value = a.ndim == 0
            if by_value and a.nbytes > _MAX_BY_VALUE:
                raise ShapeError(f"{where}: input '{n}' is too large to pass by value")
            args.append((a.reshape(1) if by_value else a, index, by_value, False))
            index += 1
            if not self.full_kernel:
                for suffix, value in (("_shape", np.array(a.shape or (1,), np.int32)),
                                      ("_strides", np.array([s // a.itemsize for s in a.strides] or [1], np.int64)),
                                      ("_ndim", np.array([a.ndim], np.int32))):
                    if n + suffix in used:
                        args.append((value, index, True, False))
                        index += 1
        for out in outputs:
            args.append((out.reshape(-1) if out.ndim else out.reshape(1), index, False, True))
            index += 1
        library.run(host_name, args, grid3, group3)
        return outputs

    # --- compilation ------------------------------------------------------------------------------
    def _library(self, arrays: list[np.ndarray], out_dtypes: list[np.dtype], targs: list[tuple[str, str, str]]):
        signature = (tuple((a.dtype.str, a.ndim == 0) for a in arrays), tuple(d.str for d in out_dtypes),
                     tuple(targs))
        with self._lock:  # one compilation per signature, whichever thread asks first
            if signature not in self._compiled:
                text, host_name, used = self._msl(arrays, out_dtypes, targs)
                self._compiled[signature] = (_open_library(self.device, text, host_name, self.name), host_name, used)
            return self._compiled[signature]

    def _msl(self, arrays, out_dtypes, targs) -> tuple[str, str, set[str]]:
        """The MSL of one signature, its kernel's host name and the generated names the body uses."""
        file = f"{self.name}.metal"
        used = set(re.findall(r"[A-Za-z_]\w*", _strip_comments(self.source)))
        parts = ["#include <metal_stdlib>", "using namespace metal;"]
        if self.header:
            parts += ['#line 1 "header.metal"', self.header]
        template_head = ""
        if targs:
            template_head = "template <" + ", ".join(f"{kind} {n}" for n, kind, _ in targs) + ">\n"
        targ_text = "<" + ", ".join(v for _, _, v in targs) + ">" if targs else ""
        host_name = self.name + "".join("_" + n + "_" + re.sub(r"\W+", "_", v) for n, _, v in targs)
        if self.full_kernel:
            parts += [f'#line 1 "{file}"', self.source]
            if not targs:
                return "\n".join(parts) + "\n", self.name, used
        else:
            params = []
            index = 0
            for n, a in zip(self.input_names, arrays):
                t = _MSL_TYPES[a.dtype]
                params.append(f"const constant {t}& {n} [[buffer({index})]]" if a.ndim == 0
                              else f"const device {t}* {n} [[buffer({index})]]")
                index += 1
                for suffix, decl in (("_shape", "const constant int*"), ("_strides", "const constant long*"),
                                     ("_ndim", "const constant int&")):
                    if n + suffix in used:
                        params.append(f"{decl} {n}{suffix} [[buffer({index})]]")
                        index += 1
            for n, d in zip(self.output_names, out_dtypes):
                params.append(f"device {_MSL_TYPES[d]}* {n} [[buffer({index})]]")
                index += 1
            params += [f"{t} {b} [[{b}]]" for b, t in _BUILTINS.items() if b in used]
            parts += ['#line 1 "signature.metal"',
                      f"{template_head}[[kernel]] void {self.name}(\n    " + ",\n    ".join(params) + ") {",
                      f'#line 1 "{file}"', self.source, "}"]
        if targs:
            parts += ['#line 1 "instantiation.metal"',
                      f'template [[host_name("{host_name}")]] [[kernel]] decltype({self.name}{targ_text}) '
                      f"{self.name}{targ_text};"]
            return "\n".join(parts) + "\n", host_name, used
        return "\n".join(parts) + "\n", self.name, used


def _open_library(device: str, text: str, host_name: str, name: str):
    if device == "metal":
        key = hashlib.sha256(text.encode()).hexdigest()
        with _state_lock:
            if ("metal", key) not in _libraries:
                _libraries[("metal", key)] = _native._CustomLibrary("metal", text, "")
            return _libraries[("metal", key)]
    path = _sim_library(text, name)
    with _state_lock:
        if ("metal-sim", str(path)) not in _libraries:
            _libraries[("metal-sim", str(path))] = _native._CustomLibrary("metal-sim", "", str(path))
        return _libraries[("metal-sim", str(path))]


def _sim_library(text: str, name: str) -> Path:
    """The compiled shared library of `text` for metal-sim: from the disk cache, else built now."""
    from .sim import msl_translator  # shipped with the extension (cmake/metal_sim.cmake)

    cxx = msl_translator.default_cxx()
    # Under the race checker the library also holds a race-check copy of the kernels (msl_racecheck.h).
    racecheck = os.environ.get("METALNN_SIM_RACECHECK") == "1"
    key = hashlib.sha256("\0".join([text, _toolchain(cxx), " ".join(_COMPILE_FLAGS),
                                     "racecheck" if racecheck else ""]).encode()).hexdigest()[:32]
    directory = cache_dir()
    path = directory / f"{key}.so"
    with _state_lock:
        lock = _build_locks.setdefault(key, threading.Lock())
    with lock:
        if path.exists():
            return path
        try:
            cpp = msl_translator.translate_source(text, f"{name}.metal", _TABLE, cxx=cxx, bounds_check=True)
        except msl_translator.TranslationError as e:
            violations = [(v.line, v.rule, v.message) for v in e.violations]
            raise KernelSourceError(f"metal_kernel '{name}': the source breaks MSL's rules:\n" +
                                    "\n".join(str(v) for v in e.violations), violations) from None
        cpp += f'\n#define METAL_SIM_TABLE {_TABLE}\n#include "msl/msl_runtime_table.h"\n'
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as tmp:
            source_path, output = Path(tmp) / f"{name}.cpp", Path(tmp) / "kernel.so"
            source_path.write_text(cpp)
            sim_dir = Path(msl_translator.SIM_DIR)
            common = [*_COMPILE_FLAGS, *msl_translator.half_compile_flags(cxx), f"-I{sim_dir}", "-c", str(source_path)]
            commands = [[cxx, "-include", str(sim_dir / "msl" / "msl_compat.h"), *common, "-o", str(Path(tmp) / "plain.o")]]
            if racecheck:
                commands.append([cxx, *common, *msl_translator.racecheck_compile_flags(cxx), "-o",
                                 str(Path(tmp) / "racecheck.o")])
            commands.append([cxx, "-shared", *[c[-1] for c in commands], "-o", str(output)])
            for command in commands:
                result = subprocess.run(command, capture_output=True, text=True)
                if result.returncode != 0:
                    raise _compile_error(name, result.stderr)
            os.replace(output, path)  # atomic: other processes see no file or a whole one
    return path


def _compile_error(name: str, stderr: str) -> KernelSourceError:
    """The C++ compiler's errors, at the lines of the caller's source (the translation keeps them)."""
    violations, lines = [], []
    for m in re.finditer(r"^([^\s:]+\.metal):(\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(.*)$", stderr, re.M):
        violations.append((int(m.group(2)), "compile", m.group(3)))
        lines.append(f"{m.group(1)}:{m.group(2)}: compile: {m.group(3)}")
    if not lines:  # an error outside the user's lines: show the compiler's first ones
        lines = [line for line in stderr.splitlines() if "error" in line][:5] or stderr.splitlines()[:5]
    return KernelSourceError(f"metal_kernel '{name}': the source does not compile:\n" + "\n".join(lines), violations)


def _toolchain(cxx: str) -> str:
    """What the compiled library depends on besides the source: compiler, translator and MSL headers."""
    from .sim import msl_translator

    global _toolchain_key
    with _state_lock:
        if _toolchain_key is None:
            digest = hashlib.sha256()
            version = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
            digest.update((shutil.which(cxx) or cxx).encode() + version.encode())
            sim_dir = Path(msl_translator.SIM_DIR)
            for f in sorted(sim_dir.rglob("*")):
                if f.is_file() and f.suffix in (".py", ".h", "") and "__pycache__" not in f.parts:
                    digest.update(str(f.relative_to(sim_dir)).encode() + f.read_bytes())
            _toolchain_key = digest.hexdigest()
        return _toolchain_key


def _size3(value: Sequence[int], what: str, where: str) -> tuple[int, int, int]:
    try:
        sizes = [int(v) for v in value]
    except TypeError:
        raise ShapeError(f"{where}: {what} must be 1 to 3 integers, got {value!r}") from None
    if not 1 <= len(sizes) <= 3 or any(s < 0 or s >= 2**32 for s in sizes):
        raise ShapeError(f"{where}: {what} must be 1 to 3 integers in [0, 2^32), got {tuple(value)}")
    return tuple(sizes + [1] * (3 - len(sizes)))  # type: ignore[return-value]


def _template_args(template: Sequence[tuple[str, TemplateArg]], where: str) -> list[tuple[str, str, str]]:
    """(name, parameter kind, MSL value) per template argument."""
    out = []
    for item in template:
        n, value = item
        if not re.fullmatch(r"[A-Za-z_]\w*", str(n)):
            raise KernelSourceError(f"{where}: template parameter names must be identifiers, got {n!r}")
        if isinstance(value, (bool, np.bool_)):
            out.append((n, "bool", "true" if value else "false"))
        elif isinstance(value, (int, np.integer)):
            out.append((n, "int", str(int(value))))
        else:
            try:
                dt = np.dtype(value)
            except TypeError:
                raise DtypeError(f"{where}: template argument '{n}' must be a dtype, int or bool, got {value!r}") from None
            if dt not in _MSL_TYPES:
                raise DtypeError(f"{where}: template argument '{n}' has dtype {dt}, which MSL has no type for")
            out.append((n, "typename", _MSL_TYPES[dt]))
    return out


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
