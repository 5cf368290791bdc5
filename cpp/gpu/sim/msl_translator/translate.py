"""The rewrites that turn preprocessed MSL into C++ for the compatibility layer, and the kernel table.

The text keeps its line markers, so diagnostics and sanitizer reports point at the .metal source:
  - `kernel` functions lose `kernel` and their parameter attributes, which are recorded instead;
  - `template [[host_name("...")]] kernel ...` instantiations become registrations;
  - `threadgroup T name[N];` declarations become references into the threadgroup's memory;
  - the `constant` address space becomes `METAL_SIM_CONSTANT const` (the compatibility header gives
    the macro a meaning only in the address-space check); `[[function_constant(N)]]` variables become
    proxies that read the pipeline's value;
  - half literals (`1.0h`) become conversions.
Finally a table of the file's kernels (host name, parameter bindings, whether barriers or SIMD-group
collectives occur in its call graph) is appended."""
from __future__ import annotations

import re

from . import checks
from .builtins import BUILTINS, check_builtins, template_parameters, type_aliases
from .call_graph import uses_collectives
from .source import IDENT, Source, split_top_level, strip_attributes

CONSTANT_TYPES = {
    "bool": "kBool", "int": "kInt", "uint": "kUInt", "unsigned int": "kUInt", "short": "kShort",
    "ushort": "kUShort", "char": "kChar", "uchar": "kUChar", "float": "kFloat", "half": "kHalf",
}
UNSUPPORTED = [
    (re.compile(r"\b(vertex|fragment)\s+\w"), "vertex and fragment functions"),
    (re.compile(r"\b(texture[123]d\w*|texturecube\w*|depth2d\w*|sampler)\b"), "textures and samplers"),
    (re.compile(r"\bimageblock\b"), "imageblocks"),
    (re.compile(r"\[\[\s*(stage_in|visible|intersection|mesh|object)\b"), "this function kind"),
]


class Translator:
    def __init__(self, source: Source, bounds_check: bool = False):
        self.src = source
        self.bounds_check = bounds_check  # kernel buffer pointers become checked_ptr (custom kernels)
        self.edits = []  # (start, end, replacement)
        self.sim_edits = []  # edits for the simulator build only, not for the address-space check
        self.kernels = []  # dicts: name, host_name, template_args, params, pos, uses_barriers, max_threads
        self.templates = {}  # template kernel name -> definition dict
        self.constants = []  # (index, type enum, name)
        self.constant_names = set()
        self.skip_ranges = []
        self.violations = []  # rule violations, reported together once translation is done
        self.threadgroup_allocations = []  # (pos, name)

    def replace(self, start, end, replacement):
        lost = self.src.text.count("\n", start, end) - replacement.count("\n")
        self.edits.append((start, end, replacement + "\n" * max(lost, 0)))

    def blank(self, start, end):
        self.replace(start, end, "")

    def run(self):
        """Rewrites the source and returns the rule violations found (untranslatable code raises)."""
        for pattern, what in UNSUPPORTED:
            m = pattern.search(self.src.masked)
            if m:
                self.src.error(m.start(), f"{what} are not supported by metal-sim")
        for m in re.finditer(r"^#pragma[^\n]*", self.src.text, re.M):
            self.blank(m.start(), m.end())
        self.find_instantiations()
        self.find_kernels()
        self.rewrite_function_constants()
        self.rewrite_constant_qualifiers()
        self.rewrite_threadgroup_variables()
        self.rewrite_half_literals()
        for k in self.kernels:
            k["uses_barriers"] = uses_collectives(self.src, k["body"])
        self.check()
        return self.violations

    def check(self):
        src = self.src
        definitions = [k for k in self.kernels if not k.get("instantiation")] + list(self.templates.values())
        template_names = set()
        for m in re.finditer(r"\btemplate\s*<", src.masked):
            template_names |= template_parameters(src.masked[m.start():src.match(m.end() - 1, "<", ">") + 1])
        self.violations += checks.check_forbidden(src)
        self.violations += checks.check_program_scope(src)
        self.violations += checks.check_parameter_address_spaces(src, definitions)
        self.violations += checks.check_threadgroup_scope(src, self.threadgroup_allocations,
                                                          {k["body"] for k in definitions})
        self.violations += checks.check_simdgroup_matrix_types(src, template_names)
        aliases = type_aliases(src.masked)
        for k in definitions:
            self.violations += check_builtins(k["name"], k["builtins"], k["template_params"], aliases, src.violation)

    # --- kernels -------------------------------------------------------------------------------
    def find_instantiations(self):
        masked = self.src.masked
        for m in re.finditer(r"\btemplate\s*\[\[\s*host_name\s*\(", masked):
            close = self.src.match(m.end() - 1, "(", ")")
            host = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', self.src.text[m.end():close]))
            attribute_end = masked.index("]]", close) + 2
            end = self.src.statement_end(attribute_end)
            stmt = strip_attributes(masked[attribute_end:end])
            stmt = re.sub(r"\bdecltype\s*\(.*?\)\s*(?=[A-Za-z_])", " ", stmt, flags=re.S)
            paren = stmt.find("(")
            head = stmt[:paren] if paren >= 0 else stmt
            decl = re.search(r"([A-Za-z_]\w*)\s*(<.*>)?\s*$", head, re.S)
            if not host or not decl:
                self.src.error(m.start(), "cannot parse this host_name instantiation")
            self.kernels.append({"name": decl.group(1), "host_name": host, "template_args": decl.group(2) or "",
                                 "pos": m.start(), "instantiation": True})
            self.skip_ranges.append((m.start(), end))
            self.blank(m.start(), end + 1)

    def in_skipped(self, pos):
        return any(a <= pos <= b for a, b in self.skip_ranges)

    def find_kernels(self):
        masked = self.src.masked
        for m in re.finditer(r"\[\[\s*kernel\s*\]\]|\bkernel\b", masked):
            if self.in_skipped(m.start()):
                continue
            # What precedes `kernel` in this declaration: template header, attributes.
            prefix_start = self.src.statement_start(m.start())
            prefix = masked[prefix_start:m.start()]
            is_template = re.search(r"\btemplate\b", prefix) is not None
            max_threads = 0
            for a in re.finditer(r"\[\[\s*max_total_threads_per_threadgroup\s*\(\s*(\d+)\s*\)\s*\]\]", prefix):
                max_threads = int(a.group(1))
                self.blank(prefix_start + a.start(), prefix_start + a.end())
            paren = masked.find("(", m.end())
            head = strip_attributes(masked[m.end():paren])
            decl = re.search(r"\b(\w+)\s+([A-Za-z_]\w*)\s*$", head)
            if not decl:
                self.src.error(m.start(), "cannot parse this kernel declaration")
            if decl.group(1) != "void":
                self.src.error(m.start(), f"kernel '{decl.group(2)}' must return void")
            close = self.src.match(paren, "(", ")")
            brace = close + 1 + (len(masked[close + 1:]) - len(masked[close + 1:].lstrip()))
            if masked[brace] != "{":
                self.src.error(m.start(), f"kernel '{decl.group(2)}': expected a body after its parameters")
            body_end = self.src.match(brace, "{", "}")
            kernel = {"name": decl.group(2), "host_name": decl.group(2), "template_args": "", "pos": m.start(),
                      "body": (brace, body_end), "max_threads": max_threads,
                      "template_params": template_parameters(prefix), "builtins": [], "params_range": (paren, close)}
            kernel["params"] = self.parse_params(kernel, paren + 1, close)
            self.blank(m.start(), m.end())
            if is_template:
                self.templates[kernel["name"]] = kernel
            else:
                self.kernels.append(kernel)
        for k in self.kernels:
            if k.get("instantiation"):
                t = self.templates.get(k["name"])
                if t is None:
                    self.src.error(k["pos"], f"host_name instantiation of '{k['name']}', which is no template kernel")
                for key in ("params", "body", "max_threads"):
                    k[key] = t[key]

    def parse_params(self, kernel, start, end):
        kernel_name = kernel["name"]
        params = []
        text = self.src.masked[start:end]
        if not text.strip() or text.strip() == "void":
            return params
        for offset, param in split_top_level(text):
            pos = start + offset + len(param) - len(param.lstrip())  # report the parameter's own line
            attributes = list(re.finditer(r"\[\[(.*?)\]\]", param, re.S))
            declaration = strip_attributes(param).strip()
            names = IDENT.findall(declaration)
            name = names[-1] if names else "?"
            if not attributes:
                self.src.error(pos, f"kernel '{kernel_name}': parameter '{name}' has no [[attribute]]")
            kind, index, optional = None, 0, False
            for a in attributes:
                self.blank(start + offset + a.start(), start + offset + a.end())
                for item in split_top_level(a.group(1)):
                    item = item[1].strip()
                    call = re.fullmatch(r"(\w+)\s*(?:\((.*)\))?", item, re.S)
                    word, arg = (call.group(1), call.group(2)) if call else (item, None)
                    if word in ("buffer", "threadgroup") and arg is not None and arg.strip().isdigit():
                        kind = "kBuffer" if word == "buffer" else "kThreadgroupMemory"
                        index = int(arg)
                    elif word == "function_constant":
                        optional = True
                    elif word in BUILTINS and arg is None:
                        kind = BUILTINS[word][0]
                        type_text = declaration[:declaration.rfind(name)] if name != "?" else declaration
                        kernel["builtins"].append((word, type_text, name, pos))
                    else:
                        self.src.error(pos, f"kernel '{kernel_name}': parameter attribute [[{item}]] "
                                            "is not supported by metal-sim")
            if kind is None:
                self.src.error(pos, f"kernel '{kernel_name}': parameter '{name}' has no binding attribute")
            if index >= 31:
                self.src.error(pos, f"kernel '{kernel_name}': binding index {index} is out of range")
            if self.bounds_check and kind == "kBuffer":
                self.check_bounds_of(start + offset, param)
            params.append((kind, index, optional, name))
        return params

    def check_bounds_of(self, param_start, param):
        """Rewrites the buffer parameter `device T* name` into `checked_ptr<device T> name`."""
        attribute = param.find("[[")
        declaration = param if attribute < 0 else param[:attribute]
        names = list(IDENT.finditer(declaration))
        if not names:
            return
        name = names[-1]
        lead = len(declaration) - len(declaration.lstrip())
        pointee = declaration[lead:name.start()].rstrip()
        if not pointee.endswith("*") or re.search(r"[*&]|\batomic", pointee[:-1]):
            return  # references (constant structs), pointers to pointers and atomics stay plain
        pointee = pointee[:-1].strip()
        if re.search(r"\bconstant\b", pointee):  # the constant address space is read-only
            pointee = re.sub(r"\bconstant\b", "METAL_SIM_CONSTANT", pointee)
            if not re.search(r"\bconst\b", pointee):
                pointee = "const " + pointee
        self.sim_edits.append((param_start + lead, param_start + name.start(),
                               f"::metal_sim::checked_ptr<{' '.join(pointee.split())}> "))

    # --- constant address space and function constants ------------------------------------------
    def at_statement_start(self, pos):
        """True when only `static`/`constexpr` stand between the previous statement and pos."""
        start = self.src.statement_start(pos)
        return re.fullmatch(r"(\s|\bstatic\b|\bconstexpr\b)*", self.src.masked[start:pos]) is not None, start

    def rewrite_function_constants(self):
        masked = self.src.masked
        for m in re.finditer(r"\bconstant\b", masked):
            at_start, start = self.at_statement_start(m.start())
            if not at_start:
                continue
            end = self.src.statement_end(m.end())
            stmt = masked[m.end():end]
            fc = re.search(r"\[\[\s*function_constant\s*\(\s*(\d+)\s*\)\s*\]\]", stmt)
            if not fc:
                continue
            decl = re.fullmatch(r"\s*(.*?)\s+([A-Za-z_]\w*)\s*", stmt[:fc.start()], re.S)
            type_name = re.sub(r"\s+", " ", decl.group(1)) if decl else "?"
            if not decl or type_name not in CONSTANT_TYPES:
                self.src.error(m.start(), f"function constant of type '{type_name}' is not supported by metal-sim")
            name = decl.group(2)
            index = int(fc.group(1))
            self.constants.append((index, CONSTANT_TYPES[type_name], name))
            self.constant_names.add(name)
            self.replace(start, end + 1, f"static const ::metal_sim::FunctionConstant<{type_name}, {index}> {name}{{}};")
            self.skip_ranges.append((start, end))

    def rewrite_constant_qualifiers(self):
        masked = self.src.masked
        for m in re.finditer(r"\bconstant\b", masked):
            if self.in_skipped(m.start()):
                continue
            at_start, start = self.at_statement_start(m.start())
            if at_start:
                end = self.src.statement_end(m.end())
                stmt = masked[m.end():end]
                init = stmt.find("=")
                declarator = stmt if init < 0 else stmt[:init]
                uses_fc = init >= 0 and set(IDENT.findall(stmt[init:])) & self.constant_names
                if uses_fc and "*" not in declarator and "&" not in declarator:
                    decl = re.fullmatch(r"\s*(.*?)\s+([A-Za-z_]\w*)\s*", declarator, re.S)
                    if not decl:
                        self.src.error(m.start(), "cannot parse this constant declaration")
                    t, name = decl.group(1), decl.group(2)
                    self.constant_names.add(name)
                    self.replace(start, end + 1, f"static const ::metal_sim::DerivedConstant<{t}> {name}"
                                                 f"{{+[]() -> {t} {{ return {self.src.text[m.end() + init + 1:end]}; }}}};")
                    self.skip_ranges.append((start, end))
                    continue
            # An address-space qualifier: read-only memory, so `const` unless the declaration says it.
            before = re.split(r"[;,(){}]", masked[max(0, m.start() - 200):m.start()])[-1]
            after = re.split(r"[;,(){}*&]", masked[m.end():m.end() + 200])[0]
            already_const = re.search(r"\bconst\b", before + " " + after) is not None
            self.replace(m.start(), m.end(), "METAL_SIM_CONSTANT" if already_const else "METAL_SIM_CONSTANT const")

    # --- threadgroup variables -------------------------------------------------------------------
    def rewrite_threadgroup_variables(self):
        masked = self.src.masked
        site = 0
        for m in re.finditer(r"\bthreadgroup\b", masked):
            prev, _ = self.src.previous_char(m.start())
            if prev not in ("", ";", "{", "}"):
                continue  # a parameter, cast or other qualifier use
            end = self.src.statement_end(m.end())
            stmt = masked[m.end():end]
            # Array sizes may hold any constant expression (`tile[N * M]`), so look outside brackets.
            if re.search(r"[*&(=]", re.sub(r"\[[^\]]*\]", "[]", stmt)):
                continue  # a pointer or reference to threadgroup memory, not an allocation
            parts = [p for _, p in split_top_level(stmt)]
            first = re.fullmatch(r"\s*(.*?)([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)", parts[0], re.S)
            if not first or not first.group(1).strip():
                self.src.error(m.start(), "cannot parse this threadgroup variable declaration")
            type_name = first.group(1).strip()
            declarators = [(first.group(2), first.group(3))]
            for part in parts[1:]:
                d = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)", part, re.S)
                if not d:
                    self.src.error(m.start(), "cannot parse this threadgroup variable declaration")
                declarators.append((d.group(1), d.group(2)))
            out = []
            for name, dims in declarators:
                dims = re.sub(r"\s+", "", dims)
                out.append(f'auto& {name} = ::metal_sim::threadgroup_variable<{type_name}{dims}>({site}, "{name}");')
                self.threadgroup_allocations.append((m.start(), name))
                site += 1
            self.replace(m.start(), end + 1, " ".join(out))

    def rewrite_half_literals(self):
        for m in re.finditer(r"(?<![\w.])((?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)[hH]\b", self.src.masked):
            self.replace(m.start(), m.end(), f"(half({m.group(1)}))")

    # --- output ---------------------------------------------------------------------------------
    def output(self, table_name, output_path, registration=True):
        """The translated file; without `registration`, only the code (for the address-space check)."""
        text = self.src.text
        pieces, last = [], 0
        edits = self.edits + self.sim_edits if registration else self.edits
        for start, end, replacement in sorted(edits, key=lambda e: e[0]):
            if start < last:
                continue  # nested in an edit already made (e.g. an attribute inside a removed statement)
            pieces.append(text[last:start])
            pieces.append(replacement)
            last = end
        pieces.append(text[last:])
        head = "// Generated by metal-sim's MSL translator; do not edit.\nnamespace {\n" + "".join(pieces) + "\n}  // namespace\n"
        if not registration:  # instantiate the template kernels, so their bodies are checked as compiled
            uses = "".join(f"  (void)&{k['name']}{k['template_args']};\n" for k in self.kernels if k["template_args"])
            return head + f"namespace {{\nvoid metal_sim_instantiate() {{\n{uses}}}\n}}  // namespace\n"
        tail = ["namespace {"]
        if self.constants:
            entries = ", ".join(f'{{{i}, ::metal_sim::ConstantType::{t}, "{n}"}}' for i, t, n in self.constants)
            tail.append(f"const ::metal_sim::FunctionConstantSpec metal_sim_constants[] = {{{entries}}};")
        constants = ("metal_sim_constants", len(self.constants)) if self.constants else ("nullptr", 0)
        infos = []
        for i, k in enumerate(self.kernels):
            params = ("nullptr", 0)
            if k["params"]:
                entries = ", ".join(f'{{::metal_sim::ParamKind::{kind}, {index}, {"true" if opt else "false"}, "{name}"}}'
                                    for kind, index, opt, name in k["params"])
                tail.append(f"const ::metal_sim::ParamSpec metal_sim_params_{i}[] = {{{entries}}};")
                params = (f"metal_sim_params_{i}", len(k["params"]))
            tail.append(f"void metal_sim_invoke_{i}(const ::metal_sim::ThreadArgs& args) {{\n"
                        f"  ::metal_sim::call_kernel(&{k['name']}{k['template_args']}, {params[0]}, args);\n}}")
            file, line = self.src.location(k["pos"])
            infos.append(f'{{"{k["host_name"]}", "{file}", {line}, &metal_sim_invoke_{i}, '
                         f'{"true" if k["uses_barriers"] else "false"}, {k["max_threads"]}, {params[0]}, {params[1]}, '
                         f'{constants[0]}, {constants[1]}}}')
        if infos:
            tail.append("const ::metal_sim::KernelInfo metal_sim_kernels[] = {\n    " + ",\n    ".join(infos) + "};")
        tail.append("}  // namespace")
        kernels = ("metal_sim_kernels", len(infos)) if infos else ("nullptr", 0)
        # The race-check copy (the same file compiled with msl/msl_racecheck.h) defines
        # <table>_racecheck; the plain copy points to it when it was linked in (a weak reference).
        tail.append("#ifdef METAL_SIM_RACECHECK")
        tail.append(f"extern const ::metal_sim::KernelTable {table_name}_racecheck;")
        tail.append(f"const ::metal_sim::KernelTable {table_name}_racecheck = {{{kernels[0]}, {kernels[1]}, nullptr}};")
        tail.append("#else")
        tail.append(f"extern const ::metal_sim::KernelTable {table_name}_racecheck __attribute__((weak));")
        tail.append(f"extern const ::metal_sim::KernelTable {table_name};")
        tail.append(f"const ::metal_sim::KernelTable {table_name} = {{{kernels[0]}, {kernels[1]}, &{table_name}_racecheck}};")
        tail.append("#endif")
        line = head.count("\n") + 2
        return head + f'#line {line} "{output_path}"\n' + "\n".join(tail) + "\n"
