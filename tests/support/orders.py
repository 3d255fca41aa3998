"""Orders on a running stack: one the user has paid, one made to look abandoned."""

from datetime import timedelta

from server.extensions import db
from server.models import Order
from server.timeutil import utcnow
from tests.support import wait_for

COFFEE = 1800  # fen: the first product of the demo catalogue


def paid_order(stack, auth=None, quantity=1):
    """(auth headers, order JSON) of an order the user has paid and the backend knows is PAID."""
    auth = auth or stack.login()
    created = stack.create_order(
        auth, [{"product_id": stack.products()[0]["id"], "quantity": quantity}]
    ).json()
    stack.cashier(created["pay_params"])
    order_id = created["order"]["id"]
    wait_for(lambda: stack.order(auth, order_id).json()["order"]["status"] == "PAID")
    return auth, stack.order(auth, order_id).json()["order"]


def expire(stack, order_id):
    """Make an order an hour old and past its time_expire."""
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order_id)
            .values(
                created_at=utcnow() - timedelta(hours=1),
                time_expire=utcnow() - timedelta(minutes=1),
            )
        )
        db.session.commit()
