"""The model seam and what stands behind it: the litellm Router backend (`_model`), the embedded
SmolLM2 model (`_local_model`, probed by `podium doctor` through `_model_probe`), the usage a
call costs (`_usage`), and the test doubles (`_doubles`, public as `podium.runtime.testing`).

May import: `podium.runtime._config`, `podium.runtime._errors`, and `podium.agents`,
`podium.tools`, `podium.policies`. Nothing of the engine: a model call knows tiers and
messages, not plans. Nothing is exported here: `podium.runtime` is the public surface.
"""
