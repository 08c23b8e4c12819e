"""Sign many PDFs with one key load, in parallel worker processes.

WHY: a clerk seals the day's documents at once. Loading a PKCS#12 key (or logging into a token)
per document wastes time and, for tokens, risks PIN lock-outs; one pre-signing certificate
check (OCSP) per batch is enough. Each worker process loads the key once and keeps the parsed
key, the encoded images and the fonts for all its documents. A failure on one file is reported
and the others are still signed; the caller decides the exit status.

PKCS#11 tokens cannot be shared across processes (one login session), so token batches run in
the calling process, still with a single login.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from signing.errors import SigningError
from signing.pades import sign_file
from signing.precheck import check_signer


@dataclass(frozen=True)
class Pkcs12Source:
    """How a worker process loads the key: picklable, no key material in the parent's pipe."""

    path: str
    password: str | None
    prefer_pss: bool = False

    def load(self):
        from signing.signers.pkcs12 import Pkcs12Signer

        return Pkcs12Signer.load(self.path, self.password, prefer_pss=self.prefer_pss)


@dataclass
class ItemResult:
    source: str
    output: str
    ok: bool
    seconds: float
    error_code: str | None = None
    message_vi: str | None = None
    message_en: str | None = None


@dataclass
class BatchReport:
    items: list[ItemResult] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    @property
    def failed(self) -> list[ItemResult]:
        return [i for i in self.items if not i.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        n = len(self.items)
        return {
            "total": n,
            "signed": n - len(self.failed),
            "failed": len(self.failed),
            "seconds": round(self.seconds, 3),
            "docs_per_s": round(n / self.seconds, 1) if self.seconds else None,
            "workers": self.workers,
            "items": [i.__dict__ for i in self.items],
        }


_WORKER_SIGNER = None


def _init_worker(source: Pkcs12Source) -> None:
    global _WORKER_SIGNER
    _WORKER_SIGNER = source.load()


def _sign_one(src: str, dst: str, kwargs: dict, signer=None) -> ItemResult:
    t0 = time.perf_counter()
    try:
        sign_file(src, dst, signer or _WORKER_SIGNER, **kwargs)
        return ItemResult(src, dst, True, time.perf_counter() - t0)
    except SigningError as e:
        return ItemResult(
            src, dst, False, time.perf_counter() - t0, e.code, e.message_vi, e.message_en
        )
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the batch
        return ItemResult(
            src,
            dst,
            False,
            time.perf_counter() - t0,
            "unexpected",
            f"Lỗi không mong đợi: {e}",
            f"unexpected error: {e!r}",
        )


def plan_outputs(sources: Iterable[Path], out_dir: Path) -> list[tuple[str, str]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [(str(s), str(out_dir / s.name)) for s in sources]


def list_pdfs(directory: Path) -> list[Path]:
    return sorted(
        p for p in Path(directory).iterdir() if p.is_file() and p.suffix.lower() == ".pdf"
    )


def sign_batch(
    sources: Iterable[Path],
    out_dir: Path,
    *,
    key: Pkcs12Source | None = None,
    signer=None,
    workers: int | None = None,
    progress: Callable[[ItemResult], None] | None = None,
    check_revocation: bool = True,
    **sign_kwargs,
) -> BatchReport:
    """Sign every PDF in ``sources`` into ``out_dir`` (same file names).

    Give ``key`` (a PKCS#12 file: parallel worker processes, each loading it once) or
    ``signer`` (an opened signer, e.g. a PKCS#11 token: signed in this process). The signer
    certificate is checked once, before any document is signed.
    """
    jobs = plan_outputs(sources, Path(out_dir))
    main_signer = signer or (key.load() if key else None)
    if main_signer is None:
        raise ValueError("sign_batch needs key= or signer=")
    check_signer(main_signer, check_revocation=check_revocation)  # once for the batch
    kwargs = dict(sign_kwargs, check_revocation=False)
    report = BatchReport(workers=1)
    t0 = time.perf_counter()
    n_workers = workers or min(len(jobs), os.cpu_count() or 1)
    if key is None or n_workers <= 1 or len(jobs) < 2:
        for src, dst in jobs:
            r = _sign_one(src, dst, kwargs, main_signer)
            report.items.append(r)
            if progress:
                progress(r)
    else:
        report.workers = n_workers
        with ProcessPoolExecutor(n_workers, initializer=_init_worker, initargs=(key,)) as ex:
            futures = [ex.submit(_sign_one, src, dst, kwargs) for src, dst in jobs]
            for f in as_completed(futures):
                r = f.result()
                report.items.append(r)
                if progress:
                    progress(r)
        order = {src: i for i, (src, _dst) in enumerate(jobs)}
        report.items.sort(key=lambda r: order[r.source])
    report.seconds = time.perf_counter() - t0
    return report
