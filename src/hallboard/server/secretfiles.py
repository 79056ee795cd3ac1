"""``hallboard init-secrets DIR``: generate the install's secrets once, never a default.

Run on first start (the compose file's ``secrets`` service, the systemd
``hallboard-migrate`` unit): it writes each missing file and leaves existing
ones alone, so secrets survive restarts and upgrades and are never rotated by
accident. Settings read them through ``NAME_FILE`` variables
(docs/configuration.md); nothing secret is in an image, a compose file or an
environment file.

| file | read by | as |
|---|---|---|
| ``secret_key`` | hallboard | ``HALLBOARD_SECRET_KEY_FILE`` |
| ``metrics_token`` | hallboard, Prometheus | ``METRICS_TOKEN_FILE``, ``credentials_file`` |
| ``postgres_password`` | the PostgreSQL container | ``POSTGRES_PASSWORD_FILE`` |
| ``pgpass`` | hallboard (libpq) | ``PGPASSFILE``: the same password for any host |
| ``grafana_admin_password`` | Grafana (monitoring profile) | ``GF_SECURITY_ADMIN_PASSWORD__FILE`` |

It runs before settings can be read (they need ``secret_key``), so it uses
no Django: ``hallboard`` dispatches it before setting Django up.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

#: File name → (mode, how its content is made from the generated values).
#: Files other services read (another user in another container) are 0644;
#: the directory is only mounted into the stack's own containers.
Maker = Callable[[dict[str, str]], str]
FILES: dict[str, tuple[int, Maker]] = {
    "postgres_password": (0o644, lambda v: v["postgres_password"]),  # first: pgpass repeats it
    "secret_key": (0o600, lambda v: v["secret_key"]),
    "metrics_token": (0o644, lambda v: v["metrics_token"]),
    "grafana_admin_password": (0o644, lambda v: v["grafana_admin_password"]),
    # libpq's password file: host:port:database:user:password, any of the first four.
    "pgpass": (0o600, lambda v: f"*:*:*:*:{v['postgres_password']}\n"),
}


def _values() -> dict[str, str]:
    return {
        "secret_key": secrets.token_urlsafe(50),
        "metrics_token": secrets.token_urlsafe(32),
        "grafana_admin_password": secrets.token_urlsafe(18),
        # URL-safe characters: nothing to escape in pgpass (':' and '\\' would need it).
        "postgres_password": secrets.token_urlsafe(24),
    }


def init_secrets(directory: Path) -> list[str]:
    """Write the missing secret files into ``directory``; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    values = _values()
    written = []
    for name, (mode, make) in FILES.items():
        path = directory / name
        # O_EXCL: two processes starting at once never overwrite each other's file.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(make(values))
            os.chmod(path, mode)  # the umask may have narrowed it
            written.append(name)
        if name == "postgres_password":  # whoever wrote it: pgpass must repeat that one
            values[name] = path.read_text().strip()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hallboard init-secrets",
        description="Generate the missing secret files in DIR (existing ones are kept).",
    )
    parser.add_argument("directory", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    written = init_secrets(args.directory)
    kept = sorted(set(FILES) - set(written))
    if written:
        sys.stdout.write(f"Generated in {args.directory}: {', '.join(written)}\n")
    if kept:
        sys.stdout.write(f"Kept (already there): {', '.join(kept)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
