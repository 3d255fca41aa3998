"""The catalogue as the mini program sees it: active products, priced in fen."""

from flask import Blueprint, jsonify

from ..extensions import db
from ..models import Product

bp = Blueprint("products", __name__)


@bp.get("/api/products")
def list_products():
    products = db.session.execute(
        db.select(Product).filter_by(active=True).order_by(Product.id)
    ).scalars()
    return jsonify({"products": [product.to_json() for product in products]})
