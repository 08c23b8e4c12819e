"""The e-office web page: server-rendered (Jinja2 + htmx, no front-end build step), Vietnamese by
default with English available, on top of the e-office API's own functions and gates.

Every page is a route of the same FastAPI app as the API, gated by ``gate.page_require(Action)``
(the same authorization table), and calls the same workflow functions (``api.office.*``): the
page adds presentation, never a second set of rules.
"""
