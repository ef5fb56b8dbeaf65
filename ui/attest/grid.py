"""What the Attest page's two bulk tabs share: the classic file (`bulk`) and the enhanced signers
file (`signers`). A CSV is read into an editable grid with each row's state and problems beside
it; a dry run comes before the run, which shows a progress bar; the report shows how many rows
ended in each state and offers its downloads. A `GridTab` says what differs between the tabs:
the file's columns, the core's reader and checks, the run, the report, the texts and the prefix
of the tab's session keys."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from mca_core import McaError, bulk, reports
from ui import attest_blocks as ab
from ui.i18n import problem_text, t, tn

from .context import AttestContext

ss = st.session_state

#: A row's verdict in the grid: its problems (invalid when any) and its flags (`flag_<name>`).
Verdict = tuple[list[Any], list[str]]
Progress = Callable[[int, int], None]
#: What a tab keeps between runs (after its prefix): the file's bytes, the grid, the reports.
STATE = ("file_fp", "bytes", "name", "base", "file_error", "report", "dry_fp")


@dataclass(frozen=True)
class GridTab:
    """One bulk tab: what it reads, checks, runs and shows."""

    #: The prefix of the tab's session and widget keys (`<prefix>_base`, `<prefix>b_dry`...).
    prefix: str
    #: The file's columns, in the grid's order.
    columns: tuple[str, ...]
    #: The core's reader: the file's rows, or CsvUnusable.
    read: Callable[[bytes, str], list[Any]]
    #: The grid's rows as the core reads them.
    rows_of: Callable[[pd.DataFrame], list[Any]]
    #: Each row's verdict by line number, for a (normalised) grid.
    judge: Callable[[AttestContext, pd.DataFrame], dict[int, Verdict]]
    #: The dry run (`dry_run=True`) or the run of the rows (see `run_rows`).
    run: Callable[..., None]
    #: The last run's report.
    show_report: Callable[[Any], None]
    #: The template's bytes and file name.
    template: Callable[[], bytes]
    template_name: str
    #: Message keys: the tab's introduction, the template's button, the run's button.
    intro_key: str
    template_key: str
    submit_key: str

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    @property
    def grid_order(self) -> tuple[str, ...]:
        return ("line", "state", "problems", *self.columns)


def file_fingerprint(data: bytes, encoding: str) -> str:
    """The file and the encoding it is read with: choosing another encoding reads it again."""
    return hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest()


def rows_fingerprint(rows: Iterable[Any]) -> str:
    payload = json.dumps([[r.line, *r.values().values()] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def annotated(tab: GridTab, ctx: AttestContext, frame: pd.DataFrame) -> pd.DataFrame:
    """The grid with each row's state and problems beside it (`tab.judge`: the core's checks)."""
    frame = ab.normalise_grid(frame, tab.columns)
    verdicts = tab.judge(ctx, frame)
    states, problems = [], []
    for line in frame["line"]:
        verdict = verdicts.get(int(line))
        if verdict is None:
            states.append("")
            problems.append("")
            continue
        found, flags = verdict
        marks = [("⛔ " + t("row_invalid")) if found else ("✅ " + t("row_ready"))]
        marks += ["⚠️ " + t(f"flag_{flag}") for flag in flags]
        states.append(" · ".join(marks))
        problems.append(ab.problem_list(found))
    frame["state"] = states
    frame["problems"] = problems
    return frame


def load_file(tab: GridTab, ctx: AttestContext, name: str, data: bytes, encoding: str) -> None:
    ss[tab.key("file_fp")] = file_fingerprint(data, encoding)
    ss[tab.key("bytes")], ss[tab.key("name")] = data, name
    for key in ("report", "dry_fp", "base", "file_error"):
        ss.pop(tab.key(key), None)  # a new file (or encoding): the old grid and reports are gone
    try:
        rows = tab.read(data, encoding)
    except bulk.CsvUnusable as exc:
        ss[tab.key("file_error")] = exc
        return
    ss[tab.key("base")] = annotated(tab, ctx, ab.grid_from_rows(rows, tab.columns))
    ss[tab.key("version")] = ss.get(tab.key("version"), 0) + 1


def run_rows(
    tab: GridTab,
    ctx: AttestContext,
    rows: list[Any],
    *,
    dry_run: bool,
    start: Callable[[Progress, threading.Event], Any],
) -> None:
    """The dry run (in the page, it sends nothing) or the run, with a progress bar:
    `start(progress, cancel)` returns the report, which the page keeps. The run is a job of the
    server (`App.start_job`): leaving the page does not stop it, another session of the partner
    sees it on this tab, and a second start joins it. A dry run allows the run of these rows."""
    bar = st.progress(0.0, text=tn("bulk_progress", len(rows), done=0))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=tn("bulk_progress", total, done=done))

    if dry_run:
        try:
            report = start(progress, threading.Event())
        except McaError as exc:
            bar.empty()
            ab.show_error(exc)
            return
        ss[tab.key("dry_fp")] = rows_fingerprint(rows)
    else:
        job = ctx.app.start_job(
            ctx.actor,
            job_kind(tab),
            lambda report, cancel: start(lambda d, n: report(d, n, "rows"), cancel),
        ).job
        while not job.wait(0.3):  # leaving the page raises here; the job goes on
            done = job.progress
            if done.total:
                progress(done.done, done.total)
        ss.setdefault(SEEN_JOBS_KEY, set()).add(job.id)
        if job.state == "failed" or job.result is None:
            bar.empty()
            ab.show_error(job.failure or McaError(job.error or ""))
            return
        report = job.result
    bar.empty()
    ss[tab.key("report")] = report
    st.rerun()


def job_kind(tab: GridTab) -> str:
    return f"bulk_{tab.prefix}"


#: The bulk jobs whose report this session has taken (shown once, then kept as its own).
SEEN_JOBS_KEY = "bulk_jobs_seen"


def running_elsewhere(tab: GridTab, ctx: AttestContext) -> bool:
    """A run of this tab started by anyone of the partner (this session before it left the
    page, or a colleague): its progress while it runs, its report once it ends."""
    job = ctx.app.job(ctx.identity, job_kind(tab))
    if job is None:
        return False
    if job.running:
        _follow_run(ctx, job.id, job_kind(tab))
        return True
    seen: set[str] = ss.setdefault(SEEN_JOBS_KEY, set())
    if job.id not in seen:
        seen.add(job.id)
        if job.result is not None:
            ss[tab.key("report")] = job.result
    return False


@st.fragment(run_every=1.0)
def _follow_run(ctx: AttestContext, job_id: str, kind: str) -> None:
    job = ctx.app.job(ctx.identity, kind)
    if job is None or job.id != job_id or not job.running:
        st.rerun()
        return
    st.info(t("bulk_running", who=job.started_by), icon="⏳")
    done = job.progress
    st.progress(done.fraction or 0.0, text=tn("bulk_progress", done.total or 0, done=done.done))


def download_csv(
    label: str, data: bytes, file_name: str, *, key: str, where: Any = st, **more: Any
) -> None:
    where.download_button(
        label,
        data=data,
        file_name=file_name,
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key=key,
        **more,
    )


def download_results(report: Any, data: bytes, stem: str, *, key: str, **more: Any) -> None:
    """The results CSV of a run (`<stem>-results.csv`) or a dry run (`<stem>-dry-run.csv`)."""
    kind = "dry-run" if report.dry_run else "results"
    download_csv(t("bulk_download_results"), data, f"{stem}-{kind}.csv", key=key, **more)


def show_counts(report: Any, states: Iterable[str]) -> None:
    """The report's title and how many rows ended in each state that occurred."""
    counts = report.counts
    st.markdown(f"##### {t('bulk_dry_title') if report.dry_run else t('bulk_result_title')}")
    shown = [k for k in states if counts.get(k)]
    cols = st.columns(max(1, len(shown)))
    for col, key in zip(cols, shown, strict=False):
        col.metric(t(f"outcome_{key}"), counts[key])


def show_verdict(report: Any, *, dry_note: str, all_done: str, resume_hint: str) -> None:
    """What the report means (message keys): a dry run, all done, or run it again."""
    if report.dry_run:
        st.caption(t(dry_note))
    elif report.ok:
        st.success(t(all_done), icon="✅")
    else:
        st.warning(t(resume_hint), icon="↩️")


def render(tab: GridTab, ctx: AttestContext) -> None:
    st.caption(t(tab.intro_key))
    if running_elsewhere(tab, ctx):
        return
    download_csv(t(tab.template_key), tab.template(), tab.template_name, key=tab.key("template"))
    # Only UTF-8 and UTF-16 with a BOM are read unasked; GB18030 is the user's word (issue 11:
    # a Korean file read as GB18030 gives plausible Chinese names), confirmed in the grid below.
    encoding = st.selectbox(
        t("bulk_encoding"),
        bulk.ENCODINGS,
        format_func={key: t(f"bulk_encoding_{key}") for key in bulk.ENCODINGS}.get,
        key=tab.key("encoding"),
        help=t("bulk_encoding_help"),
    )
    upload = st.file_uploader(
        t("bulk_upload"),
        type=["csv", "txt"],
        key=f"{tab.key('upload')}_{ss.get(tab.key('upload_n'), 0)}",
        help=t("bulk_upload_help"),
    )
    if upload is not None:
        data = upload.getvalue()
        if ss.get(tab.key("file_fp")) != file_fingerprint(data, encoding):
            load_file(tab, ctx, upload.name, data, encoding)
    if ss.get(tab.key("name")):
        size = len(ss.get(tab.key("bytes")) or b"")
        st.caption(tn("bulk_file", size, name=ss[tab.key("name")]))
    error = ss.get(tab.key("file_error"))
    if error is not None:
        st.error(f"{t('bulk_file_unusable')}\n\n{problem_text(error.problem)}", icon="📄")
        return
    base = ss.get(tab.key("base"))
    if base is None:
        show_last_report(tab)  # a run this session left, or a colleague's, ended meanwhile
        return
    if encoding != "auto":
        st.info(t("bulk_encoding_check", encoding=t(f"bulk_encoding_{encoding}")), icon="🔤")
    if ctx.snapshot is None:
        st.caption(t("bulk_no_snapshot"))
    edit_grid(tab, ctx, base)
    rows = tab.rows_of(base)
    invalid = int((base["problems"] != "").sum())
    st.caption(tn("bulk_counts", len(rows), invalid=invalid))
    run_buttons(tab, ctx, rows)
    show_last_report(tab)


def show_last_report(tab: GridTab) -> None:
    report = ss.get(tab.key("report"))
    if report is not None:
        tab.show_report(report)


def edit_grid(tab: GridTab, ctx: AttestContext, base: pd.DataFrame) -> None:
    """The editable grid; an edit checks the rows again."""
    key = f"{tab.key('grid')}_{ss.get(tab.key('version'), 0)}"
    edited = st.data_editor(
        base,
        key=key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=tab.grid_order,
        column_config=ab.grid_columns(tab.columns),
    )
    delta = ss.get(key) or {}
    if any(delta.get(part) for part in ("edited_rows", "added_rows", "deleted_rows")):
        ss[tab.key("base")] = annotated(tab, ctx, edited)
        ss[tab.key("version")] = ss.get(tab.key("version"), 0) + 1
        st.rerun()


def run_buttons(tab: GridTab, ctx: AttestContext, rows: list[Any]) -> None:
    """Dry run, run (once these very rows had a dry run) and start again."""
    dry_done = ss.get(tab.key("dry_fp")) == rows_fingerprint(rows)
    buttons = f"{tab.prefix}b"
    dry, submit, reset, _ = st.columns([1, 1, 1, 2])
    if dry.button(t("bulk_dry_run"), key=f"{buttons}_dry", width="stretch", disabled=not rows):
        tab.run(ctx, rows, dry_run=True)
    if submit.button(
        t(tab.submit_key),
        key=f"{buttons}_submit",
        type="primary",
        width="stretch",
        disabled=not (rows and dry_done),
        help=None if dry_done else t("bulk_submit_help"),
    ):
        tab.run(ctx, rows, dry_run=False)
    if reset.button(t("bulk_reset"), key=f"{buttons}_reset", width="stretch"):
        for name in STATE:
            ss.pop(tab.key(name), None)
        ss[tab.key("upload_n")] = ss.get(tab.key("upload_n"), 0) + 1  # a fresh, empty uploader
        st.rerun()
