"""klapka: an open-source IP PBX."""

__version__ = "0.1.0"
