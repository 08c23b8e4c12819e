"""Development PKI shaped like Vietnam's official-use PKI (root → government sub-CA → officials,
agency seals, TSA, OCSP responder, node TLS), with local TSA/OCSP/CRL services.

For development and tests only: every certificate carries :data:`DEV_POLICY_OID` and a trust store
must refuse :func:`is_dev_root` roots unless edoc runs in development mode.
"""

from signing.devpki.errors import DevPkiError
from signing.devpki.generate import create, has_pki
from signing.devpki.manifest import Authority, Entity, Manifest
from signing.devpki.marker import DEV_POLICY_OID, is_dev_cert, is_dev_root
from signing.devpki.nodes import issue_node, revoke
from signing.devpki.server import make_server, serve

__all__ = [
    "DEV_POLICY_OID",
    "Authority",
    "DevPkiError",
    "Entity",
    "Manifest",
    "create",
    "has_pki",
    "is_dev_cert",
    "is_dev_root",
    "issue_node",
    "make_server",
    "revoke",
    "serve",
]
