"""PrefixHashes: the /ByteRange digests of one file's signatures share their common prefix, and
give exactly what hashing each range list on its own gives, whatever the order of the asks."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from signing.validation.cms import PrefixHashes, hash_ranges

DATA = bytes(range(256)) * 40  # 10,240 bytes


def _ranges(draw_end: int, gap: int, tail: int) -> list[tuple[int, int]]:
    """A signature's ranges: [0, end) then what follows its /Contents gap."""
    return [(0, draw_end), (draw_end + gap, tail)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DATA)), st.integers(0, 200),
                          st.integers(0, 3000), st.sampled_from(["sha256", "SHA256", "sha384"])),
                min_size=1, max_size=5))
def test_same_digests_as_hashing_each_alone(asks):
    hashes = PrefixHashes(DATA)
    for end, gap, tail, algo in asks:
        ranges = _ranges(end, gap, tail)
        assert hashes.digest(ranges, algo) == hash_ranges(DATA, ranges, algo)


def test_ranges_not_from_zero_or_outside_the_file_are_hashed_plainly():
    hashes = PrefixHashes(DATA)
    for ranges in ([(5, 100), (200, 50)], [(0, len(DATA) + 10)], [(0, -3), (10, 5)], []):
        assert hashes.digest(ranges, "sha256") == hash_ranges(DATA, ranges, "sha256")


class _Counting:
    """hashlib's sha256, counting the bytes it is fed (its copies too)."""

    fed = 0

    def __init__(self, h=None) -> None:
        self._h = h or hashlib.sha256()

    def update(self, b) -> None:
        _Counting.fed += len(b)
        self._h.update(b)

    def copy(self) -> _Counting:
        return _Counting(self._h.copy())

    def digest(self) -> bytes:
        return self._h.digest()


def test_a_seal_after_a_personal_signature_hashes_the_first_revision_once(monkeypatch):
    """The shape of every edoc document: personal signature over revision 1, the seal over
    everything. Bytes fed to the hash: the file once plus the seal's own update, not twice."""
    import signing.validation.cms as cms

    personal = [(0, 6000), (6400, 1000)]  # revision 1 ends at 7,400
    seal = [(0, 9000), (9500, 740)]  # the whole 10,240-byte file but the seal's /Contents
    expected = [hash_ranges(DATA, r, "sha256") for r in (personal, seal)]
    monkeypatch.setattr(cms, "new_hasher", lambda name: _Counting())
    _Counting.fed = 0
    hashes = PrefixHashes(DATA)
    assert [hashes.digest(r, "sha256") for r in (personal, seal)] == expected
    assert _Counting.fed == 6000 + 1000 + (9000 - 6000) + 740


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(DATA)), st.integers(0, 200),
                          st.integers(0, 3000), st.sampled_from(["sha256", "sha384"])),
                max_size=5), st.sampled_from(["sha256", "SHA256", "sha384"]))
def test_the_files_digest_after_any_asks_is_the_files_hash(asks, algo):
    hashes = PrefixHashes(DATA)
    for end, gap, tail, ask_algo in asks:
        hashes.digest(_ranges(end, gap, tail), ask_algo)
    assert hashes.file_digest(algo) == hashlib.new(algo.lower(), DATA).digest()


def test_the_files_digest_continues_from_the_seals_prefix(monkeypatch):
    """Naming the file costs the seal's /Contents hole and the tail, not the file again."""
    import signing.validation.cms as cms

    monkeypatch.setattr(cms, "new_hasher", lambda name: _Counting())
    hashes = PrefixHashes(DATA)
    for ranges in ([(0, 6000), (6400, 1000)], [(0, 9000), (9500, 740)]):
        hashes.digest(ranges, "sha256")
    _Counting.fed = 0
    assert hashes.file_digest() == hashlib.sha256(DATA).digest()
    assert _Counting.fed == len(DATA) - 9000
