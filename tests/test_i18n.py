"""The translation catalogs (locale/): one source per message, complete and never fuzzy in
Chinese, every key the UI asks for, the same placeholders in both languages, plural forms;
person names in their own order; values from the core (roles, audit actions and outcomes)
translated on the pages."""

from __future__ import annotations

import ast
import shutil
import string
import typing
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from mca_core.config import load_settings
from mca_core.desk import Desk
from mca_core.domain.errors import AccessRefused, Problem
from mca_core.domain.models import PartnerType, Role
from mca_core.domain.names import format_person_name, is_cjk
from mca_core.store.enhanced_attestations import AttestationState
from mca_core.usecases import (
    alerts,
    attestation,
    audit,
    bulk,
    bulk_signers,
    customers,
    digest,
    enhanced,
    invitations,
    metrics,
    sync,
    verify,
)
from mca_core.usecases import channel as channels
from ui import i18n
from ui.markup import Markdown

from .apptest import cli, open_page, run
from .conftest import ROOT
from .test_page_audit import history  # noqa: F401  (the fixture: a few attempts to show)

#: Where the UI asks for messages by key.
SOURCES = [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]
SOURCES += sorted((ROOT / "ui").rglob("*.py"))  # ui/attest/ and any other package


def catalog(lang: str, locale_dir: Path = i18n.LOCALE_DIR) -> Catalog:
    return i18n.read_catalog(i18n.catalog_path(lang, locale_dir))


def entries(cat: Catalog) -> dict[str, Message]:
    return {i18n.message_key(m): m for m in list(cat)[1:]}


def untranslated(locale_dir: Path) -> list[str]:
    """Keys of the English catalog that the Chinese one lacks, leaves empty or marks fuzzy."""
    english = set(entries(catalog("en", locale_dir)))
    return sorted(english - i18n.translated_keys("zh-CN", locale_dir))


def forms(message: Message) -> tuple[str, ...]:
    return tuple(message.string) if message.pluralizable else (message.string,)


def placeholders(text: str) -> dict[str, str]:
    """{name: format spec} of a str.format template."""
    return {name: spec for _, name, spec, _ in string.Formatter().parse(text) if name is not None}


# --- the catalogs ------------------------------------------------------------------------------


def test_every_english_message_has_a_chinese_translation():
    assert untranslated(i18n.LOCALE_DIR) == []
    english = entries(catalog("en"))
    assert len(english) > 500
    assert set(english) == i18n.translated_keys("en"), "English is the source: never empty"


def test_the_check_fails_on_a_missing_empty_or_fuzzy_chinese_translation(tmp_path):
    locale_dir = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, locale_dir)
    broken = catalog("zh-CN", locale_dir)
    broken.delete("app_title")
    broken["sign_out"].flags.add("fuzzy")
    broken["bulk_counts"].string = ("",)
    with i18n.catalog_path("zh-CN", locale_dir).open("wb") as f:
        write_po(f, broken)
    assert untranslated(locale_dir) == ["app_title", "bulk_counts", "sign_out"]
    # ...and the desk shows English for them, as gettext's fallback does
    chinese = i18n.compile_catalog(i18n.catalog_path("zh-CN", locale_dir))
    chinese.add_fallback(i18n.compile_catalog(i18n.catalog_path("en", locale_dir)))
    assert chinese.gettext("sign_out") == "Sign out"
    assert chinese.gettext("app_title") == "MCA acceptance desk"
    assert chinese.ngettext("bulk_counts", "bulk_counts_plural", 2).startswith("{n:,} rows")
    assert chinese.gettext("language") == "语言"


def test_one_source_per_message():
    """The template lists every id once; both catalogs hold exactly those, with the same plural
    shape; Chinese has one plural form."""
    template, english, chinese = (entries(c) for c in (catalog_template(), catalog("en"),
                                                       catalog("zh-CN")))  # fmt: skip
    assert set(template) == set(english) == set(chinese)
    for key, message in template.items():
        assert message.pluralizable == english[key].pluralizable == chinese[key].pluralizable
        if message.pluralizable:
            assert message.id[1] == key + i18n.PLURAL_SUFFIX
    assert catalog("zh-CN").plural_forms == "nplurals=1; plural=0;"
    assert catalog("en").plural_forms == "nplurals=2; plural=(n != 1);"


def catalog_template() -> Catalog:
    from babel.messages.pofile import read_po

    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as f:
        return read_po(f)


def test_chinese_uses_the_english_placeholders():
    english, chinese = entries(catalog("en")), entries(catalog("zh-CN"))
    for key, message in english.items():
        wanted = [placeholders(form) for form in forms(message)]
        assert all(w == wanted[0] for w in wanted), f"{key}: plural forms disagree"
        if message.pluralizable:
            assert "n" in wanted[0], f"{key}: a plural message shows its count as {{n}}"
        for form in forms(chinese[key]):
            found = placeholders(form)
            if key.startswith(("problem.", "refusal.")):
                # English is the core's reason and fix; Chinese words the problem by its code
                # and its params (tests/test_bad_inputs.py formats each one the core raises)
                assert not {"reason", "fix"} & set(found), key
                assert key.startswith("refusal.") or "field_label" in found, key
            else:
                assert found == wanted[0], f"{key}: {found} != {wanted[0]}"


def test_the_english_labels_of_core_values_are_the_cores():
    for role in Role:
        assert i18n.role_label(role, "en") == role.label
    for kind in PartnerType:
        assert i18n.partner_type_label(kind, "en") == kind.label
    assert i18n.role_label("admin_agent", "zh-CN") == "管理员代理"
    assert i18n.role_label("not-a-role", "zh-CN") == "not-a-role"


# --- keys the UI asks for ------------------------------------------------------------------------

#: Keys built at run time: (prefix, suffix) -> the values that fill the gap.
FAMILIES: dict[tuple[str, str], typing.Iterable[str]] = {
    ("tab_", ""): ("existing", "new", "bulk", "blocked"),
    ("nc_choice_", ""): ("attest_now", "customer_accepts"),
    ("flag_", ""): ("duplicate_in_file", "already_accepted", "unknown_customer"),
    ("bulk_encoding_", ""): bulk.ENCODINGS,
    # the classic bulk's outcomes and the signers file's row states (the enhanced bulk tab)
    ("outcome_", ""): (*bulk.OUTCOMES, *bulk_signers.STATES),
    ("next_", ""): typing.get_args(verify.NextStep),
    ("inv_ask_", ""): invitations.PROVIDER_ASKS,
    ("inv_mode_", ""): ("existing", "new"),
    ("status_", ""): metrics.STATUSES,
    ("channel_", ""): channels.CHANNELS,
    ("channel_", "_help"): channels.CHANNELS,
    ("enh_state_", ""): [s.value for s in AttestationState],
    ("pipe_stage_", ""): [s.value for s in enhanced.Stage],
    ("enh_", ""): typing.get_args(enhanced.CreateKind),
    ("alert_kind_", ""): alerts.KINDS,
    ("digest_period_", ""): tuple(digest.PERIODS),
}
#: Every action the core writes to the audit log, and every outcome (audit.record_failure adds
#: refused / invalid / failed; a finalise "already_finalised" is recorded as already_attested).
AUDIT_ACTIONS = (
    attestation.ACTION,
    bulk.ACTION,
    customers.ACTION,
    enhanced.ACTION_CREATE,
    enhanced.ACTION_FINALISE,
    enhanced.ACTION_REFRESH,
    invitations.ACTION,
    sync.ACTION,
    verify.ACTION,
)
AUDIT_OUTCOMES = (
    *bulk.OUTCOMES,
    *typing.get_args(enhanced.CreateKind),
    *(k for k in typing.get_args(enhanced.FinaliseKind) if k != "already_finalised"),
    *("refused", "invalid", "failed", "created", "done", "dry_run", "cancelled", "generated"),
    *("accepted", "not_accepted", "expired", "refreshed", "partly_failed"),
    "reacceptance_required",  # verify: only an acceptance of an earlier MCA (the 2023 refresh)
)
LOOKUPS = {"t", "t_plain", "tn", "message"}


def _name(call: ast.Call) -> str:
    return getattr(call.func, "id", None) or getattr(call.func, "attr", "")


def _keys_of(node: ast.expr, where: str) -> tuple[set[str], list[str]]:
    """The keys a key expression can take: a literal, or a family (f"tab_{key}", "x_" + v)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}, []
    parts: list[ast.expr] = []
    if isinstance(node, ast.JoinedStr):
        parts = list(node.values)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [node.left, node.right]
    literal = [p.value if isinstance(p, ast.Constant) else None for p in parts]
    if len(parts) in (2, 3) and literal[0] and None in literal:
        family = (literal[0], literal[-1] if literal[-1] is not None else "")
        if family in FAMILIES:
            return {family[0] + v + family[1] for v in FAMILIES[family]}, []
        return set(), [f"{where}: unknown key family {family}: add it to FAMILIES"]
    return set(), []  # a variable: its values are checked where they are written


def used_keys() -> tuple[dict[str, set[str]], list[str]]:
    """{"t": keys, "tn": keys} asked for in dashboard.py, pages/ and ui/ (and the key
    arguments of helpers that call them), plus the families that are not listed."""
    found: dict[str, set[str]] = {"t": set(), "tn": set()}
    unknown: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, where = _name(node), f"{path.name}:{node.lineno}"
            args: list[ast.expr] = []
            if name in LOOKUPS and node.args:
                args = [node.args[0]]
            elif name == "_say" and len(node.args) >= 3:  # ui/enhanced_blocks.py
                args = [node.args[2]]
            elif name in ("page_setup", "forget_secrets_of_other_pages") and node.args:
                args = [node.args[0]]
            args += [k.value for k in node.keywords if k.arg in ("submit_key", "title_key")]
            for arg in args:
                keys, bad = _keys_of(arg, where)
                plural = name == "tn" or (
                    name == "_say" and any(k.arg == "n" for k in node.keywords)
                )
                found["tn" if plural else "t"] |= keys
                unknown += bad
    from ui import blocks, nav

    found["t"] |= {key for key, _ in nav.NAVIGATION.values()}
    found["t"] |= set(blocks.PAGE_TITLE_KEYS.values())
    found["t"] |= {f"action_{a}" for a in AUDIT_ACTIONS} | {f"outcome_{o}" for o in AUDIT_OUTCOMES}
    return found, unknown


def test_every_key_the_ui_asks_for_is_in_the_catalogs():
    found, unknown = used_keys()
    assert unknown == []
    assert len(found["t"]) > 400 and len(found["tn"]) >= 15
    missing = sorted(k for k in found["t"] | found["tn"] if not i18n.has_message(k))
    assert missing == []
    assert sorted(k for k in found["tn"] if not i18n.is_plural(k)) == []
    assert sorted(k for k in found["t"] if i18n.is_plural(k)) == [], "read these with tn"
    plural = {k for k, m in entries(catalog("en")).items() if m.pluralizable}
    assert plural == found["tn"]


def test_no_message_is_left_unused():
    """Each message is asked for somewhere (a key removed from the UI leaves the catalogs)."""
    found, _ = used_keys()
    prefixed = ("field.", "problem.", "refusal.", "role.", "partner_type.", "lang_")
    source = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES if p.name != "i18n.py")
    unused = [
        key
        for key in entries(catalog("en"))
        if key not in found["t"] | found["tn"]
        and not key.startswith(prefixed)
        and f'"{key}"' not in source  # a key kept in a table or a variable
    ]
    assert unused == []


def test_every_agreement_language_has_a_name_in_both_languages():
    """The enhanced signer form offers `enhanced.AGREEMENT_LANGUAGES` (culture codes) by name:
    one `lang_<code>` message each, translated, and no message for a code no longer offered."""
    wanted = {f"lang_{code}" for code in enhanced.AGREEMENT_LANGUAGES}
    english = {k for k in entries(catalog("en")) if k.startswith("lang_")}
    assert english == wanted
    assert wanted <= i18n.translated_keys("zh-CN")
    for lang in ("en", "zh-CN"):
        names = [i18n.message(key, lang) for key in sorted(wanted)]
        assert len(set(names)) == len(names), f"two agreement languages share a name in {lang}"
    assert i18n.message("lang_zh-HK", "en") == "Chinese (Traditional, Hong Kong SAR)"
    assert i18n.message("lang_de-DE", "zh-CN") == "德语（德国）"


def test_the_link_lifetime_problem_is_worded_in_chinese():
    problem = enhanced.check_link_lifetime(3)
    assert isinstance(problem, Problem) and problem.code == "link_lifetime_range"
    english = i18n.problem_plain(problem, "en")
    assert english.startswith("Link lifetime: The link lifetime must be between 5 minutes")
    chinese = i18n.problem_plain(problem, "zh-CN")
    assert chinese.startswith("链接有效期：链接有效期须在 5 分钟到 7 天之间（5 至 10080 分钟）")
    assert problem.reason not in chinese


# --- plural forms ----------------------------------------------------------------------------


def test_plural_forms_render_one_row_and_two_rows():
    text = i18n.plain_text
    assert text("bulk_counts", "en", n=1, invalid=0).startswith("1 row, 0 with problems")
    assert text("bulk_counts", "en", n=2, invalid=1).startswith("2 rows, 1 with problems")
    assert text("bulk_counts", "en", n=0, invalid=0).startswith("0 rows,")
    assert text("bulk_counts", "en", n=1234, invalid=0).startswith("1,234 rows,")
    assert text("bulk_counts", "zh-CN", n=1, invalid=0).startswith("共 1 行")
    assert text("bulk_counts", "zh-CN", n=2, invalid=0).startswith("共 2 行")
    assert text("bulk_resumed", "en", n=1).startswith("1 row was done")
    assert text("filter_showing", "en", shown=1, n=1) == "1 of 1 customer matches the filters."
    assert text("filter_showing", "en", shown=1, n=3) == "1 of 3 customers match the filters."
    assert text("enh_refreshed", "en", n=1, changed=0) == "Checked 1 attestation: 0 changed."
    # tn: Markdown, the count formatted by the template, the other parameters escaped
    shown = i18n.tn("bulk_file", 1, name="a*b.csv")
    assert isinstance(shown, Markdown) and shown == r"File: **a\*b.csv** (1 byte)"
    assert i18n.tn("bulk_file", 2048, name="x.csv").endswith("(2,048 bytes)")


def test_every_plural_message_has_a_singular():
    for key, message in entries(catalog("en")).items():
        if message.pluralizable:
            one, many = (i18n.message(key, "en", n=n) for n in (1, 2))
            assert one != many, key


# --- values from the core ----------------------------------------------------------------------


def test_problems_and_refusals_by_code():
    problem = Problem("contact.email", "'x' is not an email address.", "Fix it.", code="bad_email")
    assert i18n.problem_plain(problem, "en") == "Email: 'x' is not an email address. Fix it."
    assert i18n.problem_plain(problem, "zh-CN").startswith("电子邮件：电子邮件地址无效")
    odd = Problem("thing", "Odd.", "Do this.", code="no-such-code")
    assert i18n.problem_plain(odd, "zh-CN") == "thing: Odd. Do this."
    missing_param = Problem("file", "Too big.", "Split it.", code="file_too_big")
    assert i18n.problem_plain(missing_param, "zh-CN") == "文件: Too big. Split it."
    refused = AccessRefused("attest", "Nope.", "Ask someone.", code="role_cannot_attest")
    assert i18n.refusal_text(refused, "en") == "Nope. Ask someone."
    assert i18n.refusal_text(refused, "zh-CN").startswith("您的角色无权证明")


# --- person names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN", None])
@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [
        ("伟", "张", "张伟"),  # Chinese: family name first, no space
        ("太郎", "山田", "山田太郎"),  # Japanese (Kanji)
        ("健", "佐々木", "佐々木健"),  # with the iteration mark
        ("さくら", "たなか", "たなかさくら"),  # Hiragana
        ("민준", "김", "김민준"),  # Korean (Hangul)
        ("Jane", "Doe", "Jane Doe"),  # Western names stay First Last in every locale
        ("Wei", "Zhang", "Wei Zhang"),  # a Chinese name in Latin letters: as written
        ("伟", "Zhang", "伟 Zhang"),  # mixed scripts: as written
        ("Wei", "张", "Wei 张"),
        (" 伟 ", " 张 ", "张伟"),  # spaces around the parts
        ("伟", "", "伟"),  # one part only
        ("", "Doe", "Doe"),
        (None, None, ""),
    ],
)
def test_format_person_name(first, last, shown, locale):
    assert format_person_name(first, last, locale) == shown


def test_cjk_means_han_kana_or_hangul():
    assert is_cjk("張") and is_cjk("カタカナ") and is_cjk("ﾀﾅｶ") and is_cjk("한글")
    assert not is_cjk("") and not is_cjk("Zoë") and not is_cjk("张3") and not is_cjk("张·伟")


# --- the pages in Chinese --------------------------------------------------------------------


@pytest.mark.classic_tenant
def test_audit_page_in_chinese_translates_roles_actions_and_outcomes(history):  # noqa: F811
    desk = Desk(load_settings())
    sales = desk.sandbox_actor("sales-agent").identity
    audit.record(desk.store, sales, invitations.ACTION, "generated", detail="mca_existing")
    at = open_page(str(ROOT / "pages" / "5_Audit.py"))
    at.session_state["ui_language"] = "zh-CN"
    run(at)
    shown = at.dataframe[0].value
    roles, actions, outcomes = (set(shown[c]) for c in ("role", "action", "outcome"))
    assert {"管理员代理", "销售代理", "支持代理"} <= roles
    assert {"证明", "创建客户", "同步", "生成邮件"} <= actions
    assert {"已证明", "无效", "被拒绝", "已创建", "已生成"} <= outcomes
    english = {r.label for r in Role} | set(AUDIT_ACTIONS) | set(AUDIT_OUTCOMES)
    english |= {i18n.message(f"action_{a}", "en") for a in AUDIT_ACTIONS}
    english |= {i18n.message(f"outcome_{o}", "en") for o in AUDIT_OUTCOMES}
    assert not (roles | actions | outcomes) & english
    # the filters offer the same words
    assert "生成邮件" in at.multiselect(key="au_actions").options
    assert "已生成" in at.multiselect(key="au_outcomes").options


@pytest.mark.classic_tenant
def test_verify_page_in_chinese_writes_a_chinese_name_family_name_first(sandbox_env):
    assert cli("sync") == 0
    store = desk_store()
    row = next(r for r in store.snapshot_rows(store.latest_snapshot().id) if not r["accepted"])
    attest = ["attest", row["customer_id"], "--first-name", "伟", "--last-name", "张"]
    assert cli(*attest, "--email", "zhang.wei@example.cn", "--date", "2025-11-20") == 0
    at = open_page(str(ROOT / "pages" / "3_Verify.py"), customer=row["customer_id"])
    at.session_state["ui_language"] = "zh-CN"
    table = run(at).dataframe[0].value
    assert list(table[i18n.message("col_contact", "zh-CN")]) == ["张伟"]
    assert list(table[i18n.message("col_attested_by", "zh-CN")]) == ["Megan Bowen (管理员代理)"]


def desk_store():
    from mca_core.store.database import Store

    return Store(load_settings().resolved_store_url)


def test_audit_page_names_the_reacceptance_outcome(sandbox_env):
    desk = Desk(load_settings())
    admin = desk.sandbox_actor("admin-agent").identity
    audit.record(desk.store, admin, verify.ACTION, "reacceptance_required", detail="1 attestation")
    for lang, label in (("en", "must re-accept the current MCA"), ("zh-CN", "需重新接受当前 MCA")):
        at = open_page(str(ROOT / "pages" / "5_Audit.py"))
        at.session_state["ui_language"] = lang
        run(at)
        assert list(at.dataframe[0].value["outcome"]) == [label]
        assert label in at.multiselect(key="au_outcomes").options
