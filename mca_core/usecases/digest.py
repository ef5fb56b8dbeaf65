"""The managers' digest: where the partner's MCA acceptance stands, daily or weekly.

`build_digest` reads the desk's store only (no Partner Center call): the latest snapshot's
counts (in SQL, write-throughs included), the acceptance rate at the start of the period (the
newest complete snapshot at or before it, from its stored summary) and at each complete snapshot
in the period (the chart), the enhanced pipeline's open and expired acceptance links, and the
five customers blocked the longest (from the snapshot history, `store.history.blocked_longest`).

`digest_email` renders it for one language (en, zh-CN) from the Jinja2 templates
`mca_core/templates/email/digest.*`: a subject, a text body and an autoescaped HTML body whose
chart is an inline PNG (multipart/related, referenced by `cid:`). The chart carries dates and
percentages only, so it reads the same in every language and needs no CJK font. `digest_card` is
the Teams version (Adaptive Card 1.4): values that came from outside (company names, domains, the
partner's name) are in `TextRun`s, which Teams never reads as Markdown.

`deliver_digest` sends one email per language group of `alert_to` (recipients sharing a language
get one message, all of them in To) and one card to the Teams webhook, and returns what went
where and what failed with the transport's masked reason.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal

from mca_core.config import Settings
from mca_core.delivery import (
    LOCALES,
    DeliveryFailed,
    SmtpSender,
    TeamsSender,
    check_locale,
    email_configured,
    parse_recipients,
    sender_address,
    teams_configured,
)
from mca_core.domain.errors import ConfigurationError, InvalidInput, McaError, Problem
from mca_core.domain.models import CURRENT_MCA_SINCE, Identity
from mca_core.domain.names import shown_name
from mca_core.store.database import Store
from mca_core.store.history import blocked_longest, snapshots_for_period, status_counts
from mca_core.usecases import enhanced
from mca_core.usecases.invitations import environment
from mca_core.usecases.metrics import kpis_from_summary
from mca_core.usecases.sync import snapshot_scope

Period = Literal["day", "week"]
PERIODS: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7)}
#: How many customers "at risk for longest" lists.
AT_RISK_SHOWN = 5
#: The dashboard's pages the digest links to (classic multipage paths).
OVERVIEW_PAGE, ATTEST_PAGE = "Overview", "Attest"


class NothingToReport(McaError):
    """No snapshot of the partner exists yet: the digest has nothing to say."""


@dataclass(frozen=True)
class AtRiskCustomer:
    """A customer whose new orders are refused, and since when (from the snapshot history)."""

    customer_id: str
    company_name: str
    domain: str
    #: reacceptance_required | not_accepted
    status: str
    #: The oldest snapshot since which it has been blocked without interruption (a lower
    #: bound: the desk knows nothing before its first snapshot).
    since: datetime
    days: int


@dataclass(frozen=True)
class Digest:
    """What a manager reads: figures of the latest snapshot and of the period behind it."""

    partner_name: str
    partner_tenant_id: str
    period: str
    start: datetime
    end: datetime
    snapshot_id: int
    snapshot_taken_at: datetime
    #: False when the latest sync was stopped before it read every customer.
    snapshot_complete: bool
    customers: int
    accepted: int
    rate: float
    #: The rate the period started from (None: no earlier snapshot to compare with).
    rate_at_start: float | None
    rate_at_start_taken_at: datetime | None
    reacceptance_required: int
    not_accepted: int
    unknown: int
    links_pending: int
    links_expired: int
    #: (moment, rate) for the chart, oldest first.
    series: tuple[tuple[datetime, float], ...]
    at_risk: tuple[AtRiskCustomer, ...]

    @property
    def change_points(self) -> float | None:
        """The rate's change over the period, in percentage points (one decimal)."""
        if self.rate_at_start is None:
            return None
        return round((self.rate - self.rate_at_start) * 100, 1)

    @property
    def blocked(self) -> int:
        """Customers whose new orders are refused (403 / 13605)."""
        return self.reacceptance_required + self.not_accepted

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["rate"] = round(self.rate, 4)
        doc["rate_at_start"] = None if self.rate_at_start is None else round(self.rate_at_start, 4)
        doc["change_points"] = self.change_points
        doc["blocked"] = self.blocked
        doc["series"] = [{"at": at.isoformat(), "rate": round(r, 4)} for at, r in self.series]
        for key in ("start", "end", "snapshot_taken_at", "rate_at_start_taken_at"):
            doc[key] = doc[key].isoformat() if doc[key] is not None else None
        for item in doc["at_risk"]:
            item["since"] = item["since"].isoformat()
        return doc


def check_period(value: object) -> str:
    text = str(value or "").strip().lower()
    if text not in PERIODS:
        raise InvalidInput(
            Problem(
                "period",
                f"'{str(value)[:20]}' is not a digest period.",
                "Choose day or week.",
                code="bad_period",
                params={"value": str(value)[:20], "choices": "day, week"},
            )
        )
    return text


def build_digest(
    store: Store,
    identity: Identity,
    backend: str,
    period: str,
    now: datetime | None = None,
    current_since: date = CURRENT_MCA_SINCE,
    *,
    at_risk_shown: int = AT_RISK_SHOWN,
) -> Digest:
    """The digest of `identity`'s partner for the `period` ("day" or "week") ending `now`,
    from the store only. NothingToReport when the partner has no snapshot yet."""
    period = check_period(period)
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - PERIODS[period]
    scope = snapshot_scope(identity, backend)
    latest = store.latest_snapshot(scope)
    partner = identity.partner_name or identity.partner_tenant_id or identity.display_name
    if latest is None:
        raise NothingToReport(
            f"Nothing to report for {partner}: the desk has no synced status yet. Run "
            "`python -m mca_core sync` (or Sync on the Overview) first."
        )
    counts = status_counts(store, latest.id, current_since)
    customers = sum(counts.values())
    accepted = counts["both"] + counts["attested"] + counts["direct"]
    rate = accepted / customers if customers else 0.0

    baseline, within = snapshots_for_period(store, scope, start, end)
    points: dict[int, tuple[datetime, float]] = {
        s.id: (s.taken_at, kpis_from_summary(s.summary).rate) for s in within
    }
    if latest.taken_at > start:  # the latest as it stands now (write-throughs included)
        points[latest.id] = (latest.taken_at, rate)
    series = sorted(points.values())
    if baseline is not None:
        rate_at_start: float | None = kpis_from_summary(baseline.summary).rate
        start_at: datetime | None = baseline.taken_at
        series.insert(0, (start, rate_at_start))
    else:
        earlier = [s for s in within if s.id != latest.id and s.taken_at < latest.taken_at]
        rate_at_start = kpis_from_summary(earlier[0].summary).rate if earlier else None
        start_at = earlier[0].taken_at if earlier else None
    if not series:  # no sync in the period: the latest figure stands for it
        series = [(latest.taken_at, rate)]

    pipeline = enhanced.load_pipeline(store, identity, backend, now=end, started_only=True)
    at_risk = tuple(
        AtRiskCustomer(
            customer_id=b.customer_id,
            company_name=b.company_name,
            domain=b.domain,
            status=b.status,
            since=b.since,
            days=max(0, (end - b.since).days),
        )
        for b in blocked_longest(store, scope, latest, current_since, limit=at_risk_shown)
    )
    return Digest(
        partner_name=partner,
        partner_tenant_id=identity.partner_tenant_id,
        period=period,
        start=start,
        end=end,
        snapshot_id=latest.id,
        snapshot_taken_at=latest.taken_at,
        snapshot_complete=latest.complete,
        customers=customers,
        accepted=accepted,
        rate=rate,
        rate_at_start=rate_at_start,
        rate_at_start_taken_at=start_at,
        reacceptance_required=counts["reacceptance_required"],
        not_accepted=counts["not_accepted"],
        unknown=counts["unknown"],
        links_pending=pipeline.counts.get(enhanced.Stage.PENDING, 0),
        links_expired=pipeline.counts.get(enhanced.Stage.EXPIRED, 0),
        series=tuple(series),
        at_risk=at_risk,
    )


# --- the chart -----------------------------------------------------------------------------------


def chart_png(digest: Digest) -> bytes:
    """The acceptance rate over the period as a PNG. Only dates and percentages are drawn (no
    words), so one image serves every language and no CJK font is needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    xs = [at.astimezone(UTC).replace(tzinfo=None) for at, _ in digest.series]
    ys = [rate * 100 for _, rate in digest.series]
    figure = Figure(figsize=(6.4, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.plot(xs, ys, color="#0f6cbd", marker="o", markersize=4, linewidth=2)
    ax.fill_between(xs, ys, [0] * len(ys), color="#0f6cbd", alpha=0.08)
    low, high = min(ys), max(ys)
    ax.set_ylim(max(0.0, low - 10), min(100.0, high + 5) if high < 100 else 100.5)
    ax.set_xlim(
        digest.start.astimezone(UTC).replace(tzinfo=None),
        digest.end.astimezone(UTC).replace(tzinfo=None),
    )
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d" if digest.period == "week" else "%H:%M"))
    ax.grid(axis="y", color="#e0e0e0", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9, colors="#424242")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# --- the email -----------------------------------------------------------------------------------

#: Words of the digest per language (the email templates hold the sentences).
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "reacceptance_required": "must re-accept the current MCA",
        "not_accepted": "not accepted",
        "title": "MCA acceptance digest",
        "day": "daily",
        "week": "weekly",
        "rate": "Acceptance rate",
        "change": "Change over the period",
        "no_change": "no earlier snapshot",
        "reaccept": "Must re-accept the current MCA",
        "not_accepted_count": "Not accepted",
        "pending": "Acceptance links pending",
        "expired": "Acceptance links expired",
        "at_risk": "At risk for longest (new orders refused)",
        "none_at_risk": "None: every customer read has accepted.",
        "since": "since",
        "days": "days",
        "day_one": "day",
        "open_overview": "Open the Overview",
        "points": "pt",
    },
    "zh-CN": {
        "reacceptance_required": "需重新接受当前 MCA",
        "not_accepted": "未接受",
        "title": "MCA 接受情况摘要",
        "day": "每日",
        "week": "每周",
        "rate": "接受率",
        "change": "本期变化",
        "no_change": "无更早的快照",
        "reaccept": "需重新接受当前 MCA",
        "not_accepted_count": "未接受",
        "pending": "待接受的链接",
        "expired": "已过期的链接",
        "at_risk": "风险持续最久的客户（新订单会被拒绝）",
        "none_at_risk": "无：已读取的客户均已接受。",
        "since": "自",
        "days": "天",
        "day_one": "天",
        "open_overview": "打开概览",
        "points": "个百分点",
    },
}


@dataclass(frozen=True)
class DigestEmail:
    """One language's digest email, before it has recipients."""

    locale: str
    subject: str
    text: str
    html: str
    chart_png: bytes
    #: The Content-ID of the chart (without angle brackets), referenced as cid: in the HTML.
    chart_cid: str
    links: dict[str, str] = field(default_factory=dict)

    def message(self, to: Sequence[str] = (), sender: str | None = None) -> EmailMessage:
        """text + (HTML + chart) as multipart/alternative, the chart as multipart/related."""
        message = EmailMessage()
        message["Subject"] = self.subject
        if sender:
            message["From"] = sender
        if to:
            message["To"] = ", ".join(to)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        html_part = message.get_payload()[1]
        html_part.add_related(
            self.chart_png, "image", "png", cid=f"<{self.chart_cid}>", filename="acceptance.png"
        )
        # after the body: setting content clears every Content-* header
        message["Content-Language"] = self.locale
        return message


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _points(change: float | None, locale: str) -> str:
    if change is None:
        return ""
    unit = LABELS[locale]["points"]
    return f"{change:+.1f} {unit}" if change else f"±0.0 {unit}"


def _day(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d}"


def _single_line(text: str) -> str:
    """A name or subject as one plain line (see `shown_name`: no forged lines, no bidi tricks,
    not endless)."""
    return shown_name(text or "", 200)


def page_links(dashboard_url: str) -> dict[str, str]:
    base = (dashboard_url or "").strip().rstrip("/")
    return {"overview": f"{base}/{OVERVIEW_PAGE}", "attest": f"{base}/{ATTEST_PAGE}"}


def digest_email(
    digest: Digest, recipient_locale: str, dashboard_url: str, *, chart: bytes | None = None
) -> DigestEmail:
    """The digest in one language: subject, text and HTML, the chart inline (`chart`: an
    already drawn PNG, so several languages share one drawing)."""
    locale = check_locale(recipient_locale)
    words = LABELS[locale]
    links = page_links(dashboard_url)
    cid = make_msgid(idstring="digest-chart", domain="mca-desk.invalid")[1:-1]
    context = {
        "partner_name": _single_line(digest.partner_name),
        "period_word": words[digest.period],
        "period": digest.period,
        "start_day": _day(digest.start),
        "end_day": _day(digest.end),
        "rate": _pct(digest.rate),
        "accepted": digest.accepted,
        "customers": digest.customers,
        # a stopped sync read only some customers: its rate is no trend (no change shown)
        "change": _points(digest.change_points, locale) if digest.snapshot_complete else "",
        "rate_at_start": _pct(digest.rate_at_start),
        "start_taken": _day(digest.rate_at_start_taken_at),
        "reacceptance_required": digest.reacceptance_required,
        "not_accepted": digest.not_accepted,
        "unknown": digest.unknown,
        "links_pending": digest.links_pending,
        "links_expired": digest.links_expired,
        "at_risk": [
            {
                "company_name": _single_line(c.company_name) or c.customer_id,
                "domain": _single_line(c.domain),
                "status": words[c.status],
                "since": _day(c.since),
                "days": c.days,
            }
            for c in digest.at_risk
        ],
        "taken_at": f"{digest.snapshot_taken_at.astimezone(UTC):%Y-%m-%d %H:%M}",
        "complete": digest.snapshot_complete,
        "overview_url": links["overview"],
        "attest_url": links["attest"],
        "chart_cid": cid,
    }
    env = environment()
    text_template = env.get_template(f"digest.{locale}.txt")
    subject = _single_line(
        "".join(text_template.blocks["subject"](text_template.new_context(context)))
    )
    body = "".join(text_template.blocks["body"](text_template.new_context(context)))
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
    html = env.get_template(f"digest.{locale}.html").render(
        **context, subject=subject, html_lang=locale
    )
    return DigestEmail(
        locale=locale,
        subject=subject,
        text=body,
        html=html,
        chart_png=chart if chart is not None else chart_png(digest),
        chart_cid=cid,
        links=links,
    )


# --- the Teams card ------------------------------------------------------------------------------


def _run(text: str, **style: Any) -> dict[str, Any]:
    """Text from outside in a TextRun: Teams renders it as is, never as Markdown."""
    return {"type": "TextRun", "text": text, **style}


def digest_card(digest: Digest, locale: str, dashboard_url: str) -> dict[str, Any]:
    """The digest as an Adaptive Card 1.4 (the body `TeamsSender.send` wraps)."""
    locale = check_locale(locale)
    words = LABELS[locale]
    links = page_links(dashboard_url)
    rate = f"{_pct(digest.rate)} ({digest.accepted}/{digest.customers})"
    change = _points(digest.change_points, locale) or words["no_change"]
    facts = [
        {"title": words[key], "value": str(value)}
        for key, value in (
            ("rate", rate),
            ("change", change),
            ("reaccept", digest.reacceptance_required),
            ("not_accepted_count", digest.not_accepted),
            ("pending", digest.links_pending),
            ("expired", digest.links_expired),
        )
    ]
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [
                _run(f"{words['title']}: ", weight="Bolder", size="Medium"),
                _run(_single_line(digest.partner_name), weight="Bolder", size="Medium"),
            ],
        },
        {
            "type": "TextBlock",
            "text": f"{_day(digest.start)} – {_day(digest.end)} (UTC)",
            "isSubtle": True,
            "spacing": "None",
            "wrap": True,
        },
        {"type": "FactSet", "facts": facts},
        {"type": "TextBlock", "text": words["at_risk"], "weight": "Bolder", "wrap": True},
    ]
    if not digest.at_risk:
        body.append({"type": "TextBlock", "text": words["none_at_risk"], "wrap": True})
    for i, c in enumerate(digest.at_risk, start=1):
        unit = words["day_one"] if c.days == 1 else words["days"]
        body.append(
            {
                "type": "RichTextBlock",
                "spacing": "Small",
                "inlines": [
                    _run(f"{i}. "),
                    _run(_single_line(c.company_name) or c.customer_id, weight="Bolder"),
                    _run(f" ({_single_line(c.domain)})" if c.domain else ""),
                    _run(
                        f" · {words[c.status]} · {words['since']} {_day(c.since)} · "
                        f"{c.days} {unit}",
                        isSubtle=True,
                    ),
                ],
            }
        )
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "lang": locale,
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": words["open_overview"], "url": links["overview"]}
        ],
    }


# --- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One message of a digest run: where it went, or why it did not."""

    channel: str
    #: Email: the recipients of one language group; Teams: empty (the webhook's channel).
    to: tuple[str, ...]
    locale: str
    sent: bool
    #: Why it failed (the transport's reason, secrets masked).
    reason: str | None = None


@dataclass(frozen=True)
class DigestOutcome:
    digest: Digest
    deliveries: tuple[Delivery, ...]

    @property
    def ok(self) -> bool:
        return bool(self.deliveries) and all(d.sent for d in self.deliveries)

    @property
    def sent(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if d.sent)

    @property
    def failed(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if not d.sent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "deliveries": [asdict(d) | {"to": list(d.to)} for d in self.deliveries],
            "digest": self.digest.as_dict(),
        }


def channels_configured(settings: Settings) -> list[str]:
    found = []
    if email_configured(settings):
        found.append("email")
    if teams_configured(settings):
        found.append("teams")
    return found


def deliver_digest(
    settings: Settings,
    digest: Digest,
    *,
    smtp: SmtpSender | None = None,
    teams: TeamsSender | None = None,
) -> DigestOutcome:
    """Send the digest over every configured channel: one email per language group of
    `alert_to`, one card to Teams. Settings are checked before anything is sent
    (ConfigurationError: no channel, no recipient, no From); a delivery that fails is in the
    outcome with its masked reason and stops no other."""
    channels = channels_configured(settings)
    if not channels:
        raise ConfigurationError(
            "No channel is configured for the digest. Set MCA_SMTP_HOST, MCA_ALERT_FROM and "
            "MCA_ALERT_TO (email) and/or MCA_TEAMS_WEBHOOK_URL (Teams), or the same names "
            "under [mca] in .streamlit/secrets.toml."
        )
    default_locale = check_locale(settings.alert_locale)
    groups: dict[str, list[str]] = {}
    if "email" in channels:
        recipients = parse_recipients(settings.alert_to, default_locale)
        if not recipients:
            raise ConfigurationError(
                "Email is configured (MCA_SMTP_HOST) but nobody receives the digest: set "
                "MCA_ALERT_TO, e.g. ops@contoso.com, zh-CN:li.lei@contoso.cn."
            )
        for locale in LOCALES:
            group = [r.address for r in recipients if r.locale == locale]
            if group:
                groups[locale] = list(dict.fromkeys(group))
        smtp = smtp or SmtpSender(settings)
        sender = sender_address(settings)
    if "teams" in channels:
        teams = teams or TeamsSender(settings)

    deliveries: list[Delivery] = []
    chart = chart_png(digest) if groups else None
    for locale, to in groups.items():
        assert smtp is not None
        email = digest_email(digest, locale, settings.dashboard_url, chart=chart)
        try:
            smtp.send([email.message(to, sender)])
        except DeliveryFailed as exc:
            deliveries.append(Delivery("email", tuple(to), locale, False, exc.reason))
        else:
            deliveries.append(Delivery("email", tuple(to), locale, True))
    if teams is not None:
        card = digest_card(digest, default_locale, settings.dashboard_url)
        try:
            teams.send(card)
        except DeliveryFailed as exc:
            deliveries.append(Delivery("teams", (), default_locale, False, exc.reason))
        else:
            deliveries.append(Delivery("teams", (), default_locale, True))
    return DigestOutcome(digest, tuple(deliveries))


__all__ = [
    "AT_RISK_SHOWN",
    "PERIODS",
    "AtRiskCustomer",
    "Delivery",
    "Digest",
    "DigestEmail",
    "DigestOutcome",
    "NothingToReport",
    "build_digest",
    "channels_configured",
    "chart_png",
    "check_period",
    "deliver_digest",
    "digest_card",
    "digest_email",
    "page_links",
]
