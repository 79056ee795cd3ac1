"""The build step that compiles the translations (.po → .mo) for every install and wheel
(i18n.build)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hallboard.i18n import build, catalogs

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "hallboard"


def test_pyproject_names_the_build_step() -> None:
    """setuptools runs BuildPyWithCatalogs as build_py (pyproject's cmdclass)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["cmdclass"]["build_py"] == (
        "hallboard.i18n.build.BuildPyWithCatalogs"
    )
    assert issubclass(build.BuildPyWithCatalogs, build.build_py)


def test_compile_catalogs_leaves_every_mo_as_its_po_compiles() -> None:
    """After compile_catalogs (catalogs.py loaded by path), each .mo equals its .po's build."""
    build.compile_catalogs()
    for po in catalogs.po_files():
        assert po.with_suffix(".mo").read_bytes() == catalogs.mo_bytes(po), po


def test_listing_the_outputs_compiles_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """get_outputs (asked by wheel builders before run) compiles the catalogs first, so the
    .mo files are among the package data it lists."""
    calls: list[str] = []
    monkeypatch.setattr(build, "compile_catalogs", lambda: calls.append("compile"))

    def outputs(self: Any, *args: Any, **kwargs: Any) -> list[str]:
        calls.append("outputs")
        return []

    monkeypatch.setattr(build.build_py, "get_outputs", outputs)
    command = build.BuildPyWithCatalogs.__new__(build.BuildPyWithCatalogs)
    assert command.get_outputs() == []
    assert calls == ["compile", "outputs"]


def test_the_build_step_compiles_the_catalogs(tmp_path: Path) -> None:
    """The build step (pyproject's build_py) writes every .mo into the build, from nothing but
    pyproject.toml and src/ without any .mo (what a wheel or an image build starts from)."""
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT / "src",
        tree / "src",
        ignore=shutil.ignore_patterns("*.mo", "__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    build = tmp_path / "build"
    subprocess.run(  # noqa: S603 - our own build step, on a copy of our tree
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(build),
        ],
        cwd=tree,
        check=True,
        capture_output=True,
    )
    for po in catalogs.po_files():
        relative = po.relative_to(SRC.parent).with_suffix(".mo")
        assert (build / relative).is_file(), relative
        assert (build / relative).read_bytes() == catalogs.mo_bytes(po)
