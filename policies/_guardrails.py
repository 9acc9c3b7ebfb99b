"""guardrails-ai, imported once and made quiet: no remote metrics, no tracing, sequential validators.

guardrails-ai 0.11 sends usage metrics to a remote collector unless `~/.guardrailsrc` says
otherwise, and every `Guard()` re-reads that file. It also emits OpenTelemetry spans holding
raw outputs into any global tracer provider, and by default runs validators concurrently in a
thread pool (merging their fixes with a three-way diff, and swapping the process's asyncio
policy for uvloop). Podium turns all of that off here, before the first Guard exists:
- GUARDRAILS_RUN_SYNC=true: validators run in order, each seeing the previous one's fix;
  deterministic, and the fastest mode (about 0.4 ms of guard overhead per output);
- settings.rc with metrics off: validators read it at construction;
- settings.disable_tracing: no spans with raw text;
- the hub telemetry singleton created disabled, its exporter shut down; every Guard is also
  configured with `allow_metrics_collection=False` (see `new_guard`).
`tests/test_policies_telemetry.py` proves a run opens no socket. The private attributes used
below are pinned by the guardrails-ai version in pyproject.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any


@functools.cache
def quiet_guardrails() -> None:
    """Import guardrails-ai with telemetry and tracing off. Idempotent; costs ~2 s the first time."""
    os.environ["GUARDRAILS_RUN_SYNC"] = "true"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from guardrails import settings
        from guardrails.classes.rc import RC
        from guardrails.utils.hub_telemetry_utils import HubTelemetry

    settings.rc = RC(enable_metrics=False, use_remote_inferencing=False)
    settings.disable_tracing = True
    telemetry = HubTelemetry(enabled=False)
    telemetry._enabled = False
    telemetry._tracer = None
    processor = getattr(telemetry, "_processor", None)
    if processor is not None:
        processor.shutdown()
        telemetry._processor = None


def new_guard(name: str, validators: list[Any]) -> Any:
    """A guardrails `Guard` holding `validators`, with metrics collection off."""
    quiet_guardrails()
    from guardrails import Guard

    guard = Guard(name=name)
    guard.configure(allow_metrics_collection=False)
    _disable_hub_tracer()
    if validators:
        guard.use(*validators)
    return guard


def _disable_hub_tracer() -> None:
    # Guard() re-reads ~/.guardrailsrc and may flip the singleton back on; without a tracer it
    # has nothing to export with.
    from guardrails.utils.hub_telemetry_utils import HubTelemetry

    telemetry = HubTelemetry()
    telemetry._enabled = False
    telemetry._tracer = None
