"""The PBX directory as data: settings models, value types and validation rules (no I/O)."""
