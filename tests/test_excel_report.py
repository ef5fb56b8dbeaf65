"""The Excel report reads as it opens: a summary sheet first (partner, snapshot time, the KPIs of
`metrics.kpis`, customers per state and status), then the customers with fitted columns, a bold
frozen header and an autofilter; every text cell stays inert."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pandas as pd
import pytest

from mca_core.cli.main import main
from mca_core.usecases import metrics, reports

LONG_NAME = "Contoso Worldwide Holdings International Manufacturing and Logistics Group Ltd"
CHINESE_NAME = "杭州华泰电子商务有限公司"  # 12 wide characters: 24 columns
HOSTILE_NAME = "=cmd|' /C calc'!A0"
TAKEN_AT = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)


def rows() -> list[dict[str, Any]]:
    """One customer of each status, and the names that test widths and neutralising."""
    return [
        {
            "customer_id": "c1",
            "company_name": HOSTILE_NAME,
            "accepted": True,
            "latest_date_agreed": "2025-01-05T00:00:00Z",
        },
        {
            "customer_id": "c2",
            "company_name": CHINESE_NAME,
            "accepted": True,
            "direct_signed": True,
        },
        {
            "customer_id": "c3",
            "company_name": LONG_NAME,
            "accepted": True,
            "direct_signed": True,
            "latest_date_agreed": "2024-06-01T00:00:00Z",
        },
        {
            "customer_id": "c4",
            "company_name": "Fabrikam",
            "accepted": False,
            "latest_date_agreed": "2021-03-01T00:00:00Z",
        },
        {"customer_id": "c5", "company_name": "Northwind", "accepted": False},
        {"customer_id": "c6", "company_name": "Tailspin", "accepted": False},
        {"customer_id": "c7", "company_name": "-1 Woodgrove", "accepted": None},
    ]


@pytest.fixture
def frame() -> pd.DataFrame:
    return metrics.customers_frame(rows())


def table_of(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("status", "state"):
        out[column] = out[column].astype(str)
    out["latest_date_agreed"] = out["latest_date_agreed"].dt.strftime("%Y-%m-%d")
    return out


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def summary_values(book: openpyxl.Workbook) -> dict[str, Any]:
    """Label -> value of the summary sheet (the first label wins)."""
    values: dict[str, Any] = {}
    for label, value, *_ in book[reports.SUMMARY_SHEET].iter_rows(values_only=True):
        if isinstance(label, str):
            values.setdefault(label, value)
    return values


def section(book: openpyxl.Workbook, heading: str) -> dict[str, tuple[Any, Any]]:
    """The rows under `heading` (label -> (count, share)), down to the next blank row."""
    out: dict[str, tuple[Any, Any]] = {}
    inside = False
    for label, count, share in book[reports.SUMMARY_SHEET].iter_rows(max_col=3, values_only=True):
        if inside and label is None:
            break
        if inside:
            out[label] = (count, share)
        inside = inside or label == heading
    return out


def xlsx(frame: pd.DataFrame, **kwargs: Any) -> bytes:
    return reports.export_table(
        table_of(frame),
        "xlsx",
        summary=metrics.kpis(frame),
        partner="Contoso Partner",
        taken_at=TAKEN_AT,
        **kwargs,
    )


def test_sheets_are_summary_then_customers_and_it_opens_on_the_summary(frame):
    book = workbook(xlsx(frame))
    assert book.sheetnames == ["Summary", "Customers"]
    assert book.active.title == "Summary"


def test_customers_sheet_has_a_frozen_bold_header_and_an_autofilter_over_the_table(frame):
    sheet = workbook(xlsx(frame))["Customers"]
    columns = len(frame.columns)
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(columns)
    assert sheet.auto_filter.ref == f"A1:{last}{len(frame) + 1}"
    assert sheet.max_row == len(frame) + 1 and sheet.max_column == columns
    assert all(cell.font.bold for cell in sheet[1])
    assert not any(cell.font.bold for cell in sheet[2])


def test_column_widths_fit_the_content_within_bounds(frame):
    sheet = workbook(xlsx(frame))["Customers"]
    header = [c.value for c in sheet[1]]
    width = {
        name: sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width
        for i, name in enumerate(header, start=1)
    }
    assert all(reports.MIN_WIDTH <= w <= reports.MAX_WIDTH for w in width.values()), width
    assert len(LONG_NAME) > reports.MAX_WIDTH
    assert width["company_name"] == reports.MAX_WIDTH  # the long name, capped
    assert width["error"] == reports.MIN_WIDTH  # empty: the narrowest (header and filter button)
    assert width["customer_id"] < width["latest_contact_email"] < width["company_name"]


def test_wide_characters_count_twice():
    assert reports.display_width("abc") == 3
    assert reports.display_width(CHINESE_NAME) == 2 * len(CHINESE_NAME)
    assert reports.display_width("ＡＢ") == 4  # full-width Latin
    assert reports.display_width("short\na longer line") == len("a longer line")
    assert reports.display_width(None) == 0
    table = pd.DataFrame({"name": [CHINESE_NAME], "code": ["ab"]})
    sheet = workbook(reports.export_table(table, "xlsx"))["Customers"]
    assert sheet.column_dimensions["A"].width == 2 * len(CHINESE_NAME) + 2
    assert sheet.column_dimensions["B"].width == reports.MIN_WIDTH


def test_summary_holds_the_partner_the_snapshot_time_and_the_kpis_of_metrics(frame):
    expected = metrics.kpis(frame)
    # every status once or more: a breakdown that is not all zeros
    assert (expected.by_attestation, expected.directly, expected.both) == (1, 1, 1)
    assert (expected.reacceptance_required, expected.not_accepted, expected.unknown) == (1, 2, 1)
    book = workbook(xlsx(frame))
    values = summary_values(book)
    labels = reports.SUMMARY_LABELS
    assert book["Summary"]["A1"].value == labels["title"] and book["Summary"]["A1"].font.bold
    assert values[labels["partner"]] == "Contoso Partner"
    assert values[labels["taken_at"]] == "2025-11-20 09:30"
    for key, attribute in reports.SUMMARY_KPIS:
        assert values[labels[key]] == pytest.approx(getattr(expected, attribute)), key
    assert values[labels["rate"]] == pytest.approx(3 / 7)
    assert values[labels["at_risk"]] == expected.at_risk == 3
    rate_cell = next(
        row[1] for row in book["Summary"].iter_rows() if row[0].value == labels["rate"]
    )
    assert rate_cell.number_format == "0.0%"
    states = section(book, labels["per_state"])
    assert list(states) == [labels[f"state_{s}"] for s in metrics.STATES]
    assert states[labels["state_accepted"]] == (3, pytest.approx(3 / 7))
    assert states[labels["state_not_accepted"]][0] == 2
    statuses = section(book, labels["per_status"])
    counts = frame["status"].astype(str).value_counts()
    assert {s: statuses[labels[f"status_{s}"]][0] for s in metrics.STATUSES} == {
        s: int(counts.get(s, 0)) for s in metrics.STATUSES
    }
    assert sum(count for count, _ in statuses.values()) == len(frame)


def test_summary_of_an_older_snapshot_without_a_breakdown_says_not_counted():
    old = metrics.kpis_from_summary({"customers": 10, "accepted": 6, "not_accepted": 3})
    book = workbook(
        reports.export_table([{"a": 1}], "xlsx", summary=old, partner="", taken_at=None)
    )
    values = summary_values(book)
    labels = reports.SUMMARY_LABELS
    assert values[labels["by_attestation"]] == reports.NOT_COUNTED
    assert values[labels["unknown"]] == 1
    assert values[labels["partner"]] == values[labels["taken_at"]] == reports.NOT_COUNTED


def test_every_cell_is_inert_the_summary_too(frame):
    data = xlsx(
        frame,
        labels={"title": '=HYPERLINK("http://x")'},
        notes=(("@note", "+1 filtered"),),
    )
    hostile_partner = workbook(
        reports.export_table(
            table_of(frame),
            "xlsx",
            summary=metrics.kpis(frame),
            partner="-evil+",
            taken_at=TAKEN_AT,
        )
    )
    assert summary_values(hostile_partner)[reports.SUMMARY_LABELS["partner"]] == "'-evil+"
    texts = []
    for book in (workbook(data), hostile_partner):
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        assert not cell.value.startswith(reports.FORMULA_PREFIXES), cell.value
                        texts.append(cell.value)
    assert "'" + HOSTILE_NAME in texts and "'-1 Woodgrove" in texts and CHINESE_NAME in texts
    assert '\'=HYPERLINK("http://x")' in texts and "'@note" in texts and "'+1 filtered" in texts


def test_without_a_summary_the_table_is_alone_and_csv_is_unchanged(frame):
    table = table_of(frame)
    book = workbook(reports.export_table(table, "xlsx"))
    assert book.sheetnames == ["Customers"] and book.active.freeze_panes == "A2"
    plain = reports.export_table(table, "csv")
    assert (
        reports.export_table(
            table, "csv", summary=metrics.kpis(frame), partner="x", taken_at=TAKEN_AT
        )
        == plain
    )
    assert plain.startswith(b"\xef\xbb\xbf") and "'" + HOSTILE_NAME in plain.decode("utf-8-sig")


def test_an_empty_table_still_has_its_header_filter():
    book = workbook(
        reports.export_table(
            pd.DataFrame(columns=["customer_id", "company_name"]),
            "xlsx",
            summary=metrics.kpis(metrics.customers_frame([])),
        )
    )
    assert book["Customers"].auto_filter.ref == "A1:B1"
    assert summary_values(book)[reports.SUMMARY_LABELS["customers"]] == 0


def test_overview_workbook_is_localised_and_counts_what_the_cards_count(frame, monkeypatch):
    from ui import i18n, overview_blocks

    monkeypatch.setattr(i18n, "language", lambda: "zh-CN")
    labels = overview_blocks.export_labels()
    assert set(labels) == set(reports.SUMMARY_LABELS)
    assert labels["customers"] == i18n.plain_text("kpi_customers", "zh-CN")
    book = workbook(
        overview_blocks.export_table(
            frame, "xlsx", partner="Contoso", taken_at=TAKEN_AT, labels=labels
        )
    )
    assert book.sheetnames == ["Summary", "Customers"]
    assert book["Summary"]["A1"].value == i18n.plain_text("export_title", "zh-CN")
    values = summary_values(book)
    assert values[labels["customers"]] == len(frame)
    assert values[labels["at_risk"]] == metrics.kpis(frame).at_risk
    # the overview's CSV keeps its one sheet of rows
    csv = overview_blocks.export_table(frame, "csv").decode("utf-8-sig").splitlines()
    assert len(csv) == len(frame) + 1 and "associated_partner_id" not in csv[0]


def test_cli_report_writes_a_workbook_with_the_summary(sandbox_env, tmp_path):
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    target = tmp_path / "report.xlsx"
    out = io.StringIO()
    code = main(
        ["--json", "report", "--format", "xlsx", "--out", str(target)],
        out=out,
        err=io.StringIO(),
    )
    assert code == 0
    doc = json.loads(out.getvalue())
    book = openpyxl.load_workbook(target)
    assert book.sheetnames == ["Summary", "Customers"]
    values = summary_values(book)
    labels = reports.SUMMARY_LABELS
    assert values[labels["customers"]] == doc["customers"] == doc["rows"]
    assert values[labels["accepted"]] == doc["accepted"]
    assert values[labels["not_accepted"]] == doc["not_accepted"]
    assert values[labels["reacceptance_required"]] == doc["reacceptance_required"]
    assert values[labels["partner"]] not in (None, reports.NOT_COUNTED)
    taken = datetime.fromisoformat(doc["taken_at"]).astimezone(UTC)
    assert values[labels["taken_at"]] == taken.strftime("%Y-%m-%d %H:%M")
    customers = book["Customers"]
    assert customers.freeze_panes == "A2"
    assert customers.auto_filter.ref.endswith(str(doc["rows"] + 1))
    assert customers["A1"].value == "customer_id" and customers["A1"].font.bold
