"""The ``klapka`` command: set up and upgrade the database, run the server, configuration as
code, extensions (list, show, CSV import and export) and API tokens.

Each command is a thin layer over the services. What the services refuse (invalid input,
an unknown object, a conflict) is printed as one line per problem on stderr, with exit
status 2, the same as a usage error; nothing is changed then.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import klapka
from klapka.domain.problems import Conflict, InvalidInput, NotFound
from klapka.domain.references import Kind
from klapka.media.service import MediaService
from klapka.notify.email import MailNotConfigured
from klapka.services.accounts.tokens import Tokens
from klapka.services.call_history import CallFilter, CallHistory, to_csv
from klapka.services.directory.config import ConfigService
from klapka.services.directory.extension_csv import ExtensionCsv
from klapka.services.directory.objects import Objects
from klapka.services.directory.presence_schedule import PresenceScheduler
from klapka.services.directory.yamlfmt import dump_yaml, load_yaml
from klapka.services.pbx import Pbx
from klapka.services.principal import Principal
from klapka.services.telephony.hot_desk import HotDeskLogins, HotDeskLogout
from klapka.services.telephony.simulator import Simulator, render_text
from klapka.services.webhooks import WebhookSender
from klapka.services.welcome import Welcome
from klapka.sip.supervisor import SipCore
from klapka.sip.tls import TlsFiles, ensure_certificate
from klapka.store import tables as t
from klapka.store.database import (
    PRIVATE_UMASK,
    data_dir,
    database_url,
    make_engine,
    protect_data_dir,
)

app = typer.Typer(
    name="klapka",
    help="klapka: an open-source IP PBX. Start with `klapka init --demo`, then `klapka serve`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
config_app = typer.Typer(
    help="The whole configuration as one YAML document (configuration as code).",
    no_args_is_help=True,
)
extensions_app = typer.Typer(
    help="Extensions: list, show, CSV import and export.", no_args_is_help=True
)
token_app = typer.Typer(help="Admin API tokens.", no_args_is_help=True)
calls_app = typer.Typer(help="Calls: the call history.", no_args_is_help=True)
hotdesk_app = typer.Typer(
    help="Hot desking: who is logged in at which hot-desk phone; log out.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(extensions_app, name="extensions")
app.add_typer(token_app, name="token")
app.add_typer(hotdesk_app, name="hotdesk")
app.add_typer(calls_app, name="calls")

USAGE_ERROR = 2
ENVIRONMENT_ERROR = 1

F = TypeVar("F", bound=Callable[..., Any])


def cli_principal() -> Principal:
    """Who every command acts for: the system, run by this OS user (its name is in the audit
    log). The services check permissions for every caller; the system may do everything, as
    whoever can run ``klapka`` on the server can read its database anyway. Each command
    passes this principal to the service explicitly."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Principal(role="system", name=f"cli {user}")


class NotInitialised(Exception):
    """The database has no klapka schema yet, or an older one."""


# --- errors ---------------------------------------------------------------------------


def fail(*lines: str, code: int = USAGE_ERROR) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def fail_invalid(e: InvalidInput, what: str = "nothing was changed") -> NoReturn:
    if len(e.problems) == 1:
        fail(f"error: {e.problems[0]}")
    fail(f"error: {len(e.problems)} problems; {what}:", *(str(p) for p in e.problems))


def reports_errors(command: F) -> F:
    """Turn the services' errors into lines on stderr and an exit status."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InvalidInput as e:
            fail_invalid(e)
        except NotFound as e:
            fail(f"error: {e}")
        except Conflict as e:
            fail(f"error: {e.message}", *(f"  used by {place}" for place in e.places))
        except NotInitialised as e:
            fail(f"error: {e}")
        except OperationalError as e:
            reason = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            fail(f"error: cannot use the database: {reason}", code=ENVIRONMENT_ERROR)

    return run  # type: ignore[return-value]


# --- the database ---------------------------------------------------------------------


def describe(url: str) -> str:
    """Where the database is, for messages: a file path, or the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _sqlite_file_missing(url: str) -> bool:
    parsed = make_url(url)
    return (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not Path(str(parsed.database)).exists()
    )


def _schema_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at: one per branch of the migrations."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _head_revisions(url: str) -> set[str]:
    # Alembic (and klapka.store.migrate, which is built on it) only where the schema is read.
    from alembic.script import ScriptDirectory

    from klapka.store.migrate import alembic_config

    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


@contextmanager
def opened_pbx() -> Iterator[Pbx]:
    """The PBX of the configured database, which must be initialised and up to date."""
    url = database_url()
    if _sqlite_file_missing(url):
        raise NotInitialised(f"no database at {describe(url)}: run `klapka init` first")
    engine = make_engine(url)
    try:
        revisions = _schema_revisions(engine)
        if not revisions:
            raise NotInitialised(
                f"the database at {describe(url)} is not initialised: run `klapka init` first"
            )
        if revisions != _head_revisions(url):
            raise NotInitialised(
                f"the database at {describe(url)} has an older schema: "
                "run `klapka db upgrade` first"
            )
        pbx = Pbx(engine)
        yield pbx
    finally:
        engine.dispose()


def _extension_count(url: str) -> int:
    """Extensions already in the database; 0 when it has no schema yet."""
    if _sqlite_file_missing(url):
        return 0

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("extensions"):
                return 0
            return int(conn.execute(select(func.count()).select_from(t.extensions)).scalar_one())
    finally:
        engine.dispose()


def _upgrade(url: str) -> None:
    from klapka.store.migrate import upgrade  # Alembic: see _head_revisions

    upgrade(url)


# --- files ----------------------------------------------------------------------------


def read_input(file: str) -> str:
    """The text of ``file``, or of stdin for ``-``."""
    try:
        if file == "-":
            return sys.stdin.read()
        return Path(file).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(f"error: {file}: no such file")
    except IsADirectoryError:
        fail(f"error: {file}: is a directory")
    except UnicodeDecodeError:
        fail(f"error: {file}: not UTF-8 text (save it as UTF-8, e.g. Excel's 'CSV UTF-8')")
    except PermissionError:
        fail(f"error: {file}: permission denied")


def write_output(text: str, output: Path | None, private: bool) -> None:
    """``text`` to ``output`` (only the owner may read it when ``private``), or stdout."""
    if output is None:
        typer.echo(text, nl=False)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(output, flags, 0o600 if private else 0o666)
    except OSError as e:
        fail(f"error: {output}: {e.strerror}")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    if private:
        os.chmod(output, 0o600)  # also when the file existed with wider permissions
    typer.echo(
        f"Wrote {output}" + (" (it holds secrets: keep it private)" if private else ""), err=True
    )


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# --- klapka ---------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"klapka {klapka.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """klapka: an open-source IP PBX."""


@app.command()
@reports_errors
def init(
    demo: Annotated[
        bool, typer.Option("--demo", help="Also load a small demo company (about 15 users).")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Initialise a database that already has extensions (with --demo, the demo "
            "configuration replaces the current one).",
        ),
    ] = False,
) -> None:
    """Create the database (or bring it up to date) and print a new admin API token."""
    url = database_url()
    existing = _extension_count(url)
    if existing and not force:
        fail(
            f"error: the database at {describe(url)} is already initialised and has "
            f"{existing} extension(s); use --force to initialise it anyway"
        )
    protect_data_dir()
    _upgrade(url)

    with opened_pbx() as pbx:
        if demo:
            text = resources.files("klapka.demo").joinpath("demo.yaml").read_text("utf-8")
            result = ConfigService(pbx, cli_principal()).apply(load_yaml(text))
            s = result.summary
            typer.echo(
                f"Demo company loaded: {s['created']} created, {s['updated']} updated, "
                f"{s['deleted']} deleted."
            )
        token = Tokens(pbx, cli_principal()).create(name="admin")
    typer.echo(f"Database ready: {describe(url)}")
    _tls_certificate()
    protect_data_dir()
    typer.echo(f"Admin API token: {token}")
    typer.echo("Keep it: it is shown only once (`klapka token create` makes another one).")
    typer.echo("Use it as a bearer token once `klapka serve` runs, for example:")
    typer.echo(f'  curl -H "Authorization: Bearer {token}" http://127.0.0.1:8080/api/v1/extensions')


def _tls_certificate() -> None:
    """SIP over TLS needs a certificate: a self-signed one, made once (never replaced)."""
    files = TlsFiles(data_dir() / "tls")
    try:
        made = ensure_certificate(files)
    except (OSError, RuntimeError) as e:
        typer.echo(f"warning: no TLS certificate for SIP ({e}); SIP over TLS stays off", err=True)
        return
    what = "generated (self-signed)" if made else "kept"
    typer.echo(f"TLS certificate for SIP {what}: {files.certificate}")


def _stop_with_klapka(*parts: Any) -> None:
    """Kamailio (and the media service) stop when klapka does: on SIGTERM/SIGINT, also during
    start-up. (uvicorn shuts down on these signals, then re-raises the signal with the
    handler it found.)"""
    import signal
    import sys

    def stop(signum: int, _frame: object) -> None:
        for part in parts:
            if part is not None:
                part.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _provisioning_https(api: Any, host: str, port: int) -> Any:
    """Desk-phone provisioning over HTTPS on its own port (a thread beside the API), with
    the certificate of ``<data dir>/tls/``; None, after a warning, when there is none or
    the port is taken (klapka goes on without it)."""
    import socket
    import threading

    import uvicorn

    from klapka.api.provisioning import provisioning_app

    files = TlsFiles(data_dir() / "tls")
    problem = files.unusable() if files.present() else f"no TLS certificate in {files.root}"
    if problem is not None:
        typer.echo(f"warning: provisioning over HTTPS is off: {problem}", err=True)
        return None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        typer.echo(f"warning: provisioning over HTTPS is off: port {port}: {e}", err=True)
        return None
    config = uvicorn.Config(
        provisioning_app(api),
        ssl_certfile=str(files.certificate),
        ssl_keyfile=str(files.key),
        log_level="info",
    )
    server = uvicorn.Server(config)
    threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="provisioning-https", daemon=True
    ).start()
    typer.echo(f"klapka: phone provisioning at https://{host}:{port}/provisioning/", err=True)
    return server


@app.command()
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Address the REST API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the REST API.")] = 8080,
    sip: Annotated[
        bool, typer.Option("--sip/--no-sip", help="Run the SIP core (Kamailio) too.")
    ] = True,
    sip_host: Annotated[
        str | None,
        typer.Option(help="SIP listen address (default: system setting sip.listen_address)."),
    ] = None,
    sip_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="SIP port, UDP and TCP (default: system settings)."),
    ] = None,
    sip_tls_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="SIP over TLS port; 0 turns TLS off (default: system setting)."
        ),
    ] = None,
    sip_ws_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="SIP over WebSocket port; 0 turns it off (default: setting)."
        ),
    ] = None,
    sip_wss_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="SIP over secure WebSocket port; 0: off (default: setting)."
        ),
    ] = None,
    provisioning_https_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="HTTPS port of desk-phone provisioning (/provisioning/); 0 turns it off. "
            "Over HTTP it is on the API's port.",
        ),
    ] = 8443,
    sip_trace: Annotated[
        bool,
        typer.Option(
            "--sip-trace",
            help="Log the routing engine's reasons for every call in the SIP core's log "
            "(as `klapka simulate` shows them); off: only each ring step and outcome.",
        ),
    ] = False,
) -> None:
    """Run the REST API and the SIP core (Kamailio, supervised) after upgrading the database."""
    import uvicorn

    # FastAPI and NiceGUI: a second on every command; only `serve` needs them.
    from klapka.api.app import create_app
    from klapka.web import mount

    url = database_url()
    protect_data_dir()  # also tightens a data directory made by an older klapka
    _upgrade(url)
    with opened_pbx() as pbx, pbx.tx() as repo:
        tokens = repo.conn.execute(select(func.count()).select_from(t.api_tokens)).scalar_one()
        system = repo.system()[0]
    if not tokens:
        typer.echo(
            "note: there is no API token yet; create one with `klapka token create`", err=True
        )
    core = None
    media = None
    # Presence schedules: what is due now (also a transition missed while klapka was
    # down), then every transition as it comes.
    schedules = PresenceScheduler(Pbx.from_url(url))
    schedules.start()
    # Hot desking: logins past system.hot_desking_logout end (also those due while down).
    hot_desk_logout = HotDeskLogout(Pbx.from_url(url))
    hot_desk_logout.start()
    # Webhooks: the events' deliveries (also those queued while klapka was down).
    webhook_sender = WebhookSender(Pbx.from_url(url))
    webhook_sender.start()
    if sip:
        listen = sip_host or system.sip.listen_address
        udp = sip_port or system.sip.udp_port
        tcp = sip_port or system.sip.tcp_port
        tls = system.sip.tls_port if sip_tls_port is None else sip_tls_port
        ws = system.sip.ws_port if sip_ws_port is None else sip_ws_port
        wss = system.sip.wss_port if sip_wss_port is None else sip_wss_port
        # The REST API's port wins over a WebSocket port (Kamailio would take it first).
        for name, value in (("WebSocket", ws), ("secure WebSocket", wss)):
            if value == port:
                typer.echo(
                    f"warning: SIP over {name} is off: port {port} is the REST API's", err=True
                )
        ws = None if ws == port else ws
        wss = None if wss == port else wss
        # Voicemail: SIP from Kamailio on loopback; RTP where phones reach the PBX.
        # RTP on the SIP listen address; on every address (0.0.0.0), the media service answers
        # each call's audio on the address that call came in on.
        rtp_host = listen or "0.0.0.0"
        media = MediaService(
            Pbx.from_url(url), data_dir(), "127.0.0.1", 0, rtp_host=rtp_host, nice=-10
        )
        try:
            media.start()
            typer.echo(f"klapka: voicemail media service on 127.0.0.1 udp/{media.port}", err=True)
        except RuntimeError as e:
            typer.echo(f"warning: voicemail not running: {e}", err=True)
            media = None
        core = SipCore(
            Pbx.from_url(url), data_dir(), listen, udp, tcp, tls_port=tls, trace=sip_trace,
            ws_port=ws, wss_port=wss, public_address=system.sip.public_address or "",
            rtp_ports=(system.media.rtp_port_min, system.media.rtp_port_max),
        )  # fmt: skip
        _stop_with_klapka(core, media, schedules, hot_desk_logout, webhook_sender)
        problem = None
        try:
            core.start()
            if not core.wait_ready():
                problem = f"kamailio did not start (port {udp} in use?); see {core.paths.log}"
        except RuntimeError as e:
            problem = str(e)
        for warning in core.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if problem is None:
            tls_note = f" tls/{core.tls_port}" if core.tls_port else ""
            tls_note += f" ws/{core.ws_port}" if core.ws_port else ""
            tls_note += f" wss/{core.wss_port}" if core.wss_port else ""
            typer.echo(
                f"klapka: SIP on {', '.join(core.addresses)} udp/{udp} tcp/{tcp}{tls_note}"
                " (Kamailio)",
                err=True,
            )
        else:
            # The REST API is still useful without the SIP core: serve it, and say so.
            core.stop()
            core = None
            typer.echo(f"warning: SIP core not running: {problem}; serving the API only", err=True)
    typer.echo(
        f"klapka {klapka.__version__}: API docs at http://{host}:{port}/api/v1/docs", err=True
    )
    https = None
    try:
        app = create_app()  # over its own database, closed when the server stops
        mount(app, app.state.pbx)  # the web UI at /ui
        if provisioning_https_port and provisioning_https_port != port:
            https = _provisioning_https(app, host, provisioning_https_port)
        # Open event streams (GET /api/v1/events) never end by themselves: on stop they are
        # cut after 5 s, so that the SIP core and the media service are stopped too.
        uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=5)
    finally:
        if https is not None:
            https.should_exit = True
        schedules.stop()
        hot_desk_logout.stop()
        webhook_sender.stop()
        if core is not None:
            core.stop()
        if media is not None:
            media.stop()


# --- klapka db --------------------------------------------------------------------------


@db_app.command("upgrade")
@reports_errors
def db_upgrade() -> None:
    """Bring the database schema to this version of klapka (creates it when empty)."""
    url = database_url()
    protect_data_dir()
    _upgrade(url)
    typer.echo(f"Database schema is up to date: {describe(url)}")


# --- klapka config ----------------------------------------------------------------------


@config_app.command("export")
@reports_errors
def config_export(
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Include passwords and PINs.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Print the whole configuration as YAML (defaults left out)."""
    with opened_pbx() as pbx:
        document = ConfigService(pbx, cli_principal()).export(include_secrets=include_secrets)
    write_output(dump_yaml(document), output, private=include_secrets)


@config_app.command("apply")
@reports_errors
def config_apply(
    file: Annotated[str, typer.Argument(help="The YAML document; - reads stdin.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    allow_delete_all: Annotated[
        bool,
        typer.Option(
            "--allow-delete-all",
            help="Apply also a document that lists no extension while the PBX has some "
            "(it deletes them all).",
        ),
    ] = False,
) -> None:
    """Make the PBX match a configuration document, in one transaction; prints the changes."""
    data = load_yaml(read_input(file))
    with opened_pbx() as pbx:
        result = ConfigService(pbx, cli_principal()).apply(
            data, dry_run=dry_run, allow_delete_all=allow_delete_all
        )
    refused, result.refused = result.refused, None
    typer.echo(result.text())
    if refused is not None:  # a dry run of a document that applying would refuse
        fail(f"error: {refused}")


# --- klapka extensions ------------------------------------------------------------------


@extensions_app.command("list")
@reports_errors
def extensions_list(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Part of a number, name or email.")
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(help="number, name, first_name, last_name, email, ...; -name reverses."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="Rows to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Rows to skip.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List extensions, a page at a time."""
    from rich.console import Console
    from rich.table import Table

    with opened_pbx() as pbx:
        page = Objects(pbx, cli_principal()).list(
            Kind.EXTENSION, q=search, sort=sort, limit=limit, offset=offset
        )
    if as_json:
        print_json(
            {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}
        )
        return
    console = Console()
    if not page.items:
        console.print(
            "No extensions match." if search else f"No extensions here (of {page.total})."
        )
        return
    table = Table(
        caption=f"{offset + 1}-{offset + len(page.items)} of {page.total}", caption_justify="left"
    )
    for name in ("Number", "Name", "Email", "Mobile", "Role", "Presence", "Enabled"):
        table.add_column(name, no_wrap=name in ("Number", "Role", "Enabled"))
    for item in page.items:
        name = " ".join(p for p in (item["first_name"], item["last_name"]) if p)
        table.add_row(
            item["number"],
            name,
            item["email"] or "",
            item["mobile"],
            item["role"],
            item["presence"].replace("_", " "),
            "yes" if item["enabled"] else "no",
        )
    console.print(table)


@extensions_app.command("show")
@reports_errors
def extensions_show(
    number: Annotated[str, typer.Argument(help="The extension number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not YAML.")] = False,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Show the SIP password and PIN.")
    ] = False,
) -> None:
    """Show every setting of one extension."""
    with opened_pbx() as pbx:
        data = Objects(pbx, cli_principal()).get(
            Kind.EXTENSION, number, include_secrets=include_secrets
        )
    if as_json:
        print_json(data)
    else:
        typer.echo(dump_yaml(data), nl=False)


@extensions_app.command("import")
@reports_errors
def extensions_import(
    file: Annotated[
        str, typer.Argument(help="The CSV file (columns: docs/csv.md); - reads stdin.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file; change nothing.")
    ] = False,
) -> None:
    """Create and update extensions from a CSV file: every row, or none if any is wrong."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    text = read_input(file)
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("Importing"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task: list[TaskID] = []

    def progress(done: int, total: int) -> None:
        if not task:
            task.append(bar.add_task("import", total=total))
        bar.update(task[0], completed=done)

    with opened_pbx() as pbx, bar:
        try:
            result = ExtensionCsv(pbx, cli_principal()).import_csv(
                text, progress=progress, dry_run=dry_run
            )
        except InvalidInput as e:
            fail_invalid(e, f"{file} was not imported")
    if result.errors:
        n = len(result.errors)
        fail(
            f"error: {n} problem{'s' if n > 1 else ''} in {file}; nothing was imported:",
            *(str(e) for e in result.errors),
        )
    if dry_run:
        typer.echo(
            f"Dry run: {result.created} would be created, {result.updated} updated; "
            "nothing was changed."
        )
    else:
        typer.echo(f"Imported {file}: {result.created} created, {result.updated} updated.")


@extensions_app.command("export")
@reports_errors
def extensions_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Include SIP passwords and PINs.")
    ] = False,
) -> None:
    """Write every extension as CSV (columns: docs/csv.md)."""
    with opened_pbx() as pbx:
        text = ExtensionCsv(pbx, cli_principal()).export_csv(include_secrets=include_secrets)
    write_output(text, output, private=include_secrets)


@extensions_app.command("welcome")
@reports_errors
def extensions_welcome(
    numbers: Annotated[
        list[str] | None, typer.Argument(help="Extension numbers (or --all).", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every extension.")] = False,
) -> None:
    """Send welcome emails: the portal link and a one-time app login link with its QR code."""
    if bool(numbers) == every:
        fail("error: name extension numbers, or use --all")
    with opened_pbx() as pbx:
        try:
            results = Welcome(pbx, cli_principal()).send_many(None if every else numbers)
        except MailNotConfigured as e:
            fail(f"error: {e}")
    for r in results:
        if r.sent:
            typer.echo(f"{r.number}: sent to {r.email}")
        else:
            typer.echo(f"{r.number}: not sent: {r.error}", err=True)
    sent = sum(1 for r in results if r.sent)
    typer.echo(f"{sent} of {len(results)} welcome email(s) sent.")
    if sent < len(results):
        raise typer.Exit(ENVIRONMENT_ERROR)


# --- klapka token -----------------------------------------------------------------------


@token_app.command("create")
@reports_errors
def token_create(
    name: Annotated[str, typer.Option(help="What the token is for.")] = "admin",
) -> None:
    """Create an admin API token and print it (it is shown only once)."""
    if not 1 <= len(name) <= 63:
        fail("error: name: must be 1-63 characters")
    with opened_pbx() as pbx:
        typer.echo(Tokens(pbx, cli_principal()).create(name=name))


# --- klapka hotdesk ---------------------------------------------------------------------


def _utc(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _hhmm(local: str | None) -> str:
    return "" if local is None else local[:16].replace("T", " ")


@hotdesk_app.command("list")
@reports_errors
def hotdesk_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Who is logged in at which hot-desk phone (times in the PBX's time zone)."""
    with opened_pbx() as pbx:
        logins = HotDeskLogins(pbx, cli_principal()).logins()
    if as_json:
        print_json([
            {**i, "since": _utc(i["since"]), "logout_at": _utc(i["logout_at"])} for i in logins
        ])  # fmt: skip
        return
    if not logins:
        typer.echo("Nobody is logged in at a hot desk.")
        return
    rows = [("MAC", "Guest", "User", "Since", "Until")]
    rows += [
        (
            i["mac"],
            i["guest"] or "",
            f"{i['extension']} ({i['name']})" if i["name"] else i["extension"],
            _hhmm(i["since_local"]),
            _hhmm(i["logout_at_local"]) or "-",
        )
        for i in logins
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    for r in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    typer.echo(f"({logins[0]['timezone']})")


@hotdesk_app.command("logout")
@reports_errors
def hotdesk_logout(
    mac: Annotated[str, typer.Argument(help="The hot-desk phone's MAC address.")],
) -> None:
    """Log the user out of a hot-desk phone: it goes back to its guest account."""
    with opened_pbx() as pbx:
        ended = HotDeskLogins(pbx, cli_principal()).logout(mac)
    typer.echo(f"Logged out {ended['extension']} at {ended['mac']}.")


# --- klapka calls ----------------------------------------------------------------------


def _when(value: str | None, flag: str, zone: str) -> datetime | None:
    """A --since/--until value: ISO 8601 date or time; without a zone the PBX's local time."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"error: {flag}: must be an ISO 8601 date or time, like 2026-03-01 or 2026-03-01T08:00"
        )
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(zone))


@calls_app.command("history")
@reports_errors
def calls_history(
    since: Annotated[
        str | None, typer.Option(help="Calls from then on (local time unless a zone is given).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Calls before then.")] = None,
    extension: Annotated[
        str | None, typer.Option(help="Calls the extension made, got, rang or answered.")
    ] = None,
    direction: Annotated[str | None, typer.Option(help="internal, inbound or outbound.")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="answered, voicemail, busy, no_answer, rejected, failed, interrupted, in_progress."
        ),
    ] = None,
    number: Annotated[
        str | None, typer.Option(help="Part of the caller's, dialled or answering number.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many calls (1-1000).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """The call history, newest first (times in the PBX's time zone)."""
    with opened_pbx() as pbx:
        zone = CallHistory(pbx, cli_principal()).timezone()
        f = CallFilter(_when(since, "--since", zone), _when(until, "--until", zone), extension,
                       direction, outcome, number)  # fmt: skip
        try:
            page = CallHistory(pbx, cli_principal()).search(f, limit)
        except InvalidInput as e:
            lines = [f"--{p.path.replace('_', '-')}: {p.rule}" for p in e.problems]
            fail(f"error: {lines[0]}" if len(lines) == 1 else f"error: {len(lines)} problems:",
                 *(lines if len(lines) > 1 else ()))  # fmt: skip
    if as_json:
        print_json({"items": page.items, "total": page.total, "timezone": page.timezone})
        return
    if as_csv:
        typer.echo(to_csv(page.items), nl=False)
        return
    if not page.items:
        typer.echo("No calls.")
        return
    local = ZoneInfo(page.timezone)
    rows = [("Started", "From", "To", "Answered by", "Outcome", "Ring", "Talk")]
    for c in page.items:
        started = datetime.fromisoformat(c["started_at"]).astimezone(local)
        caller = f"{c['caller']} ({c['caller_name']})" if c["caller_name"] else c["caller"]
        rows.append((
            started.strftime("%Y-%m-%d %H:%M:%S"), caller, c["dialled"],
            c["answered_by"] or c["answered_number"] or "",
            "in progress" if c["in_progress"] else c["outcome"].replace("_", " "),
            f"{c['ring_seconds']}s" if c["ring_seconds"] is not None else "",
            f"{c['talk_seconds']}s" if c["talk_seconds"] is not None else "",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    shown = (
        f"{len(page.items)} of {page.total}" if page.total > len(page.items) else str(page.total)
    )
    typer.echo(f"({shown} calls; times in {page.timezone})")


# --- the call simulator ---------------------------------------------------------------


def _flag_problem(e: InvalidInput) -> NoReturn:
    """Name the command-line flag, not the JSON field, in a simulator error."""
    lines = []
    for p in e.problems:
        field = p.path.split("[")[0].split(".")[0]
        lines.append(f"--{field.replace('_', '-')}: {p.rule}" if field else p.rule)
    if len(lines) == 1:
        fail(f"error: {lines[0]}")
    fail(f"error: {len(lines)} problems:", *lines)


@app.command()
@reports_errors
def simulate(
    caller: Annotated[
        str, typer.Option("--from", help="An extension (internal call) or an outside number.")
    ],
    dialled: Annotated[
        str,
        typer.Option(
            "--to", help="What was dialled: extension, group, queue, outside number or DID."
        ),
    ],
    at: Annotated[
        str | None, typer.Option("--at", help="ISO-8601 time (default now, system time zone).")
    ] = None,
    path: Annotated[str, typer.Option("--path", help="direct or transferred.")] = "direct",
    registered: Annotated[
        list[str] | None,
        typer.Option("--registered", help="EXT=CLASS,CLASS (EXT= for nothing). Repeatable."),
    ] = None,
    in_call: Annotated[
        list[str] | None, typer.Option("--in-call", help="EXT[:CLASS] in a call. Repeatable.")
    ] = None,
    answer: Annotated[
        list[str] | None,
        typer.Option("--answer", help="EXT[:CLASS] or NUMBER answers. Repeatable."),
    ] = None,
    reject: Annotated[
        list[str] | None, typer.Option("--reject", help="EXT[:CLASS] declines. Repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What happens if this call comes now? Walks the routing engine; changes nothing."""
    request: dict[str, Any] = {"from": caller, "to": dialled, "path": path}
    if at is not None:
        request["at"] = at
    reg: dict[str, list[str]] = {}
    for item in registered or []:
        ext, sep, classes = item.partition("=")
        if not sep or not ext:
            fail(f"error: --registered: '{item}' must be EXT=CLASS,CLASS (EXT= for nothing)")
        reg[ext] = [c for c in classes.split(",") if c]
    request.update(registered=reg, in_call=in_call or [], answer=answer or [], reject=reject or [])
    with opened_pbx() as pbx:
        try:
            result = Simulator(pbx, cli_principal()).simulate(request)
        except InvalidInput as e:
            _flag_problem(e)
    if as_json:
        print_json(result)
    else:
        typer.echo(render_text(result))


@extensions_app.command("call-paths")
@reports_errors
def extensions_call_paths(
    number: Annotated[str, typer.Argument(help="The extension number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where direct calls to the extension go, per status and call kind."""
    with opened_pbx() as pbx:
        result = Simulator(pbx, cli_principal()).call_paths(number)
    if as_json:
        print_json(result)
        return
    typer.echo(f"Call paths of {number} (nobody answers; busy = in a call):")
    for status, kinds in result["statuses"].items():
        typer.echo(f"{status}:")
        for kind, rules in kinds.items():
            for rule, path in rules.items():
                if path is None:
                    continue
                o = path["outcome"]
                detail = " ".join(f"{k}={v}" for k, v in o.items() if k != "result")
                typer.echo(f"  {kind:<8} {rule:<9} {path['rule']:<28} => {o['result']} {detail}")


def run() -> None:
    """The ``klapka`` program: usage errors are one line on stderr and exit status 2."""
    import sys

    try:  # Typer vendors Click in its newer releases
        from typer._click import exceptions as click_errors
    except ImportError:  # pragma: no cover
        import click.exceptions as click_errors  # type: ignore[no-redef]

    os.umask(PRIVATE_UMASK)  # what klapka writes is for its own user only
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except click_errors.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            typer.echo(e.ctx.get_help())
            sys.exit(0)
        where = f"{e.ctx.command_path}: " if e.ctx is not None else ""
        typer.echo(f"error: {where}{e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:  # e.g. `klapka extensions list | head`
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
