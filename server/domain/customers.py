"""Customers and the WeChat users they pay as. No Flask here.

    sign_in(appid, openid, unionid=..., session_key=...)   the user of this (appid, openid),
                                                           created on first sight, in the
                                                           customer its unionid names

A person has one openid per appid, so the mini program and the official account each know
them by another; only a unionid says two openids are one person. The rules
(``server/models/users.py`` says why):

- a new (appid, openid) joins the customer of its unionid, if one has it; else a new customer;
- a known user whose unionid WeChat now gives (it comes once the apps are bound to one
  open-platform account, or the user follows the official account) takes its whole customer
  into the customer that already has that unionid, or gives the unionid to its own;
- a unionid never moves a user out of a customer that has a different one (WeChat gives a
  person one unionid; a contradiction is logged, not acted on).

Every step is a row insert or an UPDATE that unique constraints guard ((appid, openid) for
users, unionid for customers), so two first logins at once end with one user and one customer:
the loser's transaction fails, and ``sign_in`` tries again on what the winner wrote.
"""

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import DomainError
from ..extensions import db
from ..models import Customer, User
from ..timeutil import utcnow

log = logging.getLogger(__name__)

ATTEMPTS = 3


def sign_in(appid, openid, *, unionid=None, session_key=None):
    """The User of ``openid`` under ``appid`` after a login, created (with its customer) on
    first sight; ``session_key`` refreshed, a new ``unionid`` applied as the module says.
    Commits. CONFLICT when concurrent logins kept winning the race."""
    for _ in range(ATTEMPTS):
        try:
            user = _sign_in(appid, openid, unionid, session_key)
            db.session.commit()
            return user
        except IntegrityError:
            db.session.rollback()
    raise DomainError("CONFLICT", "login raced with another login; try again")


def _sign_in(appid, openid, unionid, session_key):
    user = db.session.execute(
        select(User).where(User.appid == appid, User.openid == openid)
    ).scalar_one_or_none()
    if user is None:
        customer = _customer_of(unionid) if unionid else None
        if customer is None:
            customer = Customer(unionid=unionid)
            db.session.add(customer)
            db.session.flush()  # a concurrent first login of this unionid fails here
        user = User(customer_id=customer.id, appid=appid, openid=openid)
        db.session.add(user)
    elif unionid and user.unionid != unionid:
        _join(user, unionid)
    user.unionid = unionid or user.unionid
    user.session_key = session_key
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def _customer_of(unionid):
    return db.session.execute(
        select(Customer).where(Customer.unionid == unionid)
    ).scalar_one_or_none()


def _join(user, unionid):
    """``user``'s customer learns ``unionid``: merged into the customer that has it, or
    given it."""
    own = db.session.get(Customer, user.customer_id)
    other = _customer_of(unionid)
    if own.unionid not in (None, unionid):
        log.warning(
            "user %s: WeChat gives unionid %s, its customer %s has another; left apart",
            user.id,
            unionid,
            own.id,
        )
        return
    if other is None:
        own.unionid = unionid
    elif other.id != own.id:
        merge(own, into=other)


def merge(customer, *, into):
    """Every user of ``customer`` becomes ``into``'s, and ``customer`` goes. Orders follow
    their users, so nothing else moves."""
    db.session.execute(
        update(User)
        .where(User.customer_id == customer.id)
        .values(customer_id=into.id)
        .execution_options(synchronize_session="fetch")
    )
    db.session.execute(delete(Customer).where(Customer.id == customer.id))
    db.session.expunge(customer)
    log.info("customer %s merged into customer %s (unionid)", customer.id, into.id)


def user_ids(customer_id):
    """A statement for the ids of a customer's users (their orders are the customer's)."""
    return select(User.id).where(User.customer_id == customer_id)


def same_customer(user_id, user):
    """Whether the user ``user_id`` (None: no user) is ``user`` or another user of its
    customer."""
    if user_id is None:
        return False
    return (
        user_id == user.id
        or db.session.execute(select(User.customer_id).where(User.id == user_id)).scalar()
        == user.customer_id
    )
