#!/usr/bin/env bash
# Scan-on-push latency in the local loop (not part of the tests): a real
# docker-registry with notifications.endpoints posting to tidewatch run's HTTP trigger
# stand-in; PUSHES (default 20) pushes of debian12-minbase plus a fresh 30 MB layer;
# prints p50/p95 from the manifest push to the scanned images row and its findings.
# Target: p95 <= 30 s.
#
#   scripts/latency.sh            # PUSHES=20
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TIDEWATCH_LATENCY_PUSHES="${PUSHES:-20}" exec scripts/test.sh -run '^TestScanOnPushLatency$' -count=1 -v -timeout 30m ./handler/cli/
