"""The catalogue's demo content. Prices are integer fen and only ever come from the catalogue.

``DEMO_CATALOGUE`` is what a demo shop shows its customers (``flask --app server seed``).
``DEV_CATALOGUE`` adds a one-fen item for trying a real payment cheaply in development and
go-live testing; only ``seed --dev`` (which ``scripts/devstack.py`` uses) loads it.
"""

import io

from PIL import Image, ImageDraw

from ..extensions import db
from ..models import Product
from . import images

# Drinks and pastries are picked up at the counter; the beans are sent by post (``ships``:
# checkout asks for a delivery address).
DEMO_CATALOGUE = [
    {"name": "手冲咖啡", "description": "单一产地，现点现冲。", "price": 1800, "ships": False},
    {"name": "抹茶拿铁", "description": "石磨抹茶，燕麦奶。", "price": 2200, "ships": False},
    {"name": "黄油可颂", "description": "每天早上新鲜出炉。", "price": 1250, "ships": False},
    {
        "name": "云南咖啡豆 250克",
        "description": "保山小粒咖啡，中度烘焙，顺丰寄送。",
        "price": 6800,
        "ships": True,
    },
]

DEV_CATALOGUE = [
    {
        "name": "一分钱测试商品",
        "description": "开发和上线测试用：花一分钱试一笔真实支付。",
        "price": 1,
        "ships": False,
    },
]


# The demo products' pictures, drawn here (no image files in the repository): a cup, a
# croissant's crescent or a bag of beans on the colour of the product.
DEMO_PICTURES = {
    "手冲咖啡": ((111, 78, 55), "cup"),
    "抹茶拿铁": ((120, 160, 90), "cup"),
    "黄油可颂": ((214, 160, 80), "crescent"),
    "云南咖啡豆 250克": ((70, 50, 40), "bag"),
}


def seed_catalogue(dev=False, media_dir=None, stores=None):
    """Add the demo products that are missing (by name); returns how many were added. With
    ``media_dir`` (MEDIA_DIR), the added ones get their pictures. ``stores``: a service
    provider's store names, each given the demo catalogue."""
    existing = {tuple(row) for row in db.session.execute(db.select(Product.name, Product.store))}
    wanted = DEMO_CATALOGUE + (DEV_CATALOGUE if dev else [])
    wanted = [{**item, "store": store} for store in (stores or [None]) for item in wanted]
    added = [Product(**item) for item in wanted if (item["name"], item["store"]) not in existing]
    if media_dir:
        for product in added:
            if product.name in DEMO_PICTURES:
                product.image = images.store(demo_picture(*DEMO_PICTURES[product.name]), media_dir)
    db.session.add_all(added)
    db.session.commit()
    return len(added)


def demo_picture(colour, shape):
    """A 960 x 720 PNG of ``shape`` on a light shade of ``colour``."""
    light = tuple(255 - (255 - c) // 5 for c in colour)
    picture = Image.new("RGB", (960, 720), light)
    draw = ImageDraw.Draw(picture)
    if shape == "cup":
        draw.rounded_rectangle((330, 260, 630, 560), radius=40, fill=colour)
        draw.ellipse((590, 320, 720, 460), outline=colour, width=30)
        draw.ellipse((260, 540, 700, 600), fill=tuple(c // 2 for c in colour))
    elif shape == "crescent":
        draw.ellipse((250, 200, 710, 560), fill=colour)
        draw.ellipse((330, 120, 790, 480), fill=light)
    else:  # a bag
        draw.polygon([(340, 180), (620, 180), (660, 600), (300, 600)], fill=colour)
        draw.rectangle((340, 160, 620, 200), fill=tuple(c // 2 for c in colour))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def save_product(product, *, name, description, price, active, ships=None, image=None):
    """Create (``product`` None) or change a product; ``price`` in fen. Returns it. Commits.

    Orders keep the name and price they were placed with (OrderItem), so a change here never
    alters an order already placed; a deactivated (hidden) product just can't be ordered any
    more, and is not deleted. ``ships``: whether it is sent to the customer (None: unchanged).
    ``image``: the key of a picture ``images.store`` kept (None: unchanged).
    """
    if not isinstance(price, int) or price <= 0:
        raise ValueError("price must be a positive number of fen")
    product = product or Product()
    product.name, product.description = name.strip(), (description or "").strip()
    product.price, product.active = price, bool(active)
    if ships is not None:
        product.ships = bool(ships)
    elif product.ships is None:
        product.ships = False
    if image is not None:
        product.image = image
    db.session.add(product)
    db.session.commit()
    return product
