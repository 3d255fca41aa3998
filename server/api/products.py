"""The catalogue as the mini program sees it: active products (hidden ones are not shown),
priced in fen, with whether each ships and its image's URLs."""

from flask import Blueprint, jsonify

from ..extensions import db
from ..media import image_urls
from ..models import Product

bp = Blueprint("products", __name__)


@bp.get("/api/products")
def list_products():
    products = db.session.execute(
        db.select(Product).filter_by(active=True).order_by(Product.id)
    ).scalars()
    return jsonify(
        {
            "products": [
                {**product.to_json(), "image": image_urls(product.image)} for product in products
            ]
        }
    )
