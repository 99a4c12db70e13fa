"""Interpreter settings for a busy, long-running collector process, and its helper processes;
and which of its modules run compiled."""

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Allocations between young-generation collections (CPython's default is 700). Most objects
# of the ingest path die young, and the longer the interval the fewer of them a collection
# still finds alive: measured at 60,000 segments/s, collections took 2.4 s of every 16 s at
# 50,000 and 0.2 s at 1,000,000.
GC_THRESHOLD = 1_000_000
# How long a thread may hold the GIL while another wants it (CPython's default is 5 ms). The
# receiver, the writer and the API each give up the GIL around system calls and SQLite steps,
# and each time wait up to this long to get it back from the busy pipeline thread.
SWITCH_INTERVAL_S = 0.001
# glibc malloc arenas (its default is eight per core). Buffers larger than Python's small-object
# allocator handles (datagrams, documents, JSON summaries) are allocated by one thread and freed
# by another; with an arena per thread each arena keeps its own free space, and the process grew
# by about 12 MiB at 20,000 segments/s for it. MALLOC_ARENA_MAX in the environment wins.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def tune_runtime() -> None:
    """Process-wide settings (see the constants above).

    Objects that exist at start-up are frozen out of garbage collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if "MALLOC_ARENA_MAX" not in os.environ:
        _limit_malloc_arenas(MALLOC_ARENAS)


def _limit_malloc_arenas(arenas: int) -> None:
    """Cap glibc's malloc arenas, for the threads started from now on (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mallopt(_M_ARENA_MAX, arenas)


# How often a helper process checks that its collector still runs.
ORPHAN_CHECK_S = 1.0

# What starting helper processes raises where they cannot run (no working semaphores: a
# read-only /dev/shm, some sandboxes); the caller then does the work in its own process.
HELPERS_UNAVAILABLE = (OSError, ImportError, NotImplementedError)


def helper_pool(processes: int, *, tuned: bool = False) -> ProcessPoolExecutor:
    """Helper processes for CPU work beside the collector's threads.

    Spawned, not forked: a fork would copy the collector's threads' locks mid-use. Helpers
    ignore Ctrl-C, which reaches the whole process group: the collector stops them itself.
    A helper whose collector died without stopping it (SIGKILL, a crash) exits on its own.
    ``tuned`` gives them the collector's settings (:func:`tune_runtime`). Raises one of
    :data:`HELPERS_UNAVAILABLE` where processes cannot start.
    """
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_tuned_helper if tuned else _start_helper,
    )


def _start_helper() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        threading.Thread(
            target=_exit_without, args=(parent.pid,), name="fluoroscope-orphan-watch", daemon=True
        ).start()


def _exit_without(collector: int) -> None:
    """Exit once the collector is gone (the helper is then reparented): an orphan would hold
    its memory until killed by hand, and every crash would leave more of them."""
    while os.getppid() == collector:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _start_tuned_helper() -> None:
    _start_helper()
    tune_runtime()


_PACKAGE = Path(__file__).resolve().parent


def _compiled(package: Path) -> list[tuple[Path, Path]]:
    """(extension file, source file) of each module of ``package`` that is compiled.

    Python imports a compiled module in preference to its source beside it, so the extension
    files say which modules run compiled; a pure-Python install has none.
    """
    found = []
    for compiled in package.rglob("*.so"):
        source = compiled.with_name(compiled.name.split(".", 1)[0] + ".py")
        if source.exists():
            found.append((compiled, source))
    return found


def compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """The modules of ``package`` (the collector's) that run as compiled code (pyproject.toml's
    mypyc hook), by name."""
    return sorted(
        ".".join((package.name, *source.relative_to(package).with_suffix("").parts))
        for _, source in _compiled(package)
    )


def stale_compiled_modules(package: Path = _PACKAGE) -> list[str]:
    """The sources of ``package`` edited since they were compiled (an editable install
    compiles in place), relative to its parent: the old code is what would run."""
    return sorted(
        str(source.relative_to(package.parent))
        for compiled, source in _compiled(package)
        if source.stat().st_mtime > compiled.stat().st_mtime
    )


def build() -> str:
    """How this install runs: how many modules are compiled, or pure Python."""
    compiled = compiled_modules()
    if not compiled:
        return "pure Python (no compiled modules)"
    return f"{len(compiled)} hot-path modules compiled with mypyc"
