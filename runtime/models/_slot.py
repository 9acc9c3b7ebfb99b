"""The model slot: a model that serves one call at a time tells a task when its call waits.

The embedded model is one llama.cpp context per process: parallel tasks take turns on it, and a
task whose call waits is queued, not running. The slot is a lock that reports the wait to
whoever watches the calling task (`watching`: the engine, which turns it into a run event). The
watcher travels in a context variable, because the call reaches the model through litellm and a
worker thread (`asyncio.to_thread` copies the context), and neither passes anything else along.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar

SlotWatcher = Callable[[bool], None]
"""Told False when a call of the watched task must wait for the model, then True when it gets
the model. Called from whichever thread takes the slot; never told anything when the model was
free at once."""

_watcher: ContextVar[SlotWatcher | None] = ContextVar("podium_model_slot_watcher", default=None)

POLL_S = 0.01
"""How often a waiting event-loop call looks at the slot again (see `ModelSlot.ahold`)."""


@contextlib.contextmanager
def watching(watcher: SlotWatcher) -> Iterator[None]:
    """Model calls made inside (in this task, and threads it starts) report their waits."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


class ModelSlot:
    """One call at a time, across threads and event loops; a wait is reported to the watcher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type[ModelSlot], tuple[()]]:
        """A copy in another process (a Ray worker) is that process's own slot, free."""
        return (ModelSlot, ())

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the slot from a worker thread (blocks while another call holds it)."""
        watcher = _watcher.get()
        waited = not self._lock.acquire(blocking=False)
        if waited:
            _tell(watcher, False)
            self._lock.acquire()
        try:  # from here on the slot is held: whatever happens, it is given back
            if waited:
                _tell(watcher, True)
            yield
        finally:
            self._lock.release()

    @contextlib.asynccontextmanager
    async def ahold(self) -> AsyncIterator[None]:
        """Hold the slot from an event loop without blocking it. It polls: a thread blocked on
        the lock could not be called off when the waiting task is cancelled, and would then take
        the slot for nobody."""
        watcher = _watcher.get()
        waited = not self._lock.acquire(blocking=False)
        if waited:
            _tell(watcher, False)
            # A threading lock, shared with threads and other loops: no asyncio.Event to await.
            while not self._lock.acquire(blocking=False):  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
        try:
            if waited:
                _tell(watcher, True)
            yield
        finally:
            self._lock.release()


def _tell(watcher: SlotWatcher | None, held: bool) -> None:
    if watcher is not None:
        watcher(held)
