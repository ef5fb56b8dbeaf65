"""A stateful Partner Center stand-in for the MCA acceptance desk (an ASGI app).

One emulator serves three uses: the dashboard's embedded sandbox (in process, through
`emulator.transport()`), the unit tests (in process) and browser tests / the CLI (a real server on
loopback, `serve()` or `run_in_thread()`). It never imports streamlit.

    emulator = Emulator("data/sandbox", customers=1500, seed=42)
    token = emulator.issue_token("admin-agent")
    async with httpx.AsyncClient(transport=emulator.transport(),
                                 base_url="https://api.partnercenter.microsoft.com") as client:
        page = await client.get("/v1/customers?size=500",
                                headers={"Authorization": f"Bearer {token}"})

What it PROMISES (the contract in shared/partner-center-api.md, honoured exactly):
  * Paths: GET /v1/agreements; GET and POST /v1/customers; GET /v1/customers/{id};
    GET and POST /v1/customers/{id}/agreements;
    GET /v1/customers/{id}/directSignedMicrosoftCustomerAgreementStatus;
    GET /v1/customers/relationshiprequests. JSON shapes as the contract shows them, with
    `attributes.objectType`. The enhanced attestation flow, with assumed shapes (see
    enhanced.py): POST /v1/attestations/enhanced (optional `expirationTime`, minutes 5 to
    10080; `customerTenantId` required unless `enhanced_customer_required=False`, then the
    finalise binds the customer), GET /v1/attestations/enhanced/{id} (states in the partner
    tools' lower-case words: linkgenerated, customeraccepted, linkexpired, agreementcreated),
    finalise through POST .../agreements with `attestationId` (and `templateId`, optional, the
    current MCA template only), and the customer's page GET /mca/.
  * Every answer echoes MS-RequestId and MS-CorrelationId (minted when the request has none).
  * Auth: a missing, foreign or expired bearer -> 401 / 1002; an App+User token without `mfa` in
    `amr` -> 401 / 900421 on every call; the token-kind table of the contract (App-only where only
    App+User is allowed -> 403 / 1002). The caller's role comes from the token's `groups` claim
    (AdminAgents / SalesAgents / HelpdeskAgents of its tenant), its partner from `tid`.
  * Roles: only Admin and Sales agents attest, create customers or ask for relationship links
    (403 / 1002); any agent role may read; an App+User token in none of the three groups -> 403 /
    1002 everywhere; an indirect reseller that attests -> 403 / 600006. A reseller sees exactly the
    customers associated with it; an unknown or foreign customer id -> 404.
  * The traps: GET /v1/agreements without agreementType answers the Microsoft Cloud Agreement;
    GET /v1/customers/{id}/agreements without it lists every agreement, Cloud Agreement records
    included (about 5% of customers hold one); the Cloud Agreement template stores a Cloud
    Agreement whatever `type` says; the old MCA template 998b88de-... is refused (400); `dateAgreed`
    comes back in several formats (with and without zone, 0/3/6/7 fractional digits) and items are
    oldest first; `totalCount` counts the items of the page, not the collection; `links.next.uri`
    already starts with /v1 and needs its MS-ContinuationToken header (else 400).
  * Attestation: 201 with `userId` = the token's oid; missing firstName/lastName/email ->
    400 / 600002 naming the field (600002 is reused for unrelated validation, as in the real
    service); dateAgreed later than the emulator clock's now in UTC -> 400 / 600002 "Agreement date
    cannot be later than the current date."; first name, last name, email AND phone equal to an
    existing MCA attestation of the customer -> 409 / 600061 PartnerConfirmedAgreementAlreadyExists.
  * The classic call's retirement (Microsoft retired it on 2026-01-05): with
    `classic_retired_on` set, from that day on the emulator clock's (the same now that judges
    dateAgreed) a classic attestation (POST .../agreements WITHOUT `attestationId`) is refused,
    after authentication, with `classic_refusal_status` / `classic_refusal_code` (default 400 /
    600098, errorName ClassicAttestationRetired, "The partner attestation API for the MCA was
    retired on 2026-01-05; use the enhanced attestation flow."). Microsoft's real status and code
    are NOT public: both are configurable (`--classic-refusal-status`, `--classic-refusal-code`).
    The enhanced finalise on the same path is never refused by this. Default: None (accepted,
    as before); both command lines take `--classic-retired-on YYYY-MM-DD|never` (default never
    for now), the embedded sandbox the setting `sandbox_classic_retired_on`.
  * Idempotency: POST /v1/customers and POST .../agreements with the same MS-RequestId from the same
    partner (same path) answer the stored 201 again (marked `X-Emulator-Replay: true`) and change
    nothing. Only successes are stored; a request without MS-RequestId is never deduplicated.
    The replay record of a created customer holds the first-admin password obfuscated with the
    emulator key: it is a test double's store, not a vault. The customer record never holds it.
  * Paging: at most 500 a page (bigger sizes are clipped), stable order, every customer once.
    Filter: Field CompanyName | Domain | IndirectReseller | IndirectCloudSolutionProvider,
    Operator starts_with, case-insensitive; IndirectReseller / IndirectCloudSolutionProvider match
    tenant ids. A malformed filter -> 400.
  * Extension, not in the real list call: each listed customer carries
    `billingProfile.defaultAddress.country` (ISO alpha-2) so the overview can group by country.
  * Deterministic seed: the same `seed` and `customers` give the same customers, agreements and
    direct acceptances (with the same Faker version). Partners, users, groups and template ids are
    uuid5 of fixed names and never depend on the seed.
  * Persistence: SQLite in `{data_dir}/emulator.sqlite3` (WAL), read and written per request, so
    two processes may share a data dir. Tokens survive restarts (the signing key is stored).
  * Faults (`FaultConfig`, /v1 only, never /sandbox): latency, a token bucket per partner tenant
    (429 + Retry-After), random 429, 500/502/503/504 (502 as HTML), timeouts (POSTs applied before
    the hang half of the time), connection resets (request applied, body cut short ->
    httpx.RemoteProtocolError in process and over TCP), reproducible with `fault_seed`; and
    `throttle_path`: every /v1 path containing that text answers 429 with the verbatim
    `throttle_path_retry_after` ("3600", "inf", an HTTP-date, garbage). In process,
    `EmulatorTransport` honours the httpx read timeout (httpx.ReadTimeout), as a socket would.
  * Hostile input: a path with a `.` or `..` segment, percent-encoded or not, answers 400 before
    routing; a body that is not a JSON object (a list, garbage, NaN, nesting too deep to parse)
    answers 400 / 400056, never 500.
  * /sandbox controls (no auth, no faults): POST /sandbox/token, GET /sandbox/health,
    GET|PUT /sandbox/faults, POST /sandbox/customers/{id}/direct-signing, POST /sandbox/reset,
    GET|PUT /sandbox/enhanced (link lifetime), GET|POST /sandbox/clock (a test clock),
    POST /sandbox/attestations/{id}/accept (play the customer).
    They mint tokens for anyone who can reach them: `serve()` binds loopback by default; keep it so
    (both command lines warn on stderr when told to bind any other host).
  * Standalone: `python -m mca_core.emulator [--data-dir D --customers N --seed S --port 8765]
    [--classic-retired-on YYYY-MM-DD|never] [--classic-refusal-status 400]
    [--classic-refusal-code 600098]`.

What it DOES NOT do:
  * No real Microsoft Entra: tokens are HS256 JWTs of the emulator's own key; only those are
    accepted. No MSAL endpoints, no issuer discovery, no real signature or conditional access.
  * No billing, orders, subscriptions, offers, invoices or GDAP: only the calls of the contract.
    Orders refused with 13605 are not emulated.
  * Microsoft's real enhanced-attestation shapes: `enhanced.py` speaks the ASSUMED ones of
    `mca_core.partner_center.enhanced_wire` (create, a status read, the /mca/ acceptance page,
    finalise, expiry).
  * No e-mail to the customer's primary contact after an attestation; no real admin center (play
    direct acceptance with POST /sandbox/customers/{id}/direct-signing).
  * Throttling figures are configurable guesses (Microsoft publishes only 500/min per partner
    tenant for customers); buckets are per process.
  * Error codes the contract does not name are the emulator's choice (404 -> 1000, other invalid
    input -> 400056, a domain in use -> 409 / 400056, the retired classic call -> 400 / 600098);
    error bodies use the newer form only.
  * Relationship links always say DAP=false; `dualRoleIndirectRelationship` is only validated.
"""

from mca_core.domain.models import TokenKind

from .core import Emulator
from .directory import (
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_TEMPLATE_ID,
    OLD_MCA_TEMPLATE_ID,
    PARTNERS,
    SANDBOX_USERS,
    Partner,
    SandboxUser,
)
from .faults import FaultConfig
from .server import exposure_warning, run_in_thread, serve
from .transport import EmulatorTransport

__all__ = [
    "CLOUD_AGREEMENT_TEMPLATE_ID",
    "MCA_TEMPLATE_ID",
    "OLD_MCA_TEMPLATE_ID",
    "PARTNERS",
    "SANDBOX_USERS",
    "Emulator",
    "EmulatorTransport",
    "FaultConfig",
    "Partner",
    "SandboxUser",
    "TokenKind",
    "exposure_warning",
    "run_in_thread",
    "serve",
]
