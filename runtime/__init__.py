"""Podium's runtime: the supervisor, plans, the model seam, events, checkpoints and the Python API.

Names are imported on first use (PEP 562), so `podium --help` does not pay for LangGraph.
"""

import os

# Nothing phones home: litellm fetches its price map from the network at import unless told
# otherwise, and any import of litellm (ours or a user's after importing podium) reads this.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
