"""Kernel parameter attributes for thread positions and sizes: what the runtime binds to each, the
types the MSL specification allows for it, and the rules tying a kernel's builtins together."""
from __future__ import annotations

import re

from .source import IDENT

GRID_TYPES = ("ushort", "ushort2", "ushort3", "uint", "uint2", "uint3")
INDEX_TYPES = ("ushort", "uint")

# attribute -> (ParamKind the runtime binds, types the specification allows)
BUILTINS = {
    "thread_position_in_grid": ("kThreadPositionInGrid", GRID_TYPES),
    "thread_position_in_threadgroup": ("kThreadPositionInThreadgroup", GRID_TYPES),
    "threadgroup_position_in_grid": ("kThreadgroupPositionInGrid", GRID_TYPES),
    "threads_per_threadgroup": ("kThreadsPerThreadgroup", GRID_TYPES),
    "dispatch_threads_per_threadgroup": ("kThreadsPerThreadgroup", GRID_TYPES),
    "threadgroups_per_grid": ("kThreadgroupsPerGrid", GRID_TYPES),
    "threads_per_grid": ("kThreadsPerGrid", GRID_TYPES),
    "grid_size": ("kThreadsPerGrid", GRID_TYPES),
    "grid_origin": ("kGridOrigin", GRID_TYPES),
    "thread_index_in_threadgroup": ("kThreadIndexInThreadgroup", INDEX_TYPES),
    "thread_index_in_simdgroup": ("kThreadIndexInSimdgroup", INDEX_TYPES),
    "simdgroup_index_in_threadgroup": ("kSimdgroupIndexInThreadgroup", INDEX_TYPES),
    "threads_per_simdgroup": ("kThreadsPerSimdgroup", INDEX_TYPES),
    "thread_execution_width": ("kThreadsPerSimdgroup", INDEX_TYPES),
    "simdgroups_per_threadgroup": ("kSimdgroupsPerThreadgroup", INDEX_TYPES),
    "dispatch_simdgroups_per_threadgroup": ("kSimdgroupsPerThreadgroup", INDEX_TYPES),
    "thread_index_in_quadgroup": ("kThreadIndexInQuadgroup", INDEX_TYPES),
    "quadgroup_index_in_threadgroup": ("kQuadgroupIndexInThreadgroup", INDEX_TYPES),
}
# Scalars, or vectors with one component count, across the whole kernel.
POSITION_AND_SIZE = ("thread_position_in_grid", "threads_per_grid", "grid_size", "thread_position_in_threadgroup",
                     "threads_per_threadgroup", "threadgroup_position_in_grid", "threadgroups_per_grid",
                     "dispatch_threads_per_threadgroup", "grid_origin")
# Each group declared with one type.
SAME_TYPE = (("thread_position_in_grid", "threads_per_grid", "grid_size"),
             ("thread_position_in_threadgroup", "threads_per_threadgroup", "dispatch_threads_per_threadgroup"))
SPELLINGS = {"unsigned int": "uint", "unsigned": "uint", "uint32_t": "uint", "unsigned short": "ushort",
             "uint16_t": "ushort"}


def type_aliases(masked):
    """`typedef X Y;` and `using Y = X;` of the file, so a builtin declared through an alias is checked."""
    aliases = {}
    for m in re.finditer(r"\btypedef\s+([^;{}]+?)\s+([A-Za-z_]\w*)\s*;", masked):
        aliases[m.group(2)] = m.group(1)
    for m in re.finditer(r"\busing\s+([A-Za-z_]\w*)\s*=\s*([^;{}]+);", masked):
        aliases[m.group(1)] = m.group(2)
    return aliases


def canonical_type(text, aliases):
    """'const metal::uint3' -> 'uint3'; None when the type is not a plain scalar or vector name."""
    for _ in range(8):
        t = re.sub(r"\b(const|volatile)\b|\bmetal\s*::", " ", text)
        t = re.sub(r"\s+", " ", t).strip()
        vec = re.fullmatch(r"vec\s*<\s*([\w ]+?)\s*,\s*([234])\s*>", t)
        if vec:
            t = SPELLINGS.get(vec.group(1), vec.group(1)) + vec.group(2)
        t = SPELLINGS.get(t, t)
        if t in aliases:
            text = aliases[t]
            continue
        return t if re.fullmatch(r"[A-Za-z_]\w*", t) else None
    return None


def width(type_name):
    return int(type_name[-1]) if type_name[-1].isdigit() else 1


def check_builtins(kernel_name, builtins, template_params, aliases, violation):
    """builtins: (attribute, declared type text, parameter name, pos). Returns Violations."""
    out, typed = [], []
    for attribute, declared, name, pos in builtins:
        allowed = BUILTINS[attribute][1]
        t = canonical_type(declared, aliases)
        if t is None or t in template_params:
            if t is None:
                out.append(violation(pos, "builtin-type", f"kernel '{kernel_name}': parameter '{name}' "
                                     f"[[{attribute}]] has type '{declared.strip()}', expected one of {', '.join(allowed)}"))
            continue
        if t not in allowed:
            out.append(violation(pos, "builtin-type", f"kernel '{kernel_name}': parameter '{name}' [[{attribute}]] "
                                 f"has type '{t}', expected one of {', '.join(allowed)}"))
            continue
        typed.append((attribute, t, name, pos))
    positions = [b for b in typed if b[0] in POSITION_AND_SIZE]
    for attribute, t, name, pos in positions[1:]:
        first = positions[0]
        if width(t) != width(first[1]):
            out.append(violation(pos, "builtin-width", f"kernel '{kernel_name}': position and size builtins must "
                                 "all be scalars or all vectors of one width: "
                                 f"'{first[2]}' [[{first[0]}]] is {first[1]}, '{name}' [[{attribute}]] is {t}"))
    for group in SAME_TYPE:
        members = [b for b in typed if b[0] in group]
        for attribute, t, name, pos in members[1:]:
            if t != members[0][1] and width(t) == width(members[0][1]):  # else reported as builtin-width
                out.append(violation(pos, "builtin-type", f"kernel '{kernel_name}': [[{members[0][0]}]] and "
                                     f"[[{attribute}]] must have the same type: '{members[0][2]}' is "
                                     f"{members[0][1]}, '{name}' is {t}"))
    in_group = [b for b in typed if b[0] == "thread_position_in_threadgroup"]
    for attribute, t, name, pos in typed:
        if attribute == "thread_index_in_threadgroup" and in_group and in_group[0][1].startswith("uint") and t != "uint":
            out.append(violation(pos, "builtin-type", f"kernel '{kernel_name}': [[thread_index_in_threadgroup]] "
                                 f"'{name}' must be uint when [[thread_position_in_threadgroup]] is {in_group[0][1]}"))
    return out


def template_parameters(prefix):
    """Names declared by `template <typename T, uint N>` in a kernel's prefix."""
    m = re.search(r"\btemplate\s*<(.*)>", prefix, re.S)
    if not m:
        return set()
    names = set()
    for part in m.group(1).split(","):
        words = IDENT.findall(part.split("=")[0])
        if words:
            names.add(words[-1])
    return names
