"""What every command shares: the invocation (`Cli`), the exit codes, and `--out`
handling (never the store or an input; written atomically). Command modules import this,
never `main`, so the registry in `main` imports them without a cycle."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mca_core.app import App
from mca_core.backends import EMULATOR_DB_FILE
from mca_core.config import Settings, load_settings
from mca_core.desk import Actor
from mca_core.domain.errors import (
    InvalidInput,
    Problem,
)

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_REFUSED = 0, 1, 2, 3
#: `finalise`: the customer has not accepted yet; `sync`: some customers could not be read.
EXIT_NOT_ACCEPTED, EXIT_PARTIAL = 4, 5
#: Long work that runs once per partner (a sync) is already running elsewhere.
EXIT_BUSY = 6
#: 128 + SIGINT and 128 + SIGPIPE, as a shell reports a process those signals stopped.
EXIT_INTERRUPTED, EXIT_CLOSED_PIPE = 130, 141
#: `--out -`: the file's bytes go to stdout.
STDOUT = "-"
SANDBOX_USER_KEYS = (
    "admin-agent",
    "sales-agent",
    "helpdesk-agent",
    "provider-admin",
    "indirect-reseller",
    "manager",
)


class Cli:
    """Shared state of one invocation: parsed args, settings, the desk, output mode."""

    def __init__(self, args: argparse.Namespace, out=None, err=None):
        self.args = args
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._app: App | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def settings(self) -> Settings:
        overrides: dict[str, Any] = {
            "backend": self.args.backend,
            "pc_base_url": self.args.base_url,
            "data_dir": self.args.data_dir,
            "sandbox_user": self.args.as_user,
        }
        return load_settings(overrides)

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = App.from_settings(self.settings())
        return self._app

    def actor(self) -> Actor:
        app = self.app
        if app.is_sandbox:
            return app.sandbox_actor()
        return app.live_actor(device_code_prompt=lambda msg: print(msg, file=self.err))

    def emit(self, document: Any, text: str) -> None:
        if self.json:
            json.dump(document, self.out, ensure_ascii=False, indent=2, default=str)
            self.out.write("\n")
        else:
            self.out.write(text.rstrip("\n") + "\n")

    def write_bytes(self, data: bytes) -> None:
        """Bytes to a real stdout's buffer, text to a text stream (tests pass a StringIO)."""
        buffer = getattr(self.out, "buffer", None)
        if buffer is not None:
            self.out.flush()
            buffer.write(data)
            buffer.flush()
        else:
            self.out.write(data.decode("utf-8", "surrogateescape"))

    def interrupted(self, message: str = "Interrupted.") -> int:
        """Ctrl-C: say so on stderr (and as the one JSON document with --json); exit 130."""
        return report_interrupt(self.out, self.err, self.json, message)


def report_interrupt(out, err, as_json: bool, message: str = "Interrupted.") -> int:
    print(message, file=err)
    if as_json:
        json.dump({"error": "interrupted", "message": message}, out, ensure_ascii=False)
        out.write("\n")
    return EXIT_INTERRUPTED


# --- --out: never the desk's own files nor the command's input; written atomically ------------


def sqlite_files(url: str) -> list[Path]:
    """The files of a SQLite database URL: the database, its -wal, -shm and -journal."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: the store would have failed already
        return []
    if parsed.get_backend_name() != "sqlite":
        return []
    database = parsed.database or ""
    if database.startswith("file:"):  # sqlite:///file:path?mode=rwc&uri=true
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:"):
        return []
    base = Path(database)
    return [base, *(Path(f"{base}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]


def desk_files(settings: Settings) -> list[tuple[Path, str]]:
    """The files an export must never replace, each with what it is."""
    from mca_core.config import DEFAULT_SECRETS_FILE

    files = [
        (path, "the desk's database (audit log, snapshots, bulk journal)")
        for path in sqlite_files(settings.resolved_store_url)
    ]
    emulator_db = settings.emulator_dir / EMULATOR_DB_FILE
    files += [
        (path, "the sandbox emulator's database")
        for path in sqlite_files(f"sqlite:///{emulator_db.as_posix()}")
    ]
    secrets = Path(os.environ.get("MCA_SECRETS_FILE", DEFAULT_SECRETS_FILE))
    files.append((secrets, "the desk's settings file"))
    return files


def same_file(a: Path, b: Path) -> bool:
    """True when `a` and `b` are one file: through symlinks, hard links and `..` spellings."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare where each would be
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _bad_out(reason: str, fix: str, code: str = "bad_path") -> InvalidInput:
    return InvalidInput(Problem("--out", reason, fix, code=code))


def out_target(cli: Cli, value: str, *, inputs: Sequence[str | Path] = ()) -> Path | None:
    """Check `--out` before anything is done: the file to write, or None for stdout (`-`).

    Refused (exit 2, naming --out): the desk's own database files and settings, an input of the
    same command, a folder, a folder that does not exist or cannot be written, a read-only file.
    """
    if value == STDOUT:
        if cli.json:
            raise _bad_out(
                "`--out -` writes the file to stdout, where --json prints its one document.",
                "Give a file name, or leave out --json.",
                code="conflict",
            )
        return None
    if not value.strip():
        raise _bad_out("The file name is empty.", "Give a file name, or - for stdout.", "required")
    path = Path(value)
    for protected, what in desk_files(cli.app.settings):
        if same_file(path, protected):
            raise _bad_out(
                f"{value} is {what}: writing there would destroy it.",
                "Choose another file.",
                code="protected_file",
            )
    for source in inputs:
        if same_file(path, Path(source)):
            raise _bad_out(
                f"{value} is this command's input file ({source}): writing there would "
                "overwrite it.",
                "Choose another file for the output.",
                code="same_as_input",
            )
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise _bad_out(f"{value} is a folder.", f"Give a file name inside it, e.g. {path / 'x'}.")
    if not target.parent.is_dir():
        raise _bad_out(
            f"The folder {target.parent} does not exist.",
            "Create it first, or choose a file in an existing folder.",
        )
    if target.exists() and target.is_file() and not os.access(target, os.W_OK):
        raise _bad_out(f"{value} is read-only.", "Choose another file, or make it writable.")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise _bad_out(
            f"The folder {target.parent} cannot be written to.",
            "Choose a folder you can write to.",
        )
    return target


def write_out(cli: Cli, target: Path | None, data: bytes, *, fix: str | None = None) -> None:
    """`data` to stdout (target None) or to the file, atomically: a reader (or a crash) sees the
    old file or the new one, never half of one. A failure is invalid input naming --out."""
    if target is None:
        cli.write_bytes(data)
        return
    from mca_core.usecases.reports import write_atomically

    try:
        write_atomically(target, data)
    except OSError as exc:
        raise _bad_out(
            f"Cannot write {target}: {exc.strerror or exc}.",
            fix or "Choose a file in a folder you can write to, on a disk with room.",
        ) from exc


# --- documents (the JSON field names are part of the contract) --------------------------------
