"""The deterministic sandbox portfolio: customers, their agreements and direct acceptance.

`build_portfolio(customers, seed)` gives the same rows for the same arguments (and the same Faker
version): every choice comes from one `random.Random(seed)`, and the cached per-locale Faker
instances are re-seeded from it before use. Nothing here touches the database.

The mix aims at what a real CSP portfolio looks like in the MCA era: about 45% attested (15% of
those more than once, a few also signed directly), 25% accepted directly only, 30% neither, and 5%
that still hold an old Microsoft Cloud Agreement record. About 40% of the indirect provider's
customers belong to one of its indirect resellers (Northwind half, the other two a quarter each).
"""

from __future__ import annotations

import random
import threading
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import phonenumbers
from faker import Faker
from pypinyin import lazy_pinyin

from mca_core.domain.models import CLOUD_AGREEMENT_TYPE, MCA_AGREEMENT_TYPE

from .directory import (
    CLOUD_AGREEMENT_LINK,
    CLOUD_AGREEMENT_TEMPLATE_ID,
    CONTOSO_TENANT_ID,
    FABRIKAM_TENANT_ID,
    MCA_AGREEMENT_LINK,
    MCA_TEMPLATE_ID,
    NORTHWIND_TENANT_ID,
    TAILSPIN_TENANT_ID,
    WIDE_WORLD_TENANT_ID,
    attesting_agents,
)

#: Longest `*.onmicrosoft.com` prefix the emulator hands out or accepts (a guess at the real one).
MAX_DOMAIN_PREFIX = 27

# Shares of the mix (fractions of all customers, or of the attested ones where said).
SHARE_ATTESTED = 0.45
SHARE_DIRECT_ONLY = 0.25
SHARE_MULTI_ATTESTED = 0.15  # of attested
SHARE_BOTH = 0.06  # of attested: also signed directly
SHARE_CLOUD_AGREEMENT = 0.05
SHARE_RESELLER_CUSTOMERS = 0.40  # of the indirect provider's customers
RESELLER_WEIGHTS = ((NORTHWIND_TENANT_ID, 2), (TAILSPIN_TENANT_ID, 1), (WIDE_WORLD_TENANT_ID, 1))

MCA_FIRST_DAY = datetime(2019, 8, 1, tzinfo=UTC)
SEED_LAST_DAY = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
CLOUD_FIRST_DAY = datetime(2015, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Locale:
    code: str
    country: str
    weight: int
    mail_tld: str
    culture: str
    language: str


#: Where the sandbox's customers are (Faker locale, ISO country, weight in %, mail TLD, culture).
LOCALES: tuple[_Locale, ...] = (
    _Locale("en_US", "US", 24, "com", "en-US", "en"),
    _Locale("zh_CN", "CN", 15, "com.cn", "zh-CN", "zh-Hans"),
    _Locale("en_GB", "GB", 10, "co.uk", "en-GB", "en"),
    _Locale("de_DE", "DE", 9, "de", "de-DE", "de"),
    _Locale("fr_FR", "FR", 7, "fr", "fr-FR", "fr"),
    _Locale("ja_JP", "JP", 6, "co.jp", "ja-JP", "ja"),
    _Locale("en_AU", "AU", 5, "com.au", "en-AU", "en"),
    _Locale("en_CA", "CA", 5, "ca", "en-CA", "en"),
    _Locale("en_IN", "IN", 5, "in", "en-IN", "en"),
    _Locale("nl_NL", "NL", 4, "nl", "nl-NL", "nl"),
    _Locale("pt_BR", "BR", 4, "com.br", "pt-BR", "pt"),
    _Locale("es_ES", "ES", 3, "es", "es-ES", "es"),
    _Locale("it_IT", "IT", 3, "it", "it-IT", "it"),
)
_LOCALE_WEIGHTS = [loc.weight for loc in LOCALES]

# Chinese trade names are built from parts so that the pinyin domain matches the name.
_ZH_TRADE_FIRST = "华鼎瑞盛恒泰博嘉宏佳智创天远信汇诚联云新金隆德达安中海"
_ZH_TRADE_SECOND = "泰丰达信成通源科盛华锦睿辉航博创邦杰宇鑫腾"
_ZH_INDUSTRIES = ("科技", "信息", "网络", "软件", "电子", "数据", "传媒", "贸易", "实业", "物流")
_ZH_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "集团有限公司")

# Japanese company categories with their romanisation (for ascii domains).
_JA_CATEGORIES = {
    "建設": "kensetsu",
    "食品": "shokuhin",
    "印刷": "insatsu",
    "電気": "denki",
    "情報": "joho",
    "通信": "tsushin",
    "運輸": "unyu",
    "商事": "shoji",
    "工業": "kogyo",
    "システム": "systems",
    "保険": "hoken",
}
_JA_FORMS = ("株式会社{name}", "{name}株式会社", "合同会社{name}", "有限会社{name}")

# Words left out of a latin company name when it becomes a domain prefix.
# fmt: off
_LEGAL_WORDS = frozenset({
    "inc", "llc", "ltd", "plc", "co", "corp", "gmbh", "ag", "kg", "kgaa", "ohg", "mbh", "ev",
    "se", "sa", "sas", "sarl", "sasu", "bv", "nv", "vof", "spa", "srl", "snc", "sl", "scoop",
    "slne", "hnos", "ltda", "me", "eireli", "pty", "limited", "group", "and", "und", "et", "e",
    "y", "the", "of", "de", "da", "do", "van", "der", "den", "le", "la", "les",
})
# fmt: on
_ASCII_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe"})


@dataclass(frozen=True)
class SeedContact:
    first_name: str
    last_name: str
    email: str
    phone: str


@dataclass(frozen=True)
class SeedAgreement:
    customer_id: str
    type: str
    template_id: str
    agreement_link: str
    date_agreed: str  # the wire text, in one of several formats
    date_agreed_ts: float
    contact: SeedContact
    user_id: str


@dataclass(frozen=True)
class SeedCustomer:
    id: str
    commerce_id: str
    partner_tenant_id: str
    associated_partner_id: str | None
    company_name: str
    domain: str
    country: str
    billing_profile: dict[str, Any]
    direct_signed: bool


@dataclass
class Portfolio:
    customers: list[SeedCustomer] = field(default_factory=list)
    agreements: list[SeedAgreement] = field(default_factory=list)


_FAKER_LOCK = threading.Lock()
_FAKER_PROVIDERS = [
    "faker.providers.person",
    "faker.providers.company",
    "faker.providers.phone_number",
    "faker.providers.address",
]


@cache
def _faker(code: str) -> Faker:
    """One Faker per locale per process, with only the providers the seed uses (fast to build)."""
    return Faker(code, providers=_FAKER_PROVIDERS)


def ascii_fold(text: str) -> str:
    """Strip accents, keep lowercase ascii alnum ("Müller & Söhne" -> "mullersohne")."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


def pinyin_fold(text: str) -> str:
    """Romanise Chinese text without tones ("华泰科技" -> "huataikeji")."""
    return ascii_fold("".join(lazy_pinyin(text)))


def latin_domain_prefix(company_name: str) -> str:
    """A domain prefix from a latin company name, without legal-form words."""
    words = [ascii_fold(w) for w in company_name.replace("-", " ").replace(",", " ").split()]
    words = [w for w in words if w]
    kept = [w for w in words if w not in _LEGAL_WORDS] or words
    return "".join(kept)


class _Builder:
    """Holds the generator state of one seeding run."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.used_domains: set[str] = set()
        for loc in LOCALES:
            _faker(loc.code).seed_instance(self.rng.getrandbits(64))

    # ids and names ------------------------------------------------------------------------
    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def unique_prefix(self, prefix: str) -> str:
        base = (prefix or "tenant")[:MAX_DOMAIN_PREFIX]
        candidate, n = base, 1
        while candidate in self.used_domains:
            n += 1
            tail = str(n)
            candidate = base[: MAX_DOMAIN_PREFIX - len(tail)] + tail
        self.used_domains.add(candidate)
        return candidate

    def company(self, loc: _Locale) -> tuple[str, str]:
        """(company name, domain prefix before de-duplication)."""
        fake = _faker(loc.code)
        rng = self.rng
        if loc.code == "zh_CN":
            trade = rng.choice(_ZH_TRADE_FIRST) + rng.choice(_ZH_TRADE_SECOND)
            industry = rng.choice(_ZH_INDUSTRIES)
            city = fake.city_name() if rng.random() < 0.75 else ""
            name = f"{city}{trade}{industry}{rng.choice(_ZH_SUFFIXES)}"
            return name, pinyin_fold(trade + industry)
        if loc.code == "ja_JP":
            kanji, _kana, romaji = fake.last_name_pair()
            category = rng.choice(list(_JA_CATEGORIES))
            name = rng.choice(_JA_FORMS).format(name=f"{kanji}{category}")
            return name, ascii_fold(romaji) + _JA_CATEGORIES[category]
        name = fake.company()
        return name, latin_domain_prefix(name)

    # contacts -----------------------------------------------------------------------------
    def contact(self, loc: _Locale, mail_domain: str) -> SeedContact:
        fake = _faker(loc.code)
        if loc.code == "zh_CN":
            first, last = fake.first_name(), fake.last_name()
            first_ascii, last_ascii = pinyin_fold(first), pinyin_fold(last)
        elif loc.code == "ja_JP":
            first, _fk, first_romaji = fake.first_name_pair()
            last, _lk, last_romaji = fake.last_name_pair()
            first_ascii, last_ascii = ascii_fold(first_romaji), ascii_fold(last_romaji)
        else:
            first, last = fake.first_name(), fake.last_name()
            first_ascii, last_ascii = ascii_fold(first), ascii_fold(last)
        style = self.rng.randrange(3)
        if style == 0:
            local = f"{first_ascii}.{last_ascii}"
        elif style == 1:
            local = f"{first_ascii[:1]}{last_ascii}"
        else:
            local = f"{first_ascii}{last_ascii}"
        local = local.strip(".") or "contact"
        return SeedContact(first, last, f"{local}@{mail_domain}", self.phone(loc))

    def phone(self, loc: _Locale) -> str:
        """A phone number of the customer's country, in international form when it parses."""
        raw = ""
        for _ in range(5):  # Faker sometimes makes numbers no phone could dial; ask again
            raw = _faker(loc.code).phone_number().split("x")[0].strip()
            try:
                parsed = phonenumbers.parse(raw, loc.country)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(parsed):
                return phonenumbers.format_number(
                    parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
        return raw

    # dates --------------------------------------------------------------------------------
    def moment(self, start: datetime, end: datetime) -> datetime:
        seconds = self.rng.uniform(0, (end - start).total_seconds())
        moment = start + timedelta(seconds=seconds)
        if self.rng.random() < 0.6:  # most attestations carry a bare date
            return moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return moment

    def wire_date(self, moment: datetime) -> str:
        """`dateAgreed` in one of the forms the real service returns (zone, fractions or not)."""
        base = moment.strftime("%Y-%m-%dT%H:%M:%S")
        style = self.rng.randrange(4)
        if style == 0:
            return base
        if style == 1:
            return f"{base}Z"
        if style == 2:
            return f"{base}.{moment.microsecond:06d}{self.rng.randrange(10)}Z"
        return f"{base}.{moment.microsecond // 1000:03d}Z"


def build_portfolio(customers: int, seed: int) -> Portfolio:
    """`customers` customers for each portfolio partner (Contoso and Fabrikam), deterministic."""
    with _FAKER_LOCK:
        return _build(customers, seed)


def _build(count: int, seed: int) -> Portfolio:
    b = _Builder(seed)
    rng = b.rng
    out = Portfolio()
    resellers = [tid for tid, _ in RESELLER_WEIGHTS]
    reseller_weights = [w for _, w in RESELLER_WEIGHTS]
    for partner in (CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID):
        agents = attesting_agents(partner)
        for _ in range(count):
            loc = rng.choices(LOCALES, weights=_LOCALE_WEIGHTS)[0]
            customer_id = b.guid()
            name, prefix = b.company(loc)
            prefix = b.unique_prefix(prefix)
            mail_domain = f"{prefix}.{loc.mail_tld}"
            associated = None
            if partner == FABRIKAM_TENANT_ID and rng.random() < SHARE_RESELLER_CUSTOMERS:
                associated = rng.choices(resellers, weights=reseller_weights)[0]

            mix = rng.random()
            attested = mix < SHARE_ATTESTED
            direct_signed = SHARE_ATTESTED <= mix < SHARE_ATTESTED + SHARE_DIRECT_ONLY
            if attested:
                times = rng.choice((2, 3)) if rng.random() < SHARE_MULTI_ATTESTED else 1
                direct_signed = rng.random() < SHARE_BOTH
                moment = MCA_FIRST_DAY
                contact = b.contact(loc, mail_domain)
                for n in range(times):
                    moment = b.moment(moment, SEED_LAST_DAY)
                    if n > 0:
                        # A re-attestation: another person, or the same one with a new phone.
                        if rng.random() < 0.5:
                            contact = b.contact(loc, mail_domain)
                        else:
                            contact = SeedContact(
                                contact.first_name,
                                contact.last_name,
                                contact.email,
                                b.phone(loc),
                            )
                    out.agreements.append(
                        SeedAgreement(
                            customer_id,
                            MCA_AGREEMENT_TYPE,
                            MCA_TEMPLATE_ID,
                            MCA_AGREEMENT_LINK,
                            b.wire_date(moment),
                            moment.timestamp(),
                            contact,
                            rng.choice(agents),
                        )
                    )
            if rng.random() < SHARE_CLOUD_AGREEMENT:
                moment = b.moment(CLOUD_FIRST_DAY, MCA_FIRST_DAY)
                out.agreements.append(
                    SeedAgreement(
                        customer_id,
                        CLOUD_AGREEMENT_TYPE,
                        CLOUD_AGREEMENT_TEMPLATE_ID,
                        CLOUD_AGREEMENT_LINK,
                        b.wire_date(moment),
                        moment.timestamp(),
                        b.contact(loc, mail_domain),
                        rng.choice(agents),
                    )
                )
            out.customers.append(
                SeedCustomer(
                    id=customer_id,
                    commerce_id=b.guid(),
                    partner_tenant_id=partner,
                    associated_partner_id=associated,
                    company_name=name,
                    domain=f"{prefix}.onmicrosoft.com",
                    country=loc.country,
                    billing_profile={
                        "email": f"admin@{mail_domain}",
                        "culture": loc.culture,
                        "language": loc.language,
                        "companyName": name,
                        "defaultAddress": {"country": loc.country},
                    },
                    direct_signed=direct_signed,
                )
            )
    return out
