"""Persistence: signed originals in an object store (MinIO/S3 or a local directory), metadata and
registers in SQL (SQLAlchemy + Alembic), and the hash-chained audit log.
"""
