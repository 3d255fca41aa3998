"""Shipping on a running stack, as the shop does it."""


def ship(stack, order_id, *args):
    """``flask shipping ship`` as the shop runs it; (exit code, output)."""
    with stack.app.app_context():
        result = stack.app.test_cli_runner().invoke(args=["shipping", "ship", str(order_id), *args])
    return result.exit_code, result.output
