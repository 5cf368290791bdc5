"""MSL rules a C++ compiler would not enforce, checked on the preprocessed source: what MSL forbids,
where threadgroup and program-scope variables may live, address spaces on pointer and reference
parameters, and simdgroup_matrix types. Each check returns Violations; none stops at the first."""
from __future__ import annotations

import re

from .call_graph import recursion_cycles
from .source import IDENT, split_top_level, strip_attributes

ADDRESS_SPACES = {"device", "constant", "threadgroup", "thread", "threadgroup_imageblock", "ray_data", "object_data"}
# (pattern, rule, message) for constructs MSL does not have.
FORBIDDEN = [
    (re.compile(r"\bstd\s*::"), "std-library", "the C++ standard library is not available in MSL (use metal::)"),
    (re.compile(r"\bvirtual\b"), "virtual-function", "virtual functions are not allowed in MSL"),
    (re.compile(r"\b(try|catch|throw)\b"), "exception", "exception handling is not allowed in MSL"),
    (re.compile(r"\b(new|delete)\b"), "new-delete", "new and delete are not allowed in MSL"),
    (re.compile(r"\bgoto\b"), "goto", "goto is not allowed in MSL"),
    (re.compile(r"\blong\s+double\b"), "double", "long double is not supported by MSL"),
    (re.compile(r"(?<!long )\bdouble\b"), "double", "double is not supported by MSL (use float)"),
    (re.compile(r"\b(dynamic_cast|typeid)\b"), "rtti", "dynamic_cast and typeid are not allowed in MSL"),
    (re.compile(r"\bthread_local\b"), "static-local", "thread_local storage is not allowed in MSL"),
    (re.compile(r"\(\s*[*&]\s*(?:[A-Za-z_]\w*\s*)?\)\s*\(|::\s*\*"), "function-pointer",
     "function pointers are not allowed in MSL"),
    (re.compile(r"\bmemory_order_(?!relaxed\b)\w+"), "atomic-memory-order",
     "MSL atomics take memory_order_relaxed only"),
]
SIMDGROUP_MATRIX_ELEMENTS = {"float", "half", "bfloat"}


def check_forbidden(src):
    out = []
    for pattern, rule, message in FORBIDDEN:
        for m in pattern.finditer(src.masked):
            if m.group(0) == "delete" and re.search(r"=\s*$", src.masked[max(0, m.start() - 20):m.start()]):
                continue  # `= delete` declares a deleted function
            out.append(src.violation(m.start(), rule, message))
    for m in re.finditer(r"\bstatic\b", src.masked):
        if src.scope(m.start())[0] == "function":
            out.append(src.violation(m.start(), "static-local", "static local variables are not allowed in MSL "
                                     "(use a program-scope constant)"))
    for cycle in recursion_cycles(src):
        path = " -> ".join(f.name for f in cycle + cycle[:1])
        for f in cycle:
            out.append(src.violation(f.pos, "recursion", f"recursive call ({path}) is not allowed in MSL"))
    return out


def check_program_scope(src):
    """Variables at namespace scope must be in the constant address space."""
    out = []
    masked = src.masked
    for m in re.finditer(r";", masked):
        if src.scope(m.start())[0] != "program":
            continue
        start = src.statement_start(m.start())
        stmt = strip_attributes(masked[start:m.start()])
        words = IDENT.findall(stmt)
        if len(words) < 2 or words[0] in ("using", "typedef", "template", "namespace", "static_assert", "friend",
                                          "struct", "class", "union", "enum", "extern"):
            continue
        declarator = stmt.split("=")[0]
        if "(" in declarator or "operator" in words:
            continue  # a function declaration
        if "constant" not in words:
            name = IDENT.findall(re.sub(r"\[.*?\]", "", declarator))[-1]
            out.append(src.violation(start + len(stmt) - len(stmt.lstrip()), "program-scope-variable",
                                     f"program-scope variable '{name}' must be declared in the constant address space"))
    return out


def check_parameter_address_spaces(src, kernels):
    """Every pointer or reference parameter of a function names its address space; kernel buffers are
    device or constant, kernel threadgroup arguments threadgroup."""
    out = []
    kernel_params = {k["params_range"]: k for k in kernels if "params_range" in k}
    for f in src.functions():
        text = src.masked[f.params[0] + 1:f.params[1]]
        if not text.strip():
            continue
        for offset, param in split_top_level(text):
            declaration = strip_attributes(param).split("=")[0]
            pointer = re.search(r"[*&]", re.sub(r"<[^<>]*>", "", declaration))
            if not pointer:
                continue
            words = set(IDENT.findall(declaration))
            names = IDENT.findall(declaration)
            name = names[-1] if names else "?"
            pos = f.params[0] + 1 + offset + len(param) - len(param.lstrip())
            if not words & ADDRESS_SPACES:
                out.append(src.violation(pos, "address-space-missing", f"'{f.name}': pointer or reference parameter "
                                         f"'{name}' needs an address space (device, constant, threadgroup or thread)"))
                continue
            binding = re.search(r"\[\[\s*(buffer|threadgroup)\s*\(", param)
            if f.params in kernel_params and binding:
                allowed = {"device", "constant"} if binding.group(1) == "buffer" else {"threadgroup"}
                if not words & allowed:
                    out.append(src.violation(pos, "address-space", f"kernel '{f.name}': [[{binding.group(1)}(n)]] "
                                             f"parameter '{name}' must be in {' or '.join(sorted(allowed))} memory"))
    return out


def check_threadgroup_scope(src, allocations, kernel_bodies):
    """threadgroup variables are declared in kernel functions only."""
    out = []
    for pos, name in allocations:
        kind, block = src.scope(pos)
        if kind == "function" and (block[0], block[1]) in kernel_bodies:
            continue
        where = "at program scope" if kind == "program" else "in a helper function" if kind == "function" else "in a struct"
        out.append(src.violation(pos, "threadgroup-scope", f"threadgroup variable '{name}' {where}: threadgroup "
                                 "variables may only be declared in a kernel function"))
    return out


def check_simdgroup_matrix_types(src, template_params):
    """simdgroup_matrix<T, 8, 8> with T float, half or bfloat where the arguments are spelled out;
    dependent ones are checked by static_asserts in the compatibility header when instantiated."""
    out = []
    for m in re.finditer(r"\b(simdgroup_matrix|make_filled_simdgroup_matrix)\s*<([^<>;{}]*)>", src.masked):
        args = [a.strip() for _, a in split_top_level(m.group(2))]
        if len(args) != 3:
            continue
        element, rows, cols = args
        if element not in SIMDGROUP_MATRIX_ELEMENTS and element not in template_params:
            out.append(src.violation(m.start(), "simdgroup-matrix", f"simdgroup_matrix element type '{element}': "
                                     "MSL allows float, half or bfloat"))
        for dim in (rows, cols):
            if dim.isdigit() and dim != "8":
                out.append(src.violation(m.start(), "simdgroup-matrix", f"simdgroup_matrix<{element}, {rows}, {cols}>: "
                                         "MSL allows 8x8 only"))
                break
    return out
