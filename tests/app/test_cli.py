"""The command line: every command registered one way (server/cli/), the periodic jobs under
names that say what they do, and their old names still working for units and scripts."""

import pytest

COMMANDS = {
    "seed",
    "payments",
    "refund",
    "refund-requests",
    "refunds",
    "bills",
    "shipping",
    "staff",
    "doctor",
}
# Old name -> (group, command) it stands for.
ALIASES = {"reconcile": ("payments", "sync"), "close-expired": ("payments", "close-expired")}


def listed(output):
    """The command names ``--help`` lists."""
    lines = output.split("Commands:")[1].splitlines()
    return {line.split()[0] for line in lines if line.startswith("  ")}


@pytest.mark.database_agnostic
def test_every_command_is_registered_and_old_names_are_hidden_aliases(stack):
    cli = stack.app.cli
    assert set(cli.commands) - {"db"} == COMMANDS | set(ALIASES)
    for old, (group, name) in ALIASES.items():
        alias, new = cli.commands[old], cli.commands[group].commands[name]
        assert alias.hidden and alias.callback is new.callback
        assert [p.name for p in alias.params] == [p.name for p in new.params]
    shown = stack.app.test_cli_runner().invoke(args=["--help"]).output
    assert listed(shown) >= COMMANDS and not listed(shown) & set(ALIASES)
    jobs = stack.app.test_cli_runner().invoke(args=["payments", "--help"]).output
    assert listed(jobs) == {"sync", "close-expired"}
    assert listed(stack.app.test_cli_runner().invoke(args=["bills", "--help"]).output) == {
        "reconcile",
        "resolve",
    }


def test_the_jobs_run_under_their_new_names(stack):
    auth = stack.login()
    created = stack.create_order(auth).json()
    stack.control("faults", kind="notify", action="drop", times=1)
    stack.cashier(created["pay_params"])  # paid at WeChat; the notification is lost
    assert stack.cli("payments", "sync", "--older-than", "0").startswith("reconciled 1 orders")
    assert stack.query("SELECT status FROM orders") == [("PAID",)]
    assert stack.cli("payments", "close-expired").startswith("closed 0 of 0 expired orders")
