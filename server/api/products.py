"""The catalogue as the mini program sees it: active products (hidden ones are not shown),
priced in fen, with whether each ships and its image's URLs; and a service provider's stores
(``GET /api/stores``, ``GET /api/products?store=...``)."""

from flask import Blueprint, jsonify, request

from ..channels import all_stores, is_provider
from ..errors import DomainError
from ..extensions import db
from ..media import image_urls
from ..models import Product

bp = Blueprint("products", __name__)


@bp.get("/api/products")
def list_products():
    query = db.select(Product).filter_by(active=True).order_by(Product.id)
    if is_provider():  # only what a store sells can be paid for
        query = query.where(Product.store.in_([store.name for store in all_stores()]))
    if "store" in request.args:
        if request.args["store"] not in {store.name for store in all_stores()}:
            raise DomainError("INVALID_REQUEST", "no such store (GET /api/stores lists them)")
        query = query.where(Product.store == request.args["store"])
    products = db.session.execute(query).scalars()
    return jsonify(
        {
            "products": [
                {**product.to_json(), "image": image_urls(product.image)} for product in products
            ]
        }
    )


@bp.get("/api/stores")
def list_stores():
    """The stores a service provider's mini program sells for (none for a direct merchant)."""
    return jsonify(
        {
            "mode": "provider" if is_provider() else "direct",
            "stores": [{"name": s.name, "title": s.title} for s in all_stores()],
        }
    )
