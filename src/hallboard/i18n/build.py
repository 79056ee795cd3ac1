"""The build step that compiles the translations: ``.po`` → ``.mo`` before package data is copied.

Named in pyproject.toml (``[tool.setuptools.cmdclass] build_py``), so every wheel,
sdist install and ``pip install`` (editable or not) has the ``.mo`` files Django
reads, from nothing but ``pyproject.toml`` and ``src/`` (docs/translations.md).
It uses Babel (a build requirement), not GNU msgfmt.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from setuptools.command.build_py import build_py


def compile_catalogs() -> None:
    # Loaded by path: while the package is being built it is not importable by name.
    path = Path(__file__).resolve().parent / "catalogs.py"
    spec = importlib.util.spec_from_file_location("_hallboard_catalogs", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_all()


class BuildPyWithCatalogs(build_py):
    """setuptools' ``build_py``, compiling the catalogs first."""

    def run(self) -> None:
        compile_catalogs()
        self.__dict__.pop("data_files", None)  # package data is listed again, .mo included
        super().run()

    def get_outputs(self, *args: Any, **kwargs: Any) -> Any:
        compile_catalogs()
        return super().get_outputs(*args, **kwargs)
