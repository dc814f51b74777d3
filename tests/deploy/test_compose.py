"""deploy/compose.yaml and deploy/nginx.conf: structure, agreement with each other, with
the image and with the app's settings; ``nginx -t`` on the configuration."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from app.api.denoise import UPLOAD_PATHS
from app.settings import Settings
from tests._server import ROOT, free_port

from ._deploy import (
    COMPOSE,
    DASK_SCHEDULER,
    DEPLOY,
    check_rmt_variables,
    compose,
    image_command,
    image_port,
    nginx_config,
    nginx_seconds,
    nginx_server,
    nginx_size,
)
from ._nginx import nginx_command, nginx_prefix, render

IMAGE_SERVICES = ("api", "dask-scheduler", "dask-worker")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = compose()
    assert set(data["services"]) == {"api", "nginx", "dask-scheduler", "dask-worker"}
    return dict(data["services"])


def _healthcheck_url(service: dict[str, Any]) -> str:
    """The URL that a service's healthcheck fetches."""
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", test
    (url,) = re.findall(r"http://127\.0\.0\.1:\d+/[\w/]*", " ".join(test))
    return url


def test_api_replicas_run_the_image_of_the_dockerfile(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["deploy"]["replicas"] >= 2
    assert (COMPOSE.parent / api["build"]["context"]).resolve() == ROOT
    assert (ROOT / api["build"]["dockerfile"]).is_file()
    # the image's own command: gunicorn with uvicorn workers, on the port nginx proxies to
    assert "command" not in api
    assert image_command()[:4] == [
        "gunicorn",
        "app.main:app",
        "--worker-class",
        "app.http.server.UvicornWorker",
    ]
    assert api["expose"] == [str(image_port())]
    assert _healthcheck_url(api) == f"http://127.0.0.1:{image_port()}/healthz"


def test_one_image_for_the_api_and_dask(services: dict[str, Any]) -> None:
    builds = {
        name: (services[name]["image"], str(services[name]["build"])) for name in IMAGE_SERVICES
    }
    assert len(set(builds.values())) == 1, builds


@pytest.mark.parametrize("name", IMAGE_SERVICES)
def test_image_services_are_non_root_and_read_only(services: dict[str, Any], name: str) -> None:
    service = services[name]
    assert service["user"] == "10001:10001"
    assert service["read_only"] is True
    assert [entry.split(":")[0] for entry in service["tmpfs"]] == ["/tmp"]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["healthcheck"]["test"]
    assert set(service["deploy"]["resources"]["limits"]) == {"cpus", "memory"}
    # matplotlib writes its cache under MPLCONFIGDIR: it must be in the tmpfs
    env = service.get("environment", {})
    assert env.get("MPLCONFIGDIR", "/tmp/").startswith("/tmp/")


def test_api_environment(services: dict[str, Any]) -> None:
    env = services["api"]["environment"]
    assert env["RMT_DASK_SCHEDULER"] == DASK_SCHEDULER
    check_rmt_variables(env)
    assert services["api"]["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"


def test_dask_scheduler_and_workers(services: dict[str, Any]) -> None:
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    assert scheduler["command"] == ["dask", "scheduler"]
    assert scheduler["deploy"]["replicas"] == 1  # the sweeps' state lives there
    assert "8786" in scheduler["expose"]
    assert worker["command"][:5] == ["dask", "worker", DASK_SCHEDULER, "--nthreads", "1"]
    assert worker["deploy"]["replicas"] >= 1
    assert DASK_SCHEDULER == "tcp://dask-scheduler:8786"  # the Compose service, its port
    for service in (scheduler, worker):
        assert _healthcheck_url(service) == "http://127.0.0.1:8787/health"


def test_nginx_proxies_to_the_api_service(services: dict[str, Any]) -> None:
    proxy = services["nginx"]
    assert proxy["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert (DEPLOY / "nginx.conf").is_file()
    # the upstream is the Compose service `api` on the port its replicas serve
    (server,) = nginx_config().block("http").block("upstream rmtservice").all("server")
    assert server.split()[0] == f"api:{image_port()}"
    proxied = {where: b for where, b in nginx_server().locations().items() if b.all("proxy_pass")}
    assert set(proxied) == {"/", UPLOAD_LOCATION}
    for where, location in proxied.items():
        assert location.one("proxy_pass") == "http://rmtservice", where
        # a proxy_set_header here would drop every one of the server's (nginx inherits
        # a directive only into a block that sets none of its own)
        assert not location.all("proxy_set_header"), where
    listen = nginx_server().one("listen")
    assert proxy["ports"] == [f"{listen}:{listen}"]
    assert _healthcheck_url(proxy) == f"http://127.0.0.1:{listen}/healthz"
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"


#: the location of the uploads (/v1/denoise and /v1/analyze take weight files)
UPLOAD_LOCATION = "~ ^/v1/(denoise|analyze)$"


def _too_large_detail(name: str) -> str:
    """The detail of the problem that the named location ``name`` answers 413 with."""
    status, body = nginx_server().locations()[name].one("return").split(" ", 1)
    assert status == "413"
    detail: str = json.loads(body)["detail"]
    return detail


def test_nginx_limits_match_the_app(services: dict[str, Any]) -> None:
    # the Compose replicas' settings: the defaults, and what the environment overrides
    fields = {f"RMT_{name.upper()}": name for name in Settings.model_fields}
    env = services["api"]["environment"]
    settings = Settings(**{fields[k]: v for k, v in env.items() if k.startswith("RMT_")})
    server = nginx_server()
    assert nginx_size(server.one("client_max_body_size")) == settings.max_body_bytes
    assert server.one("error_page") == "413 @body_too_large"
    assert f"the limit of {settings.max_body_bytes} bytes" in _too_large_detail("@body_too_large")
    upload = server.locations()[UPLOAD_LOCATION]
    assert nginx_size(upload.one("client_max_body_size")) == settings.max_upload_bytes
    assert upload.one("error_page") == "413 @upload_too_large"
    detail = _too_large_detail("@upload_too_large")
    assert f"the limit of {settings.max_upload_bytes} bytes" in detail
    # the whole body read first: the app's body timeout counts only nginx's sending it on
    assert upload.one("proxy_request_buffering") == "on"
    assert nginx_seconds(server.one("client_body_timeout")) == settings.body_timeout_seconds
    # the app answers its own deadline (503) before nginx gives up on it
    assert nginx_seconds(server.one("proxy_read_timeout")) > 2 * settings.deadline_seconds
    headers = dict(h.split(" ", 1) for h in server.all("proxy_set_header"))
    assert headers["X-Request-ID"] == "$rmt_request_id"
    assert "error" in server.one("proxy_next_upstream").split()


def test_nginx_upload_location_is_the_apps_upload_paths() -> None:
    """The upload location's regular expression matches the app's upload paths and no
    other operation of the spec."""
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    pattern = UPLOAD_LOCATION.removeprefix("~ ")
    matched = {path for path in spec["paths"] if re.search(pattern, path)}
    assert matched == UPLOAD_PATHS
    for near in ("/v1/denoise/", "/v1/denoiser", "/x/v1/analyze", "/v1/analyze.npy"):
        assert not re.search(pattern, near), near


def test_nginx_t_accepts_the_configuration() -> None:
    """``nginx -t`` on deploy/nginx.conf (the upstream's host, which only Compose's DNS
    knows, replaced by an address: see tests/deploy/_nginx.py)."""
    with nginx_prefix() as prefix:
        conf = prefix / "nginx.conf"
        conf.write_text(render(["127.0.0.1:8000"], f"127.0.0.1:{free_port()}", prefix))
        done = subprocess.run(
            nginx_command(prefix, conf, "-t"), capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
