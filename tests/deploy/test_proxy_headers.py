"""Headers a client controls: X-Forwarded-For behind a trusted proxy, Host and X-Forwarded-Host
(issue 11, classes 4 and 6)."""

import pytest
import requests


@pytest.fixture
def proxied(make_stack):
    """A backend behind one trusted proxy that answers only for its own host name."""
    return make_stack(TRUSTED_PROXY_COUNT="1", TRUSTED_HOSTS="127.0.0.1")


def stored_client_ip(stack, order_id):
    return stack.query("SELECT client_ip FROM orders WHERE id = :id", id=order_id)[0][0]


@pytest.mark.parametrize(
    "forwarded",
    [
        "not-an-ip",
        "1" * 300,
        "203.0.113.7<script>",
        "fe80::1%eth0",
        "",
        "999.1.1.1",
        "1.2.3.4:5678",
        "\u0661.2.3.4".encode(),
    ],
)
def test_a_forwarded_for_that_is_not_an_address_falls_back_to_the_socket(proxied, forwarded):
    auth = proxied.login()
    items = [{"product_id": proxied.products()[0]["id"], "quantity": 1}]
    response = requests.post(
        f"{proxied.backend}/api/orders",
        json={"items": items},
        headers={**auth, "X-Forwarded-For": forwarded},
    )
    assert response.status_code == 201, response.text
    assert stored_client_ip(proxied, response.json()["order"]["id"]) == "127.0.0.1"


@pytest.mark.parametrize(
    "forwarded, stored", [("203.0.113.7", "203.0.113.7"), ("2001:DB8::1", "2001:db8::1")]
)
def test_a_forwarded_address_is_kept_normalised(proxied, forwarded, stored):
    auth = proxied.login()
    items = [{"product_id": proxied.products()[0]["id"], "quantity": 1}]
    response = requests.post(
        f"{proxied.backend}/api/orders",
        json={"items": items},
        headers={**auth, "X-Forwarded-For": forwarded},
    )
    assert response.status_code == 201, response.text
    assert stored_client_ip(proxied, response.json()["order"]["id"]) == stored


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}, {"Host": "evil.example:443"}],
)
@pytest.mark.database_agnostic
def test_requests_for_an_untrusted_host_are_refused(proxied, headers):
    response = requests.get(f"{proxied.backend}/api/products", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "UNTRUSTED_HOST"


@pytest.mark.database_agnostic
def test_the_trusted_host_is_served(proxied):
    assert requests.get(f"{proxied.backend}/api/products").status_code == 200
