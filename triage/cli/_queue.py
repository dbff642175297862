"""`triage queue`: a team's ranked queue for a day, as its reviewers see it, laid out
to read at 80 columns: one line an incident, its reasons beneath with the way each
pushes the probability (raises or lowers)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from triage.cli import _service as service
from triage.cli._app import app, console, fail
from triage.cli._options import TrackingOpt
from triage.exceptions import ConfigError, TriageError

if TYPE_CHECKING:
    from triage.service.queues import QueueDef
    from triage.service.reading import QueueItem, QueueView

__all__ = ["queue_table", "show_queue"]

QueueOpt = Annotated[
    str | None,
    typer.Option(
        "--queue",
        help="The team's queue (models/queues.yaml, or TRIAGE_QUEUES).",
        show_default="the first queue, mash",
    ),
]
QueueModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "--name",
        "--model-name",
        help="Rank by this registered model instead of the queue's own.",
        show_default="the queue's model",
    ),
]
MESSAGE_NO_CHAMPION = "no @champion of {model} in the registry: queue {queue!r} cannot be ranked"
#: widths of the fixed columns; an incident id longer than its column pushes the rest
_ID, _GRADE, _STATUS = 16, 13, 19


@app.command("queue")
def show_queue(
    date: Annotated[str, typer.Option("--date", help="Day reported (UTC), YYYY-MM-DD.")],
    queue_name: QueueOpt = None,
    capacity: Annotated[
        int | None, typer.Option(help="Daily review capacity.", min=1, show_default="the queue's")
    ] = None,
    database_url: service.DatabaseUrl = None,
    tracking_uri: TrackingOpt = None,
    model_name: QueueModelOpt = None,
) -> None:
    """A team's ranked queue for a day, as its reviewers see it (the read is
    audit-logged). Without --database-url it reads ./triage.db, or else the demo's
    work/demo/triage.db."""
    from triage.cli._stores import queue_store
    from triage.service.queues import load_queue_spec
    from triage.service.reading import queue

    try:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise ConfigError(f"--date must be YYYY-MM-DD, got {date!r}") from None
        settings = service._settings(database_url=database_url, tracking_uri=tracking_uri)
        settings = settings.model_copy(
            update={"database_url": queue_store(database_url, settings.database_url)}
        )
        spec = load_queue_spec(settings.queues)
        chosen = spec.default if queue_name is None else spec.get(queue_name)
        model = model_name or chosen.model
        scorer = service._load_scorer(settings, model)
        if scorer is None:
            raise ConfigError(MESSAGE_NO_CHAMPION.format(model=model, queue=chosen.name))
        with (
            service._opened(settings.database_url) as store,
            service._working("scoring and ranking"),
        ):
            view = queue(
                store,
                day,
                capacity or chosen.capacity_or(settings.capacity),
                scorer,
                key_id=service._actor(),
                grades=chosen.grades,
                queue_name=chosen.name,
            )
    except TriageError as exc:
        raise fail(exc) from None
    console.print(queue_table(view, chosen))


def _direction(contribution: float) -> Text:
    if contribution > 0:
        return Text("+ raises ", style="red")
    if contribution < 0:
        return Text("- lowers ", style="green")
    return Text("  ")


def _children(item: QueueItem) -> str:
    present = getattr(item, "children_present", None)  # an item of an older store has none
    return "?" if present is None else ("yes" if present else "no")


def queue_table(view: QueueView, chosen: QueueDef | None = None, top: int = 3) -> RenderableType:
    """The queue as lines: a heading, one line an incident (rank, id, probability,
    band, DASH grade, review, and children when the queue shows them first), each
    reason beneath it with its direction, and a rule where capacity ends."""
    children = chosen is not None and chosen.children_first
    name = "" if chosen is None else f": {chosen.name} ({chosen.title})"
    lines: list[RenderableType] = [
        Text(f"Queue for {view.date:%Y-%m-%d}{name}", style="bold"),
        Text(
            f"{len(view.items)} incident(s), capacity {view.capacity}; "
            f"ranked by model {view.model_version}"
        ),
    ]
    head = f"{'#':>4}  {'incident':<{_ID}} {'prob.':>5}  {'band':<6} {'DASH':<{_GRADE}} "
    head += f"{'review':<{_STATUS}}" + (" children" if children else "")
    lines.append(Text(head.rstrip(), style="bold"))
    for item in view.items:
        if item.rank == view.capacity + 1:
            lines.append(Text(f"{'':4}  --- beyond capacity ({view.capacity}) ---", style="dim"))
        style = "" if item.within_capacity else "dim"
        row = (
            f"{item.rank:>4}  {item.incident_id:<{_ID}} {item.probability:>5.3f}  "
            f"{item.band:<6} {item.dash_grade:<{_GRADE}} "
            f"{item.review_status.replace('_', ' '):<{_STATUS}}"
        )
        row += f" {_children(item)}" if children else ""
        lines.append(Text(row.rstrip(), style=style))
        for reason in item.reasons[:top]:
            line = _direction(reason.contribution) + Text(reason.text, style=style)
            lines.append(Padding(line, (0, 0, 0, 6)))
    lines.append(Text("Scores support judgement, never replace it.", style="italic"))
    return Group(*lines)
