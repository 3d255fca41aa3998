"""The order's description, which WeChat shows on the user's bill: in the shop's language, and
within WeChat Pay's 127 characters (counted as characters, not bytes, and no character of 4
UTF-8 bytes: docs/protocol.md, C1 and E)."""

import requests

from server.domain.checkout import MAX_DESCRIPTION, description
from server.models import OrderItem


def items(*lines):
    return [OrderItem(name=name, quantity=quantity) for name, quantity in lines]


def test_one_thing_is_its_name_and_more_are_counted():
    assert description(items(("手冲咖啡", 1))) == "手冲咖啡"
    assert description(items(("手冲咖啡", 2), ("黄油可颂", 1))) == "手冲咖啡等3件"
    assert description(items(("手冲咖啡", 2))) == "手冲咖啡等2件"
    english = items(("Pour-over", 1), ("Croissant", 2))
    assert description(english, "en") == "Pour-over and 2 more items"
    assert (
        description(items(("Pour-over", 1), ("Croissant", 1)), "en") == "Pour-over and 1 more item"
    )


def test_a_long_name_is_shortened_and_the_count_kept():
    name = "云南保山小粒咖啡豆" * 20  # 180 characters, 540 bytes
    alone = description(items((name, 1)))
    assert len(alone) == MAX_DESCRIPTION == 127 and alone.endswith("…")
    several = description(items((name, 1), ("手冲咖啡", 99)))
    assert len(several) == 127 and several.endswith("…等100件")
    # Characters, not bytes: 127 Chinese characters are 381 bytes, and WeChat takes them.
    assert len(several.encode()) > 127


def test_characters_of_four_bytes_are_dropped():
    assert description(items(("☕️手冲咖啡🫘", 1))) == "☕️手冲咖啡"  # ☕ is 3 bytes; 🫘 is 4
    assert all(len(c.encode()) <= 3 for c in description(items(("🫘" * 200, 1))))
    assert description(items(("🫘", 2))) == "商品等2件"


def test_wechat_is_sent_the_chinese_description(stack):
    auth = stack.login()
    products = stack.products()
    order = stack.create_order(
        auth,
        [
            {"product_id": products[0]["id"], "quantity": 2},
            {"product_id": products[2]["id"], "quantity": 1},
        ],
    ).json()["order"]
    assert order["description"] == f"{products[0]['name']}等3件"
    wechat = requests.get(f"{stack.sandbox}/sandbox/orders/{order['out_trade_no']}").json()
    assert wechat["order"]["description"] == order["description"]
