"""UI strings in English and Simplified Chinese, and translation of core problems by code."""

from __future__ import annotations

from typing import Any

import streamlit as st

from mca_core.errors import AccessRefused, Problem
from mca_core.models import PartnerType, Role
from ui.markup import Markdown, format_markdown, md

LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"en": "MCA acceptance desk", "zh-CN": "MCA 接受情况工作台"},
    "app_tagline": {
        "en": "Get every customer's Microsoft Customer Agreement accepted, proven and visible.",
        "zh-CN": "让每位客户的 Microsoft 客户协议（MCA）都被接受、有据可查、一目了然。",
    },
    "language": {"en": "Language", "zh-CN": "语言"},
    "sandbox_banner": {
        "en": "**Sandbox** — you are working against the built-in Partner Center emulator with "
        "seeded customers. Nothing here reaches Microsoft.",
        "zh-CN": "**沙盒模式** — 当前连接的是内置的合作伙伴中心模拟器（预置客户数据），"
        "任何操作都不会发送到 Microsoft。",
    },
    "live_banner": {
        "en": "**Live** — connected to Partner Center at {url}.",
        "zh-CN": "**正式环境** — 已连接合作伙伴中心：{url}。",
    },
    "sign_in_title": {"en": "Sign in", "zh-CN": "登录"},
    "sign_in_sandbox_help": {
        "en": "Choose one of the sandbox's seeded users. Each has the role and partner type "
        "shown, so you can see what each person may do.",
        "zh-CN": "请选择一个沙盒预置用户。每个用户都有对应的角色和合作伙伴类型，"
        "便于查看不同人员的操作权限。",
    },
    "sign_in_button": {"en": "Sign in", "zh-CN": "登录"},
    "sign_in_microsoft": {"en": "Sign in with Microsoft", "zh-CN": "使用 Microsoft 账户登录"},
    "sign_in_live_help": {
        "en": "Sign in with your work account in the partner tenant. Your Partner Center role "
        "comes from your security groups.",
        "zh-CN": "请使用合作伙伴租户中的工作账户登录。您的合作伙伴中心角色由所属安全组决定。",
    },
    "sign_out": {"en": "Sign out", "zh-CN": "退出登录"},
    "signed_in_as": {"en": "Signed in as", "zh-CN": "当前用户"},
    "role": {"en": "Role", "zh-CN": "角色"},
    "partner_type": {"en": "Partner type", "zh-CN": "合作伙伴类型"},
    "partner": {"en": "Partner", "zh-CN": "合作伙伴"},
    "backend": {"en": "Backend", "zh-CN": "后端"},
    "backend_sandbox": {"en": "Sandbox (emulator)", "zh-CN": "沙盒（模拟器）"},
    "backend_live": {"en": "Live Partner Center", "zh-CN": "正式合作伙伴中心"},
    "role_unknown": {"en": "judged by Partner Center", "zh-CN": "由合作伙伴中心判定"},
    "you_may": {"en": "What you can do here", "zh-CN": "您可以进行的操作"},
    "may_attest_yes": {
        "en": "You may attest that a customer accepted the MCA.",
        "zh-CN": "您可以代为确认（证明）客户已接受 MCA。",
    },
    "may_attest_no": {
        "en": "You may not attest. {reason}",
        "zh-CN": "您无权代为确认客户接受 MCA。{reason}",
    },
    "headline": {"en": "Acceptance at a glance", "zh-CN": "接受情况概览"},
    "no_snapshot": {
        "en": "No acceptance data yet: nobody has synced the customers' status from Partner "
        "Center.",
        "zh-CN": "尚无接受情况数据：还没有人从合作伙伴中心同步客户状态。",
    },
    "kpi_customers": {"en": "Customers", "zh-CN": "客户数"},
    "kpi_accepted": {"en": "Accepted", "zh-CN": "已接受"},
    "kpi_not_accepted": {"en": "Not accepted (orders refused)", "zh-CN": "未接受（订单将被拒）"},
    "kpi_rate": {"en": "Acceptance rate", "zh-CN": "接受率"},
    "synced_at": {
        "en": "Synced {when} UTC by {who}.",
        "zh-CN": "由 {who} 于 {when}（UTC）同步。",
    },
    "sync_now": {"en": "Sync now from Partner Center", "zh-CN": "立即从合作伙伴中心同步"},
    "sync_refresh": {"en": "Refresh from Partner Center", "zh-CN": "从合作伙伴中心刷新"},
    "sync_starting": {"en": "Starting…", "zh-CN": "正在开始…"},
    "sync_listing": {
        "en": "Listing customers… {total:,} so far",
        "zh-CN": "正在读取客户列表…已读取 {total:,} 个",
    },
    "sync_progress": {
        "en": "Reading acceptance: {done:,} of {total:,} customers",
        "zh-CN": "正在读取接受状态：{done:,} / {total:,} 个客户",
    },
    "sync_failed": {"en": "The sync failed: {error}", "zh-CN": "同步失败：{error}"},
    "sync_done": {
        "en": "Synced {customers:,} customers: {accepted:,} accepted, {failed:,} failed, "
        "{calls:,} API calls in {seconds:.1f} s.",
        "zh-CN": "已同步 {customers:,} 个客户：{accepted:,} 个已接受，{failed:,} 个失败，"
        "共 {calls:,} 次 API 调用，用时 {seconds:.1f} 秒。",
    },
    "sync_incomplete": {
        "en": "The last sync was cancelled or stopped part-way: some customers were not read.",
        "zh-CN": "上次同步被取消或中途停止：部分客户未读取。",
    },
    "guard_sign_in": {
        "en": "Please sign in on the home page first.",
        "zh-CN": "请先在首页登录。",
    },
    "guard_go_home": {"en": "Go to the home page", "zh-CN": "前往首页"},
    "guard_refused": {"en": "Not available for your role", "zh-CN": "您的角色无权访问此页面"},
    "config_error": {
        "en": "The desk is not configured correctly: {error}",
        "zh-CN": "工作台配置有误：{error}",
    },
    "pages": {"en": "Pages", "zh-CN": "页面"},
    "nav_home": {"en": "Home", "zh-CN": "首页"},
    "overview_title": {"en": "Acceptance overview", "zh-CN": "接受情况总览"},
    "attest_title": {"en": "Attest acceptance", "zh-CN": "证明客户接受"},
    "verify_title": {"en": "Verify a customer", "zh-CN": "核验客户"},
    "invitations_title": {"en": "Invitations and requests", "zh-CN": "邀请与请求"},
    "audit_title": {"en": "Audit log", "zh-CN": "审计日志"},
    "pages_none_yet": {
        "en": "The overview, attestation, verification, invitation and audit pages arrive "
        "with their own releases.",
        "zh-CN": "概览、证明、核验、邀请和审计页面将在后续版本中提供。",
    },
    "field": {"en": "Field", "zh-CN": "字段"},
    "fix": {"en": "What to do", "zh-CN": "处理方法"},
}

#: Chinese wording of core validation problems, by Problem.code. Missing codes fall back to
#: the core's English text, which always names the field and the fix.
PROBLEM_ZH: dict[str, str] = {
    "required": "{field_label}：不能为空。",
    "too_long": "{field_label}：内容过长。",
    "bad_character": "{field_label}：包含姓名中不允许的字符。请只使用字母、空格、撇号、句点或连字符。",
    "digits_in_name": "{field_label}：姓名中不能包含数字。",
    "bad_email": "{field_label}：电子邮件地址无效，请更正，例如 jane@contoso.com。",
    "bad_phone": "{field_label}：电话号码无效。请使用带国家代码的国际格式（如 +86 10 1234 5678），"
    "或留空（可选）。",
    "bad_date": "{field_label}：不是有效日期，请按 YYYY-MM-DD 格式填写。",
    "date_in_future": "{field_label}：{date} 晚于 UTC 时间的今天（{utc_today}）。合作伙伴中心按 UTC "
    "判断日期，请使用 {utc_today} 或更早的日期。",
    "date_too_old": "{field_label}：{date} 早于 2018 年，当时 MCA 尚不存在，可能是输入错误。",
    "bad_customer_id": "{field_label}：不是有效的租户 ID（GUID），也可以填写客户域名。",
    "bad_customer_ref": "{field_label}：既不是租户 ID 也不是域名。",
    "unknown_customer": "{field_label}：您的合作伙伴账户下找不到该客户。",
    "bad_domain_prefix": "{field_label}：只能使用 1 至 27 个小写字母或数字。",
    "bad_country": "{field_label}：请使用两位 ISO 国家代码，例如 US、GB、CN。",
    "file_empty": "{field_label}：文件为空。请先下载模板，填写后再上传。",
    "file_too_big": "{field_label}：文件过大（{size_mb} MB）；上限为 {max_mb} MB、{max_rows} 行。请拆分后分批上传。",
    "file_workbook": "{field_label}：这是 Excel 工作簿，不是 CSV。请在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”。",
    "file_encoding": "{field_label}：文件编码为 {encoding}，无法读取。请在 Excel 中“另存为 → CSV UTF-8”，或使用 GB18030/GBK 编码。",
    "file_binary": "{field_label}：这不是文本格式的 CSV 文件。请上传 CSV 文件。",
    "file_missing_columns": "{field_label}：缺少列 {missing}（找到的列：{found}）。请使用模板中的列名。",
    "file_duplicate_columns": "{field_label}：列名重复：{columns}。每个列名只能出现一次。",
    "file_too_many_rows": "{field_label}：行数超过上限 {max_rows}。请拆分后分批上传。",
    "file_no_rows": "{field_label}：只有表头，没有数据行。请至少填写一行。",
    "file_malformed": "{field_label}：第 {line} 行格式有误（引号不匹配？）。请检查该行。",
    "invisible_character": "{field_label}：包含不可见字符 {character}。请重新输入该内容。",
    "duplicate_in_file": "{field_label}：与第 {first_line} 行重复；只会证明第 {first_line} 行。",
    "extra_cells": "{field_label}：第 {line} 行多出 {count} 个单元格（可能是未加引号的逗号）。",
}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "first_name": {"en": "First name", "zh-CN": "名"},
    "last_name": {"en": "Last name", "zh-CN": "姓"},
    "email": {"en": "Email", "zh-CN": "电子邮件"},
    "phone": {"en": "Phone", "zh-CN": "电话"},
    "date_agreed": {"en": "Acceptance date", "zh-CN": "接受日期"},
    "customer": {"en": "Customer", "zh-CN": "客户"},
    "customer_id": {"en": "Customer", "zh-CN": "客户"},
    "domain_prefix": {"en": "Domain prefix", "zh-CN": "域名前缀"},
    "country": {"en": "Country", "zh-CN": "国家/地区"},
    "file": {"en": "File", "zh-CN": "文件"},
    "row": {"en": "Row", "zh-CN": "行"},
}


def register(strings: dict[str, dict[str, str]]) -> None:
    """Pages and blocks add their own strings (key -> {"en": ..., "zh-CN": ...})."""
    for key, entry in strings.items():
        if "en" not in entry:
            raise ValueError(f"UI string {key!r} has no English text")
        STRINGS[key] = entry


def language() -> str:
    lang = st.session_state.get("ui_language", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def _template(key: str) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    return entry.get(language()) or entry["en"]


def t(key: str, **params: Any) -> Markdown:
    """The UI string `key` in the current language (English when a translation is missing),
    for Markdown: every parameter is data and is escaped (see `ui.markup`), unless it is
    Markdown already (another `t`, or `md`)."""
    text = _template(key)
    return format_markdown(text, params) if params else Markdown(text)


def t_plain(key: str, **params: Any) -> str:
    """`t` for places that show plain text (table cells, file names, code blocks)."""
    text = _template(key)
    return text.format(**params) if params else text


def field_label(field: str) -> str:
    base = field.rsplit(".", 1)[-1]
    labels = FIELD_LABELS.get(base)
    return (labels.get(language()) or labels["en"]) if labels else field


def problem_plain(problem: Problem) -> str:
    """A core Problem in the UI language, always naming the field and the fix (plain text)."""
    if language() == "zh-CN" and problem.code in PROBLEM_ZH:
        try:
            return PROBLEM_ZH[problem.code].format(
                field_label=field_label(problem.field), **problem.params
            )
        except KeyError:
            pass
    return f"{field_label(problem.field)}: {problem.reason} {problem.fix}"


def problem_text(problem: Problem) -> str:
    """`problem_plain` for Markdown: the user's own value, repeated in the reason, is data."""
    return md(problem_plain(problem))


#: Chinese wording of access refusals, by AccessRefused.code.
REFUSAL_ZH: dict[str, str] = {
    "reseller_cannot_attest": "间接经销商永远不能代为证明客户已接受 MCA。请在“邀请与请求 → 向我的间接提供商发送请求”中请间接提供商代为证明。",
    "role_cannot_attest": "您的角色无权证明；只有管理员代理和销售代理可以。请联系贵组织的管理员代理或销售代理，或改为核验客户状态。",
    "role_cannot_create": "您的角色无权创建客户。请联系管理员代理或销售代理。",
    "role_cannot_request_link": "您的角色无权获取经销商关系链接。请联系管理员代理或销售代理。",
    "role_cannot_audit": "您的角色无权查看审计日志。请向管理员代理索取所需记录。",
    "not_agent": "只有代理（管理员、销售或支持代理）可以执行此操作。请申请加入相应的安全组。",
    "not_reseller": "向间接提供商发送请求仅适用于间接经销商。您可以自行证明或向客户发送邀请。",
}


ROLE_ZH = {
    "admin_agent": "管理员代理",
    "sales_agent": "销售代理",
    "helpdesk_agent": "支持代理",
    "none": "无代理角色",
}
PARTNER_TYPE_ZH = {
    "direct_bill": "直接账单合作伙伴",
    "indirect_provider": "间接提供商",
    "indirect_reseller": "间接经销商",
}


def role_label(role: Role) -> str:
    return ROLE_ZH.get(role.value, role.label) if language() == "zh-CN" else role.label


def partner_type_label(partner_type: PartnerType) -> str:
    if language() == "zh-CN":
        return PARTNER_TYPE_ZH.get(partner_type.value, partner_type.label)
    return partner_type.label


def refusal_text(error: AccessRefused) -> str:
    """An access refusal in the UI language: why, and where to go instead."""
    if language() == "zh-CN" and error.code in REFUSAL_ZH:
        return REFUSAL_ZH[error.code]
    return f"{error.reason} {error.fix}"
