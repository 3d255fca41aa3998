"""The catalogue's demo content. Prices are integer fen and only ever come from the catalogue.

``DEMO_CATALOGUE`` is what a demo shop shows its customers (``flask --app server seed``).
``DEV_CATALOGUE`` adds a one-fen item for trying a real payment cheaply in development and
go-live testing; only ``seed --dev`` (which ``scripts/devstack.py`` uses) loads it.
"""

from ..extensions import db
from ..models import Product

DEMO_CATALOGUE = [
    {"name": "手冲咖啡", "description": "单一产地，现点现冲。", "price": 1800},
    {"name": "抹茶拿铁", "description": "石磨抹茶，燕麦奶。", "price": 2200},
    {"name": "黄油可颂", "description": "每天早上新鲜出炉。", "price": 1250},
]

DEV_CATALOGUE = [
    {
        "name": "一分钱测试商品",
        "description": "开发和上线测试用：花一分钱试一笔真实支付。",
        "price": 1,
    },
]


def seed_catalogue(dev=False, stores=None):
    """Add the demo products that are missing (by name); returns how many were added.
    ``stores``: a service provider's store names, each given the demo catalogue."""
    existing = {tuple(row) for row in db.session.execute(db.select(Product.name, Product.store))}
    wanted = DEMO_CATALOGUE + (DEV_CATALOGUE if dev else [])
    wanted = [{**item, "store": store} for store in (stores or [None]) for item in wanted]
    added = [Product(**item) for item in wanted if (item["name"], item["store"]) not in existing]
    db.session.add_all(added)
    db.session.commit()
    return len(added)


def save_product(product, *, name, description, price, active):
    """Create (``product`` None) or change a product; ``price`` in fen. Returns it. Commits.

    Orders keep the name and price they were placed with (OrderItem), so a change here never
    alters an order already placed; a deactivated product just can't be ordered any more.
    """
    if not isinstance(price, int) or price <= 0:
        raise ValueError("price must be a positive number of fen")
    product = product or Product()
    product.name, product.description = name.strip(), (description or "").strip()
    product.price, product.active = price, bool(active)
    db.session.add(product)
    db.session.commit()
    return product
