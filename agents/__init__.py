"""Podium's agents: specs (cards), the registry, the agent loop and the built-in specialists.

Names are imported on first use (PEP 562): the configuration names a `Tier` and the
registry lists cards (`podium agents`) without loading the agent loop and the tools it calls.
"""

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
