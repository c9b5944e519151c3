"""Health, unexpected errors, CORS, settings and the OpenAPI document."""

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from main import create_app
from settings import DEFAULT_CORS_ORIGINS, PROJECT_DIR, Settings
from tests.fixtures import SAMPLE_OIDS, app_engine, on_sqlite_only, rename_users_away


def test_health_is_healthy(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["service"] == "dummy-bank-api"


def test_health_is_503_when_database_is_gone(tmp_path: Path) -> None:
    database_dir = tmp_path / "data"
    database_dir.mkdir()
    app = create_app(Settings(DATABASE_URL=f"sqlite:///{database_dir / 'bank.db'}"))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        shutil.rmtree(database_dir)
        app_engine(client).dispose()
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unhealthy",
        "service": "dummy-bank-api",
        "database": "unreachable",
    }


def test_unexpected_error_is_generic_500_logged_with_traceback(
    own_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    rename_users_away(own_client)
    with caplog.at_level(logging.ERROR, logger="bank"):
        response = own_client.get("/customers")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "users" not in response.text.lower()
    record = next(r for r in caplog.records if r.name == "bank")
    assert record.exc_info is not None
    assert "users" in str(record.exc_info[1])


def test_unknown_route_is_404_with_detail(client: TestClient) -> None:
    response = client.get("/no-such-endpoint")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_cors_allows_local_dev_origin(client: TestClient) -> None:
    response = client.options(
        "/customers",
        headers={"Origin": "http://localhost:3001", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3001"


def test_cors_refuses_other_origins(client: TestClient) -> None:
    response = client.get("/customers", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_setting_replaces_defaults(tmp_path: Path) -> None:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}",
        CORS_ORIGINS="https://app.example, https://lab.example",
    )
    assert settings.CORS_ORIGINS == ["https://app.example", "https://lab.example"]
    with TestClient(create_app(settings)) as client:
        allowed = client.get("/health", headers={"Origin": "https://lab.example"})
        refused = client.get("/health", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "https://lab.example"
    assert "access-control-allow-origin" not in refused.headers


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert (settings.PORT, settings.HOST) == (8080, "0.0.0.0")
    assert settings.CORS_ORIGINS == ["http://a.example"]
    assert settings.LOG_LEVEL == "debug"


def test_defaults_match_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORT", "HOST", "CORS_ORIGINS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert (settings.HOST, settings.PORT) == ("127.0.0.1", 3000)
    assert settings.CORS_ORIGINS == DEFAULT_CORS_ORIGINS


def test_default_database_is_in_project_dir_whatever_the_cwd(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(PROJECT_DIR)
    result = subprocess.run(
        [sys.executable, "-c", "from settings import Settings; print(Settings().DATABASE_URL)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == f"sqlite:///{PROJECT_DIR / 'banking.db'}"


# --- OpenAPI --------------------------------------------------------------------------------


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
    ]


@on_sqlite_only
def test_openapi_lists_every_endpoint(openapi: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in operations(openapi)}
    collections = {
        "asset": "assets", "bank_account": "bank_accounts", "transaction": "transactions",
        "spending_entry": "spending", "derivative_transaction": "derivative_transactions",
    }  # fmt: skip
    per_collection = {
        *(
            f"{verb}_{item}"
            for item in collections
            for verb in ("create", "get", "update", "delete")
        ),
        *(f"list_{items}" for items in collections.values()),
    }
    assert ids == {
        "list_customers", "register_customer", "delete_customer", "customer_exists",
        "get_user_portfolio", "import_user_portfolio", "list_institutions", "health_check",
        "get_account_statement", "list_securities", "get_prices",
        "get_performance", "get_sandbox_clock", "advance_clock", "sync_transactions",
        "create_webhook", "list_webhooks", "get_webhook", "delete_webhook",
        "list_webhook_deliveries", "test_webhook",
        "get_fault_profile", "set_fault_profile", "delete_fault_profile",
        *per_collection,
    }  # fmt: skip


@on_sqlite_only
def test_every_operation_is_typed_and_summarised(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi):
        assert operation["summary"] and "\n" not in operation["summary"], (path, method)
        success = next(status for status in operation["responses"] if status.startswith("2"))
        if success != "204":
            schema = operation["responses"][success]["content"]["application/json"]["schema"]
            assert "$ref" in schema or "$ref" in schema.get("items", {}), (path, method)
        assert "422" not in operation["responses"], (path, method)


@on_sqlite_only
def test_error_responses_are_documented_with_the_error_model(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi):
        takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
        assert ("400" in operation["responses"]) == takes_input, (path, method)
        assert "500" in operation["responses"], (path, method)
        for status, response in operation["responses"].items():
            if status in {"400", "404", "409", "500"}:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    assert "HTTPValidationError" not in openapi["components"]["schemas"]


@on_sqlite_only
def test_constraints_are_in_the_schema(openapi: dict[str, Any]) -> None:
    create = openapi["components"]["schemas"]["CustomerCreate"]["properties"]
    assert (create["name"]["minLength"], create["name"]["maxLength"]) == (2, 100)
    parameter = openapi["paths"]["/customer/{customer_oid}"]["delete"]["parameters"][0]
    pattern = re.compile(parameter["schema"]["pattern"])
    assert all(pattern.search(oid) for oid in SAMPLE_OIDS)
    assert pattern.search("550E8400E29B41D4A716446655440001") and pattern.search("CUST-0001")
    assert not pattern.search("not-a-uuid") and not pattern.search("abc")
