"""Strings of the Attest, Verify and Audit pages (English, Simplified Chinese), plus the field
labels and Chinese problem texts of the fields these pages add (new customer, bulk file)."""

from ui import i18n

i18n.register(
    {
        # --- shared ---------------------------------------------------------------------------
        "attest_title": {"en": "Attest acceptance", "zh-CN": "证明客户接受"},
        "verify_title": {"en": "Verify a customer", "zh-CN": "核验客户"},
        "audit_title": {"en": "Audit log", "zh-CN": "审计日志"},
        "at_working": {"en": "Asking Partner Center…", "zh-CN": "正在请求合作伙伴中心…"},
        "at_yes": {"en": "Yes", "zh-CN": "是"},
        "at_no": {"en": "No", "zh-CN": "否"},
        "at_fix_these": {"en": "Please fix the following:", "zh-CN": "请更正以下内容："},
        "pc_failed": {"en": "Partner Center: {message}", "zh-CN": "合作伙伴中心：{message}"},
        "code_is": {"en": "code {code}", "zh-CN": "代码 {code}"},
        "request_id_is": {
            "en": "MS-RequestId: `{rid}` (quote it to Microsoft support)",
            "zh-CN": "MS-RequestId：`{rid}`（联系 Microsoft 支持时请提供）",
        },
        "page_not_yet": {"en": "this page is not available yet", "zh-CN": "该页面暂不可用"},
        "go_provider_request": {
            "en": "Write to your indirect provider (Invitations → Request to my indirect provider)",
            "zh-CN": "写信给您的间接提供商（邀请 → 向我的间接提供商发送请求）",
        },
        "go_verify": {"en": "Verify a customer's status instead", "zh-CN": "改为核验客户状态"},
        "no_synced_list": {
            "en": "No synced customer list yet: type a tenant id or a domain below, or sync the "
            "customers from Partner Center for a searchable list.",
            "zh-CN": "尚无已同步的客户列表：可在下方直接输入租户 ID 或域名，或从合作伙伴中心同步客户以便搜索。",
        },
        "list_synced": {
            "en": "Customer list: {count:,} customers, synced {when} UTC.",
            "zh-CN": "客户列表：{count:,} 个客户，同步于 {when}（UTC）。",
        },
        "customer_pick": {"en": "Customer", "zh-CN": "客户"},
        "customer_placeholder": {
            "en": "Type a name, domain or tenant id…",
            "zh-CN": "输入名称、域名或租户 ID…",
        },
        "customer_no_match": {
            "en": "No synced customer matches “{typed}”, and it is neither a tenant id nor a "
            "domain. Pick a customer from the list, or type its tenant id or domain.",
            "zh-CN": "没有与“{typed}”匹配的已同步客户，且它既不是租户 ID 也不是域名。请从列表中选择客户，"
            "或输入其租户 ID 或域名。",
        },
        "customer_pick_help": {
            "en": "Searches the synced list. A tenant id or domain that is not in the list can be "
            "typed as well: Partner Center is asked.",
            "zh-CN": "在已同步的列表中搜索。也可以输入列表中没有的租户 ID 或域名，系统会向合作伙伴中心查询。",
        },
        "verdict_accepted": {
            "en": "**Accepted** — the customer can order.",
            "zh-CN": "**已接受** — 可以为该客户下单。",
        },
        "verdict_not_accepted": {
            "en": "**Not accepted** — orders will be refused (403, code 13605) until the MCA is "
            "attested or accepted directly.",
            "zh-CN": "**未接受** — 在证明或客户直接接受 MCA 之前，订单将被拒绝（403，代码 13605）。",
        },
        "m_attestations": {"en": "MCA attestations", "zh-CN": "MCA 证明记录"},
        "m_direct": {"en": "Direct acceptance", "zh-CN": "客户直接接受"},
        "m_latest": {"en": "Latest agreement date (UTC)", "zh-CN": "最近接受日期（UTC）"},
        "pc_user": {"en": "Partner Center user {user}", "zh-CN": "合作伙伴中心用户 {user}"},
        "col_date_agreed": {"en": "Acceptance date (UTC)", "zh-CN": "接受日期（UTC）"},
        "col_contact": {"en": "Accepted by", "zh-CN": "接受人"},
        "col_email": {"en": "Email", "zh-CN": "电子邮件"},
        "col_phone": {"en": "Phone", "zh-CN": "电话"},
        "col_attested_by": {"en": "Attested by", "zh-CN": "证明人"},
        "col_attested_at": {"en": "Attested at (UTC)", "zh-CN": "证明时间（UTC）"},
        "col_template": {"en": "Template", "zh-CN": "模板"},
        "col_line": {"en": "Line", "zh-CN": "行号"},
        "col_state": {"en": "Check", "zh-CN": "检查结果"},
        "col_customer": {"en": "Customer", "zh-CN": "客户"},
        "col_problems": {"en": "Problems", "zh-CN": "问题"},
        "col_outcome": {"en": "Outcome", "zh-CN": "结果"},
        "col_message": {"en": "Details", "zh-CN": "详情"},
        "col_request_id": {"en": "MS-RequestId", "zh-CN": "MS-RequestId"},
        "col_company": {"en": "Company", "zh-CN": "公司"},
        "col_domain": {"en": "Domain", "zh-CN": "域名"},
        "col_country": {"en": "Country", "zh-CN": "国家/地区"},
        "col_action": {"en": "Action", "zh-CN": "操作"},
        "at_first_name": {"en": "First name", "zh-CN": "名"},
        "at_last_name": {"en": "Last name", "zh-CN": "姓"},
        "at_email": {"en": "Email", "zh-CN": "电子邮件"},
        "at_phone_optional": {"en": "Phone (optional)", "zh-CN": "电话（可选）"},
        "at_date_agreed": {"en": "Acceptance date (UTC)", "zh-CN": "接受日期（UTC）"},
        "at_date_format_help": {
            "en": "YYYY-MM-DD, not later than today in UTC.",
            "zh-CN": "格式 YYYY-MM-DD，不得晚于 UTC 时间的今天。",
        },
        "utc_rule": {
            "en": "Partner Center judges the date in UTC: today in UTC is **{today}**. A later date "
            "is refused before anything is sent.",
            "zh-CN": "合作伙伴中心按 UTC 判断日期：UTC 时间的今天是 **{today}**。晚于该日期将在发送前被拒绝。",
        },
        # --- Attest: tabs ----------------------------------------------------------------------
        "attest_intro": {
            "en": "Confirm that a customer accepted the Microsoft Customer Agreement, as Partner "
            "Center's attestation does. Only Admin agents and Sales agents may attest; every "
            "attempt is written to the audit log.",
            "zh-CN": "按照合作伙伴中心的证明流程，确认客户已接受 Microsoft 客户协议。只有管理员代理和销售代理可以证明；"
            "每次操作都会记入审计日志。",
        },
        "tab_existing": {"en": "Existing customer", "zh-CN": "现有客户"},
        "tab_new": {"en": "New customer", "zh-CN": "新客户"},
        "tab_bulk": {"en": "Bulk (CSV)", "zh-CN": "批量（CSV）"},
        "tab_blocked": {"en": "Blocked customers", "zh-CN": "受阻客户"},
        # --- Attest: existing customer -------------------------------------------------------
        "ex_pick_first": {
            "en": "Choose the customer first: its current status and the attestation form appear "
            "here.",
            "zh-CN": "请先选择客户：随后会在此显示其当前状态和证明表单。",
        },
        "ex_from_blocked": {
            "en": "Preselected from the blocked list. Enter the person at the customer who "
            "accepted the MCA and the date they accepted it.",
            "zh-CN": "已从受阻列表预选。请填写客户方接受 MCA 的人员及其接受日期。",
        },
        "ex_all_attestations": {
            "en": "All attestations ({n}), newest first",
            "zh-CN": "全部证明记录（{n} 条），最新在前",
        },
        "ex_form_title": {
            "en": "The person at the customer who accepted the MCA",
            "zh-CN": "客户方接受 MCA 的人员",
        },
        "attest_submit": {"en": "Attest acceptance", "zh-CN": "提交证明"},
        "ex_not_attested": {"en": "Not attested.", "zh-CN": "未完成证明。"},
        "ex_review_submit": {"en": "Review attestation", "zh-CN": "检查证明内容"},
        "ex_review_title": {
            "en": "Check the statement you are about to attest",
            "zh-CN": "请核对您将要证明的内容",
        },
        "ex_review_statement": {
            "en": "**{name}** ({email}) accepted the Microsoft Customer Agreement for "
            "**{company}** on **{date}** (UTC).",
            "zh-CN": "**{name}**（{email}）已于 **{date}**（UTC）代表 **{company}** "
            "接受 Microsoft 客户协议。",
        },
        "ex_review_note": {
            "en": "Partner Center keeps this statement and emails the customer's primary contact "
            "about it. An attestation cannot be withdrawn.",
            "zh-CN": "合作伙伴中心会保存此声明，并就此向客户的主要联系人发送电子邮件。证明一经提交无法撤回。",
        },
        "ex_confirm": {"en": "Confirm and attest", "zh-CN": "确认并提交证明"},
        "ex_change": {"en": "← Change", "zh-CN": "← 修改"},
        "ex_already": {
            "en": "**Already attested with these details** — an identical attestation exists, "
            "nothing new was stored. This is not a failure. (MS-RequestId `{rid}`)",
            "zh-CN": "**已使用相同信息证明过** — 已存在完全相同的证明记录，未存储新记录。这不是错误。"
            "（MS-RequestId `{rid}`）",
        },
        "ex_attested": {
            "en": "**Attested.** Partner Center stored the attestation (MS-RequestId `{rid}`). "
            "Microsoft emails the customer's primary contact about it.",
            "zh-CN": "**证明成功。** 合作伙伴中心已存储该证明（MS-RequestId `{rid}`）。"
            "Microsoft 会就此向客户的主要联系人发送电子邮件。",
        },
        "ex_stored": {
            "en": "Stored: **{name}** · {email} · {phone} · agreed **{date}** (UTC) · template "
            "`{template}`",
            "zh-CN": "已存储：**{name}** · {email} · {phone} · 接受日期 **{date}**（UTC）· 模板 "
            "`{template}`",
        },
        # --- Attest: new customer ------------------------------------------------------------
        "nc_intro": {
            "en": "Create the customer's tenant, then record how it accepts the MCA. Creating and "
            "attesting are two calls to Partner Center; if the second fails, the customer "
            "stays created and you can retry the attestation without creating it twice.",
            "zh-CN": "先创建客户租户，再记录其接受 MCA 的方式。创建和证明是对合作伙伴中心的两次调用；"
            "若第二次失败，客户仍保持已创建状态，您可以重试证明而不会重复创建客户。",
        },
        "nc_account": {"en": "Account information", "zh-CN": "账户信息"},
        "at_company_name": {"en": "Company name", "zh-CN": "公司名称"},
        "at_domain_prefix": {"en": "Domain prefix", "zh-CN": "域名前缀"},
        "at_domain_prefix_help": {
            "en": "1 to 27 lower-case letters or digits; the customer's domain becomes "
            "<prefix>.onmicrosoft.com and cannot be changed later.",
            "zh-CN": "1 至 27 个小写字母或数字；客户域名将为 <前缀>.onmicrosoft.com，之后无法更改。",
        },
        "at_domain": {"en": "Domain", "zh-CN": "域名"},
        "at_address_line1": {"en": "Address", "zh-CN": "地址"},
        "at_city": {"en": "City", "zh-CN": "城市"},
        "at_state_optional": {"en": "State or province (optional)", "zh-CN": "州/省（可选）"},
        "at_postal_optional": {"en": "Postal code (optional)", "zh-CN": "邮政编码（可选）"},
        "at_country": {"en": "Country", "zh-CN": "国家/地区"},
        "at_country_placeholder": {"en": "Choose a country", "zh-CN": "请选择国家/地区"},
        "at_culture": {"en": "Language and culture", "zh-CN": "语言与区域"},
        "at_culture_help": {
            "en": "The customer's billing language and formats (Partner Center's culture).",
            "zh-CN": "客户的账单语言和格式（合作伙伴中心的 culture 设置）。",
        },
        "reseller_optional": {
            "en": "For indirect reseller (tenant id, optional)",
            "zh-CN": "所属间接经销商（租户 ID，可选）",
        },
        "reseller_help": {
            "en": "Leave empty for your own customer. To create it for one of your indirect "
            "resellers, paste that reseller's tenant id.",
            "zh-CN": "为您自己的客户时留空。若为您的某个间接经销商创建，请粘贴该经销商的租户 ID。",
        },
        "nc_primary_contact": {"en": "Primary contact", "zh-CN": "主要联系人"},
        "nc_agreement": {"en": "Microsoft Customer Agreement", "zh-CN": "Microsoft 客户协议"},
        "nc_agreement_help": {
            "en": "As in Partner Center: confirm now that the customer accepted, or let the "
            "customer accept it in the Microsoft 365 admin center.",
            "zh-CN": "与合作伙伴中心相同：现在确认客户已接受，或由客户在 Microsoft 365 管理中心自行接受。",
        },
        "nc_agreement_how": {"en": "How is the MCA accepted?", "zh-CN": "如何接受 MCA？"},
        "nc_choice_attest_now": {
            "en": "The customer has accepted: attest now",
            "zh-CN": "客户已接受：现在证明",
        },
        "nc_choice_customer_accepts": {
            "en": "The customer will accept in the Microsoft 365 admin center",
            "zh-CN": "客户将在 Microsoft 365 管理中心接受",
        },
        "nc_att_prefilled": {
            "en": "The person who accepted — prefilled from the primary contact; change it if "
            "someone else accepted.",
            "zh-CN": "接受人 — 已根据主要联系人预填；如由他人接受，请修改。",
        },
        "nc_customer_accepts_info": {
            "en": "After creation, send the customer the invitation email: it carries the sign-in "
            "name, the temporary password and the link to accept. Orders are refused until "
            "the customer accepts.",
            "zh-CN": "创建后，请向客户发送邀请邮件：邮件包含登录名、临时密码和接受链接。在客户接受之前，订单将被拒绝。",
        },
        "nc_review": {"en": "Review", "zh-CN": "检查并确认"},
        "nc_review_title": {"en": "Review before creating", "zh-CN": "创建前检查"},
        "nc_review_attest": {
            "en": "Attest now: **{name}** · {email} · agreed **{date}** (UTC)",
            "zh-CN": "现在证明：**{name}** · {email} · 接受日期 **{date}**（UTC）",
        },
        "nc_review_note": {
            "en": "Creating a customer tenant cannot be undone from here, and its domain cannot "
            "be changed later.",
            "zh-CN": "客户租户一旦创建，无法在此撤销，其域名之后也无法更改。",
        },
        "nc_back": {"en": "← Edit", "zh-CN": "← 修改"},
        "nc_create": {"en": "Create customer", "zh-CN": "创建客户"},
        "nc_not_created": {"en": "The customer was not created.", "zh-CN": "客户未创建。"},
        "nc_created": {
            "en": "**Customer created:** {company} · `{domain}` · tenant id `{id}` (MS-RequestId "
            "`{rid}`).",
            "zh-CN": "**客户已创建：** {company} · `{domain}` · 租户 ID `{id}`（MS-RequestId `{rid}`）。",
        },
        "nc_attested": {
            "en": "**Attested:** the customer's MCA acceptance is recorded (MS-RequestId `{rid}`).",
            "zh-CN": "**已证明：** 已记录该客户接受 MCA（MS-RequestId `{rid}`）。",
        },
        "nc_attest_failed": {
            "en": "**{company} was created, but the attestation failed.** The customer exists; "
            "only the MCA attestation is missing, so orders are refused until it is done. "
            "Retry below: the customer is not created twice.",
            "zh-CN": "**{company} 已创建，但证明失败。** 客户已存在，仅缺少 MCA 证明，在完成证明前订单将被拒绝。"
            "请在下方重试：不会重复创建客户。",
        },
        "nc_retry": {"en": "Retry the attestation", "zh-CN": "重试证明"},
        "nc_next_invite": {
            "en": "Next: send the customer the invitation email so it can sign in and accept the "
            "MCA in the Microsoft 365 admin center.",
            "zh-CN": "下一步：向客户发送邀请邮件，以便其登录并在 Microsoft 365 管理中心接受 MCA。",
        },
        "nc_send_invitation": {"en": "Send invitation email…", "zh-CN": "发送邀请邮件…"},
        "nc_another": {"en": "Create another customer", "zh-CN": "创建另一个客户"},
        "creds_title": {"en": "The customer's first admin", "zh-CN": "客户的首个管理员账户"},
        "creds_once": {
            "en": "Shown **once**: copy the sign-in name and the temporary password now, or send "
            "them with the invitation email. The desk never stores or logs them.",
            "zh-CN": "仅显示**一次**：请立即复制登录名和临时密码，或通过邀请邮件发送。本工具不会存储或记录它们。",
        },
        "creds_sign_in": {"en": "Sign-in name", "zh-CN": "登录名"},
        "creds_password": {"en": "Temporary password", "zh-CN": "临时密码"},
        "creds_reveal": {"en": "Reveal the password", "zh-CN": "显示密码"},
        "creds_saved": {"en": "I have saved them — hide", "zh-CN": "我已保存 — 隐藏"},
        "creds_gone": {
            "en": "The temporary password is no longer shown (it is shown once). Reset it in the "
            "Microsoft 365 admin center if it was lost.",
            "zh-CN": "临时密码已不再显示（仅显示一次）。如已遗失，请在 Microsoft 365 管理中心重置。",
        },
        # --- Attest: bulk -------------------------------------------------------------------
        "bulk_intro": {
            "en": "Attest many customers at once: download the template, fill in one row per "
            "customer, upload it, fix what the check finds, run a dry run, then submit. "
            "Submitting the same file again resumes: rows already done are not sent twice.",
            "zh-CN": "一次证明多个客户：下载模板，每个客户填写一行，上传后修正检查出的问题，先试运行，再提交。"
            "再次提交同一文件即可继续：已完成的行不会重复发送。",
        },
        "bulk_template": {"en": "Download the CSV template", "zh-CN": "下载 CSV 模板"},
        "bulk_upload": {"en": "Upload the filled-in CSV", "zh-CN": "上传已填写的 CSV"},
        "bulk_upload_help": {
            "en": "UTF-8 (Excel's 'CSV UTF-8'), or GB18030/GBK when chosen as the file encoding; "
            "commas, semicolons or tabs.",
            "zh-CN": "UTF-8（Excel 的“CSV UTF-8”），或在“文件编码”中选择 GB18030 后的 GB18030/GBK 文件；"
            "以逗号、分号或制表符分隔。",
        },
        "bulk_file": {
            "en": "File: **{name}** ({size:,} bytes)",
            "zh-CN": "文件：**{name}**（{size:,} 字节）",
        },
        "bulk_file_unusable": {
            "en": "**This file cannot be used.** Nothing in it was checked or sent.",
            "zh-CN": "**无法使用此文件。** 其中内容未被检查或发送。",
        },
        "bulk_no_snapshot": {
            "en": "No synced customer list: customers already accepted cannot be flagged before "
            "the dry run (the dry run asks Partner Center).",
            "zh-CN": "尚无已同步的客户列表：试运行前无法标记已接受的客户（试运行会查询合作伙伴中心）。",
        },
        "bulk_counts": {
            "en": "{rows:,} rows, {invalid:,} with problems (rows with problems are not sent). "
            "Edit cells in the grid to fix them; add or delete rows as needed.",
            "zh-CN": "共 {rows:,} 行，其中 {invalid:,} 行有问题（有问题的行不会发送）。可直接在表格中修改单元格，或增删行。",
        },
        "row_ready": {"en": "ready", "zh-CN": "可提交"},
        "row_invalid": {"en": "invalid", "zh-CN": "无效"},
        "flag_duplicate_in_file": {"en": "duplicate in file", "zh-CN": "文件内重复"},
        "flag_already_accepted": {"en": "already accepted", "zh-CN": "已接受"},
        "flag_unknown_customer": {
            "en": "not in the synced list",
            "zh-CN": "不在已同步列表中",
        },
        "bulk_dry_run": {"en": "Dry run", "zh-CN": "试运行"},
        "bulk_submit": {"en": "Submit", "zh-CN": "提交"},
        "bulk_submit_help": {
            "en": "Run a dry run of these rows first.",
            "zh-CN": "请先对这些行进行试运行。",
        },
        "bulk_reset": {"en": "Start over", "zh-CN": "重新开始"},
        "bulk_progress": {
            "en": "{done:,} of {total:,} rows handled",
            "zh-CN": "已处理 {done:,} / {total:,} 行",
        },
        "bulk_dry_title": {"en": "Dry run: what would happen", "zh-CN": "试运行：预计结果"},
        "bulk_result_title": {"en": "Outcome per row", "zh-CN": "逐行结果"},
        "bulk_dry_note": {
            "en": "Nothing was attested. Submit to attest the rows marked 'would attest'.",
            "zh-CN": "尚未进行任何证明。提交后将证明标记为“将证明”的行。",
        },
        "bulk_all_done": {
            "en": "Every row is done.",
            "zh-CN": "所有行均已完成。",
        },
        "bulk_resume_hint": {
            "en": "Some rows are not done. Fix them if needed and submit again: the run resumes, "
            "rows already done are not sent twice.",
            "zh-CN": "部分行尚未完成。如有需要请修正后再次提交：将继续处理，已完成的行不会重复发送。",
        },
        "bulk_resumed": {
            "en": "{n:,} rows were done by an earlier run of this file and were not sent again.",
            "zh-CN": "有 {n:,} 行已在此前的运行中完成，本次未再次发送。",
        },
        "bulk_download_results": {"en": "Download the results (CSV)", "zh-CN": "下载结果（CSV）"},
        "outcome_attested": {"en": "attested", "zh-CN": "已证明"},
        "outcome_already_attested": {"en": "already attested", "zh-CN": "此前已证明"},
        "outcome_skipped_already_accepted": {
            "en": "skipped: already accepted",
            "zh-CN": "已跳过：已接受",
        },
        "outcome_would_attest": {"en": "would attest", "zh-CN": "将证明"},
        "outcome_invalid": {"en": "invalid", "zh-CN": "无效"},
        "outcome_failed": {"en": "failed", "zh-CN": "失败"},
        "outcome_cancelled": {"en": "cancelled", "zh-CN": "已取消"},
        "outcome_refused": {"en": "refused", "zh-CN": "被拒绝"},
        "outcome_created": {"en": "created", "zh-CN": "已创建"},
        "outcome_done": {"en": "done", "zh-CN": "已完成"},
        "outcome_dry_run": {"en": "dry run", "zh-CN": "试运行"},
        "outcome_accepted": {"en": "accepted", "zh-CN": "已接受"},
        "outcome_not_accepted": {"en": "not accepted", "zh-CN": "未接受"},
        # --- Attest: blocked customers ---------------------------------------------------------
        "blocked_why": {
            "en": "**Orders are refused for these customers** (Partner Center answers 403, code "
            "13605) because they have neither an MCA attestation nor direct acceptance. "
            "Attest for a customer that has accepted, or invite it to accept.",
            "zh-CN": "**这些客户的订单会被拒绝**（合作伙伴中心返回 403，代码 13605），因为它们既没有 MCA 证明，"
            "也没有直接接受。对已接受的客户进行证明，或邀请客户自行接受。",
        },
        "blocked_count": {"en": "Customers not accepted", "zh-CN": "未接受的客户"},
        "blocked_done_since": {
            "en": "{n:,} attested here since that sync are left out.",
            "zh-CN": "自该次同步以来已在此证明的 {n:,} 个客户未列出。",
        },
        "blocked_none": {
            "en": "No blocked customer: every customer has accepted.",
            "zh-CN": "没有受阻客户：所有客户均已接受。",
        },
        "blocked_search": {
            "en": "Filter by name, domain or tenant id",
            "zh-CN": "按名称、域名或租户 ID 筛选",
        },
        "blocked_no_match": {"en": "No blocked customer matches.", "zh-CN": "没有匹配的受阻客户。"},
        "blocked_page": {"en": "Page (of {pages})", "zh-CN": "页码（共 {pages} 页）"},
        "blocked_attest": {"en": "Attest…", "zh-CN": "去证明…"},
        # --- Verify ---------------------------------------------------------------------------
        "verify_intro": {
            "en": "Look a customer up in Partner Center: every MCA attestation, direct acceptance, "
            "whether orders go through, and what to do next. Dates and times are UTC.",
            "zh-CN": "在合作伙伴中心查询客户：全部 MCA 证明、客户直接接受情况、能否下单，以及下一步操作。日期和时间均为 UTC。",
        },
        "vf_pick_first": {"en": "Choose or type a customer.", "zh-CN": "请选择或输入客户。"},
        "vf_again": {"en": "Check again", "zh-CN": "重新检查"},
        "vf_failed": {"en": "Could not verify.", "zh-CN": "无法核验。"},
        "vf_try_again": {
            "en": "Nothing changed on Partner Center. Try again in a moment.",
            "zh-CN": "合作伙伴中心未发生任何更改。请稍后重试。",
        },
        "vf_ids": {"en": "`{domain}` · tenant id `{id}`", "zh-CN": "`{domain}` · 租户 ID `{id}`"},
        "vf_next_step": {"en": "Next step", "zh-CN": "下一步"},
        "next_none": {
            "en": "Nothing to do: the customer has accepted the MCA and orders can be placed.",
            "zh-CN": "无需操作：客户已接受 MCA，可以下单。",
        },
        "next_attest": {
            "en": "If the customer has accepted the MCA, attest for it (the contact of the person "
            "who accepted and the date). Otherwise send it an invitation to accept in the "
            "Microsoft 365 admin center.",
            "zh-CN": "如果客户已接受 MCA，请为其证明（接受人的联系信息和日期）；否则请邀请客户在 Microsoft 365 管理中心接受。",
        },
        "next_invite": {
            "en": "Send the customer an invitation to accept the MCA in the Microsoft 365 admin "
            "center, or ask an Admin agent or a Sales agent to attest.",
            "zh-CN": "邀请客户在 Microsoft 365 管理中心接受 MCA，或请管理员代理、销售代理进行证明。",
        },
        "next_ask_provider": {
            "en": "Indirect resellers cannot attest: ask your indirect provider to attest for the "
            "customer, or invite the customer to accept in the admin center.",
            "zh-CN": "间接经销商无法证明：请让您的间接提供商为该客户证明，或邀请客户在管理中心接受。",
        },
        "vf_go_attest": {"en": "Attest for this customer", "zh-CN": "为此客户证明"},
        "vf_go_invite": {"en": "Send an invitation to accept", "zh-CN": "发送接受邀请"},
        "vf_go_provider": {
            "en": "Write to your indirect provider",
            "zh-CN": "写信给您的间接提供商",
        },
        "vf_attestations": {
            "en": "MCA attestations, newest first",
            "zh-CN": "MCA 证明记录（最新在前）",
        },
        "vf_attested_by_note": {
            "en": "'Attested by' comes from this desk's audit log when the attestation was made "
            "here; otherwise Partner Center only knows the user's id.",
            "zh-CN": "若证明是在本工具中完成，“证明人”来自本工具的审计日志；否则合作伙伴中心只提供用户 ID。",
        },
        "vf_no_attestation": {"en": "No MCA attestation.", "zh-CN": "没有 MCA 证明记录。"},
        "vf_direct_yes": {
            "en": "yes — the customer accepted in the Microsoft 365 admin center.",
            "zh-CN": "是 — 客户已在 Microsoft 365 管理中心接受。",
        },
        "vf_direct_no": {
            "en": "no — the customer has not accepted in the admin center itself.",
            "zh-CN": "否 — 客户尚未在管理中心自行接受。",
        },
        "vf_checked": {
            "en": "Read from Partner Center at {when} UTC.",
            "zh-CN": "于 {when}（UTC）从合作伙伴中心读取。",
        },
        # --- Audit ----------------------------------------------------------------------------
        "audit_intro": {
            "en": "Every attempt by anyone of your partner organisation, successful or not. Times "
            "are UTC. Passwords and tokens are never recorded.",
            "zh-CN": "贵合作伙伴组织中任何人的每一次操作，无论成功与否。时间为 UTC。从不记录密码和令牌。",
        },
        "audit_dates": {"en": "From – to (UTC)", "zh-CN": "起止日期（UTC）"},
        "audit_user": {"en": "Who", "zh-CN": "操作人"},
        "audit_action": {"en": "Action", "zh-CN": "操作"},
        "audit_outcome": {"en": "Outcome", "zh-CN": "结果"},
        "audit_customer": {"en": "Customer", "zh-CN": "客户"},
        "audit_customer_placeholder": {
            "en": "name, domain, tenant id…",
            "zh-CN": "名称、域名、租户 ID…",
        },
        "audit_anyone": {"en": "Anyone", "zh-CN": "所有人"},
        "audit_any": {"en": "Any", "zh-CN": "全部"},
        "audit_events": {"en": "Attempts", "zh-CN": "操作次数"},
        "audit_failures": {"en": "Failed or refused", "zh-CN": "失败或被拒"},
        "audit_people": {"en": "People", "zh-CN": "人数"},
        "audit_customers": {"en": "Customers", "zh-CN": "客户数"},
        "audit_capped": {
            "en": "Only the newest {n:,} attempts of this period are read: narrow the dates.",
            "zh-CN": "仅读取了该时段内最新的 {n:,} 条记录：请缩小日期范围。",
        },
        "audit_none": {
            "en": "No attempt matches these filters.",
            "zh-CN": "没有符合筛选条件的记录。",
        },
        "audit_col_time": {"en": "Time (UTC)", "zh-CN": "时间（UTC）"},
        "audit_col_user": {"en": "Who", "zh-CN": "操作人"},
        "audit_col_role": {"en": "Role", "zh-CN": "角色"},
        "audit_col_action": {"en": "Action", "zh-CN": "操作"},
        "audit_col_customer": {"en": "Customer", "zh-CN": "客户"},
        "audit_col_outcome": {"en": "Outcome", "zh-CN": "结果"},
        "audit_col_correlation": {"en": "MS-CorrelationId", "zh-CN": "MS-CorrelationId"},
        "audit_col_detail": {"en": "Detail", "zh-CN": "详情"},
        "audit_download": {"en": "Download CSV", "zh-CN": "下载 CSV"},
        "action_attest": {"en": "attest", "zh-CN": "证明"},
        "action_bulk_attest": {"en": "bulk attest", "zh-CN": "批量证明"},
        "action_create_customer": {"en": "create customer", "zh-CN": "创建客户"},
        "action_verify": {"en": "verify", "zh-CN": "核验"},
        "action_sync": {"en": "sync", "zh-CN": "同步"},
        # --- Attest: bulk file encoding (issue 11: only what can be proven is read unasked) ---
        "bulk_encoding": {"en": "File encoding", "zh-CN": "文件编码"},
        "bulk_encoding_auto": {
            "en": "Automatic (UTF-8/UTF-16)",
            "zh-CN": "自动（UTF-8/UTF-16）",
        },
        "bulk_encoding_gb18030": {
            "en": "GB18030 (Simplified Chinese)",
            "zh-CN": "GB18030（简体中文）",
        },
        "bulk_encoding_help": {
            "en": "Automatic reads UTF-8 (Excel's 'CSV UTF-8') and UTF-16 with a byte-order mark; "
            "any other file is refused rather than guessed. Choose GB18030 only for a Simplified "
            "Chinese file saved by Excel as plain 'CSV' (GB18030/GBK), then check the names.",
            "zh-CN": "“自动”读取 UTF-8（Excel 的“CSV UTF-8”）和带字节顺序标记（BOM）的 UTF-16；"
            "其他编码的文件会被拒绝，而不会被猜测。仅当文件是 Excel 以普通“CSV”保存的简体中文文件"
            "（GB18030/GBK）时才选择 GB18030，然后核对姓名。",
        },
        "bulk_encoding_check": {
            "en": "The file was read as {encoding}, as you chose. Check that the names in the grid "
            "read correctly before you run and submit: if they look wrong, the file is in another "
            "encoding; save it as 'CSV UTF-8' in Excel and upload that file.",
            "zh-CN": "已按您选择的 {encoding} 读取文件。运行和提交前，请核对表格中的姓名是否显示正确："
            "如显示异常，说明文件是其他编码，请在 Excel 中另存为“CSV UTF-8”后上传。",
        },
    }
)

#: Labels of the fields these pages add, so core problems name them in the UI language.
for _field, _labels in {
    "company_name": {"en": "Company name", "zh-CN": "公司名称"},
    "address_line1": {"en": "Address", "zh-CN": "地址"},
    "city": {"en": "City", "zh-CN": "城市"},
    "state": {"en": "State or province", "zh-CN": "州/省"},
    "postal_code": {"en": "Postal code", "zh-CN": "邮政编码"},
    "phone_number": {"en": "Phone", "zh-CN": "电话"},
    "culture": {"en": "Language and culture", "zh-CN": "语言与区域"},
    "associated_partner_id": {"en": "Indirect reseller", "zh-CN": "间接经销商"},
    "file": {"en": "File", "zh-CN": "文件"},
    "row": {"en": "Row", "zh-CN": "行"},
}.items():
    i18n.FIELD_LABELS.setdefault(_field, _labels)

#: Chinese texts of the problem codes these pages meet (kept if another module set them).
for _code, _text in {
    "bad_culture": "{field_label}：请从列表中选择客户的语言与区域，例如 en-US 或 zh-CN。",
    "bad_partner_id": "{field_label}：请粘贴间接经销商的租户 ID（GUID），或留空。",
    "not_provider": "{field_label}：只有间接提供商才能为间接经销商创建客户，请留空。",
    "duplicate_in_file": "{field_label}：同一客户已出现在第 {first_line} 行，只会证明那一行。"
    "请删除其中一行。",
    "invisible_character": "{field_label}：包含不可见字符（{character}），通常是从网页或聊天中粘贴带入的。"
    "请清空该单元格后重新输入。",
    "extra_cells": "{field_label}：第 {line} 行比表头多出 {count} 个单元格，可能是某个值中含有未加引号的分隔符。"
    "请为该值加上引号，或删除多余的单元格。",
    "file_empty": "{field_label}：文件为空。请下载模板，每个客户填写一行后上传。",
    "file_no_rows": "{field_label}：文件只有表头，没有数据行。请在表头下方每个客户填写一行。",
    "file_too_big": "{field_label}：文件大小为 {size_mb} MB，单次最多 {max_mb} MB（{max_rows} 行）。"
    "请拆分为多个较小的文件依次上传。",
    "file_too_many_rows": "{field_label}：文件超过 {max_rows} 行。请拆分为每个不超过 {max_rows} 行的文件。",
    "file_workbook": "{field_label}：这是 Excel 工作簿，不是 CSV 文件。请在 Excel 中选择“文件 → 另存为 → "
    "CSV UTF-8（逗号分隔）”后上传。",
    "file_encoding": "{field_label}：文件编码为 {encoding}，无法使用。请在 Excel 中选择“文件 → 另存为 → "
    "CSV UTF-8（逗号分隔）”后上传。",
    "file_binary": "{field_label}：这不是文本文件。请上传 CSV 文件（Excel 中“另存为 → CSV UTF-8”）。",
    "file_missing_columns": "{field_label}：表头缺少以下列：{missing}。请使用模板的表头：customer, "
    "first_name, last_name, email, phone, date_agreed。",
    "file_duplicate_columns": "{field_label}：表头中有重复的列：{columns}。每类列只保留一个后重新上传。",
    "file_malformed": "{field_label}：第 {line} 行附近的 CSV 格式不正确。请检查该行的引号，或在 Excel "
    "中重新另存为 CSV UTF-8。",
    "file_not_gb18030": "{field_label}：已选择 GB18030，但此文件不是有效的 GB18030 简体中文文本，"
    "可能是其他编码。如果文件是 UTF-8，请选择“自动”；否则请在 Excel 中另存为“CSV UTF-8”后上传。",
    "file_line_too_long": "{field_label}：第 {line} 行中有一个值超过 {max_chars} 个字符"
    "（或该行开始的引号始终未闭合）。请检查并修正或删除该单元格，或在 Excel 中重新另存为 CSV UTF-8。",
}.items():
    i18n.PROBLEM_ZH.setdefault(_code, _text)

#: Replaces ui.i18n's generic text, which offered GBK as if it were read unasked (issue 11): a
#: file that is not UTF-8 is refused, and GB18030 must be chosen as the file encoding.
i18n.PROBLEM_ZH["file_encoding"] = (
    "{field_label}：文件编码（{encoding}）无法可靠识别：只接受 UTF-8 和带字节顺序标记（BOM）的 "
    "UTF-16，不猜测其他编码。请在 Excel 中选择“文件 → 另存为 → CSV UTF-8（逗号分隔）”后上传；"
    "如果是简体中文 GB18030/GBK 文件，请将“文件编码”选为 GB18030。"
)
