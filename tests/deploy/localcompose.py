"""Run what deploy/compose.yaml describes as local processes: no container daemon needed.

Each service becomes what its container would run, on loopback ports:

- hallboard services (the ones built from deploy/Dockerfile): the image's entry
  point (``hallboard``) with the service's command, and the image's ``ENV``
  plus the service's ``environment``;
- ``db`` (the postgres image): a throwaway PostgreSQL cluster made the way the
  image makes its own (``POSTGRES_USER`` as the superuser with the password
  from ``POSTGRES_PASSWORD_FILE``, password authentication over TCP, then
  ``POSTGRES_DB``), run with the service's command-line options;
- ``redis``: ``redis-server`` with the service's command;
- ``nginx``: Debian's nginx with the files the service mounts.

What is rewritten, and only that: service host names and container ports
become ``127.0.0.1`` and free local ports; container paths become directories
of the run; the nginx image's worker user becomes the local package's. A
service's ``depends_on`` conditions are honoured (healthy: its health check
command passes; completed successfully: it exited 0), so services that
compose would start together start together.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENV_EXAMPLE = DEPLOY / "env.example"

#: Container paths of the image, and what they become in a run (relative to its directory).
IMAGE_PATHS = {"/var/lib/hallboard": "data", "/opt/hallboard/static": "static"}
#: The user the nginx image runs its workers as, and Debian's package user.
NGINX_IMAGE_USER, NGINX_DEBIAN_USER = "nginx", "www-data"

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class ComposeError(Exception):
    """The compose file asks for something the run cannot give (a missing variable...)."""


# --- reading the kit -------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines, as compose reads its ``.env`` (comments and blanks skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ``${X}``, ``${X:-default}``, ``${X:?error}``, ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        empty = current is None or (current == "" and operator and operator.startswith(":"))
        if operator in ("-", ":-"):
            return argument if empty else str(current)
        if operator in ("?", ":?"):
            if empty:
                raise ComposeError(f"{name}: {argument}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def load_compose(env: dict[str, str]) -> dict[str, Any]:
    """deploy/compose.yaml with YAML merge keys resolved and variables substituted."""
    return dict(interpolate(yaml.safe_load(COMPOSE_FILE.read_text()), env))


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, arguments = pending.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions of the image's last stage (what `docker run` gets)."""
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :] if starts else instructions


def image_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in final_stage(instructions):
        if keyword == "ENV":
            for item in shlex.split(arguments):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def image_entrypoint(instructions: list[tuple[str, str]]) -> list[str]:
    for keyword, arguments in reversed(final_stage(instructions)):
        if keyword == "ENTRYPOINT":
            return list(json.loads(arguments))
    raise ComposeError("the Dockerfile has no ENTRYPOINT")


def seconds(duration: str | int | float) -> float:
    """A compose duration (``30s``, ``1m30s``, ``1500ms``) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> Path | None:
    """The newest local PostgreSQL's programs (initdb, postgres, pg_dump...)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def redis_server() -> str | None:
    from tests.conftest import _redis_server_binary

    return _redis_server_binary()


# --- running it --------------------------------------------------------------------


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    #: container port -> local port
    ports: dict[int, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: TextIO | None = None
    healthy: bool = False

    @property
    def kind(self) -> str:
        if "build" in self.spec:
            return "hallboard"
        image = str(self.spec.get("image", ""))
        return image.split(":")[0].split("/")[-1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


class LocalCompose:
    """The services of a compose file as processes; ``start()``, then use, then ``close()``."""

    def __init__(self, run_dir: Path, env: dict[str, str], nginx: str) -> None:
        self.dir = run_dir
        self.compose = load_compose(env)
        self.instructions = dockerfile_instructions()
        self.nginx_binary = nginx
        self.bin = Path(sys.executable).parent
        self.pg_bin = postgres_bindir()
        self.services = {
            name: Service(name, spec)
            for name, spec in self.compose["services"].items()
            if not spec.get("profiles")  # optional profiles (monitoring) are not started
        }
        for service in self.services.values():
            for port in self._listens(service):
                service.ports[port] = free_port()
            for published in service.spec.get("ports", []):  # "HOST:CONTAINER": as published
                host, container = str(published).rsplit(":", 2)[-2:]
                service.ports[int(container)] = int(host)
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        for path in IMAGE_PATHS.values():
            (self.dir / path).mkdir(parents=True, exist_ok=True)
        self.pg_data: Path | None = None

    # -- addresses and rewriting ------------------------------------------------------
    def _listens(self, service: Service) -> list[int]:
        if service.kind == "hallboard":
            ports = []
            for arg in service.spec.get("command", []):
                match = re.fullmatch(r"--(?:gateway-)?port=(\d+)", str(arg))
                if match:
                    ports.append(int(match.group(1)))
            return ports
        return {"postgres": [5432], "redis": [6379], "nginx": [80]}.get(service.kind, [])

    def port(self, service: str, container_port: int | None = None) -> int:
        ports = self.services[service].ports
        return ports[container_port] if container_port is not None else next(iter(ports.values()))

    def path(self, container_path: str) -> str:
        for prefix, local in sorted(IMAGE_PATHS.items(), key=lambda kv: -len(kv[0])):
            if container_path == prefix or container_path.startswith(prefix + "/"):
                return str(self.dir / local) + container_path[len(prefix) :]
        return container_path

    def rewrite(self, text: str, own: Service | None = None) -> str:
        """Host names, ports and container paths in ``text`` as this run has them."""
        names = "|".join(re.escape(n) for n in sorted(self.services, key=len, reverse=True))

        def other(match: re.Match[str]) -> str:
            service, port = self.services[match.group(1)], int(match.group(2))
            return f"127.0.0.1:{service.ports[port]}" if port in service.ports else match.group(0)

        text = re.sub(rf"(?<![\w.-])({names}):(\d+)\b", other, text)
        if own is not None:
            for container_port, local in own.ports.items():
                text = re.sub(rf"\b127\.0\.0\.1:{container_port}\b", f"127.0.0.1:{local}", text)
                text = re.sub(rf"(--(?:gateway-)?port=){container_port}\b", rf"\g<1>{local}", text)
            if 80 in own.ports:
                text = text.replace("http://127.0.0.1/", f"http://127.0.0.1:{own.ports[80]}/")
            text = text.replace("--host=0.0.0.0", "--host=127.0.0.1")
        for prefix in sorted(IMAGE_PATHS, key=len, reverse=True):
            text = re.sub(
                rf"(?<![\w/]){re.escape(prefix)}(?=/|\b|$)",
                lambda m: self.path(m.group(0)),
                text,
            )
        return text

    def environment(self, service: Service) -> dict[str, str]:
        """What a process of this service sees: the image's ENV, then the service's."""
        env = {
            key: os.environ[key]
            for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
            if key in os.environ
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        for key, value in image_env(self.instructions).items():
            env[key] = self.rewrite(value, service)
        for key, value in (service.spec.get("environment") or {}).items():
            env[key] = self.rewrite(str(value), service)
        return env

    def command(self, service: Service) -> list[str]:
        entry = image_entrypoint(self.instructions)
        entry = [str(self.bin / entry[0]), *entry[1:]]
        return entry + [self.rewrite(str(arg), service) for arg in service.spec.get("command", [])]

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> None:
        """Start every service in compose's order, waiting for the conditions it names."""
        pending = list(self.services)
        deadline = time.monotonic() + timeout
        while pending:
            ready = [name for name in pending if self._dependencies_met(name)]
            for name in ready:  # together: what compose would start at the same moment
                self.start_service(name)
                pending.remove(name)
            if not ready:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not started: {pending}\n{self.report()}")
                time.sleep(0.2)

    def _dependencies_met(self, name: str) -> bool:
        depends = self.services[name].spec.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {dep: {"condition": "service_started"} for dep in depends}
        for dependency, options in depends.items():
            condition = (options or {}).get("condition", "service_started")
            service = self.services[dependency]
            if service.process is None:
                return False
            if condition == "service_healthy" and not self.check_health(dependency):
                return False
            if condition == "service_completed_successfully":
                code = service.process.poll()
                if code is None:
                    return False
                if code != 0:
                    raise RuntimeError(f"{dependency} exited {code}\n{service.log()}")
        return True

    def start_service(self, name: str) -> None:
        service = self.services[name]
        service.healthy = False
        service.log_path = self.dir / "logs" / f"{name}.log"
        if service._log is not None:
            service._log.close()
        service._log = service.log_path.open("a")
        starter = {
            "hallboard": self._start_hallboard,
            "postgres": self._start_postgres,
            "redis": self._start_redis,
            "nginx": self._start_nginx,
        }[service.kind]
        service.process = starter(service)

    def _popen(self, service: Service, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        assert service._log is not None
        service._log.write(f"$ {shlex.join(argv)}\n")
        service._log.flush()
        return subprocess.Popen(  # noqa: S603 - the kit's own commands, on loopback
            argv, stdout=service._log, stderr=subprocess.STDOUT, **kwargs
        )

    def _start_hallboard(self, service: Service) -> subprocess.Popen[bytes]:
        return self._popen(service, self.command(service), env=self.environment(service))

    def _start_redis(self, service: Service) -> subprocess.Popen[bytes]:
        binary = redis_server()
        if binary is None:
            raise ComposeError("no redis-server")
        command = [str(arg) for arg in service.spec.get("command", ["redis-server"])]
        argv = [binary, *command[1:], "--port", str(service.ports[6379]), "--bind", "127.0.0.1"]
        return self._popen(service, argv)

    def _postgres_user(self) -> dict[str, Any]:
        """Run PostgreSQL's programs as ``postgres`` when we are root (they refuse root)."""
        return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def _start_postgres(self, service: Service) -> subprocess.Popen[bytes]:
        if self.pg_bin is None:
            raise ComposeError("no PostgreSQL programs (initdb)")
        env = {k: self.rewrite(str(v), service) for k, v in service.spec["environment"].items()}
        as_postgres = self._postgres_user()
        if self.pg_data is None:  # first start: initialise, as the image's entry point does
            import tempfile

            self.pg_data = Path(tempfile.mkdtemp(prefix="hallboard-kit-pg-"))
            password = Path(env["POSTGRES_PASSWORD_FILE"]).read_text().strip()
            pwfile = self.pg_data / "pwfile"
            pwfile.write_text(password + "\n")
            if as_postgres:
                shutil.chown(self.pg_data, "postgres", "postgres")
                shutil.chown(pwfile, "postgres", "postgres")
            cluster = self.pg_data / "cluster"
            initdb = [
                str(self.pg_bin / "initdb"),
                f"--pgdata={cluster}",
                f"--username={env['POSTGRES_USER']}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ]
            assert service._log is not None
            subprocess.run(  # noqa: S603
                initdb, check=True, stdout=service._log, stderr=subprocess.STDOUT, **as_postgres
            )
            pwfile.unlink()
        cluster = self.pg_data / "cluster"
        command = [str(arg) for arg in service.spec.get("command", ["postgres"])]
        argv = [
            str(self.pg_bin / "postgres"),
            *command[1:],
            "-D",
            str(cluster),
            "-p",
            str(service.ports[5432]),
            "-k",
            str(self.pg_data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",  # a throwaway cluster
        ]
        process = self._popen(service, argv, **as_postgres)
        self._wait_for(lambda: self._pg_isready(service), f"{service.name} accepting")
        database, user = env["POSTGRES_DB"], env["POSTGRES_USER"]
        exists = self.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",  # noqa: S608 - the kit's name
            database="postgres",
        )
        if not exists.strip():
            self.pg_tool("createdb", f"--username={user}", database)
        return process

    def _pg_isready(self, service: Service) -> bool:
        assert self.pg_bin is not None
        return (
            subprocess.run(  # noqa: S603
                [
                    str(self.pg_bin / "pg_isready"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(service.ports[5432]),
                ],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def pg_env(self) -> dict[str, str]:
        """Client environment for the db service: the password file hallboard itself uses."""
        web = next(s for s in self.services.values() if s.kind == "hallboard" and s.ports)
        env = {
            **os.environ,
            **{k: v for k, v in self.environment(web).items() if k == "PGPASSFILE"},
        }
        env.pop("PGPASSWORD", None)
        return env

    def pg_tool(self, tool: str, *args: str, check: bool = True) -> str:
        """A PostgreSQL client program against the db service (``docker compose exec db …``)."""
        assert self.pg_bin is not None
        db = next(s for s in self.services.values() if s.kind == "postgres")
        argv = [str(self.pg_bin / tool), "-h", "127.0.0.1", "-p", str(db.ports[5432]), *args]
        result = subprocess.run(  # noqa: S603
            argv, env=self.pg_env(), capture_output=True, text=True, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)}: {result.stderr}")
        return result.stdout

    def psql(self, sql: str, database: str | None = None) -> str:
        db = next(s for s in self.services.values() if s.kind == "postgres")
        env = db.spec["environment"]
        return self.pg_tool(
            "psql",
            f"--username={env['POSTGRES_USER']}",
            f"--dbname={database or env['POSTGRES_DB']}",
            "--tuples-only",
            "--no-align",
            "--command",
            sql,
        )

    def _start_nginx(self, service: Service) -> subprocess.Popen[bytes]:
        prefix = self.dir / "nginx"
        for mount in service.spec.get("volumes", []):
            source, target = str(mount).split(":")[:2]
            local = prefix / target.lstrip("/")
            local.parent.mkdir(parents=True, exist_ok=True)
            text = (DEPLOY / source).read_text()
            local.write_text(self.nginx_rewrite(text, service, prefix))
        mime = prefix / "etc/nginx/mime.types"
        if not mime.exists():  # the image has its own; Debian's package installs the same file
            shutil.copy("/etc/nginx/mime.types", mime)
        argv = [
            self.nginx_binary,
            "-p",
            str(prefix),
            "-e",
            str(self.dir / "logs" / "nginx-early.log"),
            "-c",
            str(prefix / "etc/nginx/nginx.conf"),
            "-g",
            "daemon off;",
        ]
        return self._popen(service, argv)

    def nginx_rewrite(self, text: str, service: Service, prefix: Path) -> str:
        text = self.rewrite(text, service)
        text = re.sub(
            r"(?m)^(\s*listen\s+)(\d+)\b",
            lambda m: f"{m.group(1)}127.0.0.1:{service.ports[int(m.group(2))]}",
            text,
        )
        text = re.sub(r"(?<![\w/])/etc/nginx/", f"{prefix}/etc/nginx/", text)
        text = text.replace("/var/run/nginx.pid", str(prefix / "nginx.pid"))
        return re.sub(rf"(?m)^(\s*user\s+){NGINX_IMAGE_USER};", rf"\g<1>{NGINX_DEBIAN_USER};", text)

    # -- health -------------------------------------------------------------------------
    def check_health(self, name: str) -> bool:
        """Run the service's health check once (as compose would, in its container)."""
        service = self.services[name]
        if service.healthy:
            return True
        if service.process is None or service.process.poll() is not None:
            code = None if service.process is None else service.process.poll()
            raise RuntimeError(f"{name} is not running (exit {code})\n{service.log()[-4000:]}")
        test = service.spec.get("healthcheck", {}).get("test")
        if not test:
            service.healthy = True
            return True
        argv = [self.rewrite(str(arg), service) for arg in test[1:]]
        if service.kind == "hallboard" and argv[0] == "python":
            argv[0] = sys.executable
        elif service.kind == "postgres":
            service.healthy = self._pg_isready(service)
            return service.healthy
        elif service.kind == "redis":
            argv = [
                shutil.which("redis-cli") or "redis-cli",
                "-p",
                str(service.ports[6379]),
                "ping",
            ]
            if not shutil.which("redis-cli"):
                return self._redis_ping(service)
        elif argv[0] == "curl" and not shutil.which("curl"):
            return self._http_ok(argv[-1], service)
        result = subprocess.run(argv, capture_output=True, check=False, timeout=10)  # noqa: S603
        service.healthy = result.returncode == 0
        return service.healthy

    def _redis_ping(self, service: Service) -> bool:
        import redis

        client = redis.Redis(port=service.ports[6379], socket_timeout=1)
        try:
            service.healthy = bool(client.ping())
        except redis.RedisError:
            service.healthy = False
        finally:
            client.close()
        return service.healthy

    def _http_ok(self, url: str, service: Service) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                service.healthy = response.status == 200
        except OSError:
            service.healthy = False
        return service.healthy

    def wait_healthy(self, name: str, timeout: float = 120.0) -> None:
        self._wait_for(lambda: self.check_health(name), f"{name} healthy", timeout)

    def _wait_for(self, condition: Any, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: timed out\n{self.report()}")
            time.sleep(0.2)

    # -- stopping -------------------------------------------------------------------------
    def stop_service(self, name: str, sig: int = signal.SIGTERM) -> int:
        """Stop as compose does: the signal, then SIGKILL after stop_grace_period (default 10 s)."""
        service = self.services[name]
        assert service.process is not None
        grace = seconds(service.spec.get("stop_grace_period", "10s"))
        with contextlib.suppress(ProcessLookupError):
            service.process.send_signal(sig)
        try:
            code = service.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._dump_stacks(service)
            service.process.kill()
            code = service.process.wait()
        service.healthy = False
        return code

    @staticmethod
    def _dump_stacks(service: Service) -> None:
        """Before a SIGKILL: where each thread of the process was stuck, into its log
        (with py-spy, when installed), so a failed stop says why."""
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        assert service.process is not None
        assert service._log is not None
        service._log.write("--- not stopped within the grace period; stacks:\n")
        service._log.flush()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(  # noqa: S603 - py-spy on our own child
                [py_spy, "dump", "--pid", str(service.process.pid)],
                stdout=service._log,
                stderr=subprocess.STDOUT,
                timeout=30,
                check=False,
            )

    def restart_service(self, name: str, timeout: float = 120.0) -> int:
        code = self.stop_service(name)
        self.start_service(name)
        self.wait_healthy(name, timeout)
        return code

    def close(self) -> None:
        for service in reversed(list(self.services.values())):
            if service.process is not None and service.process.poll() is None:
                with contextlib.suppress(Exception):
                    service.process.terminate()
                try:
                    service.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._dump_stacks(service)
                    print(f"{service.name} did not stop within 30 s:\n{service.log()[-6000:]}")
                    service.process.kill()
                    service.process.wait()
            if service._log is not None:
                service._log.close()
                service._log = None
        if self.pg_data is not None:
            shutil.rmtree(self.pg_data, ignore_errors=True)

    def report(self) -> str:
        lines = []
        for service in self.services.values():
            code = None if service.process is None else service.process.poll()
            lines.append(f"--- {service.name} (exit {code}) ---")
            lines.append(service.log()[-2500:])
        return "\n".join(lines)

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalCompose]:
        try:
            self.start()
            yield self
        finally:
            self.close()
