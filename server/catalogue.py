"""The catalogue's demo content. Prices are integer fen and only ever come from the catalogue."""
from .extensions import db
from .models import Product

DEMO_CATALOGUE = [
    {"name": "Pour-over coffee", "description": "Single origin, brewed to order.", "price": 1800},
    {"name": "Matcha latte", "description": "Stone-ground matcha, oat milk.", "price": 2200},
    {"name": "Butter croissant", "description": "Baked every morning.", "price": 1250},
    {"name": "One-fen test item", "description": "For trying a real payment cheaply.",
     "price": 1},
]


def seed_catalogue():
    """Add the demo products that are missing (by name); returns how many were added."""
    existing = set(db.session.execute(db.select(Product.name)).scalars())
    added = [Product(**item) for item in DEMO_CATALOGUE if item["name"] not in existing]
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
