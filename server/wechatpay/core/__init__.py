"""What every WeChat Pay product and both API versions share: ``http`` (the pooled session,
failover to the backup domain, time budgets), ``errors`` (the typed errors) and ``types`` (the
data classes and the ``Gateway`` protocol the app talks to)."""
