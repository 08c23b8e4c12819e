"""The exchange axis: nodes hosting agencies, routing, store-and-forward delivery, receipts, and
the national-axis adapter with its simulator.

Modules, one job each:
- ``config``: node.toml (hosted agencies, peers pinned by certificate, routes, database, store).
- ``routing``: agency-code patterns → next hop; recipients grouped per hop.
- ``transport``: HTTPS with mutual TLS to peers, a peer known by its certificate.
- ``receipts``: signed receipts (canonical JSON + detached CMS by the node key).
- ``verification``: PDF signature verdicts, once per distinct file per node.
- ``receiver``: what a node does with an arriving package, before it answers.
- ``state``: every transaction of the exchange, on storage's models and repositories.
- ``outbox``: the delivery worker (back-off with jitter, bounded attempts, priorities, bundles).
- ``tracking``: latest status per document and recipient; the leaders' numbers.
- ``node``: the parts composed around one configuration.
- ``national``/``national_sim``/``axis_link``: the national axis client, its simulator, and a
  node's link to it.
"""
