"""The mini program's JSON API: login, catalogue, orders. Errors are JSON with stable codes."""
