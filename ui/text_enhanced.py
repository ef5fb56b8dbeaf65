"""Strings of the enhanced attestation channel (Attest page path, pipeline cards, home page),
in English and Simplified Chinese, plus the Chinese problem texts of its new fields."""

from ui import i18n

i18n.register(
    {
        # --- the channel ----------------------------------------------------------------------
        "channel_label": {"en": "Attestation channel", "zh-CN": "证明渠道"},
        "channel_classic": {"en": "Classic", "zh-CN": "经典"},
        "channel_enhanced": {"en": "Enhanced", "zh-CN": "增强"},
        "channel_classic_help": {
            "en": "you confirm who accepted and when (App+User token). Microsoft deprecated this "
            "call from 2026-01-05.",
            "zh-CN": "由您确认接受人和接受日期（App+User 令牌）。Microsoft 已于 2026-01-05 起弃用此调用。",
        },
        "channel_enhanced_help": {
            "en": "you create an attestation, the customer accepts the MCA on Microsoft's page, "
            "then you create the agreement (App-only token).",
            "zh-CN": "您创建证明，客户在 Microsoft 页面上接受 MCA，然后您创建协议（仅应用令牌）。",
        },
        "channel_in_use": {
            "en": "**{label}: {channel}** — {help}",
            "zh-CN": "**{label}：{channel}** — {help}",
        },
        # --- the form -------------------------------------------------------------------------
        "enh_form_title": {
            "en": "Create the acceptance link",
            "zh-CN": "创建接受链接",
        },
        "enh_form_help": {
            "en": "The signer is the person at the customer who accepts the MCA. Company name and "
            "country start as Partner Center has them.",
            "zh-CN": "签署人是客户方接受 MCA 的人员。公司名称和国家/地区默认取自合作伙伴中心的记录。",
        },
        "enh_signer_first": {"en": "Signer's first name", "zh-CN": "签署人名"},
        "enh_signer_last": {"en": "Signer's last name", "zh-CN": "签署人姓"},
        "enh_signer_email": {"en": "Signer's email", "zh-CN": "签署人电子邮件"},
        "enh_signer_phone": {"en": "Signer's phone (optional)", "zh-CN": "签署人电话（可选）"},
        "enh_company": {"en": "Company name", "zh-CN": "公司名称"},
        "enh_country": {"en": "Country", "zh-CN": "国家/地区"},
        "enh_language": {"en": "Agreement language", "zh-CN": "协议语言"},
        "enh_language_help": {
            "en": "The language the customer reads the agreement in.",
            "zh-CN": "客户阅读协议所用的语言。",
        },
        "enh_create": {"en": "Create attestation and link", "zh-CN": "创建证明和链接"},
        "enh_new_link": {"en": "Create a new link", "zh-CN": "创建新链接"},
        "enh_new_link_help": {
            "en": "The link expired before the customer accepted. The form below is filled with "
            "the same details: create a new link and send it again.",
            "zh-CN": "链接在客户接受前已过期。下方表单已填入相同信息：请创建新链接并重新发送。",
        },
        # --- the attestation card -------------------------------------------------------------
        "enh_current": {"en": "Current attestation", "zh-CN": "当前证明"},
        "enh_state_creating": {
            "en": "⏳ Being created (the answer was not received: it is resumed)",
            "zh-CN": "⏳ 正在创建（尚未收到应答，将自动续传）",
        },
        "enh_state_link_sent": {
            "en": "🔗 Link sent — waiting for the customer",
            "zh-CN": "🔗 链接已发送 — 等待客户接受",
        },
        "enh_state_accepted": {
            "en": "✅ Customer accepted — ready to finalise",
            "zh-CN": "✅ 客户已接受 — 可以完成",
        },
        "enh_state_expired": {
            "en": "⌛ Link expired — send a new link",
            "zh-CN": "⌛ 链接已过期 — 请发送新链接",
        },
        "enh_state_agreement_created": {
            "en": "🏁 Agreement created",
            "zh-CN": "🏁 协议已创建",
        },
        "enh_state_failed": {
            "en": "⚠️ Partner Center refused the attestation",
            "zh-CN": "⚠️ 合作伙伴中心拒绝了该证明",
        },
        "enh_facts": {
            "en": "Attestation `{id}` · signer **{signer}** ({email}) · created {created} UTC by "
            "{who}",
            "zh-CN": "证明 `{id}` · 签署人 **{signer}**（{email}）· 由 {who} 创建于 {created}（UTC）",
        },
        "enh_valid_until": {
            "en": "The link is valid until **{when} UTC**.",
            "zh-CN": "链接有效期至 **{when}（UTC）**。",
        },
        "enh_link_caption": {
            "en": "Acceptance link (point at it: a copy button appears on its right):",
            "zh-CN": "接受链接（将鼠标移到链接上，右侧会出现复制按钮）：",
        },
        "enh_link_unreachable": {
            "en": "Embedded sandbox: no browser can open this link (the emulator runs inside the "
            "dashboard). Use **Play the customer** below, or run the standalone emulator "
            "(MCA_SANDBOX_URL).",
            "zh-CN": "内置沙盒：浏览器无法打开此链接（模拟器运行在工作台进程内）。请使用下方的“扮演客户”，"
            "或运行独立模拟器（MCA_SANDBOX_URL）。",
        },
        "enh_accepted_at": {
            "en": "The customer accepted on {when} UTC.",
            "zh-CN": "客户已于 {when}（UTC）接受。",
        },
        "enh_finalised_at": {
            "en": "Agreement created on {when} UTC by {who}.",
            "zh-CN": "协议已由 {who} 于 {when}（UTC）创建。",
        },
        "enh_last_error": {"en": "Last answer: {error}", "zh-CN": "最近一次应答：{error}"},
        "enh_check_status": {"en": "Check status", "zh-CN": "检查状态"},
        "enh_finalise": {"en": "Finalise: create the agreement", "zh-CN": "完成：创建协议"},
        "enh_play_customer": {
            "en": "Play the customer: accept (sandbox only)",
            "zh-CN": "扮演客户：接受协议（仅限沙盒）",
        },
        "enh_send_invitation": {"en": "Send invitation", "zh-CN": "发送邀请"},
        "enh_invite_to": {"en": "To", "zh-CN": "收件人"},
        "enh_invite_locale": {"en": "Email language", "zh-CN": "邮件语言"},
        "enh_invite_prepare": {"en": "Prepare the email", "zh-CN": "生成邮件"},
        "enh_invite_open": {"en": "Open in my mail program", "zh-CN": "在邮件程序中打开"},
        "enh_invite_eml": {"en": "Download .eml", "zh-CN": "下载 .eml"},
        "enh_invite_too_long": {
            "en": "Too long for a mail link: download the .eml and open it instead.",
            "zh-CN": "内容过长，无法用邮件链接打开：请下载 .eml 文件后打开。",
        },
        "enh_older": {"en": "Earlier attestations ({n})", "zh-CN": "更早的证明（{n}）"},
        "enh_another": {
            "en": "Create another attestation (a different signer)",
            "zh-CN": "创建另一份证明（其他签署人）",
        },
        # --- outcomes -------------------------------------------------------------------------
        "enh_link_created": {
            "en": "Attestation created: send the customer the acceptance link. "
            "MS-RequestId `{rid}`",
            "zh-CN": "证明已创建：请将接受链接发送给客户。MS-RequestId `{rid}`",
        },
        "enh_link_reused": {
            "en": "This attestation already exists and its link is still valid: nothing new was "
            "created.",
            "zh-CN": "该证明已存在且链接仍然有效：未创建新的证明。",
        },
        "enh_already_accepted": {
            "en": "The customer already accepted this attestation: finalise it.",
            "zh-CN": "客户已接受此证明：请完成创建协议。",
        },
        "enh_already_attested": {
            "en": "An agreement with these signer details already exists: nothing new was created.",
            "zh-CN": "已存在相同签署人信息的协议：未创建新的记录。",
        },
        "enh_finalised": {
            "en": "Agreement created: the customer's MCA acceptance is recorded. "
            "MS-RequestId `{rid}`",
            "zh-CN": "协议已创建：客户的 MCA 接受已记录。MS-RequestId `{rid}`",
        },
        "enh_finalised_already": {
            "en": "The agreement already exists: nothing new was stored.",
            "zh-CN": "协议已存在：未存储新的记录。",
        },
        "enh_not_accepted": {
            "en": "The customer has not accepted yet: nothing was created and the attestation is "
            "kept. Finalise again once they have accepted.",
            "zh-CN": "客户尚未接受：未创建任何内容，证明已保留。请在客户接受后再次完成。",
        },
        "enh_expired": {
            "en": "The link expired before the customer accepted: create a new link and send it.",
            "zh-CN": "链接在客户接受前已过期：请创建新链接并发送。",
        },
        "enh_refreshed": {
            "en": "Checked {checked} attestation(s): {changed} changed.",
            "zh-CN": "已检查 {checked} 份证明：{changed} 份有变化。",
        },
        "enh_no_status_read": {
            "en": "Partner Center offers no status read for attestations: use **Finalise** to "
            "learn whether the customer accepted.",
            "zh-CN": "合作伙伴中心不提供证明状态查询：请使用“完成”来确认客户是否已接受。",
        },
        "enh_played": {
            "en": "Sandbox: the customer accepted the agreement.",
            "zh-CN": "沙盒：客户已接受协议。",
        },
        "enh_played_expired": {
            "en": "Sandbox: the link has expired; the customer can no longer accept it.",
            "zh-CN": "沙盒：链接已过期，客户无法再接受。",
        },
        "enh_pick_first": {
            "en": "Choose a customer to see its attestations and create the acceptance link.",
            "zh-CN": "请选择客户，以查看其证明并创建接受链接。",
        },
        "enh_bulk_note": {
            "en": "This installation attests through the enhanced channel. Bulk attestation "
            "uses the classic call, which Microsoft deprecated from 2026-01-05 and may refuse.",
            "zh-CN": "本系统使用增强渠道进行证明。批量证明使用经典调用，Microsoft 已于 2026-01-05 起弃用，可能会被拒绝。",
        },
        "enh_new_customer_note": {
            "en": "With the enhanced channel the customer accepts on Microsoft's page: after "
            "creating the customer, create its acceptance link on the Existing customer tab.",
            "zh-CN": "使用增强渠道时，客户需在 Microsoft 页面上接受：创建客户后，请在“现有客户”选项卡中创建接受链接。",
        },
        "enh_open_link_tab": {
            "en": "Create the acceptance link",
            "zh-CN": "创建接受链接",
        },
        # --- agreement languages --------------------------------------------------------------
        "lang_en": {"en": "English", "zh-CN": "英语"},
        "lang_zh-CN": {"en": "Chinese (Simplified)", "zh-CN": "简体中文"},
        "lang_zh-TW": {"en": "Chinese (Traditional)", "zh-CN": "繁体中文"},
        "lang_ja": {"en": "Japanese", "zh-CN": "日语"},
        "lang_ko": {"en": "Korean", "zh-CN": "韩语"},
        "lang_de": {"en": "German", "zh-CN": "德语"},
        "lang_fr": {"en": "French", "zh-CN": "法语"},
        "lang_es": {"en": "Spanish", "zh-CN": "西班牙语"},
        "lang_it": {"en": "Italian", "zh-CN": "意大利语"},
        "lang_pt-BR": {"en": "Portuguese (Brazil)", "zh-CN": "葡萄牙语（巴西）"},
        "lang_nl": {"en": "Dutch", "zh-CN": "荷兰语"},
        "lang_sv": {"en": "Swedish", "zh-CN": "瑞典语"},
        "lang_da": {"en": "Danish", "zh-CN": "丹麦语"},
        "lang_nb": {"en": "Norwegian", "zh-CN": "挪威语"},
        "lang_fi": {"en": "Finnish", "zh-CN": "芬兰语"},
        "lang_pl": {"en": "Polish", "zh-CN": "波兰语"},
        "lang_cs": {"en": "Czech", "zh-CN": "捷克语"},
        "lang_tr": {"en": "Turkish", "zh-CN": "土耳其语"},
        "lang_ru": {"en": "Russian", "zh-CN": "俄语"},
        # --- the pipeline ---------------------------------------------------------------------
        "pipe_title": {"en": "Enhanced attestation pipeline", "zh-CN": "增强证明进度"},
        "pipe_caption": {
            "en": "Per customer: MCA required → link sent → customer accepted → agreement "
            "created; expired links need a new link.",
            "zh-CN": "按客户：需要 MCA → 链接已发送 → 客户已接受 → 协议已创建；已过期的链接需要重新发送。",
        },
        "pipe_required": {"en": "MCA required", "zh-CN": "需要 MCA"},
        "pipe_pending": {"en": "Links pending", "zh-CN": "待接受链接"},
        "pipe_expired": {"en": "Expired links", "zh-CN": "已过期链接"},
        "pipe_ready": {"en": "Ready to finalise", "zh-CN": "可完成"},
        "pipe_done": {"en": "Agreements created", "zh-CN": "已创建协议"},
        "pipe_required_help": {
            "en": "Not accepted at the last sync and no attestation started.",
            "zh-CN": "上次同步时未接受，且尚未开始证明。",
        },
        "pipe_no_sync": {
            "en": "No synced customer list: “MCA required” counts only refused attestations.",
            "zh-CN": "尚无已同步的客户列表：“需要 MCA”仅统计被拒绝的证明。",
        },
        "pipe_work_list": {"en": "Work list", "zh-CN": "待办列表"},
        "pipe_empty": {
            "en": "Nothing to do: no customer waits in the pipeline.",
            "zh-CN": "没有待办事项：进度中没有等待处理的客户。",
        },
        "pipe_stage_required": {"en": "MCA required", "zh-CN": "需要 MCA"},
        "pipe_stage_pending": {"en": "Link sent", "zh-CN": "链接已发送"},
        "pipe_stage_expired": {"en": "Link expired", "zh-CN": "链接已过期"},
        "pipe_stage_ready": {"en": "Ready to finalise", "zh-CN": "可完成"},
        "pipe_stage_done": {"en": "Agreement created", "zh-CN": "协议已创建"},
        "pipe_col_stage": {"en": "Stage", "zh-CN": "阶段"},
        "pipe_col_company": {"en": "Company", "zh-CN": "公司"},
        "pipe_col_domain": {"en": "Domain", "zh-CN": "域名"},
        "pipe_col_signer": {"en": "Signer", "zh-CN": "签署人"},
        "pipe_col_expires": {"en": "Link valid until (UTC)", "zh-CN": "链接有效期至（UTC）"},
        "pipe_pick": {
            "en": "Select a row to work on that customer.",
            "zh-CN": "选择一行即可处理该客户。",
        },
        "pipe_open_label": {"en": "Open on the Attest page", "zh-CN": "在证明页面中打开"},
        "pipe_shown": {
            "en": "Showing {shown:,} of {total:,} customers to work on.",
            "zh-CN": "显示 {shown:,} / {total:,} 个待处理客户。",
        },
        "pipe_refresh": {"en": "Check link statuses", "zh-CN": "检查链接状态"},
        # --- audit labels ---------------------------------------------------------------------
        "action_attest_enhanced": {"en": "create attestation link", "zh-CN": "创建证明链接"},
        "action_finalise": {"en": "finalise agreement", "zh-CN": "完成协议"},
        "action_enhanced_refresh": {"en": "check link statuses", "zh-CN": "检查链接状态"},
        "outcome_link_created": {"en": "link created", "zh-CN": "已创建链接"},
        "outcome_link_reused": {"en": "link reused", "zh-CN": "沿用链接"},
        "outcome_already_accepted": {"en": "already accepted", "zh-CN": "已接受"},
        "outcome_not_accepted": {"en": "not accepted yet", "zh-CN": "尚未接受"},
        "outcome_expired": {"en": "link expired", "zh-CN": "链接已过期"},
        "outcome_refreshed": {"en": "refreshed", "zh-CN": "已刷新"},
        "outcome_partly_failed": {"en": "partly failed", "zh-CN": "部分失败"},
    }
)

for _field, _labels in {
    "company_name": {"en": "Company name", "zh-CN": "公司名称"},
    "language": {"en": "Agreement language", "zh-CN": "协议语言"},
    "attestation": {"en": "Attestation", "zh-CN": "证明"},
    "attestation_id": {"en": "Attestation id", "zh-CN": "证明 ID"},
}.items():
    i18n.FIELD_LABELS.setdefault(_field, _labels)
i18n.PROBLEM_ZH.update(
    {
        "bad_language": "{field_label}：“{value}”不是语言标记。请使用 en、zh-CN、de 或 pt-BR 这样的标记。",
        "no_attestation": "{field_label}：工作台中没有该客户未完成的增强证明。请先创建证明（接受链接）。",
        "unknown_attestation": "{field_label}：工作台中没有证明 {value}。",
        "link_not_sendable": "{field_label}：此证明的链接无法发送（状态：{state}）。如已过期，请创建新链接。",
    }
)
