"""The package's public surface is exactly ``__all__``, and creating the app builds
nothing but the checked settings: the store is opened when the app starts."""

from __future__ import annotations

import inspect
from pathlib import Path

import triage.service as service
from triage.settings import Settings


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(service).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(service.__all__) == public


def test_creating_the_app_opens_no_store(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    service.create_app(Settings(database_url=f"sqlite:///{db}"), scorer=service.StubScorer())
    assert not db.exists()
