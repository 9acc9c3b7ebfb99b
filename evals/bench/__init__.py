"""Benchmarks (`podium bench ...`), the peer systems they compare Podium with, crash torture and
the compromised-model attack suite: harnesses that measure the runtime, apart from the
evaluation product (`podium.evals`) and never imported by it.

Benchmarks drive Podium through its public API with the scripted doubles of
`podium.runtime.testing`. A peer that needs a dev-only package (`peer_langgraph_supervisor`:
langgraph-supervisor) is imported by `peers` only when that peer runs. Nothing is imported here.
"""
