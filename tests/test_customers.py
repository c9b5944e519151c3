"""Customer lifecycle over HTTP: list, register, exists, delete, and every error they answer."""

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from errors import InvalidInput
from fields import NAME_PATTERN, clean_customer_name
from tests.fixtures import NEW_OID, SAMPLE_OIDS

INVALID_OID_HINT = "expected a UUID such as 550e8400-e29b-41d4-a716-446655440001"


def test_list_customers_returns_the_five_samples_in_oid_order(client: TestClient) -> None:
    response = client.get("/customers")
    assert response.status_code == 200
    assert response.json() == [
        {"customer_oid": SAMPLE_OIDS[0], "name": "John Doe"},
        {"customer_oid": SAMPLE_OIDS[1], "name": "Jane Smith"},
        {"customer_oid": SAMPLE_OIDS[2], "name": "Robert Johnson"},
        {"customer_oid": SAMPLE_OIDS[3], "name": "ABC Corporation"},
        {"customer_oid": SAMPLE_OIDS[4], "name": "Michael Chen"},
    ]


def test_register_with_oid_returns_seed_shape(client: TestClient) -> None:
    response = client.post(
        "/register-customer", json={"name": "New Customer", "customer_oid": NEW_OID}
    )
    assert response.status_code == 200
    assert response.json() == {
        "customer_oid": NEW_OID,
        "name": "New Customer",
        "message": "Customer registered successfully",
    }
    assert {"customer_oid": NEW_OID, "name": "New Customer"} in client.get("/customers").json()


def test_register_without_oid_generates_uuid4(client: TestClient) -> None:
    response = client.post("/register-customer", json={"name": "New Customer"})
    assert response.status_code == 200
    generated = response.json()["customer_oid"]
    assert uuid.UUID(generated).version == 4
    assert str(uuid.UUID(generated)) == generated
    assert client.get(f"/customer/{generated}/exists").json()["exists"] is True


def test_register_null_oid_generates_uuid4(client: TestClient) -> None:
    response = client.post(
        "/register-customer", json={"name": "New Customer", "customer_oid": None}
    )
    assert response.status_code == 200
    assert uuid.UUID(response.json()["customer_oid"]).version == 4


def test_register_strips_name(client: TestClient) -> None:
    response = client.post("/register-customer", json={"name": "  Ada Lovelace \t"})
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"


def test_register_duplicate_oid_is_409(client: TestClient) -> None:
    response = client.post(
        "/register-customer", json={"name": "Copy", "customer_oid": SAMPLE_OIDS[0]}
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Customer with CustomerOID '{SAMPLE_OIDS[0]}' already exists"
    }
    assert client.get(f"/customer/{SAMPLE_OIDS[0]}/exists").json()["name"] == "John Doe"


@pytest.mark.parametrize(
    "spelling",
    [
        "550E8400-E29B-41D4-A716-446655440001",
        "550e8400e29b41d4a716446655440001",
        "550E8400E29B41D4A716446655440001",
        "550E8400E29B-41D4-A716-446655440001",
    ],
)
def test_every_spelling_of_a_uuid_is_one_customer(client: TestClient, spelling: str) -> None:
    response = client.post("/register-customer", json={"name": "Copy", "customer_oid": spelling})
    assert response.status_code == 409
    assert SAMPLE_OIDS[0] in response.json()["detail"]
    exists = client.get(f"/customer/{spelling}/exists").json()
    assert exists == {"customer_oid": SAMPLE_OIDS[0], "exists": True, "name": "John Doe"}


def test_register_stores_canonical_oid(client: TestClient) -> None:
    response = client.post(
        "/register-customer", json={"name": "Upper", "customer_oid": NEW_OID.upper()}
    )
    assert response.status_code == 200
    assert response.json()["customer_oid"] == NEW_OID
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is True


def test_register_legacy_oid_is_kept_as_given(client: TestClient) -> None:
    response = client.post(
        "/register-customer", json={"name": "Legacy", "customer_oid": "CUST-0001"}
    )
    assert response.status_code == 200
    assert response.json()["customer_oid"] == "CUST-0001"
    assert client.get("/customer/CUST-0001/exists").json()["name"] == "Legacy"


@pytest.mark.parametrize(
    "name, problem",
    [
        ("A", "2 to 100 characters"),
        ("   A   ", "2 to 100 characters"),
        ("", "2 to 100 characters"),
        ("x" * 101, "2 to 100 characters"),
        ("Bad\x07Name", "control characters"),
        ("Line\nBreak", "control characters"),
    ],
)
def test_register_invalid_name_is_400(client: TestClient, name: str, problem: str) -> None:
    response = client.post("/register-customer", json={"name": name, "customer_oid": NEW_OID})
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False


def test_register_name_of_100_characters_is_accepted(client: TestClient) -> None:
    response = client.post("/register-customer", json={"name": "x" * 100})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "oid", ["not-a-uuid", "short", "lower-case-legacy", "550e8400-e29b-41d4-a716", "x" * 40]
)
def test_register_invalid_oid_is_400_with_expected_format(client: TestClient, oid: str) -> None:
    response = client.post("/register-customer", json={"name": "Valid Name", "customer_oid": oid})
    assert response.status_code == 400
    assert INVALID_OID_HINT in response.json()["detail"]
    assert len(client.get("/customers").json()) == 5


@pytest.mark.parametrize(
    "body, problem",
    [
        ("{", "not valid JSON"),
        ("", "request body: Field required"),
        ("[]", "valid dictionary"),
        ('{"customer_oid": "CUST-0001"}', "name: Field required"),
        ('{"name": 42}', "name: Input should be a valid string"),
    ],
)
def test_register_malformed_request_is_400(client: TestClient, body: str, problem: str) -> None:
    response = client.post(
        "/register-customer", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert len(client.get("/customers").json()) == 5


def test_register_name_with_unpaired_surrogate_is_400(client: TestClient) -> None:
    response = client.post(
        "/register-customer",
        content='{"name": "ab\\ud800cd"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Customer name must be valid Unicode: it contains an unpaired surrogate"
    }
    assert len(client.get("/customers").json()) == 5


def test_import_name_with_unpaired_surrogate_is_400_and_creates_nobody(client: TestClient) -> None:
    response = client.put(
        f"/user-portfolio/{NEW_OID}",
        content='{"user": {"name": "\\udc00 Eve"}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "unpaired surrogate" in response.json()["detail"]
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False


@pytest.mark.parametrize(
    "name, problem",
    [
        ("\u200b\u200b\u200b", "it contains U+200B (ZERO WIDTH SPACE)"),
        ("Eve \u202eveL", "it contains U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("Bob \u2066Smith", "it contains U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\ufeffAnna", "it contains U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("\u200c\u200d\u200c", "Customer name must contain a visible character"),
        ("\u200c\u3000\u200c", "Customer name must contain a visible character"),
    ],
)
def test_register_invisible_name_is_400_saying_which(
    client: TestClient, name: str, problem: str
) -> None:
    response = client.post("/register-customer", json={"name": name})
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert len(client.get("/customers").json()) == 5


@pytest.mark.parametrize(
    "name", ["Mehr\u200cAfarin", "\U0001f3f4\U000e0067\U000e0062\U000e007f Scot"]
)
def test_register_name_with_joiners_or_emoji_tags_is_stored_as_given(
    client: TestClient, name: str
) -> None:
    response = client.post("/register-customer", json={"name": name, "customer_oid": NEW_OID})
    assert response.status_code == 200
    assert client.get(f"/customer/{NEW_OID}/exists").json()["name"] == name


def test_name_pattern_in_the_schema_accepts_exactly_what_registration_accepts() -> None:
    def accepted(name: str) -> bool:
        try:
            clean_customer_name(name)
        except InvalidInput:
            return False
        return True

    pattern = re.compile(NAME_PATTERN)
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # no JSON Schema validator sees a lone surrogate as a character
        char = chr(code)
        for name in (f"ab{char}cd", char * 2):
            assert accepted(name) == bool(pattern.match(name)), (hex(code), name)


def test_exists_for_unknown_customer_is_200_with_exists_false(client: TestClient) -> None:
    response = client.get(f"/customer/{NEW_OID}/exists")
    assert response.status_code == 200
    assert response.json() == {
        "customer_oid": NEW_OID,
        "exists": False,
        "name": None,
    }


def test_exists_invalid_oid_is_400(client: TestClient) -> None:
    response = client.get("/customer/hello/exists")
    assert response.status_code == 400
    assert INVALID_OID_HINT in response.json()["detail"]


def test_delete_customer_returns_seed_shape(client: TestClient) -> None:
    response = client.delete(f"/customer/{SAMPLE_OIDS[2]}")
    assert response.status_code == 200
    assert response.json() == {
        "customer_oid": SAMPLE_OIDS[2],
        "message": "Customer and all associated data deleted successfully",
    }
    after = client.get(f"/customer/{SAMPLE_OIDS[2]}/exists")
    assert after.status_code == 200 and after.json()["exists"] is False
    assert len(client.get("/customers").json()) == 4


def test_delete_accepts_any_spelling(client: TestClient) -> None:
    response = client.delete(f"/customer/{SAMPLE_OIDS[2].upper().replace('-', '')}")
    assert response.status_code == 200
    assert response.json()["customer_oid"] == SAMPLE_OIDS[2]


def test_delete_unknown_customer_is_404(client: TestClient) -> None:
    response = client.delete(f"/customer/{NEW_OID}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Customer with CustomerOID '{NEW_OID}' not found"}


def test_delete_twice_is_404_the_second_time(client: TestClient) -> None:
    assert client.delete(f"/customer/{SAMPLE_OIDS[0]}").status_code == 200
    assert client.delete(f"/customer/{SAMPLE_OIDS[0]}").status_code == 404


def test_delete_invalid_oid_is_400_and_deletes_nothing(client: TestClient) -> None:
    response = client.delete("/customer/drop table users")
    assert response.status_code == 400
    assert INVALID_OID_HINT in response.json()["detail"]
    assert len(client.get("/customers").json()) == 5


def test_deleted_customer_reregistered_has_empty_portfolio(client: TestClient) -> None:
    assert client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()["portfolio_summary"]["has_data"][
        "derivatives"
    ]
    assert client.delete(f"/customer/{SAMPLE_OIDS[1]}").status_code == 200
    response = client.post(
        "/register-customer", json={"name": "Jane Again", "customer_oid": SAMPLE_OIDS[1]}
    )
    assert response.status_code == 200

    portfolio = client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()
    for collection in (
        "assets",
        "bank_accounts",
        "transactions",
        "spending",
        "derivative_transactions",
    ):
        assert portfolio[collection] == []
    assert set(portfolio["portfolio_summary"]["has_data"].values()) == {False}
    assert portfolio["portfolio_summary"]["total_cash_balance"] == 0
