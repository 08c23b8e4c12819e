"""Signature verification of arriving documents, once per distinct file per node, in worker
processes.

A directive to 3,321 communes hosted on one hub arrives as one package holding one PDF: it is
verified once, and the verdict is reused for every recipient (and for any later package carrying
the same bytes). Concurrent arrivals of the same file wait for the first verification instead of
repeating it. ``count`` is exposed so tests and the bench can prove "verified once per node".

Why processes: verification is most of a hub's CPU per document (PDF parsing, CMS, changes after
signing, revocation) and it is pure Python under the GIL. Run in the node's threads it keeps a
hub on one core whatever the machine has. With ``processes`` > 0 each verification runs in a
pool of that many worker processes (started on first use, with the ``spawn`` method: the node
process has threads, which ``fork`` would copy in an unknown state); the node's threads wait for
the verdict without holding the GIL, so the receiving, storing and recording of other packages go
on meanwhile. Each worker loads the trust store once (``_worker_init``). A worker that dies
(killed, out of memory) fails that verification as "try again" (503-like ``ExchangeError``), it
is replaced, and the sender's retry is verified afresh: no verdict is ever invented. The pool is
``worker_pool.WorkerPool``: the calling thread talks to its worker directly.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange_axis.worker_pool import WorkerLost, WorkerPool

log = logging.getLogger(__name__)

PASSED = "TOTAL_PASSED"
#: Verdicts kept in memory (a node receives the same file many times in a burst, rarely later).
#: Each holds its full validation report (tens of KB): 4,096 of them cost a hub ~150 MB of
#: memory for nothing; a burst of one directive, or a sender's retries, needs a few.
CACHE_SIZE = 256


@dataclass(frozen=True)
class Verdict:
    """A file's verdict. The validation report travels as the JSON kept as evidence, made
    where the file was verified (a worker process): the node's main process, which every
    arrival passes through, neither unpickles the report's nested structure nor encodes it."""

    sha256: str
    indication: str
    summary_vi: str
    summary_en: str
    #: the validation report, ``json.dumps(report, ensure_ascii=False, sort_keys=True)`` in
    #: UTF-8 (b"" when there is none): exactly the bytes stored beside the original
    report_json: bytes
    #: a judgement of the file, kept for its later arrivals (``signing.validation.pdf.
    #: settled``): not "try later", not a validator that failed midway
    settled: bool
    #: INDETERMINATE / TRY_LATER: a revocation service did not answer (a commune's weak line,
    #: an OCSP responder down). Not a judgement of the document: the arrival is answered "try
    #: again" and the verdict is not kept
    try_later: bool

    @property
    def passed(self) -> bool:
        return self.indication == PASSED

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.report_json) if self.report_json else {}

    def account(self) -> str:
        """Why the file failed, signature by signature (sub-indication, errors, problems), in
        one line for the node's log: the receipt carries the summary only, and a refused
        file's report is not kept, so this line is what an operator has to go on."""
        report = self.report
        parts = [f"{self.indication}/{report.get('sub_indication')}",
                 *[str(e) for e in report.get("errors") or []]]
        for sig in report.get("signatures") or []:
            details = [*(sig.get("errors") or []), *(sig.get("problems") or []),
                       *(sig.get("format_problems") or [])]
            parts.append(f"{sig.get('field')}: {sig.get('indication')}/"
                         f"{sig.get('sub_indication')} intact={sig.get('intact')} "
                         f"crypto_valid={sig.get('crypto_valid')} "
                         f"revocation={(sig.get('revocation') or {}).get('status')} "
                         + "; ".join(str(d) for d in details))
        return f"sha256 {self.sha256[:16]}: " + " | ".join(parts)

    @classmethod
    def of(cls, sha256: str, indication: str, summary_vi: str, summary_en: str,
           report: dict[str, Any]) -> Verdict:
        from signing.validation.pdf import settled  # noqa: PLC0415

        sub = report.get("sub_indication")
        text = (json.dumps(report, ensure_ascii=False, sort_keys=True).encode("utf-8")
                if report else b"")
        return cls(sha256, indication, summary_vi, summary_en, text,
                   settled(sub, report.get("errors")), sub == "TRY_LATER")


def load_trust(trust_dirs: list[Path], development: bool) -> Any:
    """The trust store of a node (None: the library's default, development root included in
    development mode)."""
    if not trust_dirs:
        return None
    from signing.trust import TrustStore  # noqa: PLC0415

    return TrustStore.from_dirs(trust_dirs, development=development)


def verify(data: bytes, digest: str | None, trust: Any, revocation: str) -> Verdict:
    """One verification (in this process): the report's indication is the verdict; a PDF that
    cannot even be read is TOTAL_FAILED with why. ``digest`` None: the file's SHA-256 is not
    known yet, and the validator names the file from the hashes it makes anyway (the verdict
    carries it); the node keeps the verdicts, so the validator's own cache is not used."""
    from signing.validation import verify_pdf  # noqa: PLC0415 - heavy, only when used

    try:
        report = verify_pdf(data, trust=trust, revocation=revocation, sha256=digest,
                            use_cache=digest is not None)
    except Exception as exc:  # noqa: BLE001 - reported, never a crash; not kept (unsettled)
        from signing.validation.pdf import UNEXPECTED  # noqa: PLC0415

        return Verdict.of(digest or hashlib.sha256(data).hexdigest(), "TOTAL_FAILED",
                          f"Không đọc được tệp PDF: {exc}", f"unreadable PDF: {exc}",
                          {"errors": [f"{UNEXPECTED}: {exc}"]})
    return Verdict.of(report.sha256, str(report.indication), report.summary_vi,
                      report.summary_en, report.to_dict())


#: the worker process's trust store and revocation mode (set by ``_worker_init``)
_WORKER: dict[str, Any] = {}


def _worker_init(trust_dirs: list[Path], development: bool, revocation: str) -> None:
    _WORKER.update(trust=load_trust(trust_dirs, development), revocation=revocation)
    import signing.validation  # noqa: F401, PLC0415 - import once, not on the first document

    # what was loaded so far lives as long as the worker: out of the collector's way (a full
    # collection walked it all, ~100 ms, every few hundred documents)
    gc.collect()
    gc.freeze()


def _worker_verify(data: bytes, digest: str | None) -> Verdict:
    return verify(data, digest, _WORKER["trust"], _WORKER["revocation"])


def _worker_verify_handed(owner: int, fd: int, size: int, digest: str | None) -> Verdict:
    """Verify the ``size`` bytes of the node's in-memory file ``fd`` (see ``_hand_over``)."""
    with open(f"/proc/{owner}/fd/{fd}", "rb", buffering=0) as f:
        data = f.read(size)
    if len(data) != size:
        raise OSError(f"handed-over file holds {len(data)} of {size} bytes")
    return _worker_verify(data, digest)


def _hand_over(data: bytes) -> int | None:
    """The file's bytes in an anonymous in-memory file (memfd) the worker opens through
    ``/proc/<node>/fd``: one copy into the kernel and one out, instead of pickling a
    megabyte-sized ``bytes``, pushing it through the pool's pipe in 64 KiB pieces, growing a
    buffer on the other side and unpickling it (~1.5 ms of CPU per 1 MB document across the
    two processes). None where memfd does not exist: the bytes go through the pipe."""
    if not hasattr(os, "memfd_create"):
        return None
    fd = os.memfd_create("edoc-verify", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        raise
    return fd


def _print(data: bytes) -> tuple[int, int]:
    """A file's (size, CRC-32): which cached file it may be, never which verdict it gets."""
    return len(data), zlib.crc32(data)


class Verifier:
    def __init__(self, *, trust_dirs: list[Path] | None = None, development: bool = True,
                 revocation: str = "online", processes: int = 0) -> None:
        self.trust_dirs = list(trust_dirs or [])
        self.development = development
        self.revocation = revocation
        self.processes = processes
        self.count = 0
        # loaded now, also when workers verify: a bad trust directory stops the node at start
        # with its message, not at the first arrival
        self._trust: Any = load_trust(self.trust_dirs, development)
        if processes <= 0:
            # imported now, in one thread: a node's first arrivals (a backlog after a restart)
            # must not import the validator in several threads at once, where one may find a
            # module half-initialised by another (an ImportError the validator cannot tell
            # from a broken file)
            import signing.validation  # noqa: F401, PLC0415
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()
        self._hand_over = True  # files reach the workers as memfds (``_hand_over``)
        #: SHA-256 → (verdict, the file's (size, CRC-32)); LRU, bounded
        self._cache: OrderedDict[str, tuple[Verdict, tuple[int, int]]] = OrderedDict()
        #: (size, CRC-32) of each cached file → its SHA-256: a candidate, never a verdict
        self._prints: dict[tuple[int, int], str] = {}
        self._locks: dict[str | tuple[int, int], threading.Lock] = {}
        self._guard = threading.Lock()

    def check_pdf(self, data: bytes, sha256: str | None = None) -> Verdict:
        """The file's verdict, verified once per node; the verdict's ``sha256`` names the file.

        Without ``sha256`` the file is not hashed here: a file never seen is verified by a
        worker, which names it from the hashes its check makes anyway (a hub saves a 1–2 MB
        hash per document). Whether it was seen is asked of its size and CRC-32 (a third of a
        hash's cost); a file that matches is hashed and served from the cache only if its
        SHA-256 is the cached one, so a forged CRC match gets no verdict it did not earn."""
        if sha256 is not None:
            return self._known(data, sha256, None)
        fp = _print(data)
        if fp in self._prints:
            return self._known(data, hashlib.sha256(data).hexdigest(), fp)

        def seen() -> Verdict | None:  # verified by another thread meanwhile: hash, check
            return self._known(data, hashlib.sha256(data).hexdigest(), fp) \
                if fp in self._prints else None

        return self._once(fp, seen, lambda: self._verify(data, None), data, fp)

    def _known(self, data: bytes, digest: str, fp: tuple[int, int] | None) -> Verdict:
        def cached() -> Verdict | None:
            hit = self._cache.get(digest)
            return hit[0] if hit is not None else None

        return cached() or self._once(digest, cached, lambda: self._verify(data, digest),
                                      data, fp)

    def _once(self, key: str | tuple[int, int], ready: Callable[[], Verdict | None],
              work: Callable[[], Verdict], data: bytes, fp: tuple[int, int] | None
              ) -> Verdict:
        """Concurrent arrivals of one file wait for the first verification, not repeat it."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        try:
            with lock:
                done = ready()
                if done is not None:
                    return done
                self.count += 1
                verdict = work()
                if verdict.settled:  # else the next arrival verifies afresh
                    self._keep(verdict, fp or _print(data))
                return verdict
        finally:
            with self._guard:  # the waiters hold the lock object itself; the map lets go
                if self._locks.get(key) is lock:
                    del self._locks[key]

    def _keep(self, verdict: Verdict, fp: tuple[int, int]) -> None:
        with self._guard:
            self._cache[verdict.sha256] = (verdict, fp)
            self._prints[fp] = verdict.sha256
            while len(self._cache) > CACHE_SIZE:
                old, (_, old_fp) = self._cache.popitem(last=False)
                if self._prints.get(old_fp) == old:
                    del self._prints[old_fp]

    def _verify(self, data: bytes, digest: str | None) -> Verdict:
        if self.processes <= 0:
            return verify(data, digest, self._trust, self.revocation)
        pool = self._get_pool()
        fd = _hand_over(data) if self._hand_over else None
        try:
            if fd is None:
                return pool.call(_worker_verify, data, digest)
            try:
                return pool.call(_worker_verify_handed, os.getpid(), fd, len(data), digest)
            except OSError as exc:  # /proc hidden from the workers: the pipe from now on
                log.warning("verification workers cannot open the node's in-memory files "
                            "(%s); documents go to them through the pipe", exc)
                self._hand_over = False
                return pool.call(_worker_verify, data, digest)
        except WorkerLost as exc:  # replaced already: the sender's retry is verified afresh
            from exchange_axis.errors import ExchangeError  # noqa: PLC0415

            raise ExchangeError(
                "Tiến trình kiểm tra chữ ký bị dừng giữa chừng; nơi gửi sẽ gửi lại",
                "a signature-checking process stopped midway; the sender will retry",
                code="verifier_lost") from exc
        finally:
            if fd is not None:
                os.close(fd)

    def _get_pool(self) -> WorkerPool:
        with self._pool_lock:
            if self._pool is None:
                # every worker starts now (each imports the validator once), not one by one
                # while documents wait
                self._pool = WorkerPool(self.processes, _worker_init,
                                        (self.trust_dirs, self.development, self.revocation))
            return self._pool

    def close(self) -> None:
        """Stop the worker processes (the node's shutdown)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
