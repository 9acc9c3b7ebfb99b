"""One checkpointer shared by the runs of a Podium instance that execute at the same time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Open:
    opening: asyncio.Future[Any]
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    users: int = 0


class SharedCheckpointer:
    """Up to `connections` checkpointers per event loop, opened as runs start and closed after
    the last run using each; every run borrows the least used one.

    Why: with SQLite, a connection per run makes concurrent runs fight over the database's
    write lock, and past a few hundred runs at once some wait beyond SQLite's busy timeout
    and fail ("database is locked"). A few shared connections keep the contention small while
    their threads still overlap (one connection would queue every run's writes behind one
    lock and one thread). LangGraph's savers are built to be shared: each guards its
    connection with a lock. Keyed by event loop, because a connection belongs to its loop.
    """

    def __init__(
        self,
        open_saver: Callable[[], contextlib.AbstractAsyncContextManager[Any]],
        *,
        connections: int = 4,
    ):
        self._open_saver = open_saver
        self._connections = connections
        self._open: dict[asyncio.AbstractEventLoop, list[_Open]] = {}

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[Any]:
        loop = asyncio.get_running_loop()
        entries = self._open.setdefault(loop, [])
        if len(entries) < self._connections:
            stack = contextlib.AsyncExitStack()
            opening = asyncio.ensure_future(stack.enter_async_context(self._open_saver()))
            entry = _Open(opening, stack)
            entries.append(entry)
        else:
            entry = min(entries, key=lambda e: e.users)
        entry.users += 1
        try:
            yield await asyncio.shield(entry.opening)
        finally:
            entry.users -= 1
            if entry.users == 0:
                entries.remove(entry)
                if not entries and self._open.get(loop) is entries:
                    del self._open[loop]
                await _close(entry)


async def _close(entry: _Open) -> None:
    """Close the saver in a task of its own, so a cancellation cannot cut it short: a
    connection left half closed keeps the write transaction of a cancelled write open, and
    with it SQLite's write lock, until the process ends."""
    closing = asyncio.ensure_future(_close_when_open(entry))
    _closing.add(closing)  # held until done: the loop keeps only weak references to tasks
    closing.add_done_callback(_closing.discard)
    await asyncio.shield(closing)


async def _close_when_open(entry: _Open) -> None:
    try:
        saver = await entry.opening
    except BaseException:
        return  # a failed open has nothing to close
    # Close under the saver's own lock (LangGraph's savers take it around every statement).
    # Without it, a write of a cancelled run (LangGraph's `aput_writes`, still running in a
    # background task) can slip its INSERT in between the rollback and the close. Its cursor
    # then outlives the connection: SQLite turns the closed connection into a zombie that
    # keeps the open write transaction, and with it the database's write lock, until that
    # cursor is freed; the next run's first write waits out the busy timeout ("database is
    # locked"). Holding the lock, such a write either finishes first (its cursor closed inside
    # the lock) or finds the connection closed and opens no cursor.
    lock = getattr(saver, "lock", None)
    async with lock if isinstance(lock, asyncio.Lock) else contextlib.nullcontext():
        rollback = getattr(getattr(saver, "conn", None), "rollback", None)
        if rollback is not None:  # a write cancelled before its commit left a transaction open
            with contextlib.suppress(Exception):
                await rollback()
        await entry.stack.aclose()


_closing: set[asyncio.Future[Any]] = set()
