"""`python -m podium.runtime.cli`: the `podium` command without its console script."""

from ._main import main

raise SystemExit(main())
