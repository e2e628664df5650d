"""The SIP core: Kamailio's configuration, its process, and the KEMI adapter that asks the
routing engine what to do with each call."""
