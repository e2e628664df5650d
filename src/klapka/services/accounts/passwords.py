"""Password hashing (argon2) for portal passwords and API tokens."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except VerificationError:
        return False


def token_digest(token: str) -> str:
    """API tokens are long random strings, so a fast hash is safe and lookups stay O(1)."""
    return hashlib.sha256(token.encode()).hexdigest()
