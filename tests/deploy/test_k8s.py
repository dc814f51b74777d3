"""deploy/k8s: every manifest validates against the Kubernetes JSON schemas, offline (the
schemas bundled with kubernetes-validate, strict: unknown fields are errors), and the
objects agree with each other, with the image and with the app's settings."""

from __future__ import annotations

import copy
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests._server import ROOT

from ._deploy import DASK_SCHEDULER, K8S, check_rmt_variables, image_port, manifests

#: the oldest and the newest Kubernetes that the manifests are checked against (the
#: newest is the latest that kubernetes-validate 1.37.0 ships)
K8S_VERSIONS = ("1.33.0", "1.37.0")
FILES = sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")

Object = dict[str, Any]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test: the schemas are the package's."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access during validation: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], Object]:
    """Every object of deploy/k8s by (kind, name)."""
    found: dict[tuple[str, str], Object] = {}
    for path in FILES:
        for obj in manifests(path):
            key = (obj["kind"], obj["metadata"]["name"])
            assert key not in found, f"{key} twice"
            found[key] = obj
    return found


def _pod(obj: Object) -> Object:
    spec: Object = obj["spec"]["template"]["spec"]
    return spec


def _container(obj: Object) -> Object:
    (container,) = _pod(obj)["containers"]
    return container


def _deployments(objects: dict[tuple[str, str], Object]) -> list[Object]:
    return [obj for (kind, _), obj in objects.items() if kind == "Deployment"]


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [path.name for path in FILES]
    (image,) = kustomization["images"]
    assert image["name"] == "rmtservice"


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_manifests_validate(path: Path, version: str) -> None:
    for obj in manifests(path):
        # the schemas of exactly this version (the package falls back to older ones)
        minor = ".".join(version.split(".")[:2])
        assert kubernetes_validate.validate(obj, version, strict=True) == minor


def _typo(obj: Object) -> None:
    _container(obj)["securityContext"]["readOnlyRootFileSystem"] = True


def _wrong_type(obj: Object) -> None:
    obj["spec"]["replicas"] = "2"


def _no_name(obj: Object) -> None:
    del _container(obj)["name"]


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("breaks", [_typo, _wrong_type, _no_name])
def test_validation_rejects_a_broken_deployment(
    objects: dict[tuple[str, str], Object], breaks: Callable[[Object], None]
) -> None:
    """The check above can fail: a misspelt field, a wrong type, a missing name."""
    broken = copy.deepcopy(objects["Deployment", "rmtservice"])
    breaks(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_api_deployment_serves_the_image_port_with_probes(
    objects: dict[tuple[str, str], Object],
) -> None:
    api = objects["Deployment", "rmtservice"]
    container = _container(api)
    assert "command" not in container and "args" not in container  # the image's gunicorn
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", image_port())
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WEB_CONCURRENCY"] == "1"  # /readyz speaks for the whole pod


def test_api_service_hpa_and_pdb_select_the_api_pods(
    objects: dict[tuple[str, str], Object],
) -> None:
    api = objects["Deployment", "rmtservice"]
    labels = api["spec"]["template"]["metadata"]["labels"]
    selector = api["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = objects["Service", "rmtservice"]
    assert service["spec"]["selector"] == selector
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    hpa = objects["HorizontalPodAutoscaler", "rmtservice"]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        "rmtservice",
    )
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    pdb = objects["PodDisruptionBudget", "rmtservice"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    # a drain can always evict one pod: fewer must stay than the HPA ever leaves
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"] <= api["spec"]["replicas"]


def test_api_settings_come_from_the_configmap(objects: dict[tuple[str, str], Object]) -> None:
    config = objects["ConfigMap", "rmtservice-config"]["data"]
    assert all(key.startswith("RMT_") for key in config)
    check_rmt_variables(config)
    assert config["RMT_DASK_SCHEDULER"] == DASK_SCHEDULER
    (source,) = _container(objects["Deployment", "rmtservice"])["envFrom"]
    assert source["configMapRef"]["name"] == "rmtservice-config"


def test_dask_scheduler_and_workers(objects: dict[tuple[str, str], Object]) -> None:
    scheduler = objects["Deployment", "dask-scheduler"]
    assert scheduler["spec"]["replicas"] == 1  # the sweeps' state lives there
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"
    assert _container(scheduler)["command"] == ["dask", "scheduler"]
    # RMT_DASK_SCHEDULER names this Service and port, which select the scheduler pod
    match = re.fullmatch(r"tcp://([\w-]+):(\d+)", DASK_SCHEDULER)
    assert match, DASK_SCHEDULER
    host, port = match.groups()
    service = objects["Service", host]
    assert service["spec"]["selector"] == scheduler["spec"]["selector"]["matchLabels"]
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    worker = objects["Deployment", "dask-worker"]
    command = _container(worker)["command"]
    assert command[:5] == ["dask", "worker", DASK_SCHEDULER, "--nthreads", "1"]
    # the workers' /health is on the fixed dashboard port their probe uses
    assert command[command.index("--dashboard-address") + 1] == ":8787"
    for obj in (scheduler, worker):
        container = _container(obj)
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named[container["livenessProbe"]["httpGet"]["port"]] == 8787


def test_one_image_for_the_api_and_dask(objects: dict[tuple[str, str], Object]) -> None:
    images = {_container(obj)["image"] for obj in _deployments(objects)}
    assert len(images) == 1, images
    assert images.pop().partition(":")[0] == "rmtservice"


def test_pods_are_non_root_with_a_read_only_root(objects: dict[tuple[str, str], Object]) -> None:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
    for obj in _deployments(objects):
        pod, container = _pod(obj), _container(obj)
        name = obj["metadata"]["name"]
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user, name
        assert pod["automountServiceAccountToken"] is False, name
        # no DASK_SCHEDULER_PORT & co: Dask would read them as configuration
        assert pod["enableServiceLinks"] is False, name
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, name
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) == {"cpu", "memory"}, (name, kind)
        # what the app and Dask write goes to emptyDir volumes
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        writable = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs]
        assert "/tmp" in writable, name
        env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
        for variable in ("MPLCONFIGDIR", "DASK_TEMPORARY_DIRECTORY"):
            if variable in env:
                assert any(Path(env[variable]).is_relative_to(w) for w in writable), variable
    assert "MPLCONFIGDIR" in {
        e["name"] for e in _container(objects["Deployment", "rmtservice"])["env"]
    }
