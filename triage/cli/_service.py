"""`triage serve`, `triage keys`, `triage ingest`, `triage audit-log`: the scoring
service and its store, from the command line (`triage queue` is in ``_queue``)."""

from __future__ import annotations

import getpass
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from triage.cli._app import app, console, err_console, fail, progress_display
from triage.cli._options import DEFAULT_MODEL_NAME, MappingOpt, ModelOpt, TrackingOpt
from triage.exceptions import ConfigError, SchemaError, TriageError
from triage.settings import Settings

if TYPE_CHECKING:  # the service is imported when a command runs, not when the CLI starts
    from triage.service.scoring import Scorer
    from triage.service.store import Store

logger = logging.getLogger(__name__)

keys_app = typer.Typer(
    help="Create, list and revoke API keys (stored hashed).", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit-log")

MESSAGE_REMOTE = (
    "--host {host} would take API keys over plain HTTP from other machines; serve on "
    "127.0.0.1 behind a TLS proxy, or pass --allow-remote if that proxy is in front"
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Store URL (sqlite:///path.db or postgresql+psycopg://...).",
        show_default="TRIAGE_DATABASE_URL, else sqlite:///triage.db",
    ),
]


def _settings(**overrides: object) -> Settings:
    from triage.service.app import check_settings

    settings = Settings.from_env(None, **overrides)
    check_settings(settings)
    return settings


@contextmanager
def _opened(database_url: str, *, create: bool = False) -> Iterator[Store]:
    """The store at ``database_url``, said on stderr (a SQLite file that does not exist
    is refused unless ``create``; tables created if missing), closed afterwards."""
    from triage.cli._stores import check_store
    from triage.service.store import Store

    check_store(database_url, create=create)
    store = Store(database_url)
    try:
        store.create_schema()
        yield store
    finally:
        store.dispose()


@contextmanager
def _working(what: str) -> Iterator[None]:
    """A spinner on stderr while ``what`` runs."""
    with progress_display() as progress:
        progress.add_task(what, total=None)
        yield


def _actor() -> str:
    """Who acts from the command line, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _load_scorer(settings: Settings, model_name: str) -> Scorer | None:
    """The registry's champion as a scorer, or None if there is none (a SQLite
    registry that does not exist is not created)."""
    from triage.cli._stores import check_registry, sqlite_file
    from triage.service.models import MlflowModels

    try:
        check_registry(settings.tracking_uri)
    except ConfigError:
        if sqlite_file(settings.tracking_uri) is None:
            raise
        return None  # no registry file: nothing to score with, and none is created
    models = MlflowModels(settings.tracking_uri, model_name)
    info = models.champion()
    return None if info is None else models.load(info)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    database_url: DatabaseUrl = None,
    tracking_uri: TrackingOpt = None,
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model",
            "--name",
            "--model-name",
            help="Rank the default queue by this registered model instead of its own.",
            show_default="each queue's model (models/queues.yaml)",
        ),
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="Listen beyond this machine (only behind a TLS proxy).")
    ] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create the store and registry if missing.")
    ] = False,
) -> None:
    """Run the scoring API (FastAPI under uvicorn); it serves every queue of the queue
    spec (TRIAGE_QUEUES, default models/queues.yaml), each ranked by the registry's
    @champion of its model. A SQLite store or registry that does not exist is refused
    unless --create."""
    import uvicorn

    from triage.cli._stores import check_registry, check_store, sqlite_file
    from triage.service.app import create_app

    try:
        if not (_loopback(host) or allow_remote):
            raise ConfigError(MESSAGE_REMOTE.format(host=host))
        settings = _settings(database_url=database_url, tracking_uri=tracking_uri)
        urls = (settings.database_url, settings.tracking_uri)
        try:
            check_store(settings.database_url, create=create)
            check_registry(settings.tracking_uri, create=create)
        except ConfigError as exc:
            if any((path := sqlite_file(u)) and not path.exists() for u in urls):
                raise ConfigError(f"{exc}; or pass --create to start an empty one") from None
            raise
        service = create_app(settings, model_name=model_name)
    except TriageError as exc:
        raise fail(exc) from None
    uvicorn.run(service, host=host, port=port, log_level="info", server_header=False)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="ingest, reviewer, auditor or admin.")],
    label: Annotated[str | None, typer.Option(help="Who or what the key is for.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; it is printed once, alone on the last line, and stored only hashed.
    Creates the store if it does not exist yet."""
    from triage.service.auth import Role, create_key, operator

    try:
        chosen = Role(role)
    except ValueError:
        raise fail(
            ConfigError(f"--role must be one of {[r.value for r in Role]}, got {role!r}")
        ) from None
    try:
        with (
            _opened(_settings(database_url=database_url).database_url, create=True) as store,
            store.session() as session,
        ):
            record, key = create_key(session, chosen, label, by=operator())
    except TriageError as exc:
        raise fail(exc) from None
    err_console.print(
        f"created key [bold]{record.key_id}[/] with role {record.role.value}; it is shown once:"
    )
    typer.echo(key)


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None) -> None:
    """Every key: id, role, label, created, revoked (never the key itself)."""
    from triage.service.auth import list_keys

    try:
        with (
            _opened(_settings(database_url=database_url).database_url) as store,
            store.session() as session,
        ):
            keys = list_keys(session)
    except TriageError as exc:
        raise fail(exc) from None
    table = Table(title=f"API keys ({len(keys)})", header_style="bold")
    for column in ("key id", "role", "label", "created", "revoked"):
        table.add_column(column)
    for k in keys:
        revoked = "-" if k.revoked_at is None else f"{k.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(
            k.key_id, k.role.value, Text(k.label or ""), f"{k.created_at:%Y-%m-%d %H:%M}", revoked
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (see keys list).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key for good; it stays listed so the audit log still names it."""
    from triage.service.auth import operator, revoke_key

    try:
        with (
            _opened(_settings(database_url=database_url).database_url) as store,
            store.session() as session,
        ):
            record = revoke_key(session, key_id, by=operator())
    except TriageError as exc:
        raise fail(exc) from None
    console.print(f"revoked key [bold]{record.key_id}[/] ({record.role.value})")


@app.command("ingest")
def ingest_folder(
    directory: Annotated[
        Path, typer.Argument(help="Extract folder (as for triage validate).", show_default=False)
    ],
    database_url: DatabaseUrl = None,
    tracking_uri: TrackingOpt = None,
    model_name: ModelOpt = DEFAULT_MODEL_NAME,
    score: Annotated[bool, typer.Option(help="Score new incidents with the @champion.")] = True,
    mapping: MappingOpt = None,
) -> None:
    """Load an extract folder into the store: validated as `triage validate` does, then
    stored whole or not at all. Re-sent incidents with the same content are skipped.
    Creates the store if it does not exist yet."""
    from triage.cli._render import problems_table
    from triage.contract.loading import read_folder
    from triage.contract.mapping import read_mapping
    from triage.exceptions import ConflictError
    from triage.service.ingest import ingest

    try:
        settings = _settings(database_url=database_url, tracking_uri=tracking_uri)
        spec = None if mapping is None else read_mapping(mapping)
        frames, problems = read_folder(directory, spec.missing_values if spec else ())
        if problems or frames["incidents"] is None or frames["people"] is None:
            raise SchemaError(problems)
        scorer = _load_scorer(settings, model_name) if score else None
        if score and scorer is None:
            err_console.print(f"[yellow]no @champion of {model_name}: storing without scores[/]")
        with (
            _opened(settings.database_url, create=True) as store,
            _working("validating and storing"),
        ):
            result = ingest(
                store,
                frames["incidents"],
                frames["people"],
                frames["orders"],
                scorer=scorer,
                key_id=_actor(),
                mapping=spec,
            )
    except ConflictError as exc:
        raise fail(exc) from None
    except TriageError as exc:
        if isinstance(exc, SchemaError) and exc.problems:
            err_console.print(problems_table(exc.problems))
            err_console.print(f"[bold red]error:[/] {exc}; nothing was stored")
            raise typer.Exit(code=1) from None
        raise fail(exc) from None
    console.print(
        f"stored {len(result.stored):,} new incident(s) ({len(result.unchanged):,} unchanged), "
        f"{result.people_stored:,} person(s), {result.orders_stored:,} order(s); "
        f"scored {result.scored:,} with {result.model_version or 'no model'}"
    )


@audit_app.command("verify")
def audit_verify(
    database_url: DatabaseUrl = None,
    expect_head: Annotated[
        str | None,
        typer.Option(help="A head printed by an earlier verify: it must still be in the log."),
    ] = None,
) -> None:
    """Recompute the hash chain, and check the anchor file, the checkpoints and every
    review against its entry. Exit 1 naming what breaks."""

    try:
        with _opened(_settings(database_url=database_url).database_url) as store:
            check = store.verify_audit_log(expect_head)
    except TriageError as exc:
        raise fail(exc) from None
    if not check.ok:
        where = "" if check.broken_at is None else f" at row seq {check.broken_at}"
        before = (  # only a break in the chain itself has rows "before it"
            f" ({check.rows} row(s) before it verified)"
            if check.broken_at is not None and check.rows and not check.notes
            else ""
        )
        err_console.print(
            f"[bold red]broken:[/] the audit log breaks{where}: {check.reason}{before}"
        )
        for note in check.notes:
            err_console.print(f"  {note}")
        raise typer.Exit(code=1)
    console.print(f"[bold green]ok:[/] {check.rows} row(s) verified; head {check.head}")
    for note in check.notes:
        console.print(f"  {note}")
