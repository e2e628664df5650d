"""The SIP core supervised: Kamailio's configuration, its process, the directory snapshot and
the control socket that the code running inside it (``klapka.kemi``) reads and asks. It uses
the services; they talk to the running core over its RPC (``klapka.services.telephony``)."""
