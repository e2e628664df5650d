"""Use cases shared by the REST API, the web UI and the CLI: transactions, rules, audit."""
