"""Every module of the distribution imports only down the layer table (nightcast/layers.py), and the
packaging config lists every package folder, so what is tested here is what a wheel installs."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from nightcast.layers import LAYERS, layer_of, owner, violation

from helpers import ROOT


def packaging() -> tuple[dict[str, str], list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return config["package-dir"], config["packages"]


def folder_of(package: str, package_dir: dict[str, str]) -> Path:
    """Where a package's files are in the repository, by pyproject's package-dir (longest prefix)."""
    parent = max((p for p in package_dir if package == p or package.startswith(p + ".")), key=len)
    return ROOT / package_dir[parent] / Path(*package[len(parent) + 1:].split(".")) if package != parent \
        else ROOT / package_dir[parent]


def modules() -> dict[str, Path]:
    package_dir, packages = packaging()
    found = {}
    for package in packages:
        for path in sorted(folder_of(package, package_dir).glob("*.py")):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def imports(module: str, path: Path) -> list[tuple[int, str]]:
    """Every module this one imports, lazily inside functions too (they are dependencies all the same)."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]  # `from pkg import module`
    return found


def test_every_package_folder_is_packaged():
    package_dir, packages = packaging()
    listed = {folder_of(p, package_dir).resolve() for p in packages}
    for root in {ROOT / d for d in package_dir.values()}:
        for init in root.rglob("__init__.py"):
            assert init.parent.resolve() in listed, f"{init.parent} has an __init__.py but is not in pyproject's packages"


def test_every_module_has_a_layer():
    for module in modules():
        assert layer_of(module) in LAYERS


def test_imports_point_down():
    known = modules()
    problems = []
    for module, path in known.items():
        for line, name in imports(module, path):
            if name.split(".")[0] == "prefect" or name in known:
                why = violation(module, name)
                if why:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {name}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("importer, imported, allowed", [
    ("nightcast.cli", "nightcast.flows.episode", True),
    ("nightcast.flows.episode", "nightcast.cli", False),
    ("nightcast.schema", "nightcast.voices", False),
    ("nightcast.generators.script.context", "nightcast.generators.music.analysis", False),
    ("nightcast.generators.script.context", "nightcast.styles", True),
    ("nightcast.qa.gate", "nightcast.mix.master", True),
    ("nightcast.api.app", "prefect", False),
    ("nightcast.flows.runs", "prefect", True),
    ("nightcast.render.job", "nightcast.flows.episode", False),
])
def test_the_rule_itself(importer, imported, allowed):
    assert (violation(importer, imported) is None) is allowed


def test_a_module_outside_the_table_is_named():
    with pytest.raises(KeyError, match="nightcast_extra"):
        owner("nightcast_extra.thing")
