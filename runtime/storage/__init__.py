"""Where runs are kept: run records and the LangGraph checkpointer, as files and SQLite by default
(`_store`) or one Postgres database (`_postgres`), and the checkpointer shared by a Podium
instance's concurrent runs (`_checkpoints`).

An adapter of the engine: a record holds the engine's `RunResult`, and the façade chooses the
store and hands its checkpointer to the supervisor; the engine never imports storage.
May import: `podium.runtime.engine`, `podium.runtime._config`, `podium.runtime._errors`.
Nothing is exported here: `podium.runtime` is the public surface.
"""
