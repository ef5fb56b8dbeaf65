"""Strings of the invitations page (English, Simplified Chinese), and the Chinese wording of
the problems `mca_core.invitations` can raise (by Problem.code), with their field labels."""

from ui.i18n import FIELD_LABELS, PROBLEM_ZH, register

register(
    {
        "inv_caption": {
            "en": "Write the emails that get a customer's MCA accepted, review and edit them, then "
            "hand them to your mail program. Nothing is sent from here.",
            "zh-CN": "撰写促使客户接受 MCA 的邮件，检查并编辑后交给您的邮件程序发送。本页面不会直接发送任何邮件。",
        },
        "inv_gen_provider": {
            "en": "Request to my indirect provider",
            "zh-CN": "向我的间接提供商发送请求",
        },
        "inv_gen_invite": {"en": "Invite to accept the MCA", "zh-CN": "邀请客户接受 MCA"},
        "inv_gen_reseller": {"en": "Reseller relationship request", "zh-CN": "经销商关系请求"},
        "inv_gen_provider_help": {
            "en": "Indirect resellers cannot attest. Ask **{provider}** to attest for a customer who "
            "has accepted, or to send its relationship link for a customer who has not.",
            "zh-CN": "间接经销商无法自行证明。请 **{provider}** 为已接受的客户代为证明，"
            "或为尚未接受的客户发送其经销商关系链接。",
        },
        "inv_gen_invite_help": {
            "en": "The customer accepts the MCA itself in the Microsoft 365 admin center. A new "
            "customer also needs the sign-in name and temporary password saved when it was "
            "created.",
            "zh-CN": "客户在 Microsoft 365 管理中心自行接受 MCA。新客户还需要创建时保存的登录名和临时密码。",
        },
        "inv_gen_reseller_help": {
            "en": "Your personalised link from Partner Center. Only the customer's Global admin can "
            "accept it; accepting the reseller relationship also accepts the MCA.",
            "zh-CN": "来自合作伙伴中心的专属链接。只有客户的全局管理员可以接受；接受经销商关系即同时接受 MCA。",
        },
        "inv_none_available": {
            "en": "Your role may not write invitations. Ask an Admin agent or a Sales agent.",
            "zh-CN": "您的角色无权撰写邀请邮件。请联系管理员代理或销售代理。",
        },
        "inv_provider_unknown": {"en": "your indirect provider", "zh-CN": "您的间接提供商"},
        "inv_no_snapshot": {
            "en": "No synced customer list yet: type the customer's tenant id or domain, or sync "
            "the list from Partner Center for a type-ahead.",
            "zh-CN": "尚无已同步的客户列表：请直接输入客户的租户 ID 或域名，或从合作伙伴中心同步列表以便搜索。",
        },
        "inv_customer": {"en": "Customer", "zh-CN": "客户"},
        "inv_customer_optional": {"en": "Customer (optional)", "zh-CN": "客户（可选）"},
        "inv_customer_placeholder": {
            "en": "Type a name, domain or tenant id",
            "zh-CN": "输入名称、域名或租户 ID",
        },
        "inv_company": {
            "en": "Company name to greet (when it is not a customer yet)",
            "zh-CN": "称呼的公司名称（尚不是客户时填写）",
        },
        "inv_to": {"en": "Recipient (optional)", "zh-CN": "收件人（可选）"},
        "inv_to_help": {
            "en": "Leave it empty to choose the recipient in your mail program.",
            "zh-CN": "留空则在邮件程序中再填写收件人。",
        },
        "inv_to_provider": {
            "en": "Your provider's address (optional)",
            "zh-CN": "提供商的邮箱地址（可选）",
        },
        "inv_locale": {"en": "Email language", "zh-CN": "邮件语言"},
        "inv_locale_help": {
            "en": "The recipient's language, whatever language this screen is in.",
            "zh-CN": "按收件人的语言选择，与本界面的语言无关。",
        },
        "inv_mode": {"en": "Which customer", "zh-CN": "客户类型"},
        "inv_mode_existing": {"en": "Existing customer", "zh-CN": "现有客户"},
        "inv_mode_new": {
            "en": "New customer (with the first admin's sign-in)",
            "zh-CN": "新客户（附首个管理员的登录信息）",
        },
        "inv_user_name": {"en": "Sign-in name", "zh-CN": "登录名"},
        "inv_user_name_help": {
            "en": "As saved when the customer was created, e.g. admin@contoso.onmicrosoft.com.",
            "zh-CN": "创建客户时保存的登录名，例如 admin@contoso.onmicrosoft.com。",
        },
        "inv_password": {"en": "Temporary password", "zh-CN": "临时密码"},
        "inv_password_help": {
            "en": "Shown once when the customer was created. It goes into the email body only: it is "
            "never stored or logged, and leaves this page when you click Done or go elsewhere.",
            "zh-CN": "创建客户时仅显示一次。它只会写入邮件正文，不会被保存或记录；"
            "点击“完成”或离开本页面后即被清除。",
        },
        "inv_prefilled": {
            "en": "Prefilled from the new customer **{company}**. The password stays on this page "
            "only, until you click Done or leave the page.",
            "zh-CN": "已根据新客户 **{company}** 预先填写。密码只保留在本页面，点击“完成”或离开页面后即被清除。",
        },
        "inv_password_gone": {
            "en": "The temporary password is no longer on this page (you left it or clicked Done). "
            "Type it again and write the email again.",
            "zh-CN": "临时密码已不在本页面（您离开了页面或点击了“完成”）。请重新输入密码并重新生成邮件。",
        },
        "inv_reseller_pick": {
            "en": "On behalf of an indirect reseller (optional)",
            "zh-CN": "代表间接经销商（可选）",
        },
        "inv_reseller_none": {"en": "No — your own link", "zh-CN": "否 — 使用您自己的链接"},
        "inv_reseller_placeholder": {
            "en": "Choose a reseller or paste its tenant id",
            "zh-CN": "选择经销商或粘贴其租户 ID",
        },
        "inv_reseller_link_note": {
            "en": "Your link names **{provider}** as your indirect provider.",
            "zh-CN": "您的链接会注明 **{provider}** 为您的间接提供商。",
        },
        "inv_ask": {"en": "What to ask", "zh-CN": "请求内容"},
        "inv_ask_attest": {
            "en": "Attest: the customer has accepted",
            "zh-CN": "代为证明：客户已接受",
        },
        "inv_ask_link": {
            "en": "Send the relationship link: not accepted yet",
            "zh-CN": "发送经销商关系链接：客户尚未接受",
        },
        "inv_contact": {
            "en": "Who accepted at the customer",
            "zh-CN": "客户方的接受人",
        },
        "inv_first_name": {"en": "First name", "zh-CN": "名"},
        "inv_last_name": {"en": "Last name", "zh-CN": "姓"},
        "inv_contact_email": {"en": "Email", "zh-CN": "电子邮件"},
        "inv_contact_phone": {"en": "Phone (optional)", "zh-CN": "电话（可选）"},
        "inv_date": {"en": "Date of acceptance (UTC)", "zh-CN": "接受日期（UTC）"},
        "inv_generate": {"en": "Write the email", "zh-CN": "生成邮件"},
        "inv_generated": {
            "en": "Email written and recorded in the audit log. Review it below.",
            "zh-CN": "邮件已生成并记入审计日志。请在下方检查。",
        },
        "inv_review": {"en": "Review, edit and send", "zh-CN": "检查、编辑并发送"},
        "inv_subject": {"en": "Subject", "zh-CN": "主题"},
        "inv_body": {"en": "Body", "zh-CN": "正文"},
        "inv_body_help": {
            "en": "Edit freely, but keep the link: the customer needs it.",
            "zh-CN": "可以自由编辑，但请保留链接：客户需要用它。",
        },
        "inv_preview": {"en": "Preview", "zh-CN": "预览"},
        "inv_reveal": {"en": "Show the password", "zh-CN": "显示密码"},
        "inv_password_removed": {
            "en": "The password is no longer in the body: give it to the customer another way "
            "(e.g. by phone).",
            "zh-CN": "正文中已没有密码：请通过其他方式（例如电话）告知客户。",
        },
        "inv_send": {"en": "Send it", "zh-CN": "发送"},
        "inv_download": {"en": "Download .eml", "zh-CN": "下载 .eml 文件"},
        "inv_download_help": {
            "en": "Opens in Outlook, Thunderbird or Apple Mail as a draft, ready to send.",
            "zh-CN": "可在 Outlook、Thunderbird 或 Apple Mail 中作为草稿打开，直接发送。",
        },
        "inv_open_in_email": {"en": "Open in email", "zh-CN": "在邮件程序中打开"},
        "inv_mailto_too_long": {
            "en": "This email is too long for an “open in email” link (mail programs accept about "
            "{max:,} characters). Download the .eml instead.",
            "zh-CN": "此邮件太长，无法通过“在邮件程序中打开”链接传递（邮件程序大约只接受 {max:,} 个字符）。"
            "请改为下载 .eml 文件。",
        },
        "inv_copy": {
            "en": "Or copy the subject and the body (copy button at the top right of each box):",
            "zh-CN": "也可以复制主题和正文（点击各框右上角的复制按钮）：",
        },
        "inv_copy_masked": {
            "en": "The password shows as dots here: switch on “Show the password” to copy the body "
            "with it. The download and the email link carry it.",
            "zh-CN": "此处密码以圆点显示：打开“显示密码”后再复制正文即可包含密码。下载文件和邮件链接中已包含密码。",
        },
        "inv_restore": {"en": "Put the written text back", "zh-CN": "恢复生成的正文"},
        "inv_not_ready": {
            "en": "Fix the body above to send it.",
            "zh-CN": "请先修正上方的正文，然后再发送。",
        },
        "inv_done": {"en": "Done", "zh-CN": "完成"},
        "inv_recipient_outside": {
            "en": "**Check the recipient.** {to} is not at a domain of **{company}** "
            "({domains}). Make sure this customer's data goes to the right person before you "
            "download or open the email.",
            "zh-CN": "**请核对收件人。** {to} 不属于 **{company}** 的任何域名（{domains}）。"
            "下载或打开邮件前，请确认该客户的信息会发送给正确的人。",
        },
        "inv_already_accepted": {
            "en": "**{company} has already accepted the MCA** ({how}, as of the last sync "
            "{when} UTC): orders are not blocked. An invitation is only needed if this is out "
            "of date.",
            "zh-CN": "**{company} 已接受 MCA**（{how}，以 UTC {when} 的最近一次同步为准）：下单不会受阻。"
            "只有在该信息已过时的情况下才需要发送邀请。",
        },
        "inv_accepted_attested": {"en": "attested on {date}", "zh-CN": "已于 {date} 证明"},
        "inv_accepted_direct": {
            "en": "accepted directly in the Microsoft 365 admin center",
            "zh-CN": "已在 Microsoft 365 管理中心直接接受",
        },
        "inv_done_help": {
            "en": "Clears this email and the password from the page.",
            "zh-CN": "从本页面清除此邮件和密码。",
        },
        "inv_pc_error": {
            "en": "Partner Center could not answer: {error}",
            "zh-CN": "合作伙伴中心未能完成请求：{error}",
        },
        "inv_failed": {
            "en": "The email could not be written: {error}",
            "zh-CN": "无法生成邮件：{error}",
        },
    }
)

for _field, _labels in {
    "to": {"en": "Recipient", "zh-CN": "收件人"},
    "locale": {"en": "Email language", "zh-CN": "邮件语言"},
    "user_name": {"en": "Sign-in name", "zh-CN": "登录名"},
    "password": {"en": "Temporary password", "zh-CN": "临时密码"},
    "body": {"en": "Body", "zh-CN": "正文"},
    "indirect_reseller_id": {"en": "Indirect reseller", "zh-CN": "间接经销商"},
    "ask": {"en": "What to ask", "zh-CN": "请求内容"},
}.items():
    FIELD_LABELS.setdefault(_field, _labels)

for _code, _text in {
    "link_removed": "{field_label}：正文中已没有客户需要的链接 {link}。请把链接原样放回（或重新生成邮件）后再发送。",
    "bad_locale": "{field_label}：邮件只能使用以下语言之一：{choices}。",
    "bad_user_name": "{field_label}：登录名中不能有空格。请复制创建客户时保存的登录名，例如 admin@contoso.onmicrosoft.com。",
    "bad_password": "{field_label}：包含换行或过长，请重新粘贴密码。",
    "bad_reseller_id": "{field_label}：“{value}”不是间接经销商的租户 ID（GUID）。请从列表中选择，或粘贴其租户 ID。",
    "reseller_not_allowed": "{field_label}：您的合作伙伴类型不能代表间接经销商，请留空。",
    "bad_ask": "{field_label}：请选择“代为证明”或“发送经销商关系链接”。",
}.items():
    PROBLEM_ZH.setdefault(_code, _text)
