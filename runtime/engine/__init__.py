"""One run's algorithm: plan, dispatch, attempt ladder, review, synthesis, escalation, replay, results, events.

`podium.runtime._supervisor` binds these steps to LangGraph (the entrypoint and its three
checkpointed tasks); the modules here are the steps, each one concept, passing a `RunContext`
and typed values. They may import `podium.agents`, `podium.tools`, `podium.memory`,
`podium.policies` and the runtime's model, storage and executor seams; never an interface (CLI,
HTTP, chat, workers) or the `Podium` façade.
"""
