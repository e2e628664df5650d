"""G.711 (PCMU, PCMA) to and from 16-bit little-endian linear PCM, by lookup tables."""

from __future__ import annotations

import struct
import sys
import warnings
from array import array

PCMU = 0
PCMA = 8
NAMES = {PCMU: "PCMU", PCMA: "PCMA"}


def _ulaw_to_linear(u: int) -> int:
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if u & 0x80 else (t - 0x84)


def _alaw_to_linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if a & 0x80 else -t


def _linear_to_ulaw(pcm: int) -> int:
    pcm >>= 2  # 14-bit magnitude, as the ITU reference (and Sun's g711.c) do
    mask = 0xFF
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    pcm = min(pcm, 8159) + 0x21
    seg = 0
    while seg < 8 and pcm > (0x40 << seg) - 1:
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0x0F)) ^ mask


def _linear_to_alaw(pcm: int) -> int:
    sign = 0x00 if pcm < 0 else 0x80
    if pcm < 0:
        pcm = -pcm - 1
    pcm = min(pcm, 32767) >> 3  # 13-bit magnitude
    if pcm < 32:
        code = pcm >> 1
    else:
        exponent = pcm.bit_length() - 5  # 1..7
        code = (exponent << 4) | ((pcm >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


_DECODE = {
    PCMU: [struct.pack("<h", _ulaw_to_linear(i)) for i in range(256)],
    PCMA: [struct.pack("<h", _alaw_to_linear(i)) for i in range(256)],
}
# Encoding tables indexed by the unsigned 16-bit sample (sample & 0xFFFF).
_ENCODE = {
    PCMU: bytes(_linear_to_ulaw(s - 65536 if s > 32767 else s) for s in range(65536)),
    PCMA: bytes(_linear_to_alaw(s - 65536 if s > 32767 else s) for s in range(65536)),
}


def decode_tables(payload: bytes, codec: int) -> bytes:
    """G.711 bytes → 16-bit little-endian PCM (pure Python)."""
    table = _DECODE[codec]
    return b"".join([table[b] for b in payload])


def encode_tables(pcm: bytes, codec: int) -> bytes:
    """16-bit little-endian PCM → G.711 bytes (pure Python)."""
    samples = array("H")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    table = _ENCODE[codec]
    return bytes([table[s] for s in samples])


# The standard library's C codec where it still exists (Python < 3.13), 15 times faster; the
# tables give the same bytes (tests/media/test_sip_units.py compares them).
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop as _audioop
except ImportError:
    _audioop = None  # type: ignore[assignment]

if _audioop is not None and sys.byteorder == "little":
    _C_DECODE = {PCMU: _audioop.ulaw2lin, PCMA: _audioop.alaw2lin}
    _C_ENCODE = {PCMU: _audioop.lin2ulaw, PCMA: _audioop.lin2alaw}

    def decode(payload: bytes, codec: int) -> bytes:
        """G.711 bytes → 16-bit little-endian PCM."""
        return _C_DECODE[codec](payload, 2)

    def encode(pcm: bytes, codec: int) -> bytes:
        """16-bit little-endian PCM → G.711 bytes."""
        return _C_ENCODE[codec](pcm[: len(pcm) // 2 * 2], 2)

else:
    decode = decode_tables
    encode = encode_tables


def silence(codec: int, samples: int) -> bytes:
    return bytes([_ENCODE[codec][0]]) * samples
