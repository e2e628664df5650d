"""The REST API ``/api/v1``: one FastAPI router per resource, all over the services.

``create_app`` builds the application; ``crud`` builds the standard routes that every
directory resource shares, so each resource module only says what is particular to it.
"""
