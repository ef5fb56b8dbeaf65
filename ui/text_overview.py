"""Strings of the overview page (English, Simplified Chinese)."""

from ui.i18n import register

register(
    {
        "overview_title": {"en": "Acceptance overview", "zh-CN": "接受情况总览"},
        "overview_caption": {
            "en": "Where every customer stands on the Microsoft Customer Agreement. Read from the "
            "latest sync: opening this page never calls Partner Center.",
            "zh-CN": "每位客户的 Microsoft 客户协议接受情况。数据来自最近一次同步：打开本页面不会调用合作伙伴中心。",
        },
        "overview_synced": {
            "en": "Data synced **{when} UTC** by **{who}** ({mode}, {calls:,} API calls).",
            "zh-CN": "数据由 **{who}** 于 **{when}（UTC）** 同步（{mode}，{calls:,} 次 API 调用）。",
        },
        "overview_written_through": {
            "en": "Includes work done on this desk since the sync ({n:,} change(s): attestations, "
            "finalised agreements, new customers), applied at once. The next sync reads them "
            "from Partner Center again.",
            "zh-CN": "已包含同步后在本工作台完成的操作（{n:,} 项变更：证明、已完成的协议、新客户），"
            "这些变更已立即生效。下次同步时会重新从合作伙伴中心读取。",
        },
        "kpi_by_attestation": {"en": "By partner attestation", "zh-CN": "经合作伙伴证明"},
        "kpi_directly": {"en": "Accepted directly", "zh-CN": "客户直接接受"},
        "kpi_both": {"en": "Both", "zh-CN": "两者皆有"},
        "kpi_both_help": {
            "en": "Attested AND accepted directly. Known only after a full sync (the default sync "
            "stops at the first evidence).",
            "zh-CN": "既有合作伙伴证明、又由客户直接接受。仅在完整同步后可知（默认同步找到首个证据即停止）。",
        },
        "kpi_unknown": {"en": "Could not be read", "zh-CN": "无法读取"},
        "kpi_at_risk": {"en": "At risk: orders refused", "zh-CN": "风险：订单将被拒"},
        "kpi_at_risk_help": {
            "en": "Customers with neither an attestation nor direct acceptance: Partner Center "
            "refuses their orders (403, code 13605).",
            "zh-CN": "既没有合作伙伴证明、也没有直接接受的客户：合作伙伴中心会拒绝其订单（403，代码 13605）。",
        },
        "kpi_delta_help": {
            "en": "Change since the previous sync.",
            "zh-CN": "与上一次同步相比的变化。",
        },
        "filters": {"en": "Filters", "zh-CN": "筛选"},
        "filter_status": {"en": "Status", "zh-CN": "状态"},
        "filter_any": {"en": "Any", "zh-CN": "全部"},
        "filter_reseller": {"en": "Indirect reseller", "zh-CN": "间接经销商"},
        "filter_country": {"en": "Country", "zh-CN": "国家/地区"},
        "filter_dates": {
            "en": "Newest attestation between (UTC)",
            "zh-CN": "最近证明日期范围（UTC）",
        },
        "filter_text": {
            "en": "Search name, domain or tenant id",
            "zh-CN": "搜索名称、域名或租户 ID",
        },
        "filter_text_placeholder": {"en": "e.g. contoso", "zh-CN": "例如 contoso"},
        "filter_showing": {
            "en": "{shown:,} of {total:,} customers match the filters.",
            "zh-CN": "共 {total:,} 个客户，其中 {shown:,} 个符合筛选条件。",
        },
        "status_attested": {"en": "Attested by partner", "zh-CN": "合作伙伴已证明"},
        "status_direct": {"en": "Accepted directly", "zh-CN": "客户已直接接受"},
        "status_both": {"en": "Both", "zh-CN": "两者皆有"},
        "status_not_accepted": {"en": "Not accepted", "zh-CN": "未接受"},
        "status_unknown": {"en": "Could not be read", "zh-CN": "无法读取"},
        "chart_breakdown": {"en": "Acceptance breakdown", "zh-CN": "接受情况构成"},
        "chart_per_month": {
            "en": "Customers by month of their newest attestation",
            "zh-CN": "按最近一次证明月份统计的客户数",
        },
        "chart_over_time": {"en": "Acceptance rate over time", "zh-CN": "接受率变化趋势"},
        "chart_over_time_empty": {
            "en": "The trend appears after two complete syncs.",
            "zh-CN": "完成两次同步后将显示趋势。",
        },
        "chart_by_reseller": {
            "en": "Not accepted, by indirect reseller",
            "zh-CN": "未接受客户（按间接经销商）",
        },
        "chart_by_country": {
            "en": "Not accepted, by country",
            "zh-CN": "未接受客户（按国家/地区）",
        },
        "chart_per_agent": {
            "en": "Attestations per agent (made through this desk)",
            "zh-CN": "各代理人完成的证明数（通过本工作台）",
        },
        "chart_empty": {
            "en": "Nothing to show for these filters.",
            "zh-CN": "当前筛选条件下没有数据。",
        },
        "axis_customers": {"en": "Customers", "zh-CN": "客户数"},
        "axis_month": {"en": "Month", "zh-CN": "月份"},
        "axis_rate": {"en": "Acceptance rate", "zh-CN": "接受率"},
        "axis_agent": {"en": "Agent", "zh-CN": "代理人"},
        "axis_attestations": {"en": "Attestations", "zh-CN": "证明数"},
        "axis_synced": {"en": "Synced (UTC)", "zh-CN": "同步时间（UTC）"},
        "table_title": {"en": "Customers", "zh-CN": "客户列表"},
        "table_truncated": {
            "en": "Showing the first {shown:,} of {total:,} rows; narrow the filters or download "
            "the full table.",
            "zh-CN": "仅显示前 {shown:,} 行（共 {total:,} 行）；请缩小筛选范围或下载完整表格。",
        },
        "col_company": {"en": "Company", "zh-CN": "公司"},
        "col_domain": {"en": "Domain", "zh-CN": "域名"},
        "col_status": {"en": "Status", "zh-CN": "状态"},
        "col_country": {"en": "Country", "zh-CN": "国家/地区"},
        "col_reseller": {"en": "Indirect reseller", "zh-CN": "间接经销商"},
        "col_latest": {"en": "Newest attestation (UTC)", "zh-CN": "最近证明（UTC）"},
        "col_contact": {"en": "Accepted by", "zh-CN": "接受人"},
        "col_verify": {"en": "Verify", "zh-CN": "核验"},
        "col_attest": {"en": "Attest", "zh-CN": "证明"},
        "col_invite": {"en": "Invite", "zh-CN": "邀请"},
        "download_csv": {"en": "Download CSV", "zh-CN": "下载 CSV"},
        "download_xlsx": {"en": "Download Excel", "zh-CN": "下载 Excel"},
        "mode_default": {"en": "first evidence", "zh-CN": "找到首个证据即停止"},
        "mode_full": {"en": "full", "zh-CN": "完整"},
    }
)
