"""SQLite persistence of the emulator: one file, `{data_dir}/emulator.sqlite3`.

Every request reads and writes the database; nothing about customers lives in memory, so two
processes (the dashboard and a CLI, say) can open the same data dir and see each other's writes.
WAL mode lets readers run beside a writer and `busy_timeout` makes a writer wait its turn. Writes
that must be atomic (check-then-insert, idempotency) run inside `BEGIN IMMEDIATE`.

One sqlite3 connection per Store, shared by the threads of one process behind a lock: every
statement is short (milliseconds), and nothing awaits while holding it.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .seed import Portfolio, build_portfolio

SCHEMA_VERSION = "1"
DB_FILE = "emulator.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    commerce_id TEXT NOT NULL,
    partner_tenant_id TEXT NOT NULL,
    associated_partner_id TEXT,
    company_name TEXT NOT NULL,
    company_name_fold TEXT NOT NULL,
    domain TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    billing_profile TEXT NOT NULL,
    direct_signed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_customers_partner ON customers (partner_tenant_id, seq);
CREATE INDEX IF NOT EXISTS ix_customers_associated ON customers (associated_partner_id, seq);
CREATE TABLE IF NOT EXISTS agreements (
    id INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    template_id TEXT NOT NULL,
    agreement_link TEXT NOT NULL,
    date_agreed TEXT NOT NULL,
    date_agreed_ts REAL NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    user_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_agreements_customer ON agreements (customer_id, date_agreed_ts, id);
CREATE TABLE IF NOT EXISTS replays (
    partner_tenant_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (partner_tenant_id, request_id, method, path)
);
CREATE TABLE IF NOT EXISTS enhanced_attestations (
    id TEXT PRIMARY KEY,
    partner_tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    company_name TEXT NOT NULL,
    country TEXT NOT NULL,
    language TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL DEFAULT '',
    created_ts REAL NOT NULL,
    expires_ts REAL NOT NULL,
    accepted_ts REAL,
    finalised_ts REAL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_enhanced_customer ON enhanced_attestations (customer_id);
"""
_TABLES = ("customers", "agreements", "replays", "enhanced_attestations", "meta")


@dataclass(frozen=True)
class Visibility:
    """Which customers a caller's partner tenant sees."""

    tenant_id: str
    #: An indirect reseller sees the customers associated with it; others the ones they own.
    is_reseller: bool

    def clause(self) -> tuple[str, list[Any]]:
        column = "associated_partner_id" if self.is_reseller else "partner_tenant_id"
        return f"{column} = ?", [self.tenant_id]


def _now_text() -> str:
    return datetime.now(UTC).isoformat()


def like_prefix(value: str) -> str:
    """A LIKE pattern for "starts with `value`" (escape char: backslash)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class Store:
    """The emulator's database: schema, seeding and the queries the routes need."""

    def __init__(self, data_dir: str | Path, customers: int, seed: int):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_FILE
        self.customers_per_partner = customers
        self.seed = seed
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._open()

    # lifecycle -----------------------------------------------------------------------------
    def _open(self) -> None:
        """Create the schema and seed once, whichever process gets there first."""
        with self.transaction() as conn:
            version = self._meta_value(conn, "schema_version")
            if version not in (None, SCHEMA_VERSION):
                self._drop(conn)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(customers)")}
            if "direct_signed_at" not in columns:  # a data dir from before the records
                conn.execute("ALTER TABLE customers ADD COLUMN direct_signed_at TEXT")
            if self._meta_value(conn, "seeded") is None:
                self._seed(conn, rotate_key=True)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def reset(self, *, rotate_key: bool = False) -> None:
        """Wipe every customer, agreement and replay record and seed again."""
        with self.transaction() as conn:
            for table in ("customers", "agreements", "replays", "enhanced_attestations"):
                conn.execute(f"DELETE FROM {table}")
            self._seed(conn, rotate_key=rotate_key)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An IMMEDIATE transaction: the writer lock is taken before the first read."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (one deferred transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # meta ----------------------------------------------------------------------------------
    @staticmethod
    def _meta_value(conn: sqlite3.Connection, key: str) -> str | None:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not exists:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _drop(conn: sqlite3.Connection) -> None:
        for table in _TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")

    def meta(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: r["value"] for r in rows if r["key"] != "signing_key"}

    def signing_key(self) -> bytes:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key='signing_key'").fetchone()
        return bytes.fromhex(row[0])

    def _seed(self, conn: sqlite3.Connection, *, rotate_key: bool) -> None:
        portfolio = build_portfolio(self.customers_per_partner, self.seed)
        self._insert_portfolio(conn, portfolio)
        meta = {
            "schema_version": SCHEMA_VERSION,
            "seed": str(self.seed),
            "customers_per_partner": str(self.customers_per_partner),
            "seeded": _now_text(),
        }
        if rotate_key or self._meta_value(conn, "signing_key") is None:
            meta["signing_key"] = secrets.token_hex(32)
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(meta.items())
        )

    @staticmethod
    def _insert_portfolio(conn: sqlite3.Connection, portfolio: Portfolio) -> None:
        created = _now_text()
        conn.executemany(
            "INSERT INTO customers (id, commerce_id, partner_tenant_id, associated_partner_id,"
            " company_name, company_name_fold, domain, country, billing_profile, direct_signed,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.id,
                    c.commerce_id,
                    c.partner_tenant_id,
                    c.associated_partner_id,
                    c.company_name,
                    c.company_name.casefold(),
                    c.domain,
                    c.country,
                    json.dumps(c.billing_profile, ensure_ascii=False),
                    int(c.direct_signed),
                    created,
                )
                for c in portfolio.customers
            ],
        )
        conn.executemany(
            "INSERT INTO agreements (customer_id, type, template_id, agreement_link, date_agreed,"
            " date_agreed_ts, first_name, last_name, email, phone, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.customer_id,
                    a.type,
                    a.template_id,
                    a.agreement_link,
                    a.date_agreed,
                    a.date_agreed_ts,
                    a.contact.first_name,
                    a.contact.last_name,
                    a.contact.email,
                    a.contact.phone,
                    a.user_id,
                    created,
                )
                for a in portfolio.agreements
            ],
        )

    # counts --------------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        with self.reading() as conn:
            per_partner = {
                r[0]: r[1]
                for r in conn.execute(
                    "SELECT partner_tenant_id, COUNT(*) FROM customers GROUP BY partner_tenant_id"
                )
            }
            per_reseller = {
                r[0]: r[1]
                for r in conn.execute(
                    "SELECT associated_partner_id, COUNT(*) FROM customers"
                    " WHERE associated_partner_id IS NOT NULL GROUP BY associated_partner_id"
                )
            }
            customers = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
            agreements = conn.execute("SELECT COUNT(*) FROM agreements").fetchone()[0]
            direct = conn.execute(
                "SELECT COUNT(*) FROM customers WHERE direct_signed = 1"
            ).fetchone()[0]
        return {
            "customers": customers,
            "agreements": agreements,
            "directSigned": direct,
            "customersByPartner": per_partner,
            "customersByReseller": per_reseller,
        }

    # customers -----------------------------------------------------------------------------
    def list_customers(
        self,
        visibility: Visibility,
        *,
        after_seq: int,
        size: int,
        where: str = "",
        params: list[Any] | None = None,
    ) -> tuple[list[sqlite3.Row], bool]:
        """One page in stable order (`seq`), and whether more remain after it."""
        clause, args = visibility.clause()
        sql = (
            "SELECT seq, id, company_name, domain, country, associated_partner_id, commerce_id"
            f" FROM customers WHERE {clause} AND seq > ?"
        )
        args.append(after_seq)
        if where:
            sql += f" AND ({where})"
            args.extend(params or [])
        sql += " ORDER BY seq LIMIT ?"
        args.append(size + 1)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return rows[:size], len(rows) > size

    def get_customer(self, visibility: Visibility, customer_id: str) -> sqlite3.Row | None:
        """One visible customer (ids are lowercase GUIDs; the lookup ignores case)."""
        clause, args = visibility.clause()
        with self._lock:
            return self._conn.execute(
                f"SELECT * FROM customers WHERE id = ? AND {clause}",
                [customer_id.strip().lower(), *args],
            ).fetchone()

    def set_direct_signed(self, customer_id: str, signed: bool, at: str | None = None) -> bool:
        """Mark the customer's own acceptance (or take it back); `at` is when, default now."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE customers SET direct_signed = ?, direct_signed_at = ? WHERE id = ?",
                (int(signed), (at or _now_text()) if signed else None, customer_id.strip().lower()),
            )
        return cursor.rowcount > 0

    def agreement_records(
        self, visibility: Visibility, *, after_seq: int, size: int, agreement_type: str
    ) -> tuple[list[sqlite3.Row], bool]:
        """One page of every visible customer's last acceptance, in `seq` order: the newest
        attestation of `agreement_type` beside the direct acceptance (when it happened: the
        day it was marked, else the day the customer was created)."""
        clause, args = visibility.clause()
        sql = (
            "SELECT c.seq, c.id, c.direct_signed,"
            " COALESCE(c.direct_signed_at, c.created_at) AS direct_signed_at,"
            " a.date_agreed_ts, a.first_name, a.last_name, a.email, a.phone"
            " FROM customers c LEFT JOIN agreements a ON a.id = ("
            "   SELECT x.id FROM agreements x WHERE x.customer_id = c.id AND x.type = ?"
            "   ORDER BY x.date_agreed_ts DESC, x.id DESC LIMIT 1)"
            f" WHERE c.{clause} AND c.seq > ? ORDER BY c.seq LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [agreement_type, *args, after_seq, size + 1]).fetchall()
        return rows[:size], len(rows) > size

    @staticmethod
    def insert_customer(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO customers (id, commerce_id, partner_tenant_id, associated_partner_id,"
            " company_name, company_name_fold, domain, country, billing_profile, direct_signed,"
            " created_at) VALUES (:id, :commerce_id, :partner_tenant_id, :associated_partner_id,"
            " :company_name, :company_name_fold, :domain, :country, :billing_profile, 0,"
            " :created_at)",
            {**row, "created_at": _now_text()},
        )

    # agreements ----------------------------------------------------------------------------
    def agreements(
        self, customer_id: str, agreement_type: str | None, conn: sqlite3.Connection | None = None
    ) -> list[sqlite3.Row]:
        """A customer's agreements, oldest first (`None` = every type)."""
        sql = "SELECT * FROM agreements WHERE customer_id = ?"
        args: list[Any] = [customer_id]
        if agreement_type is not None:
            sql += " AND type = ?"
            args.append(agreement_type)
        sql += " ORDER BY date_agreed_ts, id"
        if conn is not None:
            return conn.execute(sql, args).fetchall()
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    @staticmethod
    def insert_agreement(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO agreements (customer_id, type, template_id, agreement_link, date_agreed,"
            " date_agreed_ts, first_name, last_name, email, phone, user_id, created_at) VALUES"
            " (:customer_id, :type, :template_id, :agreement_link, :date_agreed,"
            " :date_agreed_ts, :first_name, :last_name, :email, :phone, :user_id, :created_at)",
            {**row, "created_at": _now_text()},
        )

    # idempotency ---------------------------------------------------------------------------
    @staticmethod
    def find_replay(
        conn: sqlite3.Connection, tenant_id: str, request_id: str, method: str, path: str
    ) -> tuple[int, str] | None:
        row = conn.execute(
            "SELECT status, body FROM replays WHERE partner_tenant_id = ? AND request_id = ?"
            " AND method = ? AND path = ?",
            (tenant_id, request_id, method, path),
        ).fetchone()
        return None if row is None else (int(row["status"]), str(row["body"]))

    @staticmethod
    def save_replay(
        conn: sqlite3.Connection,
        tenant_id: str,
        request_id: str,
        method: str,
        path: str,
        status: int,
        body: str,
    ) -> None:
        conn.execute(
            "INSERT INTO replays (partner_tenant_id, request_id, method, path, status, body,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, request_id, method, path, status, body, _now_text()),
        )
