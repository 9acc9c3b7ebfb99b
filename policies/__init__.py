"""Podium's policies: guardrails-ai output guards, tool permissions, injection defence, redaction,
budgets and the audit trail. The runtime applies them; models never see or bypass them.
"""

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
