"""The shop's rules, with no Flask: one function per state change (a compare-and-set).

The HTTP surfaces (api/, console/, callbacks/) and the CLI (cli/) call these functions and turn
their results and their ``DomainError``s (server/errors.py) into JSON, pages or exit codes.
What a function needs from outside (the WeChat Pay gateway, appid, mchid, notify URLs, limits
from the settings) it is given as an argument; nothing here reads the Flask app or a request
(tests/test_layout.py checks). The database is reached through ``server.extensions.db``.
"""
