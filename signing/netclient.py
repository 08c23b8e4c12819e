"""One HTTP client per process for the validator's fetches (OCSP, CRLs, CA certificates).

``httpx.get`` / ``httpx.post`` build a client, and with it a TLS context loading the CA bundle,
on every call: ~27 ms of CPU each. A node asks revocation services for every signer first seen in
a freshness window, and, while a responder is down, for every arrival it answers "try later": a
hub fed documents from thousands of signers, or retried by its peers during an outage, would
spend most of that CPU building clients. httpx's Client is thread-safe and pools connections.
"""

from __future__ import annotations

import os
import threading

import httpx

_lock = threading.Lock()
_client: httpx.Client | None = None
_pid = 0


def client() -> httpx.Client:
    """The process's shared client (a new one in a forked child: connections do not cross)."""
    global _client, _pid
    with _lock:
        if _client is None or _pid != os.getpid():
            _client, _pid = httpx.Client(), os.getpid()
        return _client
