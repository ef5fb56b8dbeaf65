"""A throwaway PostgreSQL cluster for the store's tests (Debian's postgresql binaries).

Started once per test session in a temporary folder, on a Unix socket only (no TCP port), and
removed at the end. As root, the server runs as the `postgres` user (PostgreSQL refuses root).
`MCA_TEST_POSTGRES_URL` points the tests at an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def temporary_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a fresh database; stop and delete the cluster afterwards."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError(
            "PostgreSQL is not installed: run scripts/ensure_postgres.sh "
            "(make test does) or set MCA_TEST_POSTGRES_URL."
        )
    base = tempfile.mkdtemp(prefix="mca-pg-")
    data = os.path.join(base, "data")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o700)
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    subprocess.run(
        _as_postgres(
            [initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]
        ),
        **run,
    )
    options = f"-c listen_addresses='' -k {base} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres(
            [pg_ctl, "-D", data, "-o", options, "-l", os.path.join(base, "log"), "-w", "start"]
        ),
        **run,
    )
    try:
        createdb = _binary("createdb") or "createdb"
        subprocess.run(_as_postgres([createdb, "-h", base, "-U", "postgres", "mca_test"]), **run)
        yield f"postgresql+psycopg://postgres@/mca_test?host={base}"
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
