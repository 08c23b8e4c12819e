"""Tracking and reports for leaders: ``/api/v1/reports`` (JSON and CSV)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
