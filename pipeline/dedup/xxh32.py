"""xxHash32 of a byte range, bit-identical to `xxhash.xxh32_intdigest` (the shingle hashfunc).

Hand-written because it runs inside the numba shingle loop: calling the xxhash library
there would mean one Python object and one call per shingle, which is where datasketch
spends its time.  datasketch accepts `hashfunc=xxhash.xxh32_intdigest`, so signatures stay
interchangeable; tests compare this function with the library on every length class.
Arithmetic is done in uint64 and masked to 32 bits (numba widens uint32 products).
"""

from __future__ import annotations

from numba import njit, uint32, uint64

_M = 0xFFFFFFFF
_P1 = 0x9E3779B1
_P2 = 0x85EBCA77
_P3 = 0xC2B2AE3D
_P4 = 0x27D4EB2F
_P5 = 0x165667B1


@njit(inline="always")
def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & _M


@njit(inline="always")
def _read32(buf, i):
    return (
        uint64(buf[i]) | (uint64(buf[i + 1]) << 8) | (uint64(buf[i + 2]) << 16) | (uint64(buf[i + 3]) << 24)
    )


@njit(cache=True)
def xxh32(buf, start, end, seed):
    """Hash `buf[start:end]` (a uint8 array) with the given seed; returns uint32."""
    n = end - start
    i = start
    seed = uint64(seed) & _M
    if n >= 16:
        v1 = (seed + _P1 + _P2) & _M
        v2 = (seed + _P2) & _M
        v3 = seed
        v4 = (seed - _P1) & _M
        while i <= end - 16:
            v1 = (_rotl((v1 + _read32(buf, i) * _P2) & _M, 13) * _P1) & _M
            v2 = (_rotl((v2 + _read32(buf, i + 4) * _P2) & _M, 13) * _P1) & _M
            v3 = (_rotl((v3 + _read32(buf, i + 8) * _P2) & _M, 13) * _P1) & _M
            v4 = (_rotl((v4 + _read32(buf, i + 12) * _P2) & _M, 13) * _P1) & _M
            i += 16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + uint64(n)) & _M
    while i + 4 <= end:
        h = (_rotl((h + _read32(buf, i) * _P3) & _M, 17) * _P4) & _M
        i += 4
    while i < end:
        h = (_rotl((h + uint64(buf[i]) * _P5) & _M, 11) * _P1) & _M
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _M
    h ^= h >> 13
    h = (h * _P3) & _M
    h ^= h >> 16
    return uint32(h)
