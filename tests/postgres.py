"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary data folder,
127.0.0.1 only, trust authentication for user `app`. As root it runs as the `postgres` user
(PostgreSQL refuses root). About 3 s to start; stopped and deleted at the end.

    with PostgresServer.start() as server:
        url = server.create_database("store_test")      # postgresql+psycopg://app@127.0.0.1:PORT/store_test
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self, folder: Path, port: int, bin_dir: Path) -> None:
        self.folder, self.port, self.bin = folder, port, bin_dir

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = pg_bin()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make services` (Debian's postgresql package)")
        folder = Path(tempfile.mkdtemp(prefix="chatbot-pg-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = cls(folder, port, bin_dir)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        server._run("initdb", "-D", str(folder / "db"), "-A", "trust", "-U", "app", "-E", "UTF8", "--no-sync")
        server._run("pg_ctl", "-D", str(folder / "db"), "-l", str(folder / "log"), "-w", "-t", "30", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return server

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://app@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return f"postgresql+psycopg://app@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "db"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=self.folder)
        if result.returncode != 0:
            log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log}")
