"""Each Kamailio process gets OpenSSL state of its own (runs in every process's child_init).

OpenSSL 3 keeps per-thread state (the error queue; the random generators) behind thread-local
keys and allocates it on first use with Kamailio's shared-memory allocator, which the tls
module installs. Kamailio's main process touches that state while it loads the certificate,
before it forks its workers: every worker then inherits the same key values, so all of them
use one error queue in shared memory at the same time, without a lock. Garbage on the TLS
port (a port scanner, a phone speaking plain SIP to it) makes two TCP readers push errors at
once: double frees, a corrupted shared heap, and Kamailio's TCP processes crash. Kamailio
5.6 (Debian 12) has no fix of its own; 5.8 added ``tls_threads_mode``, which does what this
does: in each new process, forget the inherited state so that OpenSSL allocates its own.

Which keys hold that state is asked of OpenSSL itself (the values its accessors return are the
values stored under its keys), so keys owned by others (the Python interpreter's) are left
alone.
"""

from __future__ import annotations

import ctypes
import os

LIBCRYPTO = "libcrypto.so.3"
KEYS_SCANNED = 128  # pthread keys are small integers handed out in order; OpenSSL has 6


def own_openssl_state() -> int:
    """Detach this process from the OpenSSL thread state it inherited at fork; returns how
    many thread-local keys were reset (0 when OpenSSL is not loaded in this Kamailio)."""
    try:
        crypto = ctypes.CDLL(LIBCRYPTO, mode=os.RTLD_NOLOAD)
    except OSError:
        return 0  # no TLS in this Kamailio: nothing of OpenSSL's to share
    libc = ctypes.CDLL(None)
    get_specific = libc.pthread_getspecific
    get_specific.argtypes, get_specific.restype = [ctypes.c_uint], ctypes.c_void_p
    set_specific = libc.pthread_setspecific
    set_specific.argtypes, set_specific.restype = [ctypes.c_uint, ctypes.c_void_p], ctypes.c_int
    for name, argtypes in (
        ("ERR_get_state", []),
        ("OSSL_LIB_CTX_get0_global_default", []),
        ("RAND_get0_public", [ctypes.c_void_p]),
        ("RAND_get0_private", [ctypes.c_void_p]),
    ):
        function = getattr(crypto, name)
        function.argtypes, function.restype = argtypes, ctypes.c_void_p
    context = crypto.OSSL_LIB_CTX_get0_global_default()
    inherited = {
        crypto.ERR_get_state(),
        crypto.RAND_get0_public(context),
        crypto.RAND_get0_private(context),
    } - {None, 0}
    reset = 0
    for key in range(KEYS_SCANNED):
        value = get_specific(key)
        if value and value in inherited:
            set_specific(key, None)
            reset += 1
    crypto.ERR_clear_error()  # allocates this process's own error queue now
    return reset
