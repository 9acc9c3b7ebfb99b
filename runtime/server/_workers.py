"""Where `podium serve` executes runs: a thread of the server's process, or worker processes.

The server's own event loop only answers HTTP and streams events. A run is CPU work between
model calls (plans, guards, checkpoints); hundreds at once on the server's loop would make
every request and SSE frame wait its turn behind them.

- ThreadExecutor (`[server] workers = 0`): one event loop on a thread of its own. Works with
  any Podium, one built in Python with a test model included; all runs share one core (the
  interpreter lock), and the server's loop competes with them for it.
- ProcessExecutor (`workers = N`): N child processes, each with its own Podium built by a
  picklable factory (a PodiumConfig for `podium serve`). Runs use N more cores, and the
  server's loop keeps one to itself. Jobs go down a pipe; events come back up it in batches.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PlanError
from ..engine._events import RunEvent, RunFinished
from ..engine._sinks import EventSink
from ..engine._status import UNDER_WAY, RunStatus, can_move
from ..models._usage import Usage
from ..storage._store import RunRecord

if TYPE_CHECKING:
    from .._api import Podium

logger = logging.getLogger("podium.server")

PodiumFactory = Callable[[str | None], "Podium"]
"""Builds the Podium for a profile (None: the default one)."""


@dataclass(eq=False)
class Job:
    """One run to start or continue."""

    run_id: str
    tenant: str
    profile: str | None
    goal: str
    fresh: bool
    """True: a new run (`arun`); False: continue one (`aresume`), with `answers` if it waits."""
    answers: dict[str, Any] | None = None
    dropped: bool = False
    """Cancelled while queued: it is never started."""


class JobSink(Protocol):
    """What an executor reports to the server, on the server's loop."""

    def on_event(self, run_id: str, event: RunEvent) -> None: ...

    def on_event_json(self, run_id: str, kind: str, data: str) -> None:
        """An event as a worker process sent it: its kind, and the event as JSON."""

    def on_done(self, job: Job) -> None: ...


class RunExecutor(Protocol):
    def start_job(self, job: Job) -> None: ...

    def cancel(self, job: Job) -> None: ...

    def load(self) -> int:
        """Jobs started and not done."""
        ...

    async def stop(self) -> None:
        """Cancel what runs (it ends "cancelled", resumable) and wait for it."""


# -- one job, wherever it runs ----------------------------------------------------------------


async def execute_job(podium: Podium, job: Job, relay: EventSink) -> None:
    """Run or resume, its events going to `relay` (the way to the server's event log);
    whatever happens, the run ends recorded and with a run_finished event."""
    try:
        if job.fresh:
            await podium.arun(job.goal, run_id=job.run_id, tenant=job.tenant, sinks=[relay])
        else:
            await podium.aresume(job.run_id, answers=job.answers, sinks=[relay])
    except PlanError:
        pass  # recorded as failed, and its run_finished event was emitted
    except asyncio.CancelledError:
        pass  # stopping: the run was recorded as cancelled (resumable)
    except Exception as exc:  # a bug or a backend failure must not lose the run
        logger.exception("run %s crashed", job.run_id)
        record = podium.store.get(job.run_id)
        if record.status in UNDER_WAY:
            relay.emit(record_outcome(podium, record, "failed", f"{type(exc).__name__}: {exc}"))


def record_outcome(podium: Podium, record: RunRecord, status: RunStatus, error: str) -> RunFinished:
    """Store an outcome the runtime did not record itself; the event that says so."""
    updated = record.moved_to(status, error=error)
    podium.store.save(updated)
    return outcome_event(updated)


def outcome_event(record: RunRecord) -> RunFinished:
    """A run_finished event from a stored record (for runs whose live events are gone)."""
    result = record.result
    status = record.status if record.status not in UNDER_WAY else "failed"
    return RunFinished(
        run_id=record.run_id,
        status=status,
        answer=result.answer if result else None,
        usage=result.usage if result else Usage(),
        error=record.error,
        error_kind=result.error_kind if result else None,
    )


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- a thread of the server's process ------------------------------------------------------------


class Handover:
    """Calls from another thread, made on the server's loop in order, many per wake-up.

    Waking the server's loop costs it a turn at the interpreter lock; at hundreds of runs a
    wake-up per event would keep it queueing for the lock instead of answering requests."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._calls: list[Callable[[], None]] = []

    def call(self, function: Callable[[], None]) -> None:
        with self._lock:
            self._calls.append(function)
            if len(self._calls) > 1:
                return  # a drain is already scheduled
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, []
        for function in calls:
            function()


class LoopRelay(EventSink):
    """A run's events, from the run's thread to the server's event log on the server's loop."""

    def __init__(self, handover: Handover, sink: JobSink) -> None:
        self._handover = handover
        self._sink = sink

    def emit(self, event: RunEvent) -> None:
        self._handover.call(functools.partial(self._sink.on_event, event.run_id, event))


class ThreadExecutor:
    """Runs on one event loop in a thread of the server's process, with the server's Podiums."""

    def __init__(self, podium: Callable[[str | None], Podium], sink: JobSink) -> None:
        self._podium = podium
        self._sink = sink
        self._handover = Handover(asyncio.get_running_loop())
        self._relay = LoopRelay(self._handover, sink)
        self._jobs: dict[str, Job] = {}
        self._idle: asyncio.Event | None = None
        self.loop = new_loop()
        self._thread = threading.Thread(target=self._main, name="podium-runs", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def load(self) -> int:
        return len(self._jobs)

    def start_job(self, job: Job) -> None:
        podium = self._podium(job.profile)
        self._jobs[job.run_id] = job
        running = self._submit(execute_job(podium, job, self._relay))
        running.add_done_callback(lambda _: self._handover.call(functools.partial(self._done, job)))

    def _submit(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def _done(self, job: Job) -> None:
        self._jobs.pop(job.run_id, None)
        self._sink.on_done(job)
        if self._idle is not None and not self._jobs:
            self._idle.set()

    def cancel(self, job: Job) -> None:
        podium = self._podium(job.profile)
        self.loop.call_soon_threadsafe(podium.cancel, job.run_id)

    async def stop(self) -> None:
        for job in list(self._jobs.values()):
            self.cancel(job)
        if self._jobs:
            self._idle = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, 30)


# -- worker processes ----------------------------------------------------------------------------

_HEADER = struct.Struct("!I")
WORKER_NICENESS = 10


def _frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


async def _pipe_streams(
    read_fd: int, write_fd: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


class ProcessExecutor:
    """Runs in a child process (`python -m podium.runtime.server._workers READ_FD WRITE_FD`).

    The child gets `factory` (pickled) first, then ("start", Job) and ("cancel", run_id)
    messages; it answers with batches of ("event", run_id, json) and ("done", run_id).
    A child that dies takes its runs with it: they are recorded "cancelled" (resume them)
    and a new child is started."""

    def __init__(self, factory: PodiumFactory, sink: JobSink, recorder: Podium, name: str):
        self._factory = factory
        self._sink = sink
        self._recorder = recorder
        self._name = name
        self._jobs: dict[str, Job] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._stopping = False
        self._ready = False
        self._broken = False
        self._started = asyncio.ensure_future(self._start())

    def load(self) -> int:
        return len(self._jobs) + (1_000_000 if self._broken else 0)

    async def _start(self) -> None:
        down_read, down_write = os.pipe()  # server -> child
        up_read, up_write = os.pipe()  # child -> server
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "podium.runtime.server._workers",
            str(down_read),
            str(up_write),
            pass_fds=(down_read, up_write),
            stdin=subprocess.DEVNULL,
        )
        os.close(down_read)
        os.close(up_write)
        reader, self._writer = await _pipe_streams(up_read, down_write)
        self._writer.write(_frame(self._factory))
        for job in self._jobs.values():  # started before the child was
            self._writer.write(_frame(("start", job)))
        self._reading = asyncio.ensure_future(self._read(reader))

    def start_job(self, job: Job) -> None:
        self._jobs[job.run_id] = job
        if self._broken:
            self._fail_jobs("failed", "the worker process could not start: see the server's log")
        elif self._writer is not None:
            self._writer.write(_frame(("start", job)))

    def cancel(self, job: Job) -> None:
        if self._writer is not None:
            self._writer.write(_frame(("cancel", job.run_id)))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                for message in await _read_frame(reader):
                    match message:
                        case ("ready",):
                            self._ready = True
                        case ("event", run_id, kind, data):
                            self._sink.on_event_json(run_id, kind, data)
                        case ("done", run_id):
                            if (job := self._jobs.pop(run_id, None)) is not None:
                                self._sink.on_done(job)
        except (asyncio.IncompleteReadError, ConnectionError, EOFError):
            pass
        if not self._stopping:
            self._lost()

    def _lost(self) -> None:
        """The child died: its runs are recorded as cancelled (resumable), and a new child
        starts, unless this one never got as far as building its Podium."""
        logger.error("worker %s stopped; %d run(s) cancelled", self._name, len(self._jobs))
        self._writer = None
        if not self._ready:
            self._broken = True
            self._fail_jobs("failed", "the worker process could not start: see the server's log")
            return
        self._fail_jobs("cancelled", "the worker process running it stopped: resume it")
        self._ready = False
        self._started = asyncio.ensure_future(self._start())

    def _fail_jobs(self, status: RunStatus, error: str) -> None:
        jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            record = self._recorder.store.get(job.run_id)
            event = (
                record_outcome(self._recorder, record, status, error)
                if can_move(record.status, status)
                else outcome_event(record)  # at rest before the worker stopped: as recorded
            )
            self._sink.on_event(job.run_id, event)
            self._sink.on_done(job)

    async def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(Exception):
            await self._started
        if self._writer is not None:
            self._writer.write(_frame(("stop", None)))
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 35)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reading is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reading, 5)


# -- the child's side ----------------------------------------------------------------------------


class PipeRelay(EventSink):
    """A run's events, from a worker process up the pipe to the server, as JSON: the server
    sends it on as it came (SSE) and parses it only when asked."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self._send = send

    def emit(self, event: RunEvent) -> None:
        self._send(("event", event.run_id, event.kind, event.model_dump_json()))


async def _child(read_fd: int, write_fd: int) -> None:
    reader, writer = await _pipe_streams(read_fd, write_fd)
    loop = asyncio.get_running_loop()
    factory: PodiumFactory = await _read_frame(reader)
    podiums: dict[str | None, Podium] = {None: factory(None)}  # the default, built now
    gc.collect()
    gc.freeze()  # its ~250,000 objects out of every collection's walk (runtime/server/_server.py)
    writer.write(_frame([("ready",)]))
    running: dict[str, asyncio.Task[None]] = {}
    batch: list[tuple[Any, ...]] = []

    def send(message: tuple[Any, ...]) -> None:
        batch.append(message)
        if len(batch) == 1:
            loop.call_soon(flush)

    def flush() -> None:
        writer.write(_frame(list(batch)))
        batch.clear()

    def podium(profile: str | None) -> Podium:
        if profile not in podiums:
            podiums[profile] = factory(profile)
        return podiums[profile]

    relay = PipeRelay(send)

    async def run(job: Job) -> None:
        try:
            await execute_job(podium(job.profile), job, relay)
        finally:
            running.pop(job.run_id, None)
            send(("done", job.run_id))

    while True:
        try:
            message = await _read_frame(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            message = ("stop", None)  # the server went away
        match message:
            case ("start", job):
                running[job.run_id] = asyncio.ensure_future(run(job))
            case ("cancel", run_id):
                for instance in podiums.values():
                    instance.cancel(run_id)
            case ("stop", _):
                for run_id in list(running):
                    for instance in podiums.values():
                        instance.cancel(run_id)
                await asyncio.gather(*running.values(), return_exceptions=True)
                if batch:
                    flush()
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                for instance in podiums.values():
                    instance.close()
                return


def _child_main() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    # Below the server's own process: when both want the CPU, answering requests and streaming
    # events come first, and the runs take what is left (they mostly wait on models anyway).
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
    loop = new_loop()
    try:
        loop.run_until_complete(_child(read_fd, write_fd))
    finally:
        loop.close()


if __name__ == "__main__":
    _child_main()
