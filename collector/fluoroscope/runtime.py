"""Interpreter settings for a busy, long-running collector process, and its helper processes."""

import gc
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

# Allocations between young-generation collections (CPython's default is 700). Most objects
# of the ingest path die young, and the longer the interval the fewer of them a collection
# still finds alive: measured at 60,000 segments/s, collections took 2.4 s of every 16 s at
# 50,000 and 0.2 s at 1,000,000.
GC_THRESHOLD = 1_000_000
# How long a thread may hold the GIL while another wants it (CPython's default is 5 ms). The
# receiver, the writer and the API each give up the GIL around system calls and SQLite steps,
# and each time wait up to this long to get it back from the busy pipeline thread.
SWITCH_INTERVAL_S = 0.001


def tune_runtime() -> None:
    """Process-wide settings (see the constants above).

    Objects that exist at start-up are frozen out of garbage collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


# What starting helper processes raises where they cannot run (no working semaphores: a
# read-only /dev/shm, some sandboxes); the caller then does the work in its own process.
HELPERS_UNAVAILABLE = (OSError, ImportError, NotImplementedError)


def helper_pool(processes: int, *, tuned: bool = False) -> ProcessPoolExecutor:
    """Helper processes for CPU work beside the collector's threads.

    Spawned, not forked: a fork would copy the collector's threads' locks mid-use. Helpers
    ignore Ctrl-C, which reaches the whole process group: the collector stops them itself.
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


def _start_tuned_helper() -> None:
    _start_helper()
    tune_runtime()
