"""The public surface survives the sub-package layout: `from podium.runtime import ...` and
`podium.runtime.testing` give the same objects whatever has been imported before."""

from __future__ import annotations

import importlib
import types

import podium.runtime
import podium.runtime.testing

SUB_PACKAGES = ("cli", "server", "engine", "models", "storage", "executors")


def test_no_sub_package_shadows_a_public_name() -> None:
    # Importing a sub-package sets it as an attribute of podium.runtime: one named like an
    # export (`serve`) would replace that export for everyone after.
    for name in SUB_PACKAGES:
        importlib.import_module(f"podium.runtime.{name}")
    for name in podium.runtime.__all__:
        assert not isinstance(getattr(podium.runtime, name), types.ModuleType), name
    from podium.runtime import create_app, serve

    assert callable(serve) and callable(create_app)


def test_the_doubles_keep_their_public_names() -> None:
    for name in podium.runtime.testing.__all__:
        assert getattr(podium.runtime.testing, name) is not None
