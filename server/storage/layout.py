"""On-disk layout of the SQLite file: page size, and the one-time migration of older files.

A scene or frame row is a 2,048-byte float32 vector plus about 40 bytes of columns. SQLite
keeps a row whole on its leaf page when it fits, and two such rows do not fit on a 4 KiB page,
so the old default stored ONE vector per 4,096-byte page (2.0x the raw bytes). With 32 KiB
pages fifteen rows share a page: about 2,185 bytes per row, 1.07x raw, ~1.08x with the
indexes. Vectors stay float32, so search and analytics results are bit-for-bit unchanged.

Page size is fixed when a database is created (`PRAGMA page_size` before the first write).
A data dir written with smaller pages is rewritten once on open: WAL mode must be left for
the VACUUM that changes the page size, then re-entered. Reads never depend on the page size,
so if the migration cannot run now (another process holds the file) the data dir still opens
and the migration is tried again at the next start.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

PAGE_SIZE = 32768
# Memory-mapped reads: lookups copy rows straight out of the OS page cache instead of
# through SQLite's per-connection cache (SQLite caps this at its compile-time maximum).
MMAP_BYTES = 1 << 40


def page_size(path: Path) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def migrate_page_size(path: Path) -> bool:
    """Rewrite an existing database with PAGE_SIZE pages; True if it did. A new (empty) file
    is left alone: the store's connections set the page size before creating tables."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        current = int(conn.execute("PRAGMA page_size").fetchone()[0])
        if current >= PAGE_SIZE:
            return False
        before = path.stat().st_size
        log.info(
            "migrating %s from %d-byte to %d-byte pages (one vector per page becomes ~15); "
            "this rewrites the file once (%.0f MB) and needs as much free space again",
            path,
            current,
            PAGE_SIZE,
            before / 1e6,
        )
        started = time.perf_counter()
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            log.warning(
                "could not migrate %s now (%s); it keeps working with %d-byte pages and the "
                "migration is tried again at the next start",
                path,
                exc,
                current,
            )
            return False
        finally:
            conn.execute("PRAGMA journal_mode=WAL")
        log.info(
            "migrated %s to %d-byte pages in %.1fs: %.0f MB -> %.0f MB",
            path,
            PAGE_SIZE,
            time.perf_counter() - started,
            before / 1e6,
            path.stat().st_size / 1e6,
        )
        return True
    finally:
        conn.close()
