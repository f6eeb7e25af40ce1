"""hash_rng: counter-based random draws as pure functions of their inputs.

Every random number in a simulation is

    hash_rng(employee_id, simulation_year, stream, seed) -> float64 in [0, 1)

so a draw never depends on row order, batch size, partitioning, thread count
or which other rows exist. The algorithm, in 64-bit unsigned arithmetic
(all additions and multiplications wrap modulo 2**64):

    key    = mix64(fnv1a64(utf8 bytes of employee_id))  # FNV-1a 64-bit, finalized
    sid    = fnv1a64(utf8 bytes of stream)
    h      = mix64(key ^ mix64(seed + 1 * GOLDEN))
    h      = mix64(h   ^ mix64(year + 2 * GOLDEN))
    h      = mix64(h   ^ sid)
    u      = (h >> 11) * 2**-53                      # all 53 mantissa bits

with GOLDEN = 0x9E3779B97F4A7C15 and mix64 the SplitMix64 finalizer
(Steele, Lea & Flood 2014; constants from Vigna's splitmix64.c):

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z =  z ^ (z >> 31)

seed and year enter as two's-complement 64-bit integers. Both building
blocks are checked against their published test vectors in the tests (FNV-1a
from the IETF draft-eastlake-fnv, SplitMix64 from splitmix64.c), and the
composition against a plain-Python reference implementation.

The string hash is the expensive part, so the engine hashes each employee_id
once (`employee_key`) and draws from the integer key (`hash_rng_key`); the two
paths give identical values. The first two lines depend only on the employee,
year and seed: `draw_key` computes them once per employee and year, and `draw`
finishes each stream's draw from it with one mix64, the same value again.
`event_id` folds the same finalizer over integer keys to give each event a
stable id.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_POW_M53 = 2.0**-53


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (wrapping arithmetic); ``z`` itself is left as it is."""
    with np.errstate(over="ignore"):
        z = z ^ (z >> _S30)  # a new array: the steps after it work in place (half the arrays allocated)
        z *= _M1
        z ^= z >> _S27
        z *= _M2
        z ^= z >> _S31
        return z


def _string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(byte data, start offsets, lengths) of a string array, without copying bytes."""
    if pa.types.is_string_view(arr.type) or pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.large_string())
    if pa.types.is_string(arr.type) or pa.types.is_binary(arr.type):
        offset_type = np.int32
    elif pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        offset_type = np.int64
    else:
        raise TypeError(f"expected a string array, got {arr.type}")
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lengths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    return data, starts, lengths


def fnv1a64(arr: pa.Array) -> np.ndarray:
    """FNV-1a 64-bit hash of each string's UTF-8 bytes, vectorized by byte position.

    Rows are grouped by length; each group's bytes are gathered into an
    (rows x length) matrix and folded column by column, so ids of any length
    cost their own length. Null rows hash as the empty string; callers mask them.
    """
    data, starts, lengths = _string_parts(arr)
    h = np.full(len(lengths), FNV_OFFSET, dtype=np.uint64)
    if len(lengths) and lengths[0] and (lengths == lengths[0]).all():
        # ids of one length (a census's, a year's hires) lie back to back: their bytes are the
        # matrix already, no gather needed
        length, first = int(lengths[0]), int(starts[0])
        return _fold_bytes(h, data[first : first + len(lengths) * length].reshape(-1, length))
    for length in np.unique(lengths):
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        h[rows] = _fold_bytes(h[rows], data[starts[rows, None] + np.arange(length)])
    return h


def _fold_bytes(h: np.ndarray, block: np.ndarray) -> np.ndarray:
    """FNV-1a's fold of each row of a (rows x length) byte matrix into its hash ``h``."""
    with np.errstate(over="ignore"):
        for j in range(block.shape[1]):
            h = (h ^ block[:, j]) * FNV_PRIME
    return h


def _fold(values: np.ndarray) -> np.ndarray:
    """A column holding one repeated value (a literal, a bound year) as a 1-element array."""
    return values[:1] if len(values) and (values == values[0]).all() else values


def year_hash(key: np.ndarray, year: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The part of a draw shared by every stream: key, year and seed mixed (uint64)."""
    # seed and year are constant within a batch almost always: mix them once, not per row
    seed, year = (_fold(np.atleast_1d(v)) for v in (seed, year))
    with np.errstate(over="ignore"):
        h = mix64(key ^ mix64(seed + GOLDEN))
        return mix64(h ^ mix64(year + np.uint64(2) * GOLDEN))


def stream_draw(year_hashes: np.ndarray, stream_id: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) floats: a stream's draw from year hashes."""
    h = mix64(year_hashes ^ _fold(np.atleast_1d(stream_id)))
    return (h >> _S11).astype(np.float64) * _TWO_POW_M53


def draw_from_key(key: np.ndarray, year: np.ndarray, stream_id: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) floats from uint64 keys; every argument a uint64 array or scalar."""
    return stream_draw(year_hash(key, year, seed), stream_id)


def _as_u64(arr: pa.Array) -> np.ndarray:
    """Signed or unsigned integer Arrow array -> uint64 bit pattern (nulls as 0)."""
    if arr.type == pa.int64() and not arr.null_count:
        return arr.to_numpy().view(np.uint64)  # the common case: no copy
    values = arr.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return values.view(np.uint64)


def stream_ids(streams: pa.Array) -> np.ndarray:
    """fnv1a64 of each stream name; streams repeat, so each distinct name is hashed once."""
    if len(streams) and not streams.null_count and pc.all(pc.equal(streams, streams[0])).as_py():
        return fnv1a64(streams.slice(0, 1))  # a literal stream name: one hash for the batch
    encoded = streams.dictionary_encode() if not pa.types.is_dictionary(streams.type) else streams
    codes = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    return fnv1a64(encoded.dictionary)[codes]


def _null_mask(*arrays: pa.Array) -> np.ndarray | None:
    mask = None
    for a in arrays:
        if a.null_count:
            m = a.is_null().to_numpy(zero_copy_only=False)
            mask = m if mask is None else (mask | m)
    return mask


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def employee_key(ids: pa.Array) -> pa.Array:
    """employee_id -> int64 key: mix64(fnv1a64(id)), reinterpreted as signed.

    The finalizer gives the key full avalanche, so it also serves as a stable id hash.
    """
    ids = _plain(ids)
    keys = mix64(fnv1a64(ids)).view(np.int64)
    return pa.array(keys, type=pa.int64(), mask=_null_mask(ids))


def hash_rng_key(keys: pa.Array, years: pa.Array, streams: pa.Array, seeds: pa.Array) -> pa.Array:
    """Draws from precomputed employee keys; null in any argument gives null."""
    keys, years, streams, seeds = map(_plain, (keys, years, streams, seeds))
    u = draw_from_key(_as_u64(keys), _as_u64(years), stream_ids(streams), _as_u64(seeds))
    return pa.array(u, type=pa.float64(), mask=_null_mask(keys, years, streams, seeds))


def draw_key(keys: pa.Array, years: pa.Array, seeds: pa.Array) -> pa.Array:
    """An employee's year hash (int64): what every one of its draws that year starts from."""
    keys, years, seeds = map(_plain, (keys, years, seeds))
    h = year_hash(_as_u64(keys), _as_u64(years), _as_u64(seeds)).view(np.int64)
    return pa.array(h, type=pa.int64(), mask=_null_mask(keys, years, seeds))


def draw(draw_keys: pa.Array, streams: pa.Array) -> pa.Array:
    """A stream's draw from draw keys: draw(draw_key(k, y, s), stream) == hash_rng_key(k, y, stream, s)."""
    draw_keys, streams = map(_plain, (draw_keys, streams))
    u = stream_draw(_as_u64(draw_keys), stream_ids(streams))
    return pa.array(u, type=pa.float64(), mask=_null_mask(draw_keys, streams))


def hash_rng(ids: pa.Array, years: pa.Array, streams: pa.Array, seeds: pa.Array) -> pa.Array:
    """Draws from string employee_ids: hash_rng(employee_id, simulation_year, stream, seed)."""
    return hash_rng_key(employee_key(ids), years, streams, seeds)


# each byte's two lowercase hex digits, as one 2-byte unit
_HEX_PAIRS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), dtype=np.uint16)


def event_id_prefix(scenario_keys: np.ndarray, design_keys: np.ndarray, employee_keys: np.ndarray,
                    years: np.ndarray) -> np.ndarray:
    """The fold of event_id over its first four keys (uint64): the same for all of a member's events."""
    h = np.zeros(len(employee_keys), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in (scenario_keys, design_keys, employee_keys, years):
            h = mix64(h ^ (np.asarray(part).astype(np.int64).view(np.uint64) + GOLDEN))
    return h


def event_id_text(prefixes: np.ndarray, seqs: np.ndarray) -> pa.Array:
    """event_id from a member's prefix and the event's seq: the last fold, as 16 hex digits."""
    with np.errstate(over="ignore"):
        h = mix64(prefixes ^ (seqs.astype(np.int64).view(np.uint64) + GOLDEN))
    text = _HEX_PAIRS[h.astype(">u8").view(np.uint8)].tobytes()  # most significant byte first
    n = len(h)
    offsets = pa.py_buffer(np.arange(0, 16 * (n + 1), 16, dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(text)])
