"""Security: API keys, CORS, security headers, and no internals in any answer."""

from __future__ import annotations

import re

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from rmtservice.client import AsyncClient, ServiceError
from rmtservice.wire import service

from ._support import NOISE, POINT, assert_problem, serve

pytestmark = pytest.mark.anyio

SUPPORT = {"measure": POINT, "noise": NOISE}
KEYS = ["first-key-0123", "second-key-4567"]
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}


def assert_secure(r: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert r.headers[name] == value, name
    assert "content-security-policy" in r.headers


# ------------------------------------------------------------------- API keys


async def test_no_keys_configured_needs_no_key() -> None:
    async with serve() as c:
        assert (await c.post("/v1/support", json=SUPPORT)).status_code == 200


async def test_keys_required_on_v1() -> None:
    async with serve(api_keys=KEYS) as c:
        r = await c.post("/v1/support", json=SUPPORT)
        body = assert_problem(r, 401, "unauthorized", "X-API-Key")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["cache-control"] == "no-store"
        assert "first-key" not in r.text and "first-key" not in body["detail"]
        r = await c.get("/v1/info")
        assert_problem(r, 401, "unauthorized")
        r = await c.post("/v1/support", json=SUPPORT, headers={"x-api-key": "nope"})
        assert_problem(r, 401, "unauthorized", "not valid")
        r = await c.post("/v1/support", json=SUPPORT, headers={"authorization": "Basic abc"})
        assert_problem(r, 401, "unauthorized")
        r = await c.post("/v1/support", json=SUPPORT, headers={"x-api-key": KEYS[0] + "x"})
        assert_problem(r, 401, "unauthorized")
        # both keys, both headers
        for key in KEYS:
            r = await c.post("/v1/support", json=SUPPORT, headers={"x-api-key": key})
            assert r.status_code == 200, r.text
            r = await c.post(
                "/v1/support", json=SUPPORT, headers={"authorization": f"Bearer {key}"}
            )
            assert r.status_code == 200, r.text


async def test_unauthenticated_body_is_not_read() -> None:
    async with serve(api_keys=KEYS, max_body_bytes=1024) as c:
        r = await c.post("/v1/support", content=b"x" * 5000, headers={"content-type": "text/x"})
        assert_problem(r, 401, "unauthorized")


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"]
)
async def test_open_paths_need_no_key(path: str) -> None:
    async with serve(api_keys=KEYS) as c:
        r = await c.get(path)
        assert r.status_code == 200, (path, r.text)
        assert (await c.get("/static/docs/swagger-init.js")).status_code == 200
        assert (await c.get("/problems/unauthorized")).json()["status"] == 401


async def test_sdk_sends_the_key() -> None:
    app = create_app(Settings(executor="thread", api_keys=KEYS))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with AsyncClient("http://testserver", transport=transport, api_key=KEYS[1]) as c:
            support = await c.support(measure=POINT, sigma2=1.0)
            assert support.support[0].upper == pytest.approx(2.0)
        async with AsyncClient("http://testserver", transport=transport, retries=0) as c:
            with pytest.raises(ServiceError) as err:
                await c.support(measure=POINT, sigma2=1.0)
            assert err.value.status == 401


# ----------------------------------------------------------------------- CORS


async def test_no_cors_by_default() -> None:
    async with serve() as c:
        r = await c.post("/v1/support", json=SUPPORT, headers={"origin": "https://a.example"})
        assert "access-control-allow-origin" not in r.headers
        r = await c.options(
            "/v1/support",
            headers={"origin": "https://a.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in r.headers


async def test_cors_for_configured_origins_only() -> None:
    async with serve(cors_origins=["https://a.example"], api_keys=KEYS) as c:
        preflight = {
            "origin": "https://a.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key",
        }
        r = await c.options("/v1/support", headers=preflight)  # no key on a preflight
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://a.example"
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "DELETE" not in r.headers["access-control-allow-methods"]
        assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
        r = await c.options("/v1/support", headers=preflight | {"origin": "https://b.example"})
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        headers = {"origin": "https://a.example", "x-api-key": KEYS[0]}
        r = await c.post("/v1/support", json=SUPPORT, headers=headers)
        assert r.headers["access-control-allow-origin"] == "https://a.example"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        # a 401 is readable by the allowed page
        r = await c.post("/v1/support", json=SUPPORT, headers={"origin": "https://a.example"})
        assert r.status_code == 401
        assert r.headers["access-control-allow-origin"] == "https://a.example"
        r = await c.post(
            "/v1/support", json=SUPPORT, headers=headers | {"origin": "https://b.example"}
        )
        assert "access-control-allow-origin" not in r.headers


def test_settings_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_API_KEYS", "k1, k2")
    monkeypatch.setenv("RMT_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    settings = Settings()
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert "k1" not in repr(settings)
    assert "api_keys" not in settings.limits()


# ---------------------------------------------------------- security headers


async def test_security_headers_everywhere() -> None:
    async with serve() as c:
        ok = await c.post("/v1/support", json=SUPPORT)
        assert ok.status_code == 200
        assert_secure(ok)
        assert ok.headers["content-security-policy"].startswith("default-src 'none'")
        assert "no-store" not in ok.headers.get("cache-control", "")
        for r in (
            await c.get("/nope"),
            await c.get("/v1/support"),
            await c.post("/v1/support", content=b"{", headers={"content-type": "application/json"}),
            await c.post("/v1/support", json={"measure": POINT}),
        ):
            assert r.status_code >= 400
            assert_secure(r)
            assert r.headers["content-security-policy"].startswith("default-src 'none'")
            assert r.headers["cache-control"] == "no-store"
        for path in ("/healthz", "/openapi.json", "/metrics", "/static/docs/swagger-init.js"):
            assert_secure(await c.get(path))


async def test_docs_keep_their_own_csp() -> None:
    async with serve() as c:
        for path in ("/docs", "/redoc"):
            r = await c.get(path)
            assert_secure(r)
            csp = r.headers.get_list("content-security-policy")
            assert len(csp) == 1
            assert "script-src 'self'" in csp[0]


async def test_413_has_security_headers() -> None:
    async with serve(max_body_bytes=1024) as c:
        r = await c.post(
            "/v1/support", content=b"{" * 5000, headers={"content-type": "application/json"}
        )
        assert_problem(r, 413, "body-too-large")
        assert_secure(r)
        assert r.headers["cache-control"] == "no-store"


# ------------------------------------------------------------- no internals


SECRET = "secret-internal-detail at /srv/app/private.py line 42"


async def test_unexpected_exception_is_a_generic_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(req: object) -> object:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(service, "support", boom)
    async with serve() as c:
        r = await c.post("/v1/support", json=SUPPORT, headers={"x-request-id": "trace-me-1"})
    body = assert_problem(r, 500, "internal-error")
    assert body["request_id"] == "trace-me-1"
    assert set(body) == {"type", "title", "status", "detail", "instance", "request_id"}
    assert_secure(r)
    assert r.headers["cache-control"] == "no-store"
    text = r.text
    for leak in ("Traceback", "RuntimeError", "secret", "private", "line 42", "File "):
        assert leak not in text, leak
    assert not re.search(r"[\\/][\w.-]+\.py", text), text
    assert "/work" not in text and "site-packages" not in text


async def test_unexpected_exception_in_a_route_body(monkeypatch: pytest.MonkeyPatch) -> None:
    """Also when the error is raised in the event loop, not in a worker."""

    def boom(*args: object, **kwargs: object) -> object:
        raise KeyError(SECRET)

    async with serve() as c:
        monkeypatch.setattr(Settings, "limits", boom)
        r = await c.get("/v1/info")
    assert_problem(r, 500, "internal-error")
    assert "secret" not in r.text and "KeyError" not in r.text
