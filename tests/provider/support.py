"""A service provider's deployment for the tests: two stores (sub-merchants) in the provider's
own mini program (the centralised shape), each with a product."""

import requests
from sqlalchemy import select

from server.extensions import db
from server.models import Product

TEA, NOODLES = "1900000101", "1900000102"
CENTRALISED = {
    "WECHATPAY_MODE": "provider",
    "WECHATPAY_STORES": "tea,noodles",
    "WECHATPAY_STORE_TEA_SUB_MCHID": TEA,
    "WECHATPAY_STORE_TEA_NAME": "茶铺",
    "WECHATPAY_STORE_NOODLES_SUB_MCHID": NOODLES,
    "WECHATPAY_STORE_NOODLES_NAME": "面馆",
    # The simulator: both bound to the provider, which is the simulated merchant.
    "SANDBOX_SUB_MERCHANTS": f"{TEA},{NOODLES}",
}


def add_store_products(stack):
    """{store name: product id}: one product for each store."""
    with stack.app.app_context():
        products = {
            "tea": Product(name="龙井", description="", price=3200, store="tea"),
            "noodles": Product(name="牛肉面", description="", price=2500, store="noodles"),
        }
        db.session.add_all(products.values())
        db.session.commit()
        return {name: product.id for name, product in products.items()}


def buy(stack, openid, product_id, quantity=1):
    """A user logs in and checks out one product: (auth, the API's answer JSON)."""
    auth = stack.login(openid)
    response = stack.create_order(auth, [{"product_id": product_id, "quantity": quantity}])
    assert response.status_code == 201, response.text
    return auth, response.json()


def at_wechat(stack, out_trade_no):
    return requests.get(f"{stack.sandbox}/sandbox/orders/{out_trade_no}").json()["order"]


def status(stack, order_id):
    return stack.query("SELECT status FROM orders WHERE id = :id", id=order_id)[0][0]


def product_store(stack, product_id):
    with stack.app.app_context():
        return db.session.execute(select(Product.store).filter_by(id=product_id)).scalar_one()
