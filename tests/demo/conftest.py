"""The demo writes Lindenhof's Untis files under the data directory: a fresh one per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA_DIR = tmp_path
    settings.IMPORT_FOLDERS = [str(tmp_path / "imports")]
    return tmp_path
