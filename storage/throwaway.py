"""A throwaway Postgres cluster for tests and benchmarks: initdb + pg_ctl in a temporary directory,
listening on a unix socket there only (no TCP port, no system service). Password authentication is
on, so every client goes through ``storage.password_env`` like a deployment does. Never for real data
(tests run it with fsync off).

The binaries are looked up on PATH, then in Debian's /usr/lib/postgresql/NN/bin (where CI's
``apt-get install postgresql`` puts them). As root (CI), the cluster runs as the ``postgres`` user,
because Postgres refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PASSWORD_ENV = "FIRSTLINE_TEST_DB_PASSWORD"
PASSWORD = "s3cret-for-tests-only"  # the throwaway cluster's superuser password (tests assert it never leaks)


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are, or None (the caller skips, saying so)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


@dataclass
class Cluster:
    socket_dir: Path
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}&port={self.port}"


def _runner() -> tuple[list[str], int | None, int | None]:
    if os.geteuid() != 0:
        return [], None, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        entry = pwd.getpwnam("nobody")
    return ["runuser", "-u", entry.pw_name, "--"], entry.pw_uid, entry.pw_gid


@dataclass
class Problem:
    reason: str


def start_cluster(bin_dir: Path, *, durable: bool = False) -> Iterator[Cluster | Problem]:
    """Yield a running cluster (stopped and deleted after), or a `Problem` saying why none could start.

    ``durable=False`` (tests) turns fsync off; benchmarks keep it on, so commits cost what they would.
    """
    prefix, uid, gid = _runner()
    root = Path(tempfile.mkdtemp(prefix="firstline-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if uid is not None and gid is not None:
        for path in (root, sock, pwfile):
            os.chown(path, uid, gid)
    user = "firstline"
    port = 5432 + (os.getpid() % 1000) + 1000
    try:
        init = subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=scram-sha-256", f"--pwfile={pwfile}",
             "-E", "UTF8", *([] if durable else ["--no-sync"])],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            yield Problem(f"initdb failed: {init.stderr.strip()[-400:]}")
            return
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={sock} -p {port} -c fsync=off -c max_connections=200"
        )
        start = subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if start.returncode != 0:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            yield Problem(f"pg_ctl start failed: {start.stderr.strip()[-300:]} {log[-300:]}")
            return
        try:
            yield Cluster(sock, port, user)
        finally:
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
