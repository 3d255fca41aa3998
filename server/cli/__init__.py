"""Every ``flask --app server ...`` command, one module per area, registered one way.

    seed                                      catalogue.py  the demo catalogue
    payments sync | close-expired             payments.py   the periodic jobs (their old
                                                            names: reconcile, close-expired)
    refund, refund-requests, refunds          refunds.py    refunds and users' requests
    bills reconcile | resolve                 bills.py      the daily check of WeChat's bill
    shipping ship | status | managed | sync   shipping.py   shipping info for WeChat
    staff create | disable | reset-password   staff.py      console accounts
    doctor                                    doctor.py     the WeChat Pay settings, checked

Each module lists its commands in ``COMMANDS``, made with ``common.command`` / ``common.group``;
``register(app)`` adds them all with ``app.cli.add_command``. The commands call the same domain
functions as the API and the console.
"""

from . import bills, catalogue, doctor, payments, refunds, shipping, staff

MODULES = (catalogue, payments, refunds, bills, shipping, staff, doctor)


def register(app):
    for module in MODULES:
        for command in module.COMMANDS:
            app.cli.add_command(command)
