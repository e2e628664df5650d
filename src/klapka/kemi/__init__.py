"""Code that runs inside Kamailio's embedded Python (KEMI): the standard library and
``klapka.routing`` only (a test holds it to that)."""
