"""Build step for the translations: compile src/hallboard/locale/**/*.po to .mo.

Everything else about the package is in pyproject.toml. The .mo files Django
reads are not kept in the repository; this runs before setuptools copies the
package data, so every wheel, sdist install and editable install has them
(docs/translations.md). It uses Babel (a build requirement), not GNU msgfmt.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def compile_catalogs() -> None:
    # Loaded by path: the package itself is not importable while it is being built.
    path = HERE / "src" / "hallboard" / "i18n" / "catalogs.py"
    spec = importlib.util.spec_from_file_location("_hallboard_catalogs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_all()


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        compile_catalogs()
        self.__dict__.pop("data_files", None)  # package data is listed again, .mo included
        super().run()

    def get_outputs(self, *args: Any, **kwargs: Any) -> Any:
        compile_catalogs()
        return super().get_outputs(*args, **kwargs)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
