"""Alerts: tell managers, in time and in their language, exactly what changed.

After a sync or a link refresh the desk compares where every customer and acceptance link
stands now (the latest snapshot and the enhanced attestations) with what it last told
(`store.alert_log.alert_facts`), and writes one notice of the differences:

  not_accepted           customers now not accepted (new orders refused)
  reacceptance_required  customers whose only acceptance is of an earlier MCA
  link_expired           acceptance links that expired unaccepted
  ready_to_finalise      customers who accepted through the link, agreement not yet created
  link_expiring          links that expire within `alert_link_expiry_days`
  unreadable             customers the sync could not read
  accepted               customers who were told as not accepted and now are

The first notice of a partner says where things stand (every blocked customer); after that a
customer alerts again only when its state changes. The notice is queued per channel (email,
Teams) in the same transaction that records the facts, then delivered; a delivery that fails
stays queued and goes with the next run. Delivery never fails the sync.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import select

from mca_core.config import Settings
from mca_core.delivery import (
    DeliveryFailed,
    Recipient,
    SmtpSender,
    TeamsSender,
    check_locale,
    email_configured,
    parse_recipients,
    sender_address,
    teams_configured,
)
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import CURRENT_MCA_SINCE, Identity, acceptance_state
from mca_core.domain.names import shown_name
from mca_core.store.alert_log import AlertLog, OutboxItem
from mca_core.store.database import Store, snapshot_rows
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.usecases.invitations import environment
from mca_core.usecases.sync import snapshot_scope

log = logging.getLogger(__name__)

#: The notice's order: what to act on first.
KINDS = (
    "not_accepted",
    "reacceptance_required",
    "link_expired",
    "ready_to_finalise",
    "link_expiring",
    "unreadable",
    "accepted",
)
#: The dashboard page that fixes each kind.
PAGE_OF = {
    "not_accepted": "Attest",
    "reacceptance_required": "Attest",
    "link_expired": "Attest",
    "ready_to_finalise": "Overview",
    "link_expiring": "Follow_up",
    "unreadable": "Overview",
    "accepted": "Overview",
}
BLOCKED = ("not_accepted", "reacceptance_required")
#: Customers named per alert (the rest are counted).
SAMPLE = 10
_ROW_COLUMNS = (
    "customer_id",
    "company_name",
    "domain",
    "accepted",
    "direct_signed",
    "latest_date_agreed",
    "error",
)


# --- what holds now ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """One thing an alert can be about: a customer's state, or one acceptance link's stage."""

    key: str
    value: str
    customer_id: str
    name: str
    domain: str
    expires_at: datetime | None = None
    #: An accepted customer's agreement came from its acceptance link (finalised by the desk).
    through_link: bool = False


@dataclass
class Standing:
    """Where a partner stands now: every subject, and the totals of the latest snapshot."""

    subjects: dict[str, Subject]
    totals: dict[str, int]
    taken_at: datetime | None
    snapshot_id: int | None
    #: False when the latest sync was stopped before it read every customer.
    complete: bool = True


def current_standing(
    store: Store,
    identity: Identity,
    backend: str,
    *,
    now: datetime,
    current_since: date = CURRENT_MCA_SINCE,
    expiry_days: int = 2,
) -> Standing:
    """The subjects that hold now, read from the latest snapshot (a few columns) and the
    partner's newest enhanced attestation per customer."""
    snapshot = store.latest_snapshot(snapshot_scope(identity, backend))
    subjects: dict[str, Subject] = {}
    totals: Counter[str] = Counter()
    states: dict[str, str] = {}
    if snapshot is not None:
        columns = [snapshot_rows.c[name] for name in _ROW_COLUMNS]
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(*columns).where(snapshot_rows.c.snapshot_id == snapshot.id)
            ).mappings()
            for row in rows:
                cid = row["customer_id"]
                name, domain = str(row["company_name"] or ""), str(row["domain"] or "")
                totals["customers"] += 1
                if row["accepted"] is None:
                    totals["unknown"] += 1
                    subjects[f"unread:{cid}"] = Subject(
                        f"unread:{cid}", "unknown", cid, name, domain
                    )
                    continue
                state = acceptance_state(
                    row["latest_date_agreed"], bool(row["direct_signed"]), current_since
                )
                totals[state] += 1
                states[cid] = state
                key = f"customer:{cid}"
                subjects[key] = Subject(key, state, cid, name, domain)
    horizon = now + timedelta(days=expiry_days)
    for record in EnhancedStore(store).latest_by_customer(identity.partner_tenant_id).values():
        if states.get(record.customer_id) == "accepted":
            # accepted since, whichever way: its link no longer matters, but an accepted
            # customer's alert says how many came through the link (finalised by the desk)
            if record.state is AttestationState.AGREEMENT_CREATED:
                key = f"customer:{record.customer_id}"
                subjects[key] = replace(subjects[key], through_link=True)
            continue
        stage = record.current_state(now)
        value = None
        if stage is AttestationState.ACCEPTED:
            value = "ready"
        elif stage is AttestationState.EXPIRED:
            value = "expired"
        elif (
            stage is AttestationState.LINK_SENT
            and record.expires_at is not None
            and record.expires_at <= horizon
        ):
            value = "expiring"
        if value is not None:
            key = f"link:{record.request_id}"
            subjects[key] = Subject(
                key,
                value,
                record.customer_id,
                record.company_name,
                record.domain,
                record.expires_at,
            )
    return Standing(
        subjects=subjects,
        totals={k: totals.get(k, 0) for k in ("customers", *BLOCKED, "accepted", "unknown")},
        taken_at=snapshot.taken_at if snapshot else None,
        snapshot_id=snapshot.id if snapshot else None,
        complete=bool(snapshot.complete) if snapshot else True,
    )


# --- what changed -----------------------------------------------------------------------------


@dataclass
class Change:
    """The notice's content before it is written: alerts by kind, and the facts to record."""

    first: bool
    by_kind: dict[str, list[Subject]]
    told: dict[str, str]
    forgotten: list[str]

    @property
    def empty(self) -> bool:
        return not any(self.by_kind.values())


def compare(told: Mapping[str, str], standing: Standing) -> Change:
    """What differs from what was told (see the module docstring for each kind)."""
    first = not told
    by_kind: dict[str, list[Subject]] = {kind: [] for kind in KINDS}
    changed: dict[str, str] = {}
    for key, subject in standing.subjects.items():
        before = told.get(key)
        if before == subject.value:
            continue
        changed[key] = subject.value
        kind = _kind_of(subject, before)
        if kind is not None:
            by_kind[kind].append(subject)
    forgotten = [
        key
        for key in told
        if key not in standing.subjects
        # a customer the sync could not read keeps its last told state
        and not (key.startswith("customer:") and f"unread:{key[9:]}" in standing.subjects)
    ]
    for subjects in by_kind.values():
        subjects.sort(
            key=lambda s: (s.expires_at or datetime.max.replace(tzinfo=UTC), s.name.casefold())
        )
    return Change(first=first, by_kind=by_kind, told=changed, forgotten=forgotten)


def _kind_of(subject: Subject, before: str | None) -> str | None:
    kind, _, _ = subject.key.partition(":")
    if kind == "unread":
        return "unreadable"
    if kind == "link":
        return {"ready": "ready_to_finalise", "expired": "link_expired"}.get(
            subject.value, "link_expiring"
        )
    if subject.value in BLOCKED:
        return subject.value
    # accepted: news only for a customer the managers were told was blocked
    return "accepted" if before in BLOCKED else None


# --- the notice -------------------------------------------------------------------------------


def build_notice(
    change: Change,
    standing: Standing,
    *,
    partner: str,
    dashboard_url: str,
    expiry_days: int,
    now: datetime,
) -> dict[str, Any]:
    """The notice as stored and rendered: JSON-safe, no secret, at most SAMPLE names a kind."""
    base = dashboard_url.rstrip("/")
    alerts = [
        {
            "kind": kind,
            "count": len(subjects),
            "through_link": sum(1 for s in subjects if s.through_link),
            "page": f"{base}/{PAGE_OF[kind]}",
            "customers": [
                {
                    "id": s.customer_id,
                    "name": s.name,
                    "domain": s.domain,
                    "expires_at": s.expires_at.isoformat()
                    if s.expires_at and kind in ("link_expiring", "link_expired")
                    else None,
                }
                for s in subjects[:SAMPLE]
            ],
        }
        for kind, subjects in change.by_kind.items()
        if subjects
    ]
    return {
        "partner": partner,
        "first": change.first,
        "created_at": now.isoformat(),
        "taken_at": standing.taken_at.isoformat() if standing.taken_at else None,
        "complete": standing.complete,
        "totals": standing.totals,
        "expiry_days": expiry_days,
        "dashboard_url": base,
        "alerts": alerts,
    }


# --- words ------------------------------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "not_accepted": "{n} {customers} not accepted: new orders are refused",
        "reacceptance_required": "{n} {customers} must accept the current MCA again",
        "link_expired": "{n} acceptance {links} expired unaccepted",
        "ready_to_finalise": "{n} {customers} accepted through the link: create the agreement",
        "link_expiring": "{n} acceptance {links} expire within {days} days",
        "unreadable": "{n} {customers} could not be read by the sync",
        "accepted": "{n} {customers} accepted the MCA",
        "do_not_accepted": "Attest, or send an acceptance link",
        "do_reacceptance_required": "Send an acceptance link for the current MCA",
        "do_link_expired": "Send a new link",
        "do_ready_to_finalise": "Create the agreements",
        "do_link_expiring": "Remind the signers",
        "do_unreadable": "Sync again",
        "do_accepted": "See the overview",
        "customer": "customer",
        "customers": "customers",
        "link": "link",
        "links": "links",
        "intro_first": "Where {partner} stands (the desk's first alert):",
        "intro": "What changed for {partner} since the last alert:",
        "totals": (
            "{customers} customers: {accepted} accepted, {reacceptance_required} must "
            "re-accept, {not_accepted} not accepted."
        ),
        "more": "and {n} more",
        "incomplete": (
            "The last sync was stopped before it read every customer: these figures are of "
            "the customers it read."
        ),
        "through_link": "{n} through the acceptance link, agreement created by the desk",
        "expires": "expires {when} UTC",
        "synced": "Synced {when} UTC.",
        "footer": "Sent by the MCA acceptance desk. Open the desk: {url}",
        "open": "Open the desk",
        "subject": "MCA desk · {partner}: {headline}",
        "short_not_accepted": "{n} not accepted",
        "short_reacceptance_required": "{n} must re-accept",
        "short_link_expired": "{n} expired links",
        "short_ready_to_finalise": "{n} ready to finalise",
        "short_link_expiring": "{n} links expiring",
        "short_unreadable": "{n} not read",
        "short_accepted": "{n} accepted",
        "title": "MCA acceptance alert",
        "page_Attest": "Attest",
        "page_Overview": "Overview",
        "page_Follow_up": "Follow up",
        "footer_html": "Sent by the MCA acceptance desk.",
    },
    "zh-CN": {
        "not_accepted": "{n} 个客户未接受 MCA：新订单会被拒绝",
        "reacceptance_required": "{n} 个客户需要重新接受当前版本的 MCA",
        "link_expired": "{n} 个接受链接已过期且未被接受",
        "ready_to_finalise": "{n} 个客户已通过链接接受：请创建协议",
        "link_expiring": "{n} 个接受链接将在 {days} 天内过期",
        "unreadable": "同步未能读取 {n} 个客户",
        "accepted": "{n} 个客户已接受 MCA",
        "do_not_accepted": "证明接受，或发送接受链接",
        "do_reacceptance_required": "为当前版本的 MCA 发送接受链接",
        "do_link_expired": "发送新链接",
        "do_ready_to_finalise": "创建协议",
        "do_link_expiring": "提醒签署人",
        "do_unreadable": "重新同步",
        "do_accepted": "查看概览",
        "customer": "",
        "customers": "",
        "link": "",
        "links": "",
        "intro_first": "{partner} 的现状（受理台的第一条提醒）：",
        "intro": "自上次提醒以来，{partner} 的变化：",
        "totals": (
            "共 {customers} 个客户：{accepted} 个已接受，{reacceptance_required} 个需重新接受，"
            "{not_accepted} 个未接受。"
        ),
        "more": "以及另外 {n} 个",
        "incomplete": "最近一次同步在读取全部客户之前被停止：以下数字仅涉及已读取的客户。",
        "through_link": "其中 {n} 个通过接受链接，协议已由受理台创建",
        "expires": "{when} UTC 过期",
        "synced": "同步于 {when} UTC。",
        "footer": "由 MCA 受理台发送。打开受理台：{url}",
        "open": "打开受理台",
        "subject": "MCA 受理台 · {partner}：{headline}",
        "short_not_accepted": "{n} 个未接受",
        "short_reacceptance_required": "{n} 个需重新接受",
        "short_link_expired": "{n} 个链接已过期",
        "short_ready_to_finalise": "{n} 个待创建协议",
        "short_link_expiring": "{n} 个链接即将过期",
        "short_unreadable": "{n} 个未能读取",
        "short_accepted": "{n} 个已接受",
        "title": "MCA 接受提醒",
        "page_Attest": "证明接受",
        "page_Overview": "概览",
        "page_Follow_up": "跟进",
        "footer_html": "由 MCA 受理台发送。",
    },
}


def words(locale: str) -> dict[str, str]:
    return _WORDS.get(locale, _WORDS["en"])


def _number(n: int) -> str:
    return f"{n:,}"


def headline(alert: Mapping[str, Any], locale: str, days: int) -> str:
    w = words(locale)
    n = int(alert["count"])
    text = w[alert["kind"]].format(
        n=_number(n),
        customers=w["customer" if n == 1 else "customers"],
        links=w["link" if n == 1 else "links"],
        days=days,
    )
    if locale == "en" and n == 1:
        text = text.replace(" expire within", " expires within")
    if alert.get("through_link"):
        text += f" ({w['through_link'].format(n=_number(int(alert['through_link'])))})"
    return " ".join(text.split())


def _when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class RenderedAlert:
    subject: str
    text: str
    html: str


def render_email(notice: Mapping[str, Any], locale: str) -> RenderedAlert:
    """Subject, plain text and HTML of a notice in one language (names escaped in HTML)."""
    w = words(locale)
    days = int(notice.get("expiry_days") or 0)
    partner = shown_name(notice.get("partner") or "")
    alerts = list(notice.get("alerts") or [])
    heads = [headline(a, locale, days) for a in alerts]
    comma = "，" if locale == "zh-CN" else ", "
    short = comma.join(
        w["short_" + a["kind"]].format(n=_number(int(a["count"]))) for a in alerts[:4]
    ) + (comma + "…" if len(alerts) > 4 else "")
    subject = " ".join(w["subject"].format(partner=partner, headline=short).split())
    intro = w["intro_first" if notice.get("first") else "intro"].format(partner=partner)
    if notice.get("complete") is False:
        intro += " " + w["incomplete"]
    totals = w["totals"].format(**{k: _number(int(v)) for k, v in notice["totals"].items()})
    lines = [intro, ""]
    items = []
    for alert, head in zip(alerts, heads, strict=True):
        names = [_named(c, locale) for c in alert["customers"]]
        more = int(alert["count"]) - len(names)
        lines.append(f"* {head}")
        lines.extend(f"    - {name}" for name in names)
        if more > 0:
            lines.append(f"    - {w['more'].format(n=_number(more))}")
        lines.append(f"    {w['do_' + alert['kind']]}: {alert['page']}")
        lines.append("")
        items.append(
            {
                "headline": head,
                "names": names,
                "more": w["more"].format(n=_number(more)) if more > 0 else "",
                "action": w["do_" + alert["kind"]],
                "page": alert["page"],
                "kind": alert["kind"],
            }
        )
    synced = (
        w["synced"].format(when=_when(notice.get("taken_at"))) if notice.get("taken_at") else ""
    )
    lines += [totals, synced, "", w["footer"].format(url=notice.get("dashboard_url", ""))]
    text = "\n".join(line for line in lines if line is not None).strip() + "\n"
    html = (
        environment()
        .get_template("alert.html")
        .render(
            html_lang=locale,
            subject=subject,
            title=w["title"],
            intro=intro,
            items=items,
            totals=totals,
            synced=synced,
            open_label=w["open"],
            dashboard_url=notice.get("dashboard_url", ""),
            footer=w["footer_html"],
        )
    )
    return RenderedAlert(subject, text, html)


def _named(customer: Mapping[str, Any], locale: str) -> str:
    """One customer as a line of the alert: a name from outside is folded to one plain line
    (no forged lines, no bidi tricks, at most SHOWN_NAME_LIMIT characters)."""
    name = shown_name(customer.get("name") or customer.get("id") or "")
    domain = shown_name(customer.get("domain") or "", 80)
    shown = f"{name} ({domain})" if domain and domain != name else name
    if customer.get("expires_at"):
        shown += f", {words(locale)['expires'].format(when=_when(customer['expires_at']))}"
    return shown


def _plain(text: str, **extra: Any) -> dict[str, Any]:
    """Text that carries data (a company or partner name) as a RichTextBlock: its TextRuns are
    never read as Markdown, where a TextBlock's text is (a name like "[x](http://evil)" would
    be a link in Teams)."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text}], **extra}


def render_card(notice: Mapping[str, Any], locale: str) -> dict[str, Any]:
    """The notice as an Adaptive Card (1.4, what Teams webhooks and Workflows render)."""
    w = words(locale)
    days = int(notice.get("expiry_days") or 0)
    partner = shown_name(notice.get("partner") or "")
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": w["title"], "weight": "Bolder", "size": "Medium"},
        _plain(w["intro_first" if notice.get("first") else "intro"].format(partner=partner)),
    ]
    if notice.get("complete") is False:
        body.append(
            {"type": "TextBlock", "text": w["incomplete"], "wrap": True, "color": "Warning"}
        )
    actions: list[dict[str, Any]] = []
    for alert in notice.get("alerts") or []:
        names = [_named(c, locale) for c in alert["customers"][:5]]
        more = int(alert["count"]) - len(names)
        if more > 0:
            names.append(w["more"].format(n=_number(more)))
        body.append(
            {
                "type": "TextBlock",
                "text": headline(alert, locale, days),
                "weight": "Bolder",
                "wrap": True,
                "spacing": "Medium",
                "color": "Attention" if alert["kind"] in (*BLOCKED, "link_expired") else "Default",
            }
        )
        body.append(
            {
                "type": "Container",
                "spacing": "Small",
                "items": [_plain(f"• {n}", spacing="None") for n in names],
            }
        )
        label = w["page_" + PAGE_OF[alert["kind"]]]
        if all(a["url"] != alert["page"] for a in actions):
            actions.append({"type": "Action.OpenUrl", "title": label, "url": alert["page"]})
    totals = notice.get("totals") or {}
    facts = [
        {"title": title, "value": _number(int(totals.get(key, 0)))}
        for key, title in (
            ("customers", {"en": "Customers", "zh-CN": "客户"}),
            ("accepted", {"en": "Accepted", "zh-CN": "已接受"}),
            ("reacceptance_required", {"en": "Must re-accept", "zh-CN": "需重新接受"}),
            ("not_accepted", {"en": "Not accepted", "zh-CN": "未接受"}),
        )
        for title in [title.get(locale, title["en"])]
    ]
    body.append({"type": "FactSet", "facts": facts, "spacing": "Medium"})
    if notice.get("taken_at"):
        body.append(
            {
                "type": "TextBlock",
                "text": w["synced"].format(when=_when(notice["taken_at"])),
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            }
        )
    if not actions:
        actions.append(
            {"type": "Action.OpenUrl", "title": w["open"], "url": notice.get("dashboard_url", "")}
        )
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }


# --- channels ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channels:
    """The configured channels of an installation (nothing secret: no password, no URL)."""

    email: bool
    teams: bool
    recipients: tuple[Recipient, ...] = ()
    email_server: str = ""
    email_from: str = ""
    teams_host: str = ""
    problems: tuple[str, ...] = ()
    locale: str = "en"

    @property
    def names(self) -> list[str]:
        return [name for name, on in (("email", self.email), ("teams", self.teams)) if on]

    @property
    def any(self) -> bool:
        return self.email or self.teams


def channels_of(settings: Settings) -> Channels:
    """Which channels can deliver, and what is wrong with the others (for the CLI and the
    alert settings page); never raises."""
    import httpx

    problems: list[str] = []
    recipients: list[Recipient] = []
    try:
        locale = check_locale(settings.alert_locale)
    except ConfigurationError as exc:  # warned, not fatal: an alert in English beats none
        locale = "en"
        problems.append(f"{exc} Meanwhile en is used.")
    bad_recipient = False
    try:
        recipients = parse_recipients(settings.alert_to, locale)
    except ConfigurationError as exc:
        problems.append(str(exc))
        bad_recipient = True
    email = email_configured(settings)
    sender = ""
    if email:
        try:
            sender = sender_address(settings)
        except ConfigurationError as exc:
            problems.append(str(exc))
            email = False
        if not recipients:
            if not bad_recipient:
                problems.append(
                    "SMTP is set but MCA_ALERT_TO is empty: set the addresses that receive alerts."
                )
            email = False
    teams = teams_configured(settings)
    host = ""
    if teams:
        assert settings.teams_webhook_url is not None
        try:
            url = httpx.URL(settings.teams_webhook_url.get_secret_value().strip())
            host = url.host if url.scheme in ("http", "https") else ""
        except httpx.InvalidURL:  # reported, never shown: it is a secret
            host = ""
        if not host:
            problems.append(
                "Setting 'teams_webhook_url' (env MCA_TEAMS_WEBHOOK_URL) is not an http(s) URL: "
                "copy the URL Teams shows for the incoming webhook or the Workflows trigger."
            )
            teams = False
    return Channels(
        email=email,
        teams=teams,
        recipients=tuple(recipients),
        email_server=f"{settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else "",
        email_from=sender,
        teams_host=host,
        problems=tuple(problems),
        locale=locale,
    )


# --- the use case -----------------------------------------------------------------------------


@dataclass
class Delivery:
    channel: str
    alert_id: int
    ok: bool
    reason: str = ""
    #: Dropped: its channel or recipient is no longer configured (it will not be sent).
    dropped: bool = False
    #: The recipient of an email.
    target: str = ""


@dataclass
class NotifyOutcome:
    """What one run did: the notice it queued (if any), what it delivered, what stays queued."""

    notice: dict[str, Any] | None = None
    queued: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    pending: int = 0
    channels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(1 for d in self.deliveries if d.ok)

    @property
    def failures(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "alerts": [
                {"kind": a["kind"], "count": a["count"], "page": a["page"]}
                for a in (self.notice or {}).get("alerts", [])
            ],
            "first": bool((self.notice or {}).get("first")),
            "channels": self.channels,
            "delivered": [
                {"channel": d.channel, "alert_id": d.alert_id, "to": d.target}
                for d in self.deliveries
                if d.ok
            ],
            "failed": [
                {
                    "channel": d.channel,
                    "alert_id": d.alert_id,
                    "to": d.target,
                    "reason": d.reason,
                    "dropped": d.dropped,
                }
                for d in self.failures
            ],
            "pending": self.pending,
            "problems": self.problems,
        }


def preview(
    store: Store,
    identity: Identity,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The notice a run would queue now (nothing written); None when nothing changed."""
    moment = now or datetime.now(UTC)
    _check_synced(store, identity, settings)
    standing = _standing(store, identity, settings, moment)
    change = compare(AlertLog(store).facts(_scope(identity, settings)), standing)
    if change.empty:
        return None
    return _notice(change, standing, identity, settings, moment)


def notify(
    store: Store,
    identity: Identity,
    settings: Settings,
    *,
    now: datetime | None = None,
    smtp: Callable[[Settings], SmtpSender] = SmtpSender,
    teams: Callable[[Settings], TeamsSender] = TeamsSender,
) -> NotifyOutcome:
    """Queue the notice of what changed (one per configured channel), then deliver every
    queued alert of the partner, oldest first. Without a channel nothing is recorded, so the
    first configured run reports everything. Never raises for a delivery."""
    moment = now or datetime.now(UTC)
    channels = channels_of(settings)
    outcome = NotifyOutcome(channels=channels.names, problems=list(channels.problems))
    if not channels.any:
        outcome.problems.append(
            "No alert channel is configured: set MCA_SMTP_HOST and MCA_ALERT_TO, or "
            "MCA_TEAMS_WEBHOOK_URL. Nothing was sent or recorded."
        )
        return outcome
    _check_synced(store, identity, settings)
    scope = _scope(identity, settings)
    alert_log = AlertLog(store)
    for _attempt in range(3):  # another run recorded facts meanwhile: compare again
        told = alert_log.facts(scope)
        standing = _standing(store, identity, settings, moment)
        change = compare(told, standing)
        notice = None if change.empty else _notice(change, standing, identity, settings, moment)
        if not change.told and not change.forgotten:
            break
        if alert_log.record(
            scope,
            told=change.told,
            forgotten=change.forgotten,
            notices=_targets(channels, notice) if notice else [],
            created_by=identity.display_name,
            expected=told,
            now=moment,
        ):
            outcome.notice, outcome.queued = notice, notice is not None
            break
    outcome.deliveries = deliver(alert_log, scope, settings, channels, smtp=smtp, teams=teams)
    outcome.pending = len(alert_log.pending(scope))
    return outcome


def _targets(channels: Channels, notice: dict[str, Any]) -> list[tuple[str, str, str, dict]]:
    """Where a notice goes: one email row per recipient (in its language), one Teams row."""
    rows: list[tuple[str, str, str, dict]] = []
    if channels.email:
        rows += [("email", r.address, r.locale, notice) for r in channels.recipients]
    if channels.teams:
        rows.append(("teams", "", channels.locale, notice))
    return rows


def deliver(
    alert_log: AlertLog,
    scope: str,
    settings: Settings,
    channels: Channels,
    *,
    smtp: Callable[[Settings], SmtpSender] = SmtpSender,
    teams: Callable[[Settings], TeamsSender] = TeamsSender,
) -> list[Delivery]:
    """Send this scope's queued alerts: the emails over one connection (one message a
    recipient: one refused never makes another get it twice), the cards one by one. Each
    failure is logged with its reason (no secret) and stays queued for the next run; an alert
    whose channel or recipient was removed from the settings is dropped, and says so."""
    done: list[Delivery] = []
    emails: list[tuple[OutboxItem, EmailMessage]] = []
    recipients = {r.address.casefold() for r in channels.recipients} if channels.email else set()
    for item in alert_log.claim(scope):
        if item.channel == "email" and item.target.casefold() in recipients:
            emails.append((item, alert_email(item)))
        elif item.channel == "teams" and channels.teams:
            done.append(_post(alert_log, item, settings, channels, teams))
        else:
            where = f"{item.channel} ({item.target})" if item.target else item.channel
            reason = (
                f"{where} is no longer configured (MCA_ALERT_TO / MCA_TEAMS_WEBHOOK_URL): "
                "this alert was dropped; the digest gives the whole picture"
            )
            alert_log.dropped(item.id, reason)
            log.warning("alert %s: %s", item.id, reason)
            done.append(Delivery(item.channel, item.id, False, reason, dropped=True))
    if emails:
        done += _send_emails(alert_log, emails, settings, smtp)
    return done


def _post(
    alert_log: AlertLog,
    item: OutboxItem,
    settings: Settings,
    channels: Channels,
    teams: Callable[[Settings], TeamsSender],
) -> Delivery:
    try:
        teams(settings).send(render_card(item.notice, item.locale or channels.locale))
    except (DeliveryFailed, ConfigurationError) as exc:
        return _failed(alert_log, item, exc.reason if isinstance(exc, DeliveryFailed) else str(exc))
    except Exception as exc:  # a delivery never fails the sync
        log.exception("alert %s over teams failed", item.id)
        return _failed(alert_log, item, f"{type(exc).__name__}: {str(exc)[:200]}")
    alert_log.delivered(item.id, "posted")
    return Delivery(item.channel, item.id, True)


def _send_emails(
    alert_log: AlertLog,
    emails: list[tuple[OutboxItem, EmailMessage]],
    settings: Settings,
    smtp: Callable[[Settings], SmtpSender],
) -> list[Delivery]:
    try:
        outcomes = smtp(settings).send_each([message for _, message in emails])
    except (DeliveryFailed, ConfigurationError) as exc:
        reason = exc.reason if isinstance(exc, DeliveryFailed) else str(exc)
        return [_failed(alert_log, item, reason) for item, _ in emails]
    except Exception as exc:  # a delivery never fails the sync
        log.exception("alerts over email failed")
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        return [_failed(alert_log, item, reason) for item, _ in emails]
    done = []
    for (item, _), outcome in zip(emails, outcomes, strict=True):
        if outcome.failure is None:
            alert_log.delivered(item.id, outcome.message_id or "")
            done.append(Delivery(item.channel, item.id, True, target=item.target))
        elif outcome.message_id is not None:  # taken, but not for every recipient: never again
            alert_log.delivered(item.id, outcome.message_id)
            done.append(_logged(item, outcome.failure.reason))
        else:
            done.append(_failed(alert_log, item, outcome.failure.reason))
    return done


def _failed(alert_log: AlertLog, item: OutboxItem, reason: str) -> Delivery:
    alert_log.failed(item.id, reason)
    return _logged(item, reason)


def _logged(item: OutboxItem, reason: str) -> Delivery:
    where = f"{item.channel} to {item.target}" if item.target else item.channel
    log.warning("alert %s over %s not delivered: %s", item.id, where, reason)
    return Delivery(item.channel, item.id, False, reason, target=item.target)


def alert_email(item: OutboxItem) -> EmailMessage:
    """The alert to one recipient, in that recipient's language."""
    rendered = render_email(item.notice, item.locale or "en")
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["To"] = item.target
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message["X-MCA-Alert"] = str(item.id)
    message.set_content(rendered.text, charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    message["Content-Language"] = item.locale or "en"  # after the body: set_content drops it
    return message


def outbox(
    store: Store, identity: Identity, settings: Settings, limit: int = 50
) -> list[OutboxItem]:
    return AlertLog(store).recent(_scope(identity, settings), limit)


def _check_synced(store: Store, identity: Identity, settings: Settings) -> None:
    """Alerts compare what a sync read: before the first one there is nothing to tell."""
    from mca_core.usecases.digest import NothingToReport

    if store.latest_snapshot(_scope(identity, settings)) is None:
        raise NothingToReport(
            "Nothing to tell yet: there is no synced status for your partner account. Run "
            "`python -m mca_core sync` (or Sync on the Overview) first."
        )


def _scope(identity: Identity, settings: Settings) -> str:
    return snapshot_scope(identity, settings.backend)


def _standing(store: Store, identity: Identity, settings: Settings, now: datetime) -> Standing:
    return current_standing(
        store,
        identity,
        settings.backend,
        now=now,
        current_since=settings.current_mca_since,
        expiry_days=settings.alert_link_expiry_days,
    )


def _notice(
    change: Change, standing: Standing, identity: Identity, settings: Settings, now: datetime
) -> dict[str, Any]:
    return build_notice(
        change,
        standing,
        partner=identity.partner_name or identity.partner_tenant_id,
        dashboard_url=settings.dashboard_url,
        expiry_days=settings.alert_link_expiry_days,
        now=now,
    )


def kinds_of(notice: Mapping[str, Any] | None) -> Iterable[tuple[str, int]]:
    return [(a["kind"], int(a["count"])) for a in (notice or {}).get("alerts", [])]


__all__ = [
    "KINDS",
    "Channels",
    "NotifyOutcome",
    "channels_of",
    "notify",
    "preview",
    "render_card",
    "render_email",
]
