"""Swagger UI and ReDoc render their operations in a real headless Chromium, with no internet."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures import LiveServer, Shared, on_sqlite_only

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)"
    ),
    # The pages render the OpenAPI document, which is the same on either engine.
    on_sqlite_only,
]
OPERATION_IDS = [
    "list_customers", "register_customer", "delete_customer",
    "customer_exists", "get_user_portfolio", "health_check",
]  # fmt: skip
PATHS = [
    "/customers", "/register-customer", "/customer/{customer_oid}",
    "/customer/{customer_oid}/exists", "/user-portfolio/{customer_oid}", "/health",
]  # fmt: skip


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium sees it."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
            "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_every_operation(live_server: LiveServer, tmp_path: Path) -> None:
    dom = rendered_dom(f"{live_server.base_url}/docs", tmp_path / "profile")
    assert "swagger-ui" in dom
    for path in PATHS:
        assert f'data-path="{path}"' in dom, path
    assert "Get a customer's complete portfolio" in dom


def test_redoc_renders_every_operation(live_server: LiveServer, tmp_path: Path) -> None:
    dom = rendered_dom(f"{live_server.base_url}/redoc", tmp_path / "profile")
    for operation_id in OPERATION_IDS:
        assert f"operation/{operation_id}" in dom, operation_id
    assert "Register a customer" in dom


def test_docs_assets_are_served_locally(live_server: LiveServer) -> None:
    import httpx

    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{live_server.base_url}{page}").text
        assert "cdn" not in html.lower(), page
        assert "/static-offline-docs/" in html, page
    bundle = httpx.get(f"{live_server.base_url}/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_swagger_ui_offers_authorize_when_a_key_is_set(
    backend: str, shared: Shared, tmp_path: Path
) -> None:
    server = shared.server(backend, {"BANK_API_KEY": "browser-key"})
    dom = rendered_dom(f"{server.base_url}/docs", tmp_path / "profile")
    # The schema loaded without the key, and declares the two ways to send one.
    assert 'class="btn authorize' in dom
    for path in PATHS:
        assert f'data-path="{path}"' in dom, path
