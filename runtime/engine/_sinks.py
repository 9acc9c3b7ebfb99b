"""The event-sink seam: where a run's events go, and the fan-out that keeps sinks out of the run.

A run makes one stream of `RunEvent`s; every consumer (the audit log, the CLI progress view,
the server's event log, the eval recorder, an `on_event` callback, a user's own sink, later an
OpenTelemetry exporter) is an `EventSink` that sees that stream in order. A sink only watches:
`EventFanout` catches what a sink raises, logs it once (naming the sink) and goes on, so no
sink can fail, stop or change a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from podium.policies import Redactor

from .._errors import ConfigError
from ._events import RunEvent

log = logging.getLogger("podium.events")


@runtime_checkable
class EventSink(Protocol):
    """A consumer of run events. Subclass it to inherit the no-op `run_ended`.

    Events come on the run's event loop, one at a time, in the order the run made them; a sink
    that blocks holds up the run, so one that does I/O hands the event on (a queue, a thread).
    One sink may see several runs at once (`Podium(sinks=...)` sees every run of its instance):
    `event.run_id` tells them apart."""

    def emit(self, event: RunEvent) -> None:
        """One event of a run; what this raises is logged and dropped (see `EventFanout`)."""

    def run_ended(self, run_id: str) -> None:
        """The run's stream is over for this call (`arun`, `aresume`): no event of `run_id`
        follows until it is resumed. Called once per call after its last event, also when the
        run stopped without a `RunFinished` (cancelled at an awkward moment, a crash), so a
        sink can drop what it keeps per run; a span exporter ends the spans still open here."""
        return None


def event_sinks(sinks: Iterable[object]) -> tuple[EventSink, ...]:
    """`sinks` as given, or ConfigError naming the first that is not one (checked where it is
    handed in: a wrong one would otherwise only show as a warning at the run's first event)."""
    checked: list[EventSink] = []
    for index, sink in enumerate(sinks):
        if not isinstance(sink, EventSink):
            raise ConfigError(
                f"sinks[{index}] ({sink!r}) is not an event sink: it needs `emit(event)` and "
                "`run_ended(run_id)` (subclass podium.runtime.EventSink for a no-op "
                "`run_ended`); a plain function goes to `on_event=` instead"
            )
        checked.append(sink)
    return tuple(checked)


class CallbackSink(EventSink):
    """A plain function as a sink: the `on_event=` callback of `Podium.arun` and friends."""

    def __init__(self, callback: Callable[[RunEvent], None]) -> None:
        self.callback = callback

    def emit(self, event: RunEvent) -> None:
        self.callback(event)

    def __repr__(self) -> str:
        return f"on_event={getattr(self.callback, '__qualname__', self.callback)!r}"


class RedactedSink(EventSink):
    """Hands on each event with every text in it masked: events leave the run (`astream`, SSE,
    a user's sink) carrying tool arguments, outputs and questions. Masks once for all behind it."""

    def __init__(self, sink: EventSink, redactor: Redactor) -> None:
        self.sink = sink
        self.redactor = redactor

    def emit(self, event: RunEvent) -> None:
        data = event.model_dump()
        clean = self.redactor.redact_data(data)
        self.sink.emit(event if clean == data else type(event).model_validate(clean))

    def run_ended(self, run_id: str) -> None:
        self.sink.run_ended(run_id)

    def __repr__(self) -> str:
        return f"redacted({self.sink!r})"


class EventFanout(EventSink):
    """Delivers each event to every sink, in the order the sinks are given.

    The run's one guarantee to its sinks, and theirs to it: a sink that raises does not stop
    the others or the run. Its first failure in this fan-out is logged with the traceback and
    the sink's name; later ones are counted, not logged, so a broken sink cannot flood the log.
    Built per run call, so each run reports a broken sink once."""

    def __init__(self, sinks: Iterable[EventSink]) -> None:
        self.sinks = tuple(sinks)
        self.failures: dict[int, int] = {}
        """Failures so far by position in `sinks`: only a sink's first is logged."""

    def emit(self, event: RunEvent) -> None:
        for index, sink in enumerate(self.sinks):
            try:
                sink.emit(event)
            except Exception:
                self._failed(index, f"{event.kind} event of run {event.run_id}")

    def run_ended(self, run_id: str) -> None:
        for index, sink in enumerate(self.sinks):
            try:
                sink.run_ended(run_id)
            except Exception:
                self._failed(index, f"end of run {run_id}")

    def _failed(self, index: int, what: str) -> None:
        count = self.failures[index] = self.failures.get(index, 0) + 1
        if count == 1:
            log.warning(
                "event sink %r failed on the %s; the run goes on (later failures of this "
                "sink in this run are not logged)",
                self.sinks[index],
                what,
                exc_info=True,
            )

    def __repr__(self) -> str:
        return f"EventFanout({', '.join(map(repr, self.sinks))})"
