"""Podium's shared memory on Chroma: scoped entries with provenance, context for prompts, a plan cache.

store = MemoryStore(config.memory, data_dir=data_dir, redact=redactor.redact)
scope = store.scope(tenant="acme", run_id=run_id, agent="researcher")
scope.write("Northwind renewed for two years", task_id="t1")           # run namespace
scope.write(tool_output, source="tool", namespace="agent")              # untrusted
prompt_section = scope.context(task.instruction)                         # top-k in budget
match = store.plan_cache("acme").lookup(goal)                            # PlanMatch | None

Names are imported on first use (PEP 562): the configuration's `MemoryConfig` does not load
numpy, the embedding model or Chroma.
"""

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
