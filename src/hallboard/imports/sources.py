"""Reading a watched source: a folder (the share Untis exports to) or an HTTP(S) URL.

Both return the files to import (``Fetched``), bounded in size, count and time,
and say when nothing changed so that the caller can skip the import:

* a **folder** is read when its files have settled (none modified within the last
  ``settle`` seconds, and none changed while it was read: Untis may be writing);
  monitor pages are taken from ``subst_001.htm`` on through their refresh links,
  so that pages of an older, longer plan left in the folder are not imported;
* a **URL** is fetched with ``If-None-Match`` / ``If-Modified-Since`` from the
  previous answer: a 304 means not modified. A monitor page's further pages
  are followed on the same host. Only http and https are fetched, redirects
  included.

The fingerprint (SHA-256 over names and contents) tells an unchanged folder or
a server that ignores conditional requests from a changed one.
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPMessage
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

from hallboard.imports.detect import is_html
from hallboard.imports.errors import ImportFileError, ProblemCollector
from hallboard.imports.untis_html import MAX_PAGES, collect_pages

#: Bounds of one check of a source.
MAX_SOURCE_BYTES = 32 * 1024 * 1024
MAX_SOURCE_FILES = 64
DEFAULT_TIMEOUT = 10.0  # seconds per request
DEFAULT_DEADLINE = 60.0  # seconds for the whole check
DEFAULT_SETTLE = 2.0  # seconds a folder's files must be unmodified

#: Files of a folder that are imported; everything else there is left alone.
_IMPORTABLE = re.compile(r"(?:.*gpu0*\d{1,3}.*\.(?:txt|csv)|.*\.csv)$", re.IGNORECASE)
_FIRST_PAGE = re.compile(r"subst_0*1\.html?$", re.IGNORECASE)
_USER_AGENT = "hallboard-import/1 (+https://github.com/)"


@dataclass
class Fetched:
    """What one check of a source found."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    not_modified: bool = False  # 304, or the same fingerprint as last time
    busy: bool = False  # a folder whose files are still being written: try again later
    etag: str = ""
    last_modified: str = ""
    fingerprint: str = ""

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)


def fingerprint(files: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode("utf-8", "replace") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


# --- folders ------------------------------------------------------------------------------


def read_folder(
    folder: Path,
    *,
    previous_fingerprint: str = "",
    settle: float = DEFAULT_SETTLE,
    max_bytes: int = MAX_SOURCE_BYTES,
    max_files: int = MAX_SOURCE_FILES,
    now: Callable[[], float] = time.time,
) -> Fetched:
    """The importable files of ``folder`` (not its subfolders, except monitor frames)."""
    problems = ProblemCollector(str(folder))
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise problems.fail("source_unreachable", detail=exc.strerror or str(exc)) from None
    wanted = [p for p in entries if _IMPORTABLE.fullmatch(p.name)]
    first_page = next((p for p in entries if _FIRST_PAGE.fullmatch(p.name)), None)
    stats: dict[Path, tuple[int, int]] = {}
    total = 0

    def read(path: Path) -> bytes:
        nonlocal total
        try:
            stat = path.stat()
            if stat.st_size > max_bytes - total:
                raise problems.fail("too_large", limit=max_bytes)
            data = path.read_bytes()
        except OSError as exc:
            raise problems.fail("source_unreachable", detail=exc.strerror or str(exc)) from None
        stats[path] = (stat.st_size, stat.st_mtime_ns)
        total += len(data)
        return data

    files: list[tuple[str, bytes]] = [(p.name, read(p)) for p in wanted]
    if first_page is not None:
        root = folder.resolve()
        pages: dict[str, bytes] = {}

        def page(name: str) -> bytes:
            if name not in pages:
                path = (folder / name).resolve()
                if not path.is_relative_to(root) or not path.is_file():
                    raise ProblemCollector(name).fail("page_not_found")
                pages[name] = read(path)
            return pages[name]

        files += [(p.name, pages[p.name]) for p in collect_pages(first_page.name, page)]
    if len(files) > max_files:
        raise problems.fail("too_many_files", limit=max_files)
    if not files:
        raise problems.fail("source_empty")
    # Settled: nothing modified lately, nothing changed while it was read.
    recent = now() - settle
    for path, (size, mtime_ns) in stats.items():
        try:
            stat = path.stat()
        except OSError:
            return Fetched(busy=True)
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns) or mtime_ns / 1e9 > recent:
            return Fetched(busy=True)
    found = fingerprint(files)
    if found == previous_fingerprint:
        return Fetched(not_modified=True, fingerprint=found)
    return Fetched(files=files, fingerprint=found)


# --- URLs ----------------------------------------------------------------------------------


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 5

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, "redirect to a scheme not allowed", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_HttpOnlyRedirects)


@dataclass
class _Budget:
    deadline: float
    max_bytes: int
    used: int = 0

    def timeout(self, per_request: float) -> float:
        return max(0.1, min(per_request, self.deadline - time.monotonic()))


def fetch_url(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    previous_fingerprint: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = MAX_SOURCE_BYTES,
    max_pages: int = MAX_PAGES,
) -> Fetched:
    """The file at ``url`` (and, for a monitor page, the pages it leads to)."""
    problems = ProblemCollector(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise problems.fail("source_unreachable", detail="only http and https URLs are fetched")
    budget = _Budget(time.monotonic() + deadline, max_bytes)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    status, data, answer = _get(url, headers, budget, timeout)
    if status == 304:
        return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
    new_etag = answer.get("ETag", "") or ""
    new_modified = answer.get("Last-Modified", "") or ""
    name = PurePosixPath(parts.path).name or "index.htm"
    if is_html(data):
        origin = (parts.scheme, parts.netloc)
        pages: dict[str, bytes] = {url: data}

        def page(link: str) -> bytes:
            if link in pages:
                return pages[link]
            linked = urlsplit(link)
            if (linked.scheme, linked.netloc) != origin:
                raise ProblemCollector(link).fail("page_not_found")
            pages[link] = _get(link, {}, budget, timeout)[1]
            return pages[link]

        parsed = collect_pages(url, page, max_pages=max_pages)
        files = [(_page_name(p.name), pages[p.name]) for p in parsed]
    else:
        files = [(name, data)]
    found = fingerprint(files)
    if found == previous_fingerprint:
        return Fetched(
            not_modified=True, etag=new_etag, last_modified=new_modified, fingerprint=found
        )
    return Fetched(files=files, etag=new_etag, last_modified=new_modified, fingerprint=found)


def _page_name(url: str) -> str:
    path = PurePosixPath(urlsplit(url).path)
    # keep a frame's subfolder (f1/subst_001.htm and f2/subst_001.htm are different days)
    return "/".join(path.parts[-2:]) if len(path.parts) > 2 else path.name


def _get(
    url: str, headers: dict[str, str], budget: _Budget, timeout: float
) -> tuple[int, bytes, Message]:
    problems = ProblemCollector(url)
    if time.monotonic() >= budget.deadline:
        raise problems.fail("source_timeout")
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, **headers})  # noqa: S310 - scheme checked
    try:
        with _opener.open(request, timeout=budget.timeout(timeout)) as response:
            data = _read_bounded(response, budget, problems)
            return response.status, data, response.headers
    except urllib.error.HTTPError as exc:
        exc.close()  # the error is also the response: release its socket
        if exc.code == 304:
            return 304, b"", exc.headers
        raise problems.fail("source_http_error", status=exc.code) from None
    except TimeoutError:
        raise problems.fail("source_timeout") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason: Any = getattr(exc, "reason", exc)
        raise problems.fail("source_unreachable", detail=str(reason)[:200]) from None


def _read_bounded(response: Any, budget: _Budget, problems: ProblemCollector) -> bytes:
    chunks: list[bytes] = []
    while True:
        if time.monotonic() >= budget.deadline:
            raise problems.fail("source_timeout")
        chunk = response.read(64 * 1024)
        if not chunk:
            break
        budget.used += len(chunk)
        if budget.used > budget.max_bytes:
            raise problems.fail("too_large", limit=budget.max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["Fetched", "ImportFileError", "fetch_url", "fingerprint", "read_folder"]
