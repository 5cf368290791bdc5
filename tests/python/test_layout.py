"""The C++ tree reads bottom-up: every #include points to the same layer or one below, no device
includes another, and every family of core/ops/op_list.h has its schema and CPU kernel file."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CPP = ROOT / "cpp"

# The layers each layer may include (its own included); gpu's sim/metal headers are its own.
ALLOWED = {
    "core": {"core"},
    "cpu": {"core", "cpu"},
    "gpu": {"core", "gpu"},
    "engine": {"core", "cpu", "gpu", "engine"},
    "api": {"core", "engine", "metalnn"},
}
LAYERS = {"core", "cpu", "gpu", "engine", "api", "metalnn"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(layer):
    for path in sorted((CPP / layer).rglob("*")):
        if path.suffix in (".h", ".cpp", ".mm"):
            for target in INCLUDE.findall(path.read_text()):
                yield path.relative_to(ROOT), target


def test_includes_point_down_only():
    wrong = []
    for layer, allowed in ALLOWED.items():
        for path, target in includes(layer):
            top = target.split("/")[0]
            if "/" in target and top in LAYERS and top not in allowed:
                wrong.append(f"{path} includes {target}")
    assert not wrong, "\n".join(wrong)


def test_checker_sees_a_reach_up():
    # The pattern above catches the include forms the tree uses.
    assert INCLUDE.findall('#include "cpu/kernel.h"\n  # include "gpu/device.h"') == ["cpu/kernel.h", "gpu/device.h"]


def op_list():
    text = (CPP / "core" / "ops" / "op_list.h").read_text()
    return re.findall(r"X\((\w+), (\w+), (\w+)\)", text)


def test_every_family_has_its_schema_and_cpu_kernel_file():
    ops = op_list()
    assert len(ops) > 50
    missing = []
    for op, family, infer in ops:
        schema = CPP / "core" / "ops" / f"{family}.cpp"
        if not schema.exists() or f"void {infer}(InferContext" not in schema.read_text():
            missing.append(f"{op}: {infer} not defined in {schema.relative_to(ROOT)}")
        if not (CPP / "cpu" / "ops" / f"{family}.cpp").exists():
            missing.append(f"{op}: no cpp/cpu/ops/{family}.cpp")
    assert not missing, "\n".join(missing)


def test_op_list_is_what_the_engine_supports():
    from metalnn import _native

    assert sorted(op for op, _, _ in op_list()) == sorted(_native.supported_ops())
