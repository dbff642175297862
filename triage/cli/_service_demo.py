"""The service step of `triage demo`: the extract's latest complete day in the store,
scored by the champion, shown as each team's queue, and how to open the pages.

An extract ends mid-day, so its last calendar day holds only part of a day's
incidents; the demo shows the latest day before it (:func:`latest_day`).

The service scores an incident from every stored record of its people (victim and
perpetrator: :func:`~triage.service._scoring_store.history_for`). So the day is
loaded with exactly the history its scores read, not the whole extract: the day's
incidents, every earlier incident naming any of their people, the people those
incidents name and their orders. The scores are the ones a store holding the whole
extract would give (the tests check it). For the default county that is under a
hundred incidents, stored and scored in about a second; storing all five years
would take about ten.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from rich.markup import escape

from triage.cli._app import console
from triage.cli._options import DEFAULT_MODEL_NAME
from triage.cli._queue import queue_table
from triage.cli._service import (
    _actor,
    _load_scorer,
    _opened,
    _settings,
)
from triage.contract.names import Extract
from triage.exceptions import ConfigError

if TYPE_CHECKING:
    from triage.service.queues import QueueSpec
    from triage.service.reading import QueueView
    from triage.service.scoring import Scorer
    from triage.service.store import Store
    from triage.settings import Settings

__all__ = [
    "MESSAGE_NO_CHAMPION",
    "MESSAGE_NO_QUEUE_CHAMPION",
    "MESSAGE_OTHER_EXTRACT",
    "demo_queue",
    "latest_day",
]

logger = logging.getLogger(__name__)

MESSAGE_NO_CHAMPION = "no @champion of {name} in {uri}: the demo's queue cannot be scored"
MESSAGE_NO_QUEUE_CHAMPION = (
    "no champion for {queue}: {model} has no @champion in {uri}, so this queue is not shown "
    "(train and promote it: triage train --label {model}, then triage promote)"
)
MESSAGE_OTHER_EXTRACT = (
    "the store {url} already holds other records under the demo's ids ({conflicts}): "
    "it was filled from another extract; pass a new --database-url"
)
PAGES_URL = "http://127.0.0.1:8000/login"


def latest_day(extract: Extract) -> tuple[dt.date, Extract]:
    """The last complete calendar day (UTC) with incidents (:func:`_complete_day`),
    and the part of ``extract`` that scoring that day reads (see the module
    docstring)."""
    incidents = extract.incidents
    days = incidents["reported_at"].dt.date
    day = _complete_day(days)
    on_day = (days == day).to_numpy()
    persons = _named(incidents[on_day])
    touches = incidents["victim_id"].isin(persons) | incidents["perpetrator_id"].isin(persons)
    until_day = (days <= day).to_numpy()  # later records are never read by the day's scores
    history = incidents[until_day & touches.to_numpy(dtype=bool)].reset_index(drop=True)
    named = _named(history)
    people = extract.people[extract.people["person_id"].isin(named)].reset_index(drop=True)
    orders = extract.orders
    if orders is not None:
        theirs = orders[orders["person_id"].isin(named)]
        if theirs.empty and len(orders):
            # a store holding no orders at all reads order features as missing, not
            # zero; keep one (another person's) so the store says "there are orders"
            theirs = orders.iloc[:1]
            extra = extract.people["person_id"].isin(theirs["person_id"])
            people = pd.concat([people, extract.people[extra]], ignore_index=True)
            people = people.drop_duplicates("person_id", ignore_index=True)
        orders = theirs.reset_index(drop=True)
    return day, Extract(history, people, orders)


def _complete_day(days: pd.Series) -> dt.date:
    """The latest day before the one holding the extract's final report: an extract
    is cut mid-day, so its last day holds only part of a day's incidents. An extract
    of a single day has no other to give."""
    last: dt.date = days.max()
    earlier = days[(days < last).to_numpy()]
    return last if earlier.empty else earlier.max()


def _named(incidents: pd.DataFrame) -> set[str]:
    ids = pd.concat([incidents["victim_id"], incidents["perpetrator_id"]]).dropna()
    return set(ids.astype(str))


def _read(extract: Path | Extract) -> Extract:
    if isinstance(extract, Extract):
        return extract
    from triage.contract.validation import load_extract

    return load_extract(extract)


def demo_queue(
    extract: Path | Extract,
    *,
    database_url: str | None = None,
    tracking_uri: str | None = None,
    model_name: str = DEFAULT_MODEL_NAME,
    capacity: int | None = None,
) -> QueueView:
    """Load the latest complete day of ``extract`` (a folder, or the extract already
    read) with the history its scores need into the service store, score it with the
    registry's @champion, print each team's queue for the day (``model_name`` ranks
    the default queue, mash; a queue whose model has no champion says so) and how to
    open the reviewers' pages. Returns the default queue.

    Settings not given come from the environment, as for `triage serve`, so the
    pages show this queue. Loading again is a no-op; a store filled from another
    extract is refused (``ConfigError``) with nothing written."""
    from triage.exceptions import ConflictError
    from triage.service.ingest import ingest
    from triage.service.queues import load_queue_spec
    from triage.service.reading import queue
    from triage.service.store import safe_url

    settings = _settings(database_url=database_url, tracking_uri=tracking_uri, capacity=capacity)
    spec = load_queue_spec(settings.queues)
    spec = spec.with_model(spec.default.name, model_name)
    scorer = _load_scorer(settings, model_name)
    if scorer is None:
        raise ConfigError(MESSAGE_NO_CHAMPION.format(name=model_name, uri=settings.tracking_uri))
    started = time.perf_counter()
    day, part = latest_day(_read(extract))
    with _opened(settings.database_url, create=True) as store:
        try:
            result = ingest(
                store, part.incidents, part.people, part.orders, scorer=scorer, key_id=_actor()
            )
        except ConflictError as exc:
            conflicts = "; ".join(
                f"{len(ids):,} {table}, e.g. {', '.join(ids[:3])}"
                for table, ids in exc.conflicts.items()
            )
            raise ConfigError(
                MESSAGE_OTHER_EXTRACT.format(url=safe_url(store.url), conflicts=conflicts)
            ) from None
        mash = spec.default
        cap = capacity or mash.capacity_or(settings.capacity)
        view = queue(
            store, day, cap, scorer, key_id=_actor(), grades=mash.grades, queue_name=mash.name
        )
    seconds = time.perf_counter() - started
    logger.info("loaded and scored %s in %.1f s", day, seconds)
    console.print(
        f"loaded {day:%Y-%m-%d} with the history its scores read: "
        f"{len(view.items):,} incident(s) that day, {len(part.incidents):,} with their "
        f"history ({len(result.stored):,} new), in {seconds:.1f} s"
    )
    console.print(queue_table(view, spec.default))
    with _opened(settings.database_url) as store:
        _other_queues(store, spec, day, settings, capacity, {model_name: scorer})
    _print_pages(database_url, tracking_uri, model_name)
    return view


def _other_queues(
    store: Store,
    spec: QueueSpec,
    day: dt.date,
    settings: Settings,
    capacity: int | None,
    scorers: dict[str, Scorer],
) -> None:
    """Print every queue after the default one, each ranked by its own champion
    (scored on this first read), or say that its model has none."""
    from triage.service.reading import queue

    for chosen in spec.queues[1:]:
        if chosen.model not in scorers:
            found = _load_scorer(settings, chosen.model)
            if found is None:
                console.print(
                    MESSAGE_NO_QUEUE_CHAMPION.format(
                        queue=chosen.name, model=chosen.model, uri=settings.tracking_uri
                    ),
                    style="yellow",
                )
                continue
            scorers[chosen.model] = found
        cap = capacity or chosen.capacity_or(settings.capacity)
        view = queue(
            store,
            day,
            cap,
            scorers[chosen.model],
            key_id=_actor(),
            grades=chosen.grades,
            queue_name=chosen.name,
        )
        console.print(queue_table(view, chosen))


def _print_pages(database_url: str | None, tracking_uri: str | None, model_name: str) -> None:
    store = "" if database_url is None else f" --database-url {database_url}"
    serve = store + ("" if tracking_uri is None else f" --tracking-uri {tracking_uri}")
    if model_name != DEFAULT_MODEL_NAME:
        serve += f" --model-name {model_name}"
    console.print("[bold]Open the reviewers' pages[/]")
    for line in (  # whole lines, so the commands can be copied
        f"  1. a reviewer key   triage keys create --role reviewer{escape(store)}",
        f"  2. the service      triage serve{escape(serve)}",
        f"  3. in a browser     {PAGES_URL} (sign in with the key)",
    ):
        console.print(line, soft_wrap=True)
