"""Which modules run compiled."""

import tomllib
from pathlib import Path

from fluoroscope.runtime import build, compiled_modules

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
