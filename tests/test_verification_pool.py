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
