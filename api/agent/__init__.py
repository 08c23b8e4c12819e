"""``edoc agent``: the leader's local signing agent (the "signing plug-in" of e-office systems).

WHY: the leader's USB token is in his own computer, but the e-office page runs in a browser. The
page asks this agent, on 127.0.0.1, for the token's certificate and for a signature over the
digest the e-office server prepared (deferred signing). The agent never sees the document, asks
the PIN itself (never from the page), answers one configured origin only and only once the page
holds the pairing code printed on the agent's console.

Modules, one job each: :mod:`.errors` (the JSON error shape), :mod:`.guard` (Host, Origin,
CORS), :mod:`.pairing` (the pairing code), :mod:`.pin` (asking the PIN), :mod:`.keys` (token or
PKCS#12 file), :mod:`.request` (what a sign request may carry), :mod:`.app` (the routes),
:mod:`.server` (bind and run).
"""
