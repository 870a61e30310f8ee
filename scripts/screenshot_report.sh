#!/usr/bin/env bash
# Render a run's report.html in a real headless browser (Debian's chromium) and save a PNG screenshot.
# Usage: scripts/screenshot_report.sh output/<run> [out.png]
# Needs: apt-get install chromium (not part of the Python set-up: the report itself needs no browser).
set -euo pipefail
run_dir=${1:?usage: $0 RUN_DIR [OUT.png]}
out=${2:-$run_dir/report_screenshot.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no chromium found: apt-get install chromium" >&2; exit 2; }
page="file://$(cd "$run_dir" && pwd)/report.html"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
  --window-size=1280,2200 --screenshot="$(realpath -m "$out")" "$page" >/dev/null 2>&1
[ -s "$out" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
