#!/usr/bin/env bash
# The store's tests also run against a real PostgreSQL server (several dashboard instances share
# one database in production). Install Debian's server binaries when they are missing.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL is missing: install Debian's 'postgresql' package (needs root)." >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
