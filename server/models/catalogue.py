"""The catalogue: what the shop sells, priced in fen."""

from ..extensions import db


class Product(db.Model):
    __tablename__ = "products"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(100), nullable=False)
    description = db.Column(db.String(500), nullable=False, default="")
    price = db.Column(db.Integer, nullable=False)  # fen
    active = db.Column(db.Boolean, nullable=False, default=True)  # False: hidden, not deleted
    # Goods sent to the customer (coffee beans): checkout asks for a delivery address. A drink
    # picked up at the counter does not ship.
    ships = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # The uploaded picture: the hash its resized files are named by (server/domain/images.py);
    # None for no picture.
    image = db.Column(db.String(64))
    # A service provider's store (server/stores.py) the product is sold for; None for a
    # direct merchant's.
    store = db.Column(db.String(26), index=True)

    __table_args__ = (db.CheckConstraint("price > 0", name="price_positive"),)

    def to_json(self):
        found = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "price": self.price,
            "ships": self.ships,
        }
        if self.store:  # a service provider's store (a direct merchant's products have none)
            found["store"] = self.store
        return found
