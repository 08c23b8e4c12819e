"""Chain building and certificate validity against the trust store, with results reused.

pyhanko-certvalidator does RFC 5280 path building and validation (name constraints, key usage,
policies); revocation is done separately in :mod:`signing.validation.revocation` so that we
control the order (OCSP, then CRL), the timeouts and the cache. A path result for the same
leaf, candidate certificates, trust store and moment is computed once per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import x509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from signing.trust import TrustStore
from signing.validation.report import SubIndication


@dataclass(frozen=True)
class PathResult:
    ok: bool
    path: tuple[x509.Certificate, ...] = ()  # leaf first, root last
    sub_indication: SubIndication | None = None
    message: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)


_CACHE: OrderedDict[tuple, PathResult] = OrderedDict()
_LOCK = threading.Lock()
_MAX = 4096


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def validate_path(
    leaf: x509.Certificate,
    others: list[x509.Certificate],
    trust: TrustStore,
    moment: datetime,
) -> PathResult:
    """Build and validate a path from ``leaf`` to a root of ``trust`` valid at ``moment``."""
    key = (
        leaf.sha256,
        hashlib.sha256(b"".join(sorted(c.sha256 for c in others))).digest(),
        trust.fingerprint(),
        moment.replace(second=0, microsecond=0).isoformat(),
    )
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    result = _validate(leaf, others, trust, moment)
    with _LOCK:
        _CACHE[key] = result
        if len(_CACHE) > _MAX:
            _CACHE.popitem(last=False)
    return result


def _validate(leaf, others, trust: TrustStore, moment: datetime) -> PathResult:
    if trust.empty:
        return PathResult(
            False,
            sub_indication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            message="no trust anchors configured",
        )
    context = ValidationContext(
        trust_roots=list(trust.roots),
        other_certs=list(trust.intermediates) + [c for c in others if c.sha256 != leaf.sha256],
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
        weak_hash_algos={"md2", "md5"},
    )
    validator = CertificateValidator(leaf, validation_context=context)
    try:
        path = _leaf_first(_run(validator.async_validate_usage(set())))
        return PathResult(True, path, problems=legacy_hashes(path))
    except cv_errors.PathBuildingError as exc:
        return PathResult(
            False, sub_indication=SubIndication.NO_CERTIFICATE_CHAIN_FOUND, message=str(exc)
        )
    except cv_errors.ExpiredError as exc:
        return PathResult(False, _path_of(exc), SubIndication.OUT_OF_BOUNDS_NO_POE, str(exc))
    except cv_errors.NotYetValidError as exc:
        return PathResult(False, _path_of(exc), SubIndication.NOT_YET_VALID, str(exc))
    except cv_errors.DisallowedAlgorithmError as exc:
        return PathResult(False, _path_of(exc), SubIndication.CRYPTO_CONSTRAINTS_FAILURE, str(exc))
    except cv_errors.RevokedError as exc:  # pragma: no cover - no revocation data given here
        return PathResult(False, _path_of(exc), SubIndication.REVOKED_NO_POE, str(exc))
    except (cv_errors.PathValidationError, cv_errors.InvalidCertificateError) as exc:
        return PathResult(False, _path_of(exc), SubIndication.CHAIN_CONSTRAINTS_FAILURE, str(exc))
    except Exception as exc:  # never let a library error crash a verification
        return PathResult(
            False,
            sub_indication=SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
            message=f"{type(exc).__name__}: {exc}",
        )


#: Hashes Circular 15/2025 does not list: certvalidator still accepts SHA-1 in certificates
#: (legacy material must stay readable), so the judge reports them
#: (CRYPTO_CONSTRAINTS_FAILURE_NO_POE).
LEGACY_HASHES = {"sha1", "md5", "md2"}


def legacy_hashes(path: tuple) -> tuple[str, ...]:
    """One line per certificate of a leaf-first path, trust anchor excepted (its self-signature
    is not relied on), signed with a hash the Circular does not list."""
    out = []
    for cert in path[:-1]:
        algo = cert["signature_algorithm"].hash_algo
        if algo in LEGACY_HASHES:
            out.append(f"certificate {cert.subject.human_friendly} is signed with {algo.upper()}")
    return tuple(out)


def _path_of(exc) -> tuple:
    path = getattr(exc, "original_path", None) or getattr(exc, "path", None)
    try:
        return _leaf_first(path) if path is not None else ()
    except TypeError:
        return ()


def _leaf_first(path) -> tuple:
    """certvalidator iterates a path from the trust anchor down; reports read leaf first."""
    return tuple(reversed(list(path)))


def _run(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (e.g. FastAPI): run in a helper thread.
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
