"""How the desk tells people: email over SMTP and Microsoft Teams cards over a webhook.

Transports only: they take finished messages and deliver them, retrying what a retry can mend
(a refused connection, a 4xx SMTP answer, an HTTP 429 or 5xx) with backoff (tenacity), and give
up at once on what it cannot (a 5xx SMTP answer, a refused login, an HTTP 4xx). A failure is a
`DeliveryFailed` whose reason never holds a secret: the SMTP password and the webhook URL (it
carries its own signature) are masked out of every message, here and in the log.

What to send, to whom and when is the use cases' (alerts, digests, invitations).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mca_core.config import Settings
from mca_core.domain.errors import ConfigurationError, McaError

log = logging.getLogger(__name__)

#: The languages alerts, digests and invitations are written in.
LOCALES = ("en", "zh-CN")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?")
#: The longest pause a webhook's Retry-After may ask for before the desk gives up this run.
MAX_RETRY_AFTER_SECONDS = 30.0


class DeliveryFailed(McaError):
    """A message could not be delivered (this run); `reason` names why, without a secret."""

    def __init__(self, channel: str, reason: str, *, transient: bool = True):
        self.channel = channel
        self.reason = reason
        self.transient = transient
        super().__init__(f"{channel}: {reason}")


class _Transient(Exception):
    """A failure worth another try (kept apart from the final `DeliveryFailed`)."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@dataclass(frozen=True)
class Sent:
    """What became of one message: its Message-ID when the server took it, and the failure
    (with the address and the server's answer) when it did not, or not for every recipient."""

    message_id: str | None
    failure: DeliveryFailed | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class Recipient:
    """One address of `alert_to`, with the language its messages are written in."""

    address: str
    locale: str = "en"


def parse_recipients(values: Iterable[str], default_locale: str = "en") -> list[Recipient]:
    """`alert_to` entries ("a@x.com", "zh-CN:li@x.cn", "Ana <a@x.com>") as recipients; a bad
    entry raises ConfigurationError naming it and the fix."""
    found: list[Recipient] = []
    for raw in values:
        entry = str(raw).strip()
        if not entry:
            continue
        locale = default_locale
        head, sep, rest = entry.partition(":")
        if sep and head.strip().lower() in {loc.lower() for loc in LOCALES}:
            locale = next(loc for loc in LOCALES if loc.lower() == head.strip().lower())
            entry = rest.strip()
        elif sep and _LANGUAGE_TAG.fullmatch(head.strip()):
            raise ConfigurationError(
                f"Setting 'alert_to' (env MCA_ALERT_TO): {head.strip()!r} before "
                f"{rest.strip()[:60]!r} is not a language the desk writes in. Use en or zh-CN "
                "(or no prefix: alert_locale)."
            )
        (_name, address), *more = getaddresses([entry]) or [("", "")]
        if more or "@" not in address or address.startswith("@") or address.endswith("@"):
            hint = (
                " A display name with a comma splits the list: give the address alone."
                if entry.count('"') % 2
                else ""
            )
            raise ConfigurationError(
                f"Setting 'alert_to' (env MCA_ALERT_TO): {entry[:60]!r} is not an email "
                "address. Use a comma list of addresses, each optionally preceded by its "
                "language, e.g. ops@contoso.com, zh-CN:li.lei@contoso.cn." + hint
            )
        found.append(Recipient(address, locale))
    return found


def check_locale(value: str) -> str:
    for loc in LOCALES:
        if value.strip().lower() == loc.lower():
            return loc
    raise ConfigurationError(
        f"Setting 'alert_locale' (env MCA_ALERT_LOCALE): '{value[:20]}' is not a language the "
        "desk writes in. Use en or zh-CN."
    )


class Redactor:
    """Masks the secrets of one configuration out of any text before it is logged or kept."""

    def __init__(self, secrets: Iterable[str | None]):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: object) -> str:
        shown = str(text)
        for secret in self._secrets:
            shown = shown.replace(secret, "***")
        return shown


class _MaskSecrets(logging.Filter):
    """Masks registered secrets in records of a library's logger (httpx logs every request's
    URL at INFO, and a webhook URL carries its signature)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = Redactor(self.secrets)(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


_HTTPX_MASK = _MaskSecrets()
logging.getLogger("httpx").addFilter(_HTTPX_MASK)


def _retrying(attempts: int, backoff: float, sleep: Callable[[float], None]) -> Retrying:
    def wait(state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Transient) and exc.wait is not None:
            return min(exc.wait, MAX_RETRY_AFTER_SECONDS)
        return wait_exponential_jitter(initial=backoff, max=max(backoff * 8, 0.0), jitter=backoff)(
            state
        )

    return Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(lambda exc: isinstance(exc, _Transient)),
        sleep=sleep,
        reraise=True,
    )


class SmtpSender:
    """Email over the configured SMTP server: one connection per batch, STARTTLS or implicit TLS
    as configured, a login when a user name is set."""

    channel = "email"

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] | None = None) -> None:
        if not settings.smtp_host:
            raise ConfigurationError(
                "No SMTP server is configured. Set MCA_SMTP_HOST (and MCA_SMTP_PORT, "
                "MCA_ALERT_FROM) or [mca] smtp_host in .streamlit/secrets.toml."
            )
        self.settings = settings
        self.sender = sender_address(settings)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self._password = password
        self.redact = Redactor([password])
        self._sleep = sleep

    def send(self, messages: Sequence[EmailMessage]) -> list[str]:
        """Deliver every message; their Message-IDs. The first failure raises DeliveryFailed
        (the others were still tried: see `send_each` for each message's outcome)."""
        outcomes = self.send_each(messages)
        for outcome in outcomes:
            if outcome.failure is not None:
                raise outcome.failure
        return [str(o.message_id) for o in outcomes]

    def send_each(self, messages: Sequence[EmailMessage]) -> list[Sent]:
        """Deliver each message over one connection, and say what became of each: a message
        the server took is never sent again; one it refused for now (4xx) or that a dropped
        connection did not reach is tried again, up to `delivery_attempts` times with backoff;
        one it refused for good (5xx) fails with the address and the server's answer. A
        recipient refused among several is named in that message's failure."""
        import random
        import time

        s = self.settings
        sleep = self._sleep or time.sleep
        outcomes: list[Sent | None] = [None] * len(messages)
        reasons: dict[int, str] = {}
        pending = list(range(len(messages)))
        for message in messages:
            if "Message-ID" not in message:
                message["Message-ID"] = make_msgid(domain=_domain(self.sender))
            if "From" not in message:
                message["From"] = self.sender
        for attempt in range(s.delivery_attempts):
            if not pending:
                break
            if attempt:
                pause = s.delivery_backoff_seconds * 2 ** (attempt - 1)
                sleep(min(pause + random.uniform(0, s.delivery_backoff_seconds), 600))
            again: list[int] = []
            try:
                with self._connect() as smtp:
                    while pending:
                        index = pending.pop(0)
                        outcome, reason = self._one(smtp, messages[index])
                        if outcome is None:
                            again.append(index)
                            reasons[index] = reason
                        else:
                            outcomes[index] = outcome
            except smtplib.SMTPResponseException as exc:  # the greeting, HELO or login
                failed = self._classify(exc)
                if isinstance(failed, DeliveryFailed):
                    for index in pending + again:
                        outcomes[index] = Sent(None, self._masked(failed))
                    return [o or Sent(None, None) for o in outcomes]
                for index in pending:
                    reasons[index] = failed.reason if isinstance(failed, _Transient) else ""
                again.extend(pending)
            except DeliveryFailed as exc:  # no STARTTLS: nothing can be sent
                for index in pending + again:
                    outcomes[index] = Sent(None, self._masked(exc))
                return [o or Sent(None, None) for o in outcomes]
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                reason = f"cannot reach {s.smtp_host}:{s.smtp_port} ({_first_line(exc)})"
                for index in pending:
                    reasons[index] = reason
                again.extend(pending)
            pending = sorted(again)
        for index in pending:
            outcomes[index] = Sent(
                None, DeliveryFailed(self.channel, self.redact(reasons.get(index, "not sent")))
            )
        return [o or Sent(None, None) for o in outcomes]

    def _one(self, smtp: smtplib.SMTP, message: EmailMessage) -> tuple[Sent | None, str]:
        """Send one message: its outcome, or (None, why) to try it again later."""
        message_id = str(message["Message-ID"])
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = exc.recipients
            reason = "; ".join(
                f"{address} refused: {code} {_text(text)}"
                for address, (code, text) in answers.items()
            )
            if answers and all(400 <= code < 500 for code, _ in answers.values()):
                return None, reason
            return Sent(
                None, DeliveryFailed(self.channel, self.redact(reason), transient=False)
            ), ""
        except smtplib.SMTPResponseException as exc:
            failed = self._classify(exc)
            if isinstance(failed, _Transient):
                return None, failed.reason
            assert isinstance(failed, DeliveryFailed)
            return Sent(None, self._masked(failed)), ""
        if refused:  # taken for some recipients, refused for others
            reason = "; ".join(
                f"{address} refused: {code} {_text(text)}"
                for address, (code, text) in refused.items()
            )
            return Sent(message_id, DeliveryFailed(self.channel, self.redact(reason), False)), ""
        return Sent(message_id, None), ""

    def _masked(self, failure: DeliveryFailed) -> DeliveryFailed:
        return DeliveryFailed(
            failure.channel, self.redact(failure.reason), transient=failure.transient
        )

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_ssl:
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            smtp.ehlo()
            if s.smtp_starttls and not s.smtp_ssl:
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed(
                        self.channel,
                        f"{s.smtp_host}:{s.smtp_port} does not offer STARTTLS; set "
                        "MCA_SMTP_STARTTLS=false only for a server on a trusted network, or "
                        "MCA_SMTP_SSL=true for implicit TLS",
                        transient=False,
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_username:
                smtp.login(s.smtp_username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _classify(self, exc: smtplib.SMTPResponseException) -> Exception:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else (str(exc.smtp_error))
        )
        reason = f"the server answered {exc.smtp_code} {_first_line(text)}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryFailed(
                self.channel,
                f"{reason}: check MCA_SMTP_USERNAME and MCA_SMTP_PASSWORD",
                transient=False,
            )
        if 400 <= exc.smtp_code < 500:
            return _Transient(reason)
        return DeliveryFailed(self.channel, reason, transient=False)


class TeamsSender:
    """Adaptive Cards to a Microsoft Teams incoming webhook or Workflows URL."""

    channel = "teams"

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if settings.teams_webhook_url is None:
            raise ConfigurationError(
                "No Teams webhook is configured. Set MCA_TEAMS_WEBHOOK_URL or [mca] "
                "teams_webhook_url in .streamlit/secrets.toml."
            )
        self.settings = settings
        self._url = settings.teams_webhook_url.get_secret_value().strip()
        if not self._url.lower().startswith(("https://", "http://")):
            raise ConfigurationError(
                "Setting 'teams_webhook_url' (env MCA_TEAMS_WEBHOOK_URL) is not an http(s) URL. "
                "Copy the URL Teams shows for the incoming webhook or the Workflows trigger."
            )
        url = httpx.URL(self._url)
        # httpx logs the URL as it normalised it (lower-case scheme and host, no default port):
        # mask its path and query too, whatever the spelling of the rest
        secrets = [self._url, str(url), url.path, url.query.decode(), url.userinfo.decode()]
        self.redact = Redactor(s for s in secrets if s and s != "/")
        _HTTPX_MASK.secrets.update(s for s in secrets if s and len(s) >= 4 and s != "/")
        self._transport = transport
        self._sleep = sleep

    def send(self, card: dict[str, Any]) -> None:
        """Post one Adaptive Card as a Teams message."""
        import time

        s = self.settings
        body = {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
        try:
            with httpx.Client(timeout=s.smtp_timeout_seconds, transport=self._transport) as http:
                for attempt_ in _retrying(
                    s.delivery_attempts, s.delivery_backoff_seconds, self._sleep or time.sleep
                ):
                    with attempt_:
                        self._post(http, body)
        except _Transient as exc:
            raise DeliveryFailed(self.channel, self.redact(exc.reason)) from None
        except DeliveryFailed as exc:
            exc.reason = self.redact(exc.reason)
            raise

    def _post(self, http: httpx.Client, body: dict[str, Any]) -> None:
        try:
            response = http.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise _Transient(f"cannot reach the webhook ({type(exc).__name__})") from None
        if response.status_code < 300:
            # A legacy connector answers 200 with "1"; some errors come as 200 with a message.
            text = response.text.strip()
            if text and text != "1" and "error" in text.lower()[:200]:
                raise DeliveryFailed(self.channel, f"the webhook answered: {_first_line(text)}")
            return
        reason = f"the webhook answered HTTP {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            wait = _retry_after(response)
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                raise DeliveryFailed(
                    self.channel, f"{reason} and asked to wait {wait:g} s; it is sent later"
                )
            raise _Transient(reason, wait)
        raise DeliveryFailed(
            self.channel,
            f"{reason}: check MCA_TEAMS_WEBHOOK_URL (a removed or regenerated webhook)",
            transient=False,
        )


def sender_address(settings: Settings) -> str:
    """The From of the desk's emails: `alert_from`, else the SMTP user name when it is an
    address; else ConfigurationError naming the setting."""
    if settings.alert_from is not None and settings.alert_from.strip():
        given = settings.alert_from.strip()
        pairs = getaddresses([given])
        address = pairs[0][1] if len(pairs) == 1 else ""
        if any(ch in given for ch in "\r\n") or "@" not in address or address.endswith("@"):
            raise ConfigurationError(
                f"Setting 'alert_from' (env MCA_ALERT_FROM): {given[:60]!r} is not one email "
                "address. Give the address the desk's emails come from, e.g. "
                'mca-desk@contoso.com (or "MCA desk <mca-desk@contoso.com>").'
            )
        return given
    if settings.smtp_username and "@" in settings.smtp_username:
        return settings.smtp_username.strip()
    raise ConfigurationError(
        "Set MCA_ALERT_FROM (or [mca] alert_from): the address the desk's emails come from."
    )


def email_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def teams_configured(settings: Settings) -> bool:
    return settings.teams_webhook_url is not None and bool(
        settings.teams_webhook_url.get_secret_value().strip()
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    return None


def _text(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return _first_line(text)


def _domain(address: str) -> str | None:
    return address.rpartition("@")[2].strip(">") or None


def _first_line(value: object) -> str:
    return str(value).strip().splitlines()[0][:200] if str(value).strip() else type(value).__name__


__all__ = [
    "LOCALES",
    "DeliveryFailed",
    "Recipient",
    "Redactor",
    "Sent",
    "SmtpSender",
    "TeamsSender",
    "email_configured",
    "parse_recipients",
    "sender_address",
    "teams_configured",
]
