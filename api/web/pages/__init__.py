"""The web page's routes, one module per part of the work (as ``api.office.routes``)."""
