"""Persistence: signed originals in an object store (MinIO/S3 or a local directory), metadata and
registers in SQL (SQLAlchemy + Alembic), and the hash-chained audit log.

Map (each module one job):

* ``storage.objects`` — ``open_store(url)``, ``ObjectStore`` (``LocalStore``, ``S3Store``):
  content-addressed, immutable, verified on every read;
* ``storage.db`` — ``Database(url)``, ``make_engine``, ``upgrade``/``downgrade`` (Alembic scripts in
  ``storage/migrations``), models in ``storage.db.models``;
* ``storage.uow.UnitOfWork`` — one transaction with every repository on it:
  ``agencies``/``documents`` (``storage.documents``), ``registers`` (``storage.registers``),
  ``outbox`` (``storage.outbox``), ``inbox`` (``storage.inbox``), ``audit`` (``storage.audit``);
* ``storage.errors`` — bilingual errors (``StorageError`` is an ``edoc.errors.EdocError``).

Rule of order: put the object first, then commit the row that names it.
"""
