"""Which modules run compiled."""

import os
import tomllib
from pathlib import Path

from fluoroscope.runtime import build, compiled_modules, stale_compiled_modules

ROOT = Path(__file__).resolve().parents[2]


def _named_in_pyproject() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    paths = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]["include"]
    return sorted(".".join(Path(path).with_suffix("").parts[1:]) for path in paths)


def test_an_install_compiles_every_module_pyproject_names_or_none():
    """A partly compiled install would be a broken build; a pure-Python one is allowed."""
    assert compiled_modules() in ([], _named_in_pyproject())
    assert ("compiled" in build()) == bool(compiled_modules())


def test_a_module_counts_as_compiled_only_beside_its_source(tmp_path):
    package = tmp_path / "fluoroscope"
    (package / "model").mkdir(parents=True)
    for name in ("model/summary.py", "model/summary.cpython-311-x86_64-linux-gnu.so"):
        (package / name).touch()
    (package / "model/orphan.cpython-311-x86_64-linux-gnu.so").touch()  # no source: not ours
    (package / "model/facts.py").touch()
    assert compiled_modules(package) == ["fluoroscope.model.summary"]


def test_a_source_edited_after_compiling_makes_its_module_stale(tmp_path):
    package = tmp_path / "fluoroscope"
    (package / "model").mkdir(parents=True)
    compiled = package / "model/summary.cpython-311-x86_64-linux-gnu.so"
    source = package / "model/summary.py"
    compiled.touch()
    source.touch()
    os.utime(source, (1_000, 1_000))
    os.utime(compiled, (2_000, 2_000))
    assert stale_compiled_modules(package) == []
    os.utime(source, (3_000, 3_000))
    assert stale_compiled_modules(package) == ["fluoroscope/model/summary.py"]
