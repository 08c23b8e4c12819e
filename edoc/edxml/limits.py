"""Resource limits for reading packages from strangers.

Each limit is checked as early as the data allows (before parsing, while parsing, before and
while inflating), so that a hostile package is refused quickly and memory stays bounded by the
package size plus one attachment."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    #: Whole package on the wire.
    max_package_bytes: int = 256 * MB
    #: Element nesting (edXML needs 8).
    max_depth: int = 32
    #: Elements in the whole document (attachments are 6 elements each).
    max_elements: int = 100_000
    #: Attachments in one package.
    max_attachments: int = 500
    #: Entries in one attachment's ZIP (the SDK puts exactly one file).
    max_zip_entries: int = 1
    #: One attachment, uncompressed.
    max_attachment_bytes: int = 200 * MB
    #: All attachments together, uncompressed.
    max_total_attachment_bytes: int = 512 * MB
    #: Uncompressed/compressed ratio allowed once an entry is past ``ratio_floor_bytes``.
    max_compression_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MB


DEFAULT_LIMITS = Limits()
