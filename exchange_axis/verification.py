"""Signature verification of arriving documents, once per distinct file per node.

A directive to 3,321 communes hosted on one hub arrives as one package holding one PDF: it is
verified once, and the verdict is reused for every recipient (and for any later package carrying
the same bytes). Concurrent arrivals of the same file wait for the first verification instead of
repeating it. ``count`` is exposed so tests and the bench can prove "verified once per node".
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

PASSED = "TOTAL_PASSED"
#: Verdicts kept in memory (a node receives the same file many times in a burst, rarely later).
CACHE_SIZE = 4096


@dataclass(frozen=True)
class Verdict:
    sha256: str
    indication: str
    summary_vi: str
    summary_en: str
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        return self.indication == PASSED


class Verifier:
    def __init__(self, *, trust: Any = None, revocation: str = "online") -> None:
        self.trust = trust
        self.revocation = revocation
        self.count = 0
        self._cache: OrderedDict[str, Verdict] = OrderedDict()  # LRU, bounded
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def check_pdf(self, data: bytes, sha256: str | None = None) -> Verdict:
        digest = sha256 or hashlib.sha256(data).hexdigest()
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            cached = self._cache.get(digest)
            if cached is not None:
                return cached
            verdict = self._verify(data, digest)
            self._cache[digest] = verdict
            if len(self._cache) > CACHE_SIZE:
                old, _ = self._cache.popitem(last=False)
                with self._guard:
                    self._locks.pop(old, None)
            return verdict

    def _verify(self, data: bytes, digest: str) -> Verdict:
        from signing.validation import verify_pdf  # noqa: PLC0415 - heavy, only when used

        self.count += 1
        try:
            report = verify_pdf(data, trust=self.trust, revocation=self.revocation)
        except Exception as exc:  # noqa: BLE001 - an unreadable PDF is a verdict, not a crash
            return Verdict(digest, "TOTAL_FAILED", f"Không đọc được tệp PDF: {exc}",
                           f"unreadable PDF: {exc}", {"error": str(exc)})
        return Verdict(digest, str(report.indication), report.summary_vi, report.summary_en,
                       report.to_dict())
