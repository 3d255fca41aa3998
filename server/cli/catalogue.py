"""``flask --app server seed``: the demo catalogue."""

import click

from ..domain.catalogue import seed_catalogue
from . import common


@common.command("seed")
@click.option(
    "--dev", is_flag=True, help="also the one-fen test item (development and go-live testing only)"
)
def seed(dev):
    """Load the demo catalogue (adds only missing products)."""
    click.echo(f"added {seed_catalogue(dev=dev)} products")


COMMANDS = (seed,)
