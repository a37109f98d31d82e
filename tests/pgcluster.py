"""Real PostgreSQL 16 + pgvector for the tests, from the binaries the `pgserver` wheel bundles.

The binaries (`initdb`, `pg_ctl`, `pg_basebackup`, `postgres`) are run directly, as an
unprivileged user when the tests run as root (PostgreSQL refuses root): the `postgres` user,
created if missing. Each cluster listens on 127.0.0.1 on a free port with a temporary data
directory, and is stopped and deleted after. A standby is a `pg_basebackup -R` copy of a running
primary started on another port: it streams and replays the primary's WAL.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from processes import free_port

PG_USER = "postgres"


def pg_bin() -> Path:
    """pgserver's bundled bin folder, found without importing pgserver (its import does work we don't need)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver wheel is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _os_user() -> pwd.struct_passwd | None:
    """Who runs the server: None (this process) unless we are root, then an unprivileged user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER], check=True)
        return pwd.getpwnam(PG_USER)


class PgCluster:
    """One PostgreSQL server; `start()` returns self, `stop()` removes everything."""

    def __init__(self, data_dir: Path | None = None, port: int | None = None) -> None:
        self.bin = pg_bin()
        self.user = _os_user()
        self.base = Path(tempfile.mkdtemp(prefix="qa-pg-"))
        self.data = data_dir or self.base / "data"
        self.port = port or free_port()
        self.log = self.base / "server.log"
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.base, 0o700)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.base)}
        result = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.base,
            **kwargs,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()} {log[-2000:]}")
        return result

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> PgCluster:
        self.run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
        return self

    def start(self) -> PgCluster:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base} "
            "-c fsync=off -c max_connections=100 -c shared_buffers=64MB"
        )
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def standby(self) -> PgCluster:
        """A streaming standby of this (running) primary, started on its own port."""
        standby = PgCluster(port=free_port())
        try:
            standby.run(
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                PG_USER,
                "-D",
                str(standby.data),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            )
            return standby.start()
        except BaseException:
            standby.stop()
            raise

    def write_lsn(self) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]  # type: ignore[index]

    def wait_replayed(self, lsn: str, timeout: float = 30) -> None:
        """Until this standby has replayed the primary's WAL up to `lsn` (bounded)."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.05)
        raise TimeoutError(f"the standby on port {self.port} did not replay up to {lsn} within {timeout} s")


def servers_required() -> bool:
    """Under CI (or `make test`) a server that cannot start fails the tests instead of skipping them."""
    return bool(os.environ.get("CI") or os.environ.get("QA_REQUIRE_SERVERS"))
