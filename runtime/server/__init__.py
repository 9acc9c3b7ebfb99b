"""`podium serve`: the run queue and its worker processes (`_workers`), the HTTP API with live
events over SSE (`_server`), the OpenAI-compatible endpoint (`_openai`), multi-turn goals
(`_conversation`) and the web page (`web/`).

An interface: it drives runs through the `Podium` façade's public methods. May import the
façade and everything below it; never `podium.runtime.cli` or `podium.evals`.
`create_app` and `serve` are exported by `podium.runtime`. (The folder is not called `serve`:
a sub-package of that name would replace the `podium.runtime.serve` function once imported.)
"""
