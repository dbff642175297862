"""Two real registered versions for the auditor's page tests: the small world's model
trained with seeds 0 and 1 (same data, so they compare paired), each promoted in turn,
in one MLflow store per test session (training takes a while)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from registry_support import LENIENT, audit_spec, register_small, registry_in
from service_support import Service, make_keys, serving

from triage.service import Store, create_app
from triage.settings import Settings

#: the label the small world's spec trains (a queue model of the shipped queue spec)
NAME = "any_repeat_90d"


def two_versions(factory: pytest.TempPathFactory) -> str:
    """The tracking URI of a store holding v1 and v2 of ``NAME``, v2 the champion."""
    folder = factory.getbasetemp() / "audit-pages-registry"
    done = folder / "done"
    if not done.exists():
        folder.mkdir(exist_ok=True)
        registry = registry_in(factory, folder)
        for seed in (0, 1):
            register_small(registry, folder, audit=audit_spec(**LENIENT), seed=seed)
        registry.promote(NAME, 1, [], override_reason="first champion")
        registry.promote(NAME, 2, [], override_reason="seed 1 replaces seed 0")
        done.write_text(registry.tracking_uri)
    return done.read_text()


@contextmanager
def registry_service(tmp: Path, tracking_uri: str) -> Iterator[Service]:
    """A real server reading the registry at ``tracking_uri`` (its own fresh store)."""
    store = Store(f"sqlite:///{tmp / 'triage.db'}")
    store.create_schema()
    keys, ids = make_keys(store)
    settings = Settings(
        database_url=store.url, tracking_uri=tracking_uri, auth_failures_per_minute=10_000
    )
    try:
        with serving(create_app(settings, store=store)) as url:
            yield Service(url, keys, ids, store, None)  # type: ignore[arg-type]
    finally:
        store.dispose()
