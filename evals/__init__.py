"""Podium's evaluations: performance benchmarks now; scenarios, cassettes and graders with the evaluation issue."""
