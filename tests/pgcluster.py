"""A throwaway PostgreSQL cluster for the test suite.

Runs the distribution's own initdb/pg_ctl in a temporary directory on a free port, tuned for
speed over durability (fsync off), and removes everything on stop(). Works as root (the server
runs as the `postgres` user via runuser, because PostgreSQL refuses to run as root) and as an
ordinary user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

# Owner of the cluster when the tests run as root; created only if `postgres` does not exist.
FALLBACK_SYSTEM_USER = "klapka-pg"
# Unix socket paths are limited to ~107 bytes; leave room for "/.s.PGSQL.NNNNN".
MAX_SOCKET_DIR_LENGTH = 80
MIN_SHM_BYTES = 1 << 30
# Superuser `postgres` without password on a cluster nobody else can reach; no fsync: tests
# never need the data after a crash.
INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")


def find_postgres_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl: from PATH, else the newest Debian install."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent

    def version(bin_dir: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin$", bin_dir)
        return tuple(int(part) for part in match.group(1).split(".")) if match else ()

    candidates = [
        d
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl"))
    ]
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
            "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`"
        )
    return Path(max(candidates, key=version))


def scratch_root() -> str:
    """Where to put the cluster: $KLAPKA_PG_TMPDIR, else /dev/shm if roomy, else the temp dir.

    Each test creates a database, which copies a few hundred files: measured on Debian 12,
    0.03 s on tmpfs but 0.5 s on ext4, even with fsync off. Containers often give /dev/shm
    only 64 MB, too little for a cluster, hence the size check.
    """
    override = os.environ.get("KLAPKA_PG_TMPDIR")
    if override:
        return override
    with contextlib.suppress(OSError):
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize >= MIN_SHM_BYTES and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    tmp = tempfile.gettempdir()
    return tmp if len(tmp) <= MAX_SOCKET_DIR_LENGTH - 20 else "/tmp"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A private PostgreSQL server; superuser `postgres`, trust authentication on 127.0.0.1.

    Use as a context manager, or call start() and stop() yourself.
    """

    def __init__(self) -> None:
        self.bin_dir = find_postgres_bin_dir()
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._run_as: str | None = None  # system user to run the server as (when we are root)
        self._version: int | None = None  # server_version_num, e.g. 150018

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self.base_dir is not None:
            raise RuntimeError("cluster already started")
        base_dir = Path(tempfile.mkdtemp(prefix="klapka-pg-", dir=scratch_root()))
        self.base_dir = base_dir
        try:
            if os.geteuid() == 0:
                self._run_as = self._server_user()
                user = pwd.getpwnam(self._run_as)
                os.chown(base_dir, user.pw_uid, user.pw_gid)
            self._run("initdb", "-D", str(self.data_dir), *INITDB_OPTIONS)
            # The port is free when we look; another process may take it before the server
            # binds it, so try a few.
            for attempt in range(3):
                self.port = free_tcp_port()
                try:
                    self._pg_ctl_start(self.port)
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
        except BaseException:
            with contextlib.suppress(Exception):
                self.stop()  # a server that started but did not answer in time, if any
            self._remove_dir()
            raise

    def stop(self) -> None:
        if self.base_dir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")
        finally:
            self._remove_dir()

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ------------------------------------------------------------------------

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self._port()}/{dbname}"

    def dsn(self, dbname: str) -> str:
        """libpq connection URI (for psycopg.connect) of a database in this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self._port()}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> None:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if self._server_version() >= 150000:
                # With fsync off, copying files beats PostgreSQL 15's default (WAL_LOG) for
                # small databases: 0.026 s instead of 0.045 s on tmpfs.
                query += sql.SQL(" STRATEGY FILE_COPY")
        self._execute(query)

    def drop_database(self, name: str) -> None:
        # FORCE ends sessions a test left open (e.g. an engine's connection pool).
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def seal_template(self, name: str) -> None:
        """Make `name` usable as a template: end its sessions and refuse new ones.

        CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template.
        """
        self._execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        self._execute(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(name))
        )

    # -- internals ------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("cluster not started")
        return self.base_dir / "data"

    def _port(self) -> int:
        if self.port is None:
            raise RuntimeError("cluster not started")
        return self.port

    def _execute(self, query: sql.SQL | sql.Composed) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(query)

    def _server_version(self) -> int:
        if self._version is None:
            with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
                self._version = conn.info.server_version
        return self._version

    def _pg_ctl_start(self, port: int) -> None:
        assert self.base_dir is not None
        options = " ".join(
            f"-c {setting}"
            for setting in (
                "listen_addresses=127.0.0.1",
                f"port={port}",
                f"unix_socket_directories={self.base_dir}",
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
                "max_connections=200",
            )
        )
        log_file = self.base_dir / "server.log"
        try:
            data_dir = str(self.data_dir)
            self._run("pg_ctl", "start", "-w", "-D", data_dir, "-l", str(log_file), "-o", options)
        except RuntimeError as error:
            log = log_file.read_text(errors="replace") if log_file.exists() else ""
            raise RuntimeError(f"{error}\nserver log:\n{log}") from None

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._run_as is not None:
            command = ["runuser", "-u", self._run_as, "--", *command]
        result = subprocess.run(
            command,
            # The server user may not be able to enter the current directory (e.g. /root).
            cwd=self.base_dir,
            env=_server_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed with exit status {result.returncode}:\n{result.stdout}"
            )

    @staticmethod
    def _server_user() -> str:
        for name in ("postgres", FALLBACK_SYSTEM_USER):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                pass
        useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run([*useradd, FALLBACK_SYSTEM_USER], check=True)
        return FALLBACK_SYSTEM_USER

    def _remove_dir(self) -> None:
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        self.base_dir = None
        self.port = None


def _server_environment() -> dict[str, str]:
    # PG* variables of the caller (PGDATA, PGPORT, ...) must not redirect our cluster.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env
