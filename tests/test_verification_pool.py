"""Verification of arriving PDFs in worker processes (``Verifier(processes=N)``): the same
verdicts as in the node's own thread, each distinct file verified once, and a worker that dies
mid-verification is reported as "try again" (the receiver answers 503, the sender retries) with
the pool rebuilt for the next document — never an invented verdict."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import zlib
from pathlib import Path

import pytest

from api.directive import sign_directive
from exchange_axis.errors import ExchangeError
from exchange_axis.verification import PASSED, Verifier


@pytest.fixture(scope="module")
def directive(pki_server) -> bytes:
    return sign_directive(pki_server, lambda _n: "31").pdf


@pytest.fixture
def trust(pki_server) -> list[Path]:
    """What a node of the dev PKI trusts (``api.cluster.layout`` does the same)."""
    return [Path(pki_server.root).resolve()]


@pytest.fixture
def pooled(trust):
    verifier = Verifier(trust_dirs=trust, processes=2)
    yield verifier
    verifier.close()


def _at_once(call, threads: int = 4) -> list:
    """``call``'s results from that many threads started together."""
    results: list = []
    started = [threading.Thread(target=lambda: results.append(call())) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return results


def test_same_verdict_in_a_worker_process_and_verified_once(pooled, trust, directive):
    local = Verifier(trust_dirs=trust).check_pdf(directive)
    assert local.indication == PASSED
    remote = pooled.check_pdf(directive)
    assert (remote.indication, remote.summary_en) == (local.indication, local.summary_en)
    assert remote.report["signatures"][0]["signer"]["name"] == \
        local.report["signatures"][0]["signer"]["name"]
    # concurrent arrivals of the same file wait for the first verification
    results = _at_once(lambda: pooled.check_pdf(directive))
    assert pooled.count == 1 and {r.indication for r in results} == {PASSED}
    tampered = directive.replace(b"Ch\xe1\xbb\x89 th\xe1\xbb\x8b", b"Ch\xe1\xbb\x89 thi", 1)
    bad = pooled.check_pdf(tampered if tampered != directive else directive[:-200])
    assert bad.indication != PASSED and pooled.count == 2


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _die(*_args) -> None:
    """A verification cut short: the worker is killed midway."""
    os.kill(os.getpid(), signal.SIGKILL)


def _no_proc(*_args) -> None:
    raise PermissionError(13, "Permission denied (/proc mounted hidepid)")


def test_a_dead_worker_is_a_retry_not_a_verdict(pooled, directive, monkeypatch):
    import exchange_axis.verification as verification

    assert pooled.check_pdf(directive).indication == PASSED  # the pool is up
    before = pooled._get_pool().pids
    other = directive + b"\n%% another file\n"  # distinct bytes: not in the cache
    with monkeypatch.context() as patch:
        patch.setattr(verification, "_worker_verify_handed", _die)
        with pytest.raises(ExchangeError) as caught:
            pooled.check_pdf(other)
    assert caught.value.code == "verifier_lost" and pooled.count == 2
    after = pooled._get_pool().pids
    assert len(after) == 2 and len(set(after) - set(before)) == 1  # that one was replaced
    assert pooled.check_pdf(other).indication == PASSED  # the retry is verified afresh
    assert pooled.count == 3


def test_workers_dead_while_idle_are_replaced_before_use(pooled, directive):
    assert pooled.check_pdf(directive).indication == PASSED
    victims = pooled._get_pool().pids
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    for pid in victims:  # dead (a zombie until reaped)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert pooled.check_pdf(directive + b"\n%% again\n").indication == PASSED
    assert not set(pooled._get_pool().pids) & set(victims)


def test_files_reach_the_workers_as_memfds_else_through_the_pipe(pooled, directive, monkeypatch):
    """A file is handed to a worker as an in-memory file it opens through /proc/<node>/fd; a
    worker that cannot open it (a /proc mounted hidepid, say) still gets the bytes, through the
    pool's pipe, and the node stops trying."""
    import exchange_axis.verification as verification

    handed: list[int] = []
    hand_over = verification._hand_over
    monkeypatch.setattr(verification, "_hand_over",
                        lambda data: handed.append(len(data)) or hand_over(data))
    assert pooled.check_pdf(directive).indication == PASSED
    assert handed == [len(directive)] and pooled._hand_over is True
    # the worker cannot open the node's fds: it falls back, the verdict stands
    monkeypatch.setattr(verification, "_worker_verify_handed", _no_proc)
    tampered = directive[:-200]
    bad = pooled.check_pdf(tampered)
    assert bad.indication != PASSED and bad.sha256 and pooled._hand_over is False
    assert pooled.check_pdf(directive[:-100]).indication != PASSED
    assert handed == [len(directive), len(tampered)]  # not tried again


def test_a_refused_files_account_names_each_signatures_fault(trust, directive):
    """What the node logs when it refuses a file (the receipt carries the summary only and the
    refused file's report is not kept): each signature, its sub-indication and why."""
    middle = len(directive) // 3  # inside the first revision's signed bytes
    tampered = directive[:middle] + bytes([directive[middle] ^ 0x01]) + directive[middle + 1:]
    verdict = Verifier(trust_dirs=trust).check_pdf(tampered)
    assert verdict.indication == "TOTAL_FAILED"
    account = verdict.account()
    assert account.startswith(f"sha256 {verdict.sha256[:16]}: TOTAL_FAILED/")
    assert "intact=False" in account and "HASH_FAILURE" in account
    fields = [s["field"] for s in verdict.report["signatures"]]
    assert fields and all(f"{f}: TOTAL_FAILED" in account for f in fields), account


def crc_twin(data: bytes, at: int) -> bytes:
    """Another file of the same size and CRC-32 as ``data``: CRC-32 is affine over GF(2), so
    some set of the 64 bits at ``at`` flips to a difference whose CRC part cancels out; found
    by elimination. What an attacker can do in a second, and why a CRC is never a verdict."""
    n, zero = len(data), zlib.crc32(bytes(len(data)))
    basis: dict[int, tuple[int, int]] = {}
    for i in range(64):
        one = bytearray(n)
        one[at + i // 8] = 1 << (i % 8)
        v, mask = zlib.crc32(bytes(one)) ^ zero, 1 << i
        while v and v.bit_length() - 1 in basis:
            bv, bm = basis[v.bit_length() - 1]
            v, mask = v ^ bv, mask ^ bm
        if v:
            basis[v.bit_length() - 1] = (v, mask)
            continue
        twin = bytearray(data)
        for j in range(64):
            if mask >> j & 1:
                twin[at + j // 8] ^= 1 << (j % 8)
        return bytes(twin)
    raise AssertionError("64 bits always hold a dependent set of 33")


@pytest.mark.parametrize("processes", [0, 1])
def test_a_file_is_named_by_its_verification_and_a_crc_twin_gets_no_verdict(
        trust, directive, processes):
    """Without a hash from the caller, the verdict names the file (its SHA-256, continued by the
    worker from its signatures' hashes); a second arrival is known by its size and CRC-32 and
    served from the cache once its SHA-256 matches; a different file with the same size and
    CRC-32 (forged in the signed bytes) is verified on its own and fails."""
    verifier = Verifier(trust_dirs=trust, processes=processes)
    try:
        first = verifier.check_pdf(directive)
        assert first.passed and first.sha256 == hashlib.sha256(directive).hexdigest()
        assert verifier.check_pdf(directive) is first and verifier.count == 1
        assert verifier.check_pdf(bytes(directive), first.sha256) is first
        twin = crc_twin(directive, len(directive) // 3)
        assert twin != directive and (len(twin), zlib.crc32(twin)) == \
            (len(directive), zlib.crc32(directive))
        forged = verifier.check_pdf(twin)
        assert not forged.passed and verifier.count == 2
        assert forged.sha256 == hashlib.sha256(twin).hexdigest()
        assert "HASH_FAILURE" in forged.account()
        # not a PDF at all: named too, and judged
        junk = b"not a pdf " * 100
        odd = verifier.check_pdf(junk)
        assert not odd.passed and odd.sha256 == hashlib.sha256(junk).hexdigest()
        # concurrent first arrivals of one file: verified once, the same verdict for all
        other = directive + b"\n%% another copy\n"
        results = _at_once(lambda: verifier.check_pdf(other))
        assert verifier.count == 4 and len({id(r) for r in results}) == 1
        assert results[0].sha256 == hashlib.sha256(other).hexdigest()
    finally:
        verifier.close()
