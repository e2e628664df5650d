"""Desk-phone provisioning: the configuration file each phone fetches over HTTP(S) at
``/provisioning/``, its remote phonebook, who may fetch them, and "re-provision" (a SIP
NOTIFY ``check-sync``). See docs/provisioning.md."""
