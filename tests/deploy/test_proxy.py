"""Two replicas behind a real nginx running deploy/nginx.conf, all on 127.0.0.1.

Each replica is the image's own command (the Dockerfile's CMD: gunicorn with uvicorn
workers, one worker, compute in worker processes), bound to a free loopback port. The
requests go through nginx; its access log says which replica served each one (by the
request id). The module's tests share the servers and run in file order: the last one
kills a replica.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from app.settings import Settings
from tests._server import free_port, server_process, wait_ready

from ._deploy import image_command
from ._nginx import LIFETIME, Nginx, nginx, nginx_binary

REPLICA_ENV = {
    "WEB_CONCURRENCY": "1",
    "RMT_EXECUTOR": "process",
    "RMT_WORKERS": "1",
    "RMT_ACCESS_LOG": "false",
    # one LAPACK thread, as in deploy/k8s (and two replicas share this machine)
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}

POINT = {"kind": "point", "at": 0.0}
UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}
DENSITY = {
    "measure": UNIFORM,
    "noise": {"sigma2": 0.25},
    "grid": {"start": -2, "stop": 2, "num": 64},
}
REQUESTS: dict[str, dict[str, Any]] = {
    "/v1/density": DENSITY,
    "/v1/outliers": {"measure": POINT, "noise": {"sigma2": 1.0}, "spikes": [2.0, 0.5, -3.0]},
    "/v1/support": {"measure": {"kind": "atoms", "values": [-2.0, 2.0]}, "noise": {"sigma2": 0.5}},
    "/v1/stieltjes": {
        "measure": POINT,
        "noise": {"sigma2": 1.0},
        "z": {"re": [0.0, 0.5, 3.0], "im": [1.0, 0.0, 0.0]},
    },
    "/v1/simulate": {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 200,
        "spikes": [2.0],
        "seed": 7,
        "top": 3,
        "output": "histogram",
        "bins": 8,
    },
}
#: each request goes through the proxy this many times (round-robin: to both replicas)
ROUNDS = 4

_LOG_LINE = re.compile(r'upstream="(?P<upstream>[^"]*)" .* request_id=(?P<id>\S+)$')


@dataclass
class Cluster:
    proxy: Nginx
    replicas: dict[str, subprocess.Popen[bytes]]  # "127.0.0.1:port" -> its process

    def served(self, request_ids: list[str], seconds: float = 5) -> dict[str, list[str]]:
        """Request id -> the replicas nginx tried for it, in order (its access log)."""
        limit = time.monotonic() + seconds
        while True:
            found = {}
            for line in self.proxy.log_lines():
                match = _LOG_LINE.search(line)
                if match and match["id"] in request_ids:
                    upstream = match["upstream"]
                    found[match["id"]] = [] if upstream == "-" else upstream.split(", ")
            missing = set(request_ids) - found.keys()
            if not missing:
                return found
            assert time.monotonic() < limit, f"not in nginx's access log: {sorted(missing)}"
            time.sleep(0.05)


def _replica_command(port: int) -> list[str]:
    """The Dockerfile's CMD, bound to 127.0.0.1:port, under ``timeout`` (stops by itself)."""
    command = image_command()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[0] = str(Path(sys.executable).with_name(command[0]))  # this venv's gunicorn
    return ["timeout", "--kill-after=5", str(LIFETIME), *command]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    nginx_binary()  # fail at once without nginx, not after starting the replicas
    ports: set[int] = set()
    while len(ports) < 2:
        ports.add(free_port())
    with ExitStack() as stack:
        replicas = {
            f"127.0.0.1:{port}": stack.enter_context(
                server_process(_replica_command(port), REPLICA_ENV)
            )
            for port in sorted(ports)
        }
        for address, proc in replicas.items():  # they start side by side
            wait_ready(f"http://{address}", proc)
        proxy = stack.enter_context(nginx(list(replicas)))
        yield Cluster(proxy, replicas)


def _post_all(client: httpx.Client, tag: str) -> dict[str, tuple[str, bytes]]:
    """Each request of REQUESTS once: request id -> (path, body of the answer)."""
    answers = {}
    for path, body in REQUESTS.items():
        request_id = f"{tag}-{path.rpartition('/')[2]}"
        response = client.post(path, json=body, headers={"X-Request-ID": request_id})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"] == request_id
        answers[request_id] = (path, response.content)
    return answers


def test_every_replica_gives_the_same_answers(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.proxy.base, timeout=30) as client:
        answers: dict[str, tuple[str, bytes]] = {}
        for round_ in range(ROUNDS):
            answers |= _post_all(client, f"same-{round_}")
    served = cluster.served(list(answers))
    assert all(len(tried) == 1 for tried in served.values()), served  # no retries here
    for path, body in REQUESTS.items():
        ids = [request_id for request_id, (p, _) in answers.items() if p == path]
        contents = {answers[request_id][1] for request_id in ids}
        assert len(contents) == 1, f"{path}: {len(contents)} different answers"
        # ... from both replicas, and the same as a replica gives without the proxy
        assert {served[request_id][0] for request_id in ids} == set(cluster.replicas), path
        for address in cluster.replicas:
            direct = httpx.post(f"http://{address}{path}", json=body, timeout=30)
            assert {direct.content} == contents, (path, address)


def test_request_ids_pass_through_the_proxy(cluster: Cluster) -> None:
    """The client's id when the app would take it; else nginx's own, which the app keeps:
    the id in the answer is the one in nginx's log."""
    with httpx.Client(base_url=cluster.proxy.base, timeout=10) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
        none = client.get("/healthz")
        refused = client.get("/healthz", headers={"X-Request-ID": 'a "quoted" id'})
    assert given.headers["x-request-id"] == "trace-42"
    for response in (none, refused):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    ids = [r.headers["x-request-id"] for r in (given, none, refused)]
    assert len(set(ids)) == 3
    served = cluster.served(ids)
    assert all(served[request_id][0] in cluster.replicas for request_id in ids)


def test_the_body_limit_is_the_apps(cluster: Cluster) -> None:
    """A body of exactly max_body_bytes reaches a replica; one byte more is refused by
    nginx with the app's own problem type."""
    limit = Settings().max_body_bytes
    body = json.dumps(DENSITY).encode()
    at_limit = body + b" " * (limit - len(body))
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=cluster.proxy.base, timeout=30) as client:
        ok = client.post("/v1/density", content=at_limit, headers=headers)
        over = client.post("/v1/density", content=at_limit + b" ", headers=headers)
    assert ok.status_code == 200, ok.text
    assert over.status_code == 413
    assert over.headers["content-type"] == "application/problem+json"
    assert over.headers["cache-control"] == "no-store"
    problem = over.json()
    assert problem["request_id"] == over.headers["x-request-id"]
    assert cluster.served([problem["request_id"]])[problem["request_id"]] == []  # no replica
    # the replica's own answer to that body, without the proxy
    replica = next(iter(cluster.replicas))
    app = httpx.post(f"http://{replica}/v1/density", content=at_limit + b" ", headers=headers)
    assert app.status_code == 413
    assert {k: problem[k] for k in ("type", "title", "status")} == {
        k: app.json()[k] for k in ("type", "title", "status")
    }


#: a weight file of 6,000,128 bytes: over the 4 MiB of a JSON body, far under uploads'
#: 128 MiB (tall, so that its SVD and fit are quick)
UPLOAD_SHAPE = (3000, 250)
NPY = {"Content-Type": "application/x-npy"}


def _npy(shape: tuple[int, int]) -> bytes:
    """A ``.npy`` file of noise of variance 1/rows plus one spike of strength 3."""
    rng = np.random.default_rng(3)
    rows, cols = shape
    u, v = rng.standard_normal(rows), rng.standard_normal(cols)
    spike = 3.0 * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    buffer = io.BytesIO()
    np.save(buffer, spike + rng.standard_normal(shape) / math.sqrt(rows))
    return buffer.getvalue()


def test_uploads_have_the_apps_upload_limit(cluster: Cluster) -> None:
    """A 6 MB weight file reaches a replica of /v1/denoise and of /v1/analyze; a 6 MB JSON
    body is still refused by nginx elsewhere, and by the app on the upload paths."""
    data = _npy(UPLOAD_SHAPE)
    settings = Settings()
    assert settings.max_body_bytes < len(data) < settings.max_upload_bytes
    with httpx.Client(base_url=cluster.proxy.base, timeout=60) as client:
        denoised = client.post("/v1/denoise?sigma2=1&seed=1", content=data, headers=NPY)
        analyzed = client.post("/v1/analyze?seed=1", content=data, headers=NPY)
        json_body = b'{"pad": "' + b" " * len(data) + b'"}'
        headers = {"Content-Type": "application/json"}
        refused = client.post("/v1/density", content=json_body, headers=headers)
        json_upload = client.post("/v1/denoise", content=json_body, headers=headers)
    assert denoised.status_code == 200, denoised.text
    assert denoised.json()["shape"] == {"rows": UPLOAD_SHAPE[0], "cols": UPLOAD_SHAPE[1]}
    assert denoised.json()["rank"] >= 1  # the spike, seen in the file as sent
    assert analyzed.status_code == 200, analyzed.text
    (tensor,) = analyzed.json()["tensors"]
    assert tensor["shape"] == list(UPLOAD_SHAPE)
    # nginx's own 413: its problem, no replica tried
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    assert str(settings.max_body_bytes) in refused.json()["detail"]
    # a JSON body on an upload path passes nginx; the app refuses it over max_body_bytes
    assert json_upload.status_code == 413
    assert json_upload.json()["detail"].startswith("the request body is")
    answers = (denoised, analyzed, refused, json_upload)
    served = cluster.served([r.headers["x-request-id"] for r in answers])
    tried = [served[r.headers["x-request-id"]] for r in answers]
    assert tried[2] == []
    assert all(len(replicas) == 1 for i, replicas in enumerate(tried) if i != 2), tried


def test_uploads_over_the_upload_limit_stop_at_nginx(cluster: Cluster) -> None:
    """A weight file declared one byte over max_upload_bytes is refused as its headers
    arrive, with the app's problem type and the upload limit; no replica sees it."""
    limit = Settings().max_upload_bytes
    host, port = cluster.proxy.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/v1/analyze")
        connection.putheader("Content-Type", NPY["Content-Type"])
        connection.putheader("Content-Length", str(limit + 1))
        connection.endheaders()  # and no body: nginx answers from the headers
        response = connection.getresponse()
        status, ctype, body = response.status, response.getheader("content-type"), response.read()
        request_id = response.getheader("x-request-id")
    finally:
        connection.close()
    assert status == 413
    assert ctype == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == "/problems/body-too-large"
    assert f"the limit of {limit} bytes" in problem["detail"]
    assert problem["request_id"] == request_id
    assert cluster.served([request_id])[request_id] == []


def _refuses(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_killed_replica_leaves_the_other_serving(cluster: Cluster) -> None:
    """Last in this module: one replica is killed (SIGKILL to gunicorn, its worker and its
    compute process); nginx sends its share to the other (proxy_next_upstream)."""
    dead, alive = cluster.replicas
    with httpx.Client(timeout=30) as client:
        expected = {
            path: client.post(f"http://{alive}{path}", json=body).content
            for path, body in REQUESTS.items()
        }
    proc = cluster.replicas[dead]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    limit = time.monotonic() + 5
    while not _refuses(dead):
        assert time.monotonic() < limit, f"{dead} still accepts connections"
        time.sleep(0.05)

    with httpx.Client(base_url=cluster.proxy.base, timeout=30) as client:
        answers: dict[str, tuple[str, bytes]] = {}
        for round_ in range(2):
            answers |= _post_all(client, f"failover-{round_}")
    assert all(content == expected[path] for path, content in answers.values())
    served = cluster.served(list(answers))
    assert all(tried[-1] == alive for tried in served.values()), served
    # round-robin still picked the dead replica, and nginx went on to the live one
    assert [dead, alive] in served.values(), served
