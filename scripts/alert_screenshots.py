"""The README's pictures of an alert: the email and the Teams card, as they arrived.

Runs the sandbox's `sync --notify` twice against a local SMTP server and webhook (the tests'
receivers): first where things stand, then after a customer accepted through the link and
another got a link. The email is the HTML that arrived, shown in Chromium; the card is the
Adaptive Card that arrived, drawn by Microsoft's `adaptivecards` renderer (from npm: give its
`adaptivecards.min.js` with --renderer; it is not a dependency of the desk).

    npm install --prefix /tmp/ac adaptivecards@3
    .venv/bin/python scripts/alert_screenshots.py \
        --renderer /tmp/ac/node_modules/adaptivecards/dist/adaptivecards.min.js
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mca_core.cli.main import main  # noqa: E402
from tests.e2e.conftest import CHROMIUM_FLAGS  # noqa: E402  (the browser tests' flags)
from tests.receivers import SmtpServer, Webhook  # noqa: E402

CARD_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<style>body{margin:0;padding:24px;background:#ebebeb;font-family:'Segoe UI',Arial,sans-serif}
#card{width:460px;background:#fff;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.2);
padding:4px}.ac-pushButton{background:#fff;border:1px solid #d1d1d1;border-radius:4px;
padding:6px 10px;color:#242424;font-weight:600;cursor:pointer}</style>
<script>%s</script></head><body><div id="card"></div><script>{
const card = new AdaptiveCards.AdaptiveCard();
card.hostConfig = new AdaptiveCards.HostConfig({fontFamily: "Segoe UI, Arial, sans-serif",
  containerStyles: {default: {foregroundColors: {default: {default: "#242424", subtle: "#616161"},
  attention: {default: "#c50f1f"}}}}});
card.parse(%s);
document.getElementById("card").appendChild(card.render());
}</script></body></html>"""


def run(*argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--json", *argv], out=out, err=err)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {code}: {err.getvalue()}")
    return json.loads(out.getvalue())


def main_(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renderer", required=True, help="adaptivecards.min.js from npm")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the PNGs go")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="mca-alert-shots-"))
    smtp, hook = SmtpServer().start(), Webhook().start()
    os.environ.update(
        {
            **smtp.env(),
            "MCA_DATA_DIR": str(work / "data"),
            "MCA_SECRETS_FILE": str(work / "none.toml"),
            "MCA_SANDBOX_FIRST_SYNC": "false",
            "MCA_ALERT_TO": "ana.manager@contoso.example, zh-CN:li.lei@contoso.example",
            "MCA_TEAMS_WEBHOOK_URL": hook.url,
            "MCA_ALERT_LINK_EXPIRY_DAYS": "8",
            "MCA_AUTO_FINALISE": "false",
        }
    )
    try:
        run("sync", "--notify")
        main(["report", "--format", "json", "--out", str(work / "r.json")], out=io.StringIO())
        snapshot = json.loads((work / "r.json").read_text(encoding="utf-8"))
        blocked = [r for r in snapshot if r["state"] != "accepted"][:2]
        signer = ("--first-name", "Jane", "--last-name", "Doe", "--email", "jane@contoso.com")
        links = [run("attest", r["customer_id"], *signer) for r in blocked]
        main(["sandbox-accept", links[0]["attestation_id"]], out=io.StringIO(), err=io.StringIO())
        run("pipeline")  # reads the links' states: one is accepted now
        run("sync", "--notify")
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        first_en = next(m for m in smtp.messages if m["Content-Language"] == "en")
        first_zh = next(m for m in smtp.messages if m["Content-Language"] == "zh-CN")
        renderer = Path(args.renderer).read_text(encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 720, "height": 600})
            for name, message in (("alert-email.png", first_en), ("alert-email-zh.png", first_zh)):
                page.set_content(message.html)
                page.screenshot(path=str(out / name), full_page=True)
            cards = (("alert-card.png", hook.cards[0]), ("alert-card-change.png", hook.cards[-1]))
            for name, card in cards:
                page.set_content(CARD_PAGE % (renderer, json.dumps(card)))
                page.locator("#card").screenshot(path=str(out / name))
            browser.close()
        print(f"wrote {out}: alert-email(-zh).png, alert-card.png, alert-card-change.png")
    finally:
        smtp.stop()
        hook.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
