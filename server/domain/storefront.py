"""A service provider's shop: which store a checkout is for (server/stores.py).

In a provider deployment every product belongs to a store (``products.store``) and every order
is one store's (its channel's sub_mchid), because WeChat Pay settles each order to one
sub-merchant: a checkout is for one store. A cart with products of two stores is refused
(CART_SPANS_STORES) rather than split, so one payment is always one order the customer sees
and one line in one store's bill; the mini program keeps one cart per store. No Flask here.
"""

from ..errors import DomainError
from ..extensions import db
from ..models import Product


def store_of(lines, stores):
    """The store (``stores.Store``) that sells every product of ``lines`` ([(id, quantity)]).
    PRODUCT_NOT_FOUND for a product of no configured store (it cannot be paid for: a
    provider does not trade for itself), CART_SPANS_STORES for products of two stores."""
    ids = [product_id for product_id, _ in lines]
    found = dict(
        db.session.execute(
            db.select(Product.id, Product.store).where(
                Product.id.in_(ids), Product.active.is_(True)
            )
        ).all()
    )
    by_name = {store.name: store for store in stores}
    for product_id in ids:
        if found.get(product_id) not in by_name:
            raise DomainError("PRODUCT_NOT_FOUND", f"no product with id {product_id}")
    names = {found[product_id] for product_id in ids}
    if len(names) > 1:
        raise DomainError(
            "CART_SPANS_STORES",
            "these products are sold by different stores: pay for each store's separately",
            stores=sorted(names),
        )
    return by_name[names.pop()]
