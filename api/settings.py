"""Settings of an edoc installation, read from the environment (``EDOC_*``) or a ``.env`` file.

Embedded defaults (SQLite, a local object store, the development PKI) let ``edoc demo`` run on a
laptop with nothing configured; a data centre sets ``EDOC_DB`` to PostgreSQL, ``EDOC_STORE`` to
MinIO and ``EDOC_MODE=production`` with its own trust store.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Where data lives and whom to trust. Every field can be set as ``EDOC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="EDOC_", env_file=".env", extra="ignore")

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("edoc-data")
    db: str = ""  # SQLAlchemy URL; empty means SQLite in data_dir
    store: str = ""  # s3://KEY:SECRET@HOST:PORT/BUCKET?secure=0&retention_days=N or a directory
    pki_dir: Path = Path("certs-dev")
    trust: list[Path] = []  # trust store directories (roots and optional intermediates)
    lang: str = "vi"  # language of user-facing messages: vi or en
    tsa_url: str = ""  # RFC 3161 TSA for audit-log anchors; empty: the dev PKI's TSA (development)

    @property
    def development(self) -> bool:
        return self.mode is Mode.DEVELOPMENT

    def database_url(self) -> str:
        if self.db:
            return self.db
        return f"sqlite:///{(self.data_dir / 'edoc.sqlite').resolve()}"

    def store_url(self) -> str:
        return self.store or str((self.data_dir / "objects").resolve())


def get_settings() -> Settings:
    return Settings()
