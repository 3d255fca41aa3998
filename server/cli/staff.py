"""``flask --app server staff create|disable|reset-password|reset-second-factor``: staff
accounts from a shell.

A password is prompted for (twice, hidden) or, with ``--generate``, made up and printed once.
It is never stored in clear or logged; each command is written to the audit log as "cli".
"""

import click

from ..channels import store_named
from ..domain import second_factor
from ..domain import staff as accounts
from ..domain.audit import record
from ..errors import DomainError
from ..models.staff import CHINESE, LANGUAGES
from . import common


@common.group("staff")
def group():
    """Staff accounts for the console."""


def _password(generate):
    if generate:
        return accounts.new_password()
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _show(password, generate):
    if generate:
        click.echo(f"password (shown once; store it now): {password}")


@group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--generate", is_flag=True, help="make up a password and print it once")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default=CHINESE,
    show_default=True,
    help="the console's language for this person (they can switch it in the console)",
)
@click.option(
    "--store",
    default=None,
    help="a service provider's store (WECHATPAY_STORES): the account sees only its orders, "
    "refunds and reconciliation",
)
def create(email, role, generate, language, store):
    """Create a staff account."""
    accounts.normalise_email(email)  # before asking for a password
    if store is not None and store_named(store) is None:
        raise DomainError("STORE_NOT_FOUND", f"no store {store[:26]!r} in WECHATPAY_STORES")
    password = _password(generate)
    user = accounts.create(email, role, password, language=language, store=store)
    details = {"role": role, "language": language, **({"store": store} if store else {})}
    record("cli", "staff.create", f"staff:{user.email}", details)
    click.echo(f"created {user.role} {user.email}")
    _show(password, generate)


@group.command("disable")
@click.argument("email")
def disable(email):
    """Disable an account; its sessions end at once."""
    user = accounts.disable(email)
    record("cli", "staff.disable", f"staff:{user.email}")
    click.echo(f"disabled {user.email}")


@group.command("reset-password")
@click.argument("email")
@click.option("--generate", is_flag=True, help="make up a password and print it once")
def reset_password(email, generate):
    """Set a new password: ends its sessions, lifts a lockout, enables the account."""
    accounts.existing(email)  # before asking for a password
    password = _password(generate)
    user = accounts.reset_password(email, password)
    record("cli", "staff.reset_password", f"staff:{user.email}")
    click.echo(f"new password set for {user.email}")
    _show(password, generate)


@group.command("reset-second-factor")
@click.argument("email")
def reset_second_factor(email):
    """Remove an account's second factor (a lost phone): ends its sessions; it logs in with the
    password alone until it sets up a new one (admins must, where CONSOLE_ADMIN_TOTP requires)."""
    user = accounts.existing(email)
    second_factor.reset(user)
    record("cli", "second_factor.reset", f"staff:{user.email}")
    click.echo(f"second factor removed for {user.email}")


COMMANDS = (group,)
