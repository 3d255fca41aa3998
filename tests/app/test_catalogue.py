"""The demo catalogue: what a shop shows by default, and the development-only one-fen item."""

import requests

from server.domain.catalogue import DEMO_CATALOGUE, DEV_CATALOGUE


def shown(stack):
    return {
        p["name"]: p["price"]
        for p in requests.get(f"{stack.backend}/api/products").json()["products"]
    }


def test_seed_adds_the_shop_items_and_only_seed_dev_the_one_fen_item(make_stack):
    stack = make_stack()  # seeded like `flask --app server seed`
    assert shown(stack) == {item["name"]: item["price"] for item in DEMO_CATALOGUE}
    assert 1 not in shown(stack).values(), "no one-fen item in what customers see"

    assert "added 0 products" in stack.cli("seed")
    assert "added 1 products" in stack.cli("seed", "--dev")
    assert shown(stack)[DEV_CATALOGUE[0]["name"]] == 1
    assert "added 0 products" in stack.cli("seed", "--dev")


def test_an_unknown_store_is_a_clear_400_and_a_nul_byte_no_500(make_stack):
    # A direct merchant has no stores; the fuzzer once got a 500 from PostgreSQL with "\x00".
    stack = make_stack()
    for store in ("nope", "\x00"):
        answer = requests.get(f"{stack.backend}/api/products", params={"store": store})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "INVALID_REQUEST"
