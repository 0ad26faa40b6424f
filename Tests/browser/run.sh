#!/usr/bin/env bash
# Browser tests of the three pages (/console, /host, /overlay) in headless Debian Chromium,
# driven by Playwright (../shared/guides/browser-testing.md). pages_test.py starts the
# release binary on a free loopback port with a temporary --data-dir, mints tokens with
# `livegate token`, runs the checks, saves 1280x720 screenshots to $ARTIFACTS (default: a
# new temporary directory), and stops the server by its PID. Exit status: 0 when every check
# passed, 1 when one failed, 2 when the setup is missing. Bounded: $BROWSER_TEST_TIMEOUT
# seconds in all (default 300).
#
# Needs: apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-wqy-microhei
#        python3 -m pip install playwright==1.65.2 websockets==17.4   (never `playwright install`)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${LIVEGATE_BIN:-.build/release/livegate}
if [ ! -x "$BIN" ]; then
  echo "run.sh: no $BIN; build it first: swift build -c release --product livegate" >&2
  exit 2
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "run.sh: no /usr/bin/chromium; apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-wqy-microhei" >&2
  exit 2
fi
if ! python3 -c 'import playwright.sync_api, websockets' 2>/dev/null; then
  echo "run.sh: python3 -m pip install playwright==1.65.2 websockets==17.4" >&2
  exit 2
fi
ARTIFACTS=${ARTIFACTS:-$(mktemp -d /tmp/livegate-browser.XXXXXX)}
mkdir -p "$ARTIFACTS"
echo "screenshots and server log: $ARTIFACTS"
# timeout sends SIGTERM (the script stops its server and browser on it), SIGKILL 15 s later.
exec timeout -k 15 "${BROWSER_TEST_TIMEOUT:-300}" \
  python3 -u Tests/browser/pages_test.py --bin "$BIN" --config Config/livegate.json5 --artifacts "$ARTIFACTS" "$@"
