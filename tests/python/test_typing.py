"""The package is typed: stubs cover the native module, py.typed ships, mypy passes on the package and
on the README's Python examples, and every public name has a docstring."""
import inspect
import re
import subprocess
import sys
from pathlib import Path

import metalnn
from metalnn import _native

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(metalnn.__file__).parent


def stub_names(path: Path) -> set[str]:
    text = path.read_text()
    return set(re.findall(r"^(?:def|class) (\w+)", text, re.M)) | set(re.findall(r"^    def (\w+)", text, re.M))


def test_stubs_and_marker_are_installed_and_complete():
    assert (PACKAGE / "py.typed").is_file() and (PACKAGE / "_native.pyi").is_file()
    native = {n for n in dir(_native) if not n.startswith("__")}
    members = {n for cls in (_native.Model, _native.Graph) for n in dir(cls) if not n.startswith("_")}
    assert stub_names(PACKAGE / "_native.pyi") == native | members | {"__init__"}


def test_mypy_passes_on_the_package_and_the_readme_examples(tmp_path):
    code = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert code, "the README has Python examples"
    (tmp_path / "readme_examples.py").write_text("\n\n".join(code))
    for target in (["-p", "metalnn"], [str(tmp_path / "readme_examples.py")]):
        done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                               "--cache-dir", str(tmp_path / "cache"), *target],
                              capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr


def public_objects():
    import importlib
    import pkgutil
    for info in pkgutil.walk_packages([str(PACKAGE)], "metalnn."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):  # the native module and __main__
            continue
        module = importlib.import_module(info.name)
        yield info.name, module
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{info.name}.{name}", obj
                if inspect.isclass(obj):
                    for member, value in vars(obj).items():
                        if not member.startswith("_") and (inspect.isfunction(value) or isinstance(value, property)):
                            yield f"{info.name}.{name}.{member}", value


def test_every_public_name_has_a_docstring():
    undocumented = [name for name, obj in public_objects() if not (obj.__doc__ or "").strip()]
    assert not undocumented, undocumented
