#!/usr/bin/env bash
# The browser tests (tests/e2e) drive Debian's Chromium through Playwright (`playwright install`
# cannot download here). Install the browser, and fonts for Chinese text and emoji, when missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh family 2>/dev/null)" ]; then
  missing+=(fonts-noto-cjk)
fi
if ! command -v fc-list >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "color emoji"; then
  missing+=(fonts-noto-color-emoji)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Browser tests need Debian's ${missing[*]} (apt-get install needs root)." >&2
  exit 1
fi
echo "Installing ${missing[*]} for the browser tests..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
command -v chromium >/dev/null 2>&1
