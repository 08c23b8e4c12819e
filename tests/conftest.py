"""Fixtures for the whole suite live in ``tests/fixtures/``, one module per real part that tests
start (the development PKI and its TSA/OCSP server, the SeaweedFS S3 server, the SQL databases,
a PostgreSQL server a test may crash)."""

pytest_plugins = [
    "tests.fixtures.pki",
    "tests.fixtures.s3",
    "tests.fixtures.db",
    "tests.fixtures.pg_server",
    "tests.fixtures.signing",
    "tests.browser",
    "tests.reliability",
]
