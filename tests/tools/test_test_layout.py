"""Every source module has its mirrored test module (tools/test_layout.py), or a reason not to."""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools import test_layout  # noqa: E402 - the repository's tools/, not an installed package


def test_every_source_module_has_its_mirrored_test_module() -> None:
    """A new module under src/hallboard fails here until tests/<path>/test_<module>.py exists
    (or ALLOWED in tools/test_layout.py says why it needs none)."""
    assert test_layout.missing() == []


def test_the_allow_list_names_only_modules_that_still_need_it() -> None:
    """An entry for a module that is gone or has its test module now is removed, and every
    entry says why."""
    assert test_layout.needless() == []
    assert all(reason.strip() for reason in test_layout.ALLOWED.values())


def write(root: Path, *paths: str) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("")


@pytest.mark.parametrize(
    ("module", "test"),
    [
        ("settings.py", "tests/test_settings.py"),
        ("realtime/gateway/server.py", "tests/realtime/gateway/test_server.py"),
        (
            "api/management/commands/createapikey.py",
            "tests/api/management/commands/test_createapikey.py",
        ),
    ],
)
def test_the_mirror_keeps_the_path_and_prefixes_the_name(module: str, test: str) -> None:
    """src/hallboard/<path>/<module>.py is tested by tests/<path>/test_<module>.py."""
    assert test_layout.mirror(PurePosixPath(module)) == PurePosixPath(test)


def test_a_module_without_its_test_module_is_listed_until_it_has_one(tmp_path: Path) -> None:
    """Only modules are counted: packages' __init__.py, apps.py and migrations are not."""
    write(
        tmp_path,
        "src/hallboard/__init__.py",
        "src/hallboard/urls.py",
        "src/hallboard/shop/__init__.py",
        "src/hallboard/shop/apps.py",
        "src/hallboard/shop/migrations/0001_initial.py",
        "src/hallboard/shop/cart.py",
        "src/hallboard/shop/till.py",
        "tests/shop/test_till.py",
        "tests/test_cart.py",  # not the mirror: the path differs
    )
    assert test_layout.missing(tmp_path, {}) == ["shop/cart.py", "urls.py"]
    assert test_layout.main(tmp_path, {}) == 1

    write(tmp_path, "tests/shop/test_cart.py", "tests/test_urls.py")
    assert test_layout.missing(tmp_path, {}) == []


def test_an_allowed_module_is_not_listed_and_a_needless_entry_is(tmp_path: Path) -> None:
    """ALLOWED silences a module without a test module; once the module is gone or tested,
    its entry is reported as needless."""
    write(tmp_path, "src/hallboard/shop/cart.py", "src/hallboard/shop/till.py")
    allowed = {"shop/cart.py": "declarative", "shop/till.py": "declarative", "gone.py": "old"}
    write(tmp_path, "tests/shop/test_till.py")
    assert test_layout.missing(tmp_path, allowed) == []
    assert test_layout.needless(tmp_path, allowed) == ["gone.py", "shop/till.py"]


def test_the_script_prints_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run as a script it names the module and the test module it lacks, and exits 1."""
    write(tmp_path, "src/hallboard/shop/cart.py")
    assert test_layout.main(tmp_path, {}) == 1
    assert capsys.readouterr().out == "src/hallboard/shop/cart.py: no tests/shop/test_cart.py\n"
    write(tmp_path, "tests/shop/test_cart.py")
    assert test_layout.main(tmp_path, {}) == 0
