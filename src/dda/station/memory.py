"""Keep the station's resident memory close to what it uses.

glibc's malloc raises its mmap threshold after each large free (up to 32 MB), so image-sized
arrays end up in per-thread arenas that are rarely returned to the OS, and each worker thread gets
an arena of its own: a burst of uploads then leaves hundreds of MB resident. A fixed 1 MiB threshold
(large buffers are mmapped and unmapped on free) and a few arenas keep RSS bounded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

from dda.core.logging import get_logger

log = get_logger(__name__)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20
ARENAS = 4


def tune_malloc() -> bool:
    """Apply the settings above when running on glibc; False (and nothing done) elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (e.g. musl)
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = all(
        mallopt(option, value) == 1
        for option, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD),
            (M_ARENA_MAX, ARENAS),
        )
    )
    if not ok:
        log.warning("mallopt refused a setting; memory use may be higher under bursts")
    return ok


_trim: Callable[[int], int] | None = None
_trim_checked = False


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``); after a large request."""
    global _trim, _trim_checked
    if not _trim_checked:
        _trim_checked = True
        name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
        try:
            _trim = ctypes.CDLL(name).malloc_trim if name else None
        except (OSError, AttributeError):
            _trim = None
    if _trim is not None:
        _trim(0)
