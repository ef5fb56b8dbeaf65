"""The command line under hostile use (issues 10 and 11): a reader that closes the pipe, an
`--out` aimed at the desk's own database or at the command's input, the exit-code table held
for every command, and the `--json` promise (one JSON document on stdout, whatever the exit)."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import mca_core.cli.main as cli_module
from mca_core.cli.main import main
from mca_core.domain.errors import ServiceUnavailable
from mca_core.emulator import Emulator, FaultConfig, run_in_thread

ROOT = Path(__file__).resolve().parent.parent
HEADER = "customer,first_name,last_name,email,phone,date_agreed"
# The exit-code table (numbers, because scripts see numbers): see mca_core/cli.py's docstring.
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_REFUSED = 0, 1, 2, 3
EXIT_NOT_ACCEPTED, EXIT_PARTIAL, EXIT_INTERRUPTED, EXIT_CLOSED_PIPE = 4, 5, 130, 141
PERSON = ("--first-name", "Jane", "--last-name", "Doe", "--email", "jane@contoso.com")
#: the classic channel takes the date the customer accepted (never defaulted)
CLASSIC = (*PERSON, "--date", datetime.now(UTC).date().isoformat())


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def one_json_document(text: str):
    """stdout must be exactly one JSON document (json.loads refuses trailing data)."""
    assert text.strip(), "stdout is empty"
    return json.loads(text)


def customers() -> list[dict]:
    code, out, err = run("--json", "customers")
    assert code == 0, err
    return json.loads(out)


def unaccepted_ids(count: int = 1) -> list[str]:
    found = []
    for c in customers():
        _, out, _ = run("--json", "status", c["id"])
        if not json.loads(out)["accepted"]:
            found.append(c["id"])
            if len(found) == count:
                return found
    pytest.fail("the seed has too few unaccepted customers")


def bulk_csv(path: Path, ids: list[str]) -> Path:
    lines = [HEADER, *(f"{i},Jane,Doe,jane@contoso.com,,2025-01-02" for i in ids)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def store_db(sandbox_env: Path) -> Path:
    return sandbox_env / "data" / "desk.sqlite3"


def module_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "mca_core", *argv]


# --- 1. a reader that closes the pipe -------------------------------------------------------


def closed_before_output(*argv: str) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reading end is closed before the command writes a byte."""
    proc = subprocess.Popen(
        module_cmd(*argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the command has printed anything
    err = proc.stderr.read().decode("utf-8", "replace")
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=120), "", err)


def closed_after_one_byte(*argv: str) -> subprocess.CompletedProcess:
    """`... | head -c 1`: read one byte, then close. The pipe is shrunk to one page so that the
    writer is still writing when the reader leaves (a 64 KiB pipe would swallow a small output)."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    proc = subprocess.Popen(module_cmd(*argv), cwd=ROOT, stdout=write_fd, stderr=subprocess.PIPE)
    os.close(write_fd)
    first = os.read(read_fd, 1)
    os.close(read_fd)
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", "replace")
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=120), first, err)


def assert_quiet_exit(result: subprocess.CompletedProcess, *, stderr_empty: bool = True) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Error" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr
    if stderr_empty:
        assert result.stderr == "", result.stderr
    assert result.returncode == EXIT_CLOSED_PIPE, (result.returncode, result.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ("customers",),
        ("--json", "customers"),
        ("--json", "pipeline"),
        ("pipeline", "--json", "--no-refresh"),
        ("invite", "reseller"),
        ("--json", "invite", "reseller"),
        ("--help",),
    ],
    ids=lambda a: " ".join(a),
)
def test_a_closed_pipe_exits_quietly(sandbox_env, argv):
    assert_quiet_exit(closed_before_output(*argv))


def test_a_reader_that_leaves_after_one_byte(sandbox_env):
    result = closed_after_one_byte("--json", "customers")
    assert result.stdout == b"["
    assert_quiet_exit(result)
    # the text list may fit in the pipe (then the command had finished: 0); quiet either way
    result = closed_after_one_byte("customers")
    assert len(result.stdout) == 1 and result.stderr == ""
    assert result.returncode in (EXIT_OK, EXIT_CLOSED_PIPE)


def test_report_to_stdout_and_a_closed_pipe(sandbox_env):
    assert run("sync")[0] == 0
    result = subprocess.run(
        module_cmd("report", "--format", "csv", "--out", "-"),
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("customer_id,company_name,domain") and len(lines) == 41
    assert b"written to" in result.stderr  # the summary goes beside the data, not into it
    assert_quiet_exit(closed_before_output("report", "--format", "csv", "--out", "-"))
    # a sync's progress lines may precede the closed pipe on stderr; nothing else does
    result = closed_before_output("--json", "sync")
    assert_quiet_exit(result, stderr_empty=False)


def test_report_to_stdout_with_json_is_invalid_input(sandbox_env):
    assert run("sync")[0] == 0
    code, out, err = run("--json", "report", "--out", "-")
    assert code == EXIT_INVALID and "--out" in err
    assert one_json_document(out)["problems"][0]["field"] == "--out"


# --- 2. --out never overwrites the desk's own files or the command's input ------------------


def protected_targets(sandbox_env: Path) -> list[Path]:
    db = store_db(sandbox_env)
    link = sandbox_env / "innocent.csv"
    link.symlink_to(db)
    dangling = sandbox_env / "to-the-wal.csv"
    dangling.symlink_to(Path(f"{db}-wal"))
    return [
        db,
        db.parent / ".." / "data" / db.name,  # another spelling of the same file
        Path(f"{db}-wal"),
        Path(f"{db}-shm"),
        Path(f"{db}-journal"),
        link,  # a symlink to the database
        dangling,  # a symlink to a database file that does not exist yet
        sandbox_env / "data" / "sandbox" / "emulator.sqlite3",
    ]


def test_report_refuses_to_overwrite_the_desk_database(sandbox_env):
    assert run("sync")[0] == 0
    db = store_db(sandbox_env)
    before = db.read_bytes()
    for target in protected_targets(sandbox_env):
        code, out, err = run("--json", "report", "--out", str(target))
        assert code == EXIT_INVALID, (target, err)
        doc = one_json_document(out)
        assert doc["problems"][0]["field"] == "--out", target
        assert "--out" in err and "database" in err.lower(), err
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert len(db.read_bytes()) >= len(before) // 2
    code, _, err = run("report", "--out", str(sandbox_env / "fine.csv"))  # the desk still works
    assert code == EXIT_OK, err


def test_an_explicit_sqlite_store_url_is_protected_too(sandbox_env, monkeypatch):
    db = sandbox_env / "elsewhere" / "audit.db"
    db.parent.mkdir()
    monkeypatch.setenv("MCA_STORE_URL", f"sqlite:///{db}")
    assert run("sync")[0] == 0
    for target in (db, Path(f"{db}-wal"), Path(f"{db}-journal")):
        code, _, err = run("report", "--out", str(target))
        assert code == EXIT_INVALID and "--out" in err, err
    assert db.read_bytes()[:15] == b"SQLite format 3"


def test_invite_and_bulk_refuse_the_database_too(sandbox_env):
    db = store_db(sandbox_env)
    assert run("customers")[0] == 0  # the store exists
    code, _, err = run("invite", "reseller", "--out", str(db))
    assert code == EXIT_INVALID and "--out" in err, err
    rows = bulk_csv(sandbox_env / "rows.csv", unaccepted_ids(1))
    code, _, err = run("bulk-attest", str(rows), "--out", str(db))
    assert code == EXIT_INVALID and "--out" in err, err
    assert db.read_bytes()[:15] == b"SQLite format 3"


def test_bulk_attest_refuses_to_overwrite_its_input(sandbox_env):
    ids = unaccepted_ids(2)
    rows = bulk_csv(sandbox_env / "in.csv", ids)
    original = rows.read_bytes()
    link = sandbox_env / "link.csv"
    link.symlink_to(rows)
    hard = sandbox_env / "hard.csv"
    os.link(rows, hard)
    for target in (rows, link, hard, sandbox_env / "." / "in.csv"):
        code, out, err = run("--json", "bulk-attest", str(rows), "--out", str(target))
        assert code == EXIT_INVALID, (target, err)
        assert one_json_document(out)["problems"][0]["field"] == "--out"
        assert "--out" in err and "input" in err.lower(), err
    assert rows.read_bytes() == original
    # nothing was attested: the refusal came before anything was sent
    for cid in ids:
        _, out, _ = run("--json", "status", cid)
        assert json.loads(out)["accepted"] is False


@pytest.mark.parametrize("command", ["report", "invite", "bulk-attest"])
def test_out_is_written_atomically(sandbox_env, monkeypatch, command):
    """A write that fails half-way leaves the previous file whole, and no temporary file."""
    folder = sandbox_env / "exports"
    folder.mkdir()
    target = folder / "out.txt"
    target.write_text("previous contents\n", encoding="utf-8")
    if command == "report":
        assert run("sync")[0] == 0
        argv = ["report", "--out", str(target)]
    elif command == "invite":
        argv = ["invite", "reseller", "--out", str(target)]
    else:
        rows = bulk_csv(sandbox_env / "rows.csv", unaccepted_ids(1))
        argv = ["bulk-attest", "--dry-run", str(rows), "--out", str(target)]

    def no_replace(src, dst):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", no_replace)  # the disk fills up as the file is written
        code, _, err = run(*argv)
    assert code == EXIT_INVALID and "--out" in err, err
    assert target.read_text(encoding="utf-8") == "previous contents\n"
    assert sorted(p.name for p in folder.iterdir()) == ["out.txt"]
    os.chmod(target, 0o640)
    code, _, err = run(*argv)
    assert code == EXIT_OK, err
    assert target.read_bytes() != b"previous contents\n"
    assert sorted(p.name for p in folder.iterdir()) == ["out.txt"]
    assert (target.stat().st_mode & 0o777) == 0o640  # the file keeps its permissions


def test_out_through_a_symlink_writes_the_target(sandbox_env):
    real = sandbox_env / "real.txt"
    real.write_text("old", encoding="utf-8")
    link = sandbox_env / "link.txt"
    link.symlink_to(real)
    assert run("invite", "reseller", "--out", str(link))[0] == EXIT_OK
    assert link.is_symlink() and "partnerId=" in real.read_text(encoding="utf-8")


# --- 3. one exit-code table for every command -----------------------------------------------


@dataclass
class Case:
    name: str
    argv: list[str]
    code: int
    setup: tuple[str, ...] = ()
    stderr: tuple[str, ...] = field(default_factory=tuple)


CASES = [
    Case("customers", ["customers"], EXIT_OK),
    Case("status unknown", ["status", "nope nope"], EXIT_INVALID, stderr=("CUSTOMER_ID",)),
    Case("attest", ["attest", "{cid}", *CLASSIC], EXIT_OK),
    Case(
        "attest bad email",
        [
            "attest",
            "{cid}",
            "--first-name",
            "J",
            "--last-name",
            "D",
            "--email",
            "j@",
            *CLASSIC[-2:],
        ],
        EXIT_INVALID,
        stderr=("email",),
    ),
    Case("attest helpdesk", ["--as", "helpdesk-agent", "attest", "{cid}", *CLASSIC], EXIT_REFUSED),
    Case("sync", ["sync"], EXIT_OK),
    Case("sync partial", ["sync"], EXIT_PARTIAL, setup=("one_customer_fails",)),
    Case("report", ["report", "--out", "{tmp}/r.csv"], EXIT_OK, setup=("sync",)),
    Case("report no sync", ["report", "--out", "{tmp}/r.csv"], EXIT_INVALID),
    Case(
        "report out dir",
        ["report", "--out", "{tmp}"],
        EXIT_INVALID,
        setup=("sync",),
        stderr=("--out",),
    ),
    Case(
        "report out missing dir",
        ["report", "--out", "{tmp}/missing/r.csv"],
        EXIT_INVALID,
        setup=("sync",),
        stderr=("--out",),
    ),
    Case(
        "report out unwritable",
        ["report", "--out", "{ro}/r.csv"],
        EXIT_INVALID,
        setup=("sync", "read_only_dir"),
        stderr=("--out",),
    ),
    Case("bulk dry run", ["bulk-attest", "--dry-run", "{csv}"], EXIT_OK, setup=("csv",)),
    Case("bulk", ["bulk-attest", "{csv}", "--out", "{tmp}/res.csv"], EXIT_OK, setup=("csv",)),
    Case("bulk missing file", ["bulk-attest", "{tmp}/nope.csv"], EXIT_INVALID),
    Case(
        "bulk helpdesk",
        ["--as", "helpdesk-agent", "bulk-attest", "{csv}"],
        EXIT_REFUSED,
        setup=("csv",),
    ),
    Case(
        "bulk out dir",
        ["bulk-attest", "{csv}", "--out", "{tmp}"],
        EXIT_INVALID,
        setup=("csv",),
        stderr=("--out",),
    ),
    Case(
        "bulk out missing dir",
        ["bulk-attest", "{csv}", "--out", "{tmp}/no/r.csv"],
        EXIT_INVALID,
        setup=("csv",),
        stderr=("--out",),
    ),
    Case(
        "bulk out unwritable",
        ["bulk-attest", "{csv}", "--out", "{ro}/r.csv"],
        EXIT_INVALID,
        setup=("csv", "read_only_dir"),
        stderr=("--out",),
    ),
    Case("invite", ["invite", "reseller", "--out", "{tmp}/i.txt"], EXIT_OK),
    Case("invite no customer", ["invite", "mca"], EXIT_INVALID, stderr=("--customer",)),
    Case(
        "invite out dir", ["invite", "reseller", "--out", "{tmp}"], EXIT_INVALID, stderr=("--out",)
    ),
    Case(
        "invite out missing dir",
        ["invite", "reseller", "--out", "{tmp}/no/i.txt"],
        EXIT_INVALID,
        stderr=("--out",),
    ),
    Case(
        "invite out unwritable",
        ["invite", "reseller", "--out", "{ro}/i.txt"],
        EXIT_INVALID,
        setup=("read_only_dir",),
        stderr=("--out",),
    ),
    Case(
        "report out under a file",
        ["report", "--out", "{tmp}/plain.txt/r.csv"],
        EXIT_INVALID,
        setup=("sync", "plain_file"),
        stderr=("--out",),
    ),
    Case(
        "invite out under a file",
        ["invite", "reseller", "--out", "{tmp}/plain.txt/i.txt"],
        EXIT_INVALID,
        setup=("plain_file",),
        stderr=("--out",),
    ),
    Case("pipeline", ["pipeline"], EXIT_OK),
    Case(
        "finalise not accepted", ["finalise", "{cid}"], EXIT_NOT_ACCEPTED, setup=("enhanced_link",)
    ),
    Case(
        "sandbox-accept unknown",
        ["sandbox-accept", "no-such-attestation"],
        EXIT_INVALID,
        stderr=("ATTESTATION_ID",),
    ),
    Case("reset-sandbox", ["reset-sandbox"], EXIT_OK),
]


def make_one_customer_fail(monkeypatch) -> None:
    """Partner Center answers 503 for the first customer's status, however often asked."""
    import mca_core.usecases.sync as sync_module

    first = customers()[0]["id"]
    real = sync_module.acceptance_status

    async def flaky(pc, customer_id, **kw):
        if customer_id == first:
            raise ServiceUnavailable(status=503, request_id="req-1")
        return await real(pc, customer_id, **kw)

    monkeypatch.setattr(sync_module, "acceptance_status", flaky)


def prepare(case: Case, sandbox_env: Path, monkeypatch) -> dict[str, str]:
    tmp = sandbox_env / "work"
    tmp.mkdir()
    values = {"tmp": str(tmp), "ro": str(sandbox_env / "ro")}
    needs_cid = any("{cid}" in a for a in case.argv) or "csv" in case.setup
    if needs_cid:
        values["cid"] = unaccepted_ids(1)[0]
    for step in case.setup:
        if step == "sync":
            assert run("sync")[0] == 0
        elif step == "csv":
            values["csv"] = str(bulk_csv(sandbox_env / "rows.csv", [values["cid"]]))
        elif step == "plain_file":
            (tmp / "plain.txt").write_text("a file, not a folder\n", encoding="utf-8")
        elif step == "read_only_dir":
            if os.geteuid() == 0:  # root writes anywhere on disk, but not into sysfs
                values["ro"] = "/sys"
            else:
                ro = sandbox_env / "ro"
                ro.mkdir()
                ro.chmod(0o500)
        elif step == "one_customer_fails":  # a per-customer read fails (not the records)
            monkeypatch.setenv("MCA_SYNC_SOURCE", "per_customer")
            make_one_customer_fail(monkeypatch)
        elif step == "enhanced_link":
            code, _, err = run("attest", values["cid"], *PERSON, "--channel", "enhanced")
            assert code == 0, err
    return values


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_command_keeps_the_exit_code_table(sandbox_env, monkeypatch, case):
    values = prepare(case, sandbox_env, monkeypatch)
    argv = [a.format(**values) for a in case.argv]
    code, _, err = run(*argv)
    assert code == case.code, (argv, code, err)
    assert "Traceback" not in err and "Unexpected error" not in err, err
    for text in case.stderr:
        assert text in err, (text, err)
    # the same with --json (a second run: attest and bulk are then already done, still 0)
    jcode, jout, jerr = run("--json", *argv)
    assert jcode == case.code, (argv, jerr)
    doc = one_json_document(jout)
    if case.code in (EXIT_INVALID, EXIT_REFUSED):
        assert doc["error"] in ("invalid_input", "refused", "unreadable_file"), doc


def test_the_table_is_the_cli_constants():
    from mca_core.cli import main as cli

    assert (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_INVALID, cli.EXIT_REFUSED) == (0, 1, 2, 3)
    assert (cli.EXIT_NOT_ACCEPTED, cli.EXIT_PARTIAL) == (4, 5)
    assert (cli.EXIT_INTERRUPTED, cli.EXIT_CLOSED_PIPE) == (130, 141)
    for code in (0, 1, 2, 3, 4, 5, 130, 141):
        assert f"{code} " in (cli.__doc__ or ""), code


def test_sync_partial_says_so_in_json(sandbox_env, monkeypatch):
    prepare(Case("p", [], 0, setup=("one_customer_fails",)), sandbox_env, monkeypatch)
    code, out, err = run("--json", "sync")
    assert code == EXIT_PARTIAL, err
    doc = one_json_document(out)
    assert doc["complete"] is False and doc["failed"] == 1 and doc["customers"] == 40
    assert "partial" in err.lower() or "could not be read" in err.lower()


def live_token(base_url: str, user: str) -> str:
    response = httpx.post(f"{base_url}/sandbox/token", json={"user": user})
    return response.json()["access_token"]


@pytest.mark.classic_tenant
@pytest.mark.parametrize("user", ["helpdesk-agent", "indirect-reseller"])
def test_bulk_attest_refused_by_partner_center_exits_3(tmp_path, monkeypatch, sandbox_env, user):
    """A pre-acquired token: the role is unknown locally, Partner Center's 403 judges each row."""
    emulator = Emulator(tmp_path / "standalone", customers=30, seed=11)
    with run_in_thread(emulator, "127.0.0.1", 0) as base_url:
        live = ("--backend", "live", "--base-url", base_url)
        monkeypatch.setenv("MCA_ACCESS_TOKEN", live_token(base_url, user))
        code, out, err = run("--json", *live, "customers")
        assert code == 0, err
        ids = []
        for c in json.loads(out):
            _, status, _ = run("--json", *live, "status", c["id"])
            if not json.loads(status)["accepted"]:
                ids.append(c["id"])
        assert ids
        rows = bulk_csv(tmp_path / "rows.csv", ids[:3])
        code, out, err = run("--json", *live, "bulk-attest", str(rows))
        assert code == EXIT_REFUSED, err
        doc = one_json_document(out)
        assert doc["counts"]["failed"] >= 1 and doc["counts"]["attested"] == 0
        code, _, err = run(*live, "bulk-attest", str(rows))
        assert code == EXIT_REFUSED and "refused" in err.lower(), err


def test_bulk_with_an_invalid_row_is_still_1(sandbox_env):
    rows = sandbox_env / "rows.csv"
    rows.write_text(f"{HEADER}\nnot-a-customer,Jane,Doe,jane@,,2025-01-02\n", encoding="utf-8")
    code, _, err = run("bulk-attest", str(rows))
    assert code == EXIT_FAILED, err


# --- 4. the --json promise ------------------------------------------------------------------


def json_run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(module_cmd(*argv), cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "argv",
    [
        ("--json", "--no-such-flag", "customers"),
        ("--json", "customers", "--no-such-flag"),
        ("--json", "attest", "x.onmicrosoft.com", "--first-name", "Jane"),
        ("--json", "no-such-command"),
        ("--json",),
        ("pipeline", "--json", "--bogus"),
        ("--js", "status"),  # an abbreviation argparse accepts is --json too
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_with_json_print_one_json_document(sandbox_env, argv):
    result = json_run(*argv)
    assert result.returncode == EXIT_INVALID, result.stderr
    doc = one_json_document(result.stdout)
    assert doc["error"] == "usage" and doc["message"] and "usage" in doc
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_embedded_still_raise_system_exit_2(sandbox_env):
    out = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        main(["--json", "attest", "x"], out=out, err=io.StringIO())
    assert caught.value.code == 2
    doc = one_json_document(out.getvalue())
    assert doc["error"] == "usage" and "--first-name" in doc["message"]


def test_a_bad_out_with_json_prints_one_json_document(sandbox_env):
    result = json_run("--json", "invite", "reseller", "--out", str(sandbox_env))
    assert result.returncode == EXIT_INVALID, result.stderr
    doc = one_json_document(result.stdout)
    assert doc["error"] == "invalid_input" and doc["problems"][0]["field"] == "--out"
    result = json_run("--json", "report", "--out", str(sandbox_env / "missing" / "r.csv"))
    assert result.returncode == EXIT_INVALID, result.stderr
    assert one_json_document(result.stdout)["problems"][0]["field"] == "--out"


def test_an_interrupt_prints_one_json_document_and_exits_130(sandbox_env, monkeypatch):
    def interrupted(cli):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "cmd_customers", interrupted)
    code, out, err = run("--json", "customers")
    assert code == EXIT_INTERRUPTED == 130
    assert one_json_document(out)["error"] == "interrupted"
    assert "Interrupted" in err and "Traceback" not in err
    code, out, err = run("customers")
    assert code == EXIT_INTERRUPTED and out == "" and "Interrupted" in err


@pytest.mark.classic_tenant
def test_an_interrupted_bulk_run_prints_one_json_document(sandbox_env, monkeypatch):
    import mca_core.usecases.bulk as bulk_usecase

    rows = bulk_csv(sandbox_env / "rows.csv", unaccepted_ids(1))

    async def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bulk_usecase, "run_bulk", interrupted)
    code, out, _ = run("--json", "bulk-attest", str(rows))
    assert code == EXIT_INTERRUPTED
    doc = one_json_document(out)
    assert doc["error"] == "interrupted" and "submit the same file again" in doc["message"].lower()


SLOW = ("--source", "per-customer")


def test_sigint_to_a_running_sync_prints_one_json_document(tmp_path, monkeypatch, sandbox_env):
    faults = FaultConfig(latency_ms=500)
    emulator = Emulator(tmp_path / "slow", customers=30, seed=3, faults=faults)
    with run_in_thread(emulator, "127.0.0.1", 0) as base_url:
        monkeypatch.setenv("MCA_ACCESS_TOKEN", live_token(base_url, "admin-agent"))
        proc = subprocess.Popen(
            # customer by customer: still reading when the signal comes
            module_cmd("--json", "--backend", "live", "--base-url", base_url, "sync", *SLOW),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Ctrl+C as a terminal sends it: a suite started in the background (`make test &`)
            # runs with SIGINT ignored, which the child would inherit and never be interrupted
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert proc.stderr is not None and proc.stdout is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "reading acceptance" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "reading acceptance" in seen, seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert one_json_document(out)["error"] == "interrupted"
    assert "Traceback" not in err
