"""docs/operators.md is what tools/op_table.py makes of the op registry now."""
import importlib.util
from pathlib import Path

from metalnn import _native

ROOT = Path(__file__).resolve().parents[2]


def test_operator_table_is_current_and_a_stale_one_is_caught(tmp_path):
    spec = importlib.util.spec_from_file_location("op_table", ROOT / "tools" / "op_table.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    text = tool.render()
    assert tool.is_current(text, ROOT / "docs" / "operators.md"), "run python tools/op_table.py"
    rows = {line.split(" | ")[0].lstrip("| ") for line in text.splitlines() if line.startswith("| ") and "---" not in line}
    assert set(_native.supported_ops()) <= rows and set(_native._gpu_lowered_ops()) <= rows
    assert "| Conv | 1, 11, 22 | float32 | yes | yes |" in text
    stale = tmp_path / "operators.md"
    stale.write_text(text.replace("| Conv |", "| Convolution |"))
    assert not tool.is_current(text, stale)
