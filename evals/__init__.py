"""Podium's offline evaluation: scenarios, record/replay cassettes, graders, the suite runner,
comparisons and reports (console, JSON, HTML, timelines).

Benchmarks, peer systems, crash torture and attack suites live apart in `podium.evals.bench`;
the script that authors the bundled scenarios is `scripts/author_scenarios.py`, outside the
package. The `podium eval ...` commands plug into the CLI from `podium.evals.cli` (an entry point
in the `podium.commands` group), so the runtime never imports this package.

May import `podium.runtime` (public names and `podium.runtime.cli` for command plugins), and the
leaf packages' public names; never a private module of another package, nor the bench.
Names are imported on first use (PEP 562): `podium --help` loads the command plugin, not this.
"""

import lazy_loader

# The names listed in __init__.pyi, each imported on first use (PEP 562), so `podium --help` and
# the listing commands do not pay for what they do not touch.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
