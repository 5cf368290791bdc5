"""The file's call graph: which kernels reach a barrier or SIMD-group collective (those run on fibers),
and recursion, which MSL forbids."""
from __future__ import annotations

import re

from .source import CONTROL_WORDS, IDENT, split_top_level

# Calls that make threads wait for each other: a kernel reaching any of them needs fibers.
COLLECTIVES = {
    "threadgroup_barrier", "simdgroup_barrier", "simd_sum", "simd_product", "simd_min", "simd_max",
    "simd_and", "simd_or", "simd_xor", "simd_broadcast", "simd_broadcast_first", "simd_shuffle",
    "simd_shuffle_up", "simd_shuffle_down", "simd_shuffle_xor", "simd_shuffle_rotate_up",
    "simd_shuffle_rotate_down", "simd_prefix_inclusive_sum", "simd_prefix_exclusive_sum",
    "simd_prefix_inclusive_product", "simd_prefix_exclusive_product", "simd_all", "simd_any",
    "simd_ballot", "simd_active_threads_mask", "simd_is_first", "quad_sum", "quad_shuffle",
    "quad_broadcast", "quad_shuffle_xor", "simdgroup_load", "simdgroup_store", "simdgroup_multiply",
    "simdgroup_multiply_accumulate",
}
CALL = re.compile(r"(?:([A-Za-z_]\w*)\s*::\s*)?\b([A-Za-z_]\w*)\s*(<[^;{}()<>]*>\s*)?\(")


def uses_collectives(src, body):
    """Whether code in body reaches a collective through any function of the same name (conservative:
    overloads and members of one name are not told apart)."""
    masked = src.masked
    by_name = {}
    conservative = False
    for f in src.functions():
        by_name.setdefault(f.name, []).append(f.body)
        if f.name == "operator":  # operators are called without their name
            conservative = conservative or bool(COLLECTIVES & set(IDENT.findall(masked[f.body[0]:f.body[1]])))
    seen, pending = set(), [body]
    while pending:
        a, b = pending.pop()
        for word in set(IDENT.findall(masked[a:b])):
            if word in COLLECTIVES:
                return True
            if word in by_name and word not in seen:
                seen.add(word)
                pending.extend(by_name[word])
    return conservative


def arity(src, f):
    """(required, total) parameter counts of a function definition."""
    text = src.masked[f.params[0] + 1:f.params[1]].strip()
    if not text or text == "void":
        return 0, 0
    params = [p for _, p in split_top_level(text)]
    required = sum(1 for p in params if "=" not in p and "..." not in p)
    return required, (1 << 30) if any("..." in p for p in params) else len(params)


def owner(src, f):
    """Name of the struct or class a member function is defined in, else None."""
    kind, block = src.scope(f.pos)
    if kind != "class":
        return None
    head = src.masked[src.statement_start(block[0]):block[0]]
    m = re.search(r"\b(?:struct|class|union)\s+([A-Za-z_]\w*)", head)
    return m.group(1) if m else None


def is_template(src, f):
    return re.search(r"\btemplate\s*<", src.masked[src.statement_start(f.pos):f.pos]) is not None


def recursion_cycles(src):
    """Each cycle of calls between the file's functions, as a list of Functions. A call is matched to
    the definitions of its name that accept its argument count (and its class, when qualified by one);
    a call from an overload to another of the same name and arity is not taken as recursion, nor a
    call with explicit template arguments to a template (compile-time recursion ends in a
    specialization)."""
    functions = [f for f in src.functions() if f.name != "operator"]
    by_name = {}
    for f in functions:
        by_name.setdefault(f.name, []).append(f)
    counts = {id(f): arity(src, f) for f in functions}
    owners = {id(f): owner(src, f) for f in functions}
    templates = {id(f): is_template(src, f) for f in functions}
    edges = {id(f): set() for f in functions}
    masked = src.masked
    for f in functions:
        a, b = f.body
        for m in CALL.finditer(masked, a, b):
            qualifier, name, template_args = m.group(1), m.group(2), m.group(3)
            if name not in by_name or name in CONTROL_WORDS:
                continue
            close = src.match(m.end() - 1, "(", ")")
            args = masked[m.end():close].strip()
            n = len(split_top_level(args)) if args else 0
            targets = [g for g in by_name[name] if counts[id(g)][0] <= n <= counts[id(g)][1]
                       and not (template_args and templates[id(g)])]
            if qualifier and any(owners[id(g)] == qualifier for g in targets):
                targets = [g for g in targets if owners[id(g)] == qualifier]
            if f in targets and len(targets) > 1:
                targets.remove(f)  # ambiguous between overloads: resolution needs types
            edges[id(f)].update(id(g) for g in targets)
    return [[next(f for f in functions if id(f) == i) for i in cycle] for cycle in _cycles(edges)]


def _cycles(edges):
    """Strongly connected components with a cycle (Tarjan), each in discovery order."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                out.append(component[::-1])

    for v in edges:
        if v not in index:
            visit(v)
    return out
