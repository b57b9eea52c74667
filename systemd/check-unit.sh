#!/usr/bin/env bash
# Checks systemd/syncwatch.service as CI does: `systemd-analyze verify` is
# clean, and `systemd-analyze security` rates its exposure 2.0 or less.
# Usage: systemd/check-unit.sh [path/to/syncwatch]   (default target/debug/syncwatch)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:-target/debug/syncwatch}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The unit runs /usr/bin/syncwatch (the .deb's path); verify needs a binary
# that exists, so check a copy that points at the one just built.
sed "s|/usr/bin/syncwatch|$binary|g" systemd/syncwatch.service > "$work/syncwatch.service"
systemd-analyze verify "$work/syncwatch.service"

score=$(systemd-analyze security --offline=yes "$work/syncwatch.service" |
  awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i }')
echo "systemd-analyze security: exposure $score (at most 2.0 required)"
awk -v score="$score" 'BEGIN { exit !(score != "" && score <= 2.0) }'
