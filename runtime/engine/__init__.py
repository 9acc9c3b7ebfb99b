"""One run: plan, planning, playbooks, dispatch, the attempt ladder, review, synthesis, escalation,
replay after a resume, results and events.

The supervisor (`_supervisor`) is the LangGraph entrypoint and reads as the algorithm (plan →
dispatch → review → synthesise); it binds the run to LangGraph (the entrypoint and its three
checkpointed tasks, whose names and call order are what stored runs resume by). The steps are
modules of one concept each, passing a `RunContext` and typed values: `_context` (the context,
the tasks, where the run stands, the typed outcomes), `_planning`, `_plan_sources` (the goal's
playbook), `_plan_cache` (the plan cache in one home: lookup, reuse, adaptation, what is kept;
podium.memory holds its store), `_dispatch`, `_attempts` (the ladder), `_review`, `_escalation`
(what a run asks a person, and the one vocabulary of their answers), `_synthesis`, `_replay`
(what a checkpointed step restores) and `_results` (the `RunResult`, built once). Around them
live the values a run is made of (`_plan`, `_result`, `_events`, `_status`: the run statuses,
which may follow which, and the one resume rule every interface applies), the planner and
playbooks, the run's bindings of the leaf packages (`_memory`, `_policy`, `_effects`, `_facts`,
`_routing`), the executor seam (`_executor`: the port an attempt is handed to, and the
in-process default) and the event-sink seam (`_sinks`).

Event sinks: a run makes one stream of typed `RunEvent`s (`ctx.emit`) and every consumer is an
`EventSink` (`emit(event)`, `run_ended(run_id)`): the audit log (`_policy.AuditSink`), the CLI
progress view, the server's event log and its relays, `on_event` callbacks, users' own sinks
(`Podium(sinks=...)`, `arun(sinks=...)`) and, later, an OpenTelemetry exporter (spans from the
run and task events, closed at `run_ended`). `EventFanout` delivers the stream to each in
order and catches what a sink raises (logged once): sinks watch a run, never change it.

May import: `podium.runtime.models`, `podium.runtime._config`, `podium.runtime._errors`, and
`podium.agents`, `podium.tools`, `podium.memory`, `podium.policies`. Never the façade, storage,
executors or interfaces: they are built on the engine and handed to it (import-linter contracts
in pyproject.toml). Nothing is exported here: `podium.runtime` is the public surface.
"""
