"""Verification of arriving PDFs in worker processes (``Verifier(processes=N)``): the same
verdicts as in the node's own thread, each distinct file verified once, and a worker that dies
mid-verification is reported as "try again" (the receiver answers 503, the sender retries) with
the pool rebuilt for the next document — never an invented verdict."""

from __future__ import annotations

import os
import signal
import threading
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


def test_same_verdict_in_a_worker_process_and_verified_once(pooled, trust, directive):
    local = Verifier(trust_dirs=trust).check_pdf(directive)
    assert local.indication == PASSED
    remote = pooled.check_pdf(directive)
    assert (remote.indication, remote.summary_en) == (local.indication, local.summary_en)
    assert remote.report["signatures"][0]["signer"]["name"] == \
        local.report["signatures"][0]["signer"]["name"]
    # concurrent arrivals of the same file wait for the first verification
    results = []
    threads = [threading.Thread(target=lambda: results.append(pooled.check_pdf(directive)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pooled.count == 1 and {r.indication for r in results} == {PASSED}
    tampered = directive.replace(b"Ch\xe1\xbb\x89 th\xe1\xbb\x8b", b"Ch\xe1\xbb\x89 thi", 1)
    bad = pooled.check_pdf(tampered if tampered != directive else directive[:-200])
    assert bad.indication != PASSED and pooled.count == 2


def test_a_dead_worker_is_a_retry_not_a_verdict(pooled, directive):
    assert pooled.check_pdf(directive).indication == PASSED  # the pool is up
    pool = pooled._get_pool()
    victims = list(pool._processes.values())
    assert len(victims) == 2
    for proc in victims:
        os.kill(proc.pid, signal.SIGKILL)
    for proc in victims:
        proc.join(timeout=30)
    other = directive + b"\n%% another file\n"  # distinct bytes: not in the cache
    with pytest.raises(ExchangeError) as caught:
        pooled.check_pdf(other)
    assert caught.value.code == "verifier_lost"
    assert pooled.check_pdf(other).indication == PASSED  # a new pool verifies the retry


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
    # the worker is given an owner whose fds it cannot open: it falls back, the verdict stands
    monkeypatch.setattr(verification.os, "getpid", lambda: 1 << 30)
    tampered = directive[:-200]
    bad = pooled.check_pdf(tampered)
    assert bad.indication != PASSED and bad.sha256 and pooled._hand_over is False
    assert pooled.check_pdf(directive[:-100]).indication != PASSED
    assert handed == [len(directive), len(tampered)]  # not tried again
