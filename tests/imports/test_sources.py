"""Watched sources: folders that have settled, URLs with conditional requests, bounds."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hallboard.imports.errors import ImportFileError
from hallboard.imports.sources import fetch_url, read_folder

from .conftest import FIXTURES, fixture_bytes


def _settled(folder: Path) -> None:
    """Date every file back a minute, as if the export finished a while ago."""
    past = time.time() - 60
    for path in folder.rglob("*"):
        os.utime(path, (past, past))


def test_a_folder_gives_its_untis_files_and_the_pages_from_subst_001(tmp_path: Path) -> None:
    """GPU files and CSV are read; monitor pages from 001 on; other files are left alone."""
    shutil.copy(FIXTURES / "gpu014_comma_utf8.txt", tmp_path / "GPU014.TXT")
    shutil.copy(FIXTURES / "html" / "subst_001.htm", tmp_path / "subst_001.htm")
    shutil.copy(FIXTURES / "html" / "subst_002.htm", tmp_path / "subst_002.htm")
    shutil.copy(FIXTURES / "html_inline" / "subst_001.htm", tmp_path / "subst_007.htm")  # stale
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    _settled(tmp_path)
    fetched = read_folder(tmp_path)
    assert [name for name, _ in fetched.files] == ["GPU014.TXT", "subst_001.htm", "subst_002.htm"]
    again = read_folder(tmp_path, previous_fingerprint=fetched.fingerprint)
    assert again.not_modified
    assert again.files == []


def test_a_folder_still_being_written_is_busy(tmp_path: Path) -> None:
    """A file modified a moment ago means: not yet, try again at the next check."""
    shutil.copy(FIXTURES / "gpu014_comma_utf8.txt", tmp_path / "GPU014.TXT")
    assert read_folder(tmp_path).busy
    _settled(tmp_path)
    assert not read_folder(tmp_path).busy


def test_a_changed_file_changes_the_fingerprint(tmp_path: Path) -> None:
    """Re-exported content is fetched again; the same bytes are not."""
    target = tmp_path / "GPU014.TXT"
    shutil.copy(FIXTURES / "gpu014_comma_utf8.txt", target)
    _settled(tmp_path)
    first = read_folder(tmp_path)
    target.write_bytes(fixture_bytes("gpu014_semicolon_cp1252.txt"))
    _settled(tmp_path)
    second = read_folder(tmp_path, previous_fingerprint=first.fingerprint)
    assert not second.not_modified
    assert second.fingerprint != first.fingerprint


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda p: None, "source_empty"),
        (lambda p: shutil.rmtree(p), "source_unreachable"),
        (lambda p: (p / "GPU014.TXT").write_bytes(b"x" * 2000), "too_large"),
    ],
)
def test_folder_failures_have_reasons(tmp_path: Path, setup, code: str) -> None:
    """An empty or missing folder, or too many bytes, is an error with its reason."""
    setup(tmp_path)
    with pytest.raises(ImportFileError) as caught:
        read_folder(tmp_path, max_bytes=1000, settle=0)
    assert caught.value.problems[0].code == code


class _Server:
    """A tiny HTTP server on 127.0.0.1 serving fixture bytes, with ETags."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("If-None-Match")))
                if self.path == "/slow":
                    time.sleep(2)
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", "file:///etc/passwd")
                    self.end_headers()
                    return
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                etag = f'"{hash(body) & 0xFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up (the timeout test) breaks the pipe: expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.close()


def test_a_url_of_monitor_pages_is_followed_and_then_not_modified(http: _Server) -> None:
    """Pages 001 and 002 are fetched; with the ETag, the next check is a 304."""
    http.files["/plan/subst_001.htm"] = fixture_bytes("html/subst_001.htm")
    http.files["/plan/subst_002.htm"] = fixture_bytes("html/subst_002.htm")
    fetched = fetch_url(f"{http.base}/plan/subst_001.htm")
    assert [name for name, _ in fetched.files] == ["plan/subst_001.htm", "plan/subst_002.htm"]
    assert fetched.etag
    again = fetch_url(f"{http.base}/plan/subst_001.htm", etag=fetched.etag)
    assert again.not_modified
    assert http.requests[-1] == ("/plan/subst_001.htm", fetched.etag)


def test_a_url_of_a_gpu_file(http: _Server) -> None:
    """A URL to an export file gives that file under its own name."""
    http.files["/export/GPU014.TXT"] = fixture_bytes("gpu014_comma_utf8.txt")
    fetched = fetch_url(f"{http.base}/export/GPU014.TXT")
    assert fetched.files == [("GPU014.TXT", fixture_bytes("gpu014_comma_utf8.txt"))]


@pytest.mark.parametrize(
    ("path", "kwargs", "code"),
    [
        ("/missing.htm", {}, "source_http_error"),
        ("/slow", {"timeout": 0.5}, "source_timeout"),
        ("/big", {"max_bytes": 1000}, "too_large"),
        ("/away", {}, "source_http_error"),
    ],
)
def test_url_failures_have_reasons(http: _Server, path: str, kwargs: dict, code: str) -> None:
    """404, a server too slow, an answer too big, a redirect off the web: each named."""
    http.files["/big"] = b"x" * 5000
    http.files["/slow"] = b"late"
    with pytest.raises(ImportFileError) as caught:
        fetch_url(http.base + path, **kwargs)
    assert caught.value.problems[0].code == code


def test_unreachable_and_unsupported_urls() -> None:
    """Nothing listening, or a scheme other than http(s): the reason is given."""
    with pytest.raises(ImportFileError) as caught:
        fetch_url("http://127.0.0.1:9/subst_001.htm", timeout=2)
    assert caught.value.problems[0].code == "source_unreachable"
    with pytest.raises(ImportFileError) as caught:
        fetch_url("file:///etc/passwd")
    assert caught.value.problems[0].code == "source_unreachable"
