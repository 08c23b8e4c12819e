"""The e-office application: what officials, clerks and leaders use over HTTP.

``create_office_app(node, settings)`` builds the FastAPI app on a running exchange node (its
database, object store, routing and outbox); ``edoc serve`` runs it beside the node's peer port.
"""
