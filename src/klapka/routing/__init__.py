"""The call routing engine: pure, deterministic, standard library only.

Kamailio's embedded Python imports this package as it is, so nothing here may import
third-party code or the rest of klapka.
"""
