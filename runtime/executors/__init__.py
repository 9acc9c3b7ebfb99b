"""Where a task attempt runs when not in the supervisor's process: Ray (`_ray`), and the choice of
executor that `[run] executor` names (`_select`).

The executor seam itself (`TaskExecutor`, `AgentAttempt`, the in-process default) belongs to the
engine, which hands attempts to it; an executor here rebuilds an attempt's policies, memory
access and effect journal in its workers, so it imports the engine, never the reverse.
May import: `podium.runtime.engine`, `podium.runtime.models`, `podium.runtime._config`,
`podium.runtime._errors` and the leaf packages. Nothing is exported here.
"""
