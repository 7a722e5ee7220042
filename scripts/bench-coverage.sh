#!/usr/bin/env bash
# Coverage benchmarks (issue 9, item 6), not part of the tests. Prints:
# - the Debian cold scan against the decompress-and-walk floor with every extractor
#   registered (BenchmarkWalkFloor / BenchmarkScanCold; target <= 1.3x);
# - for a synthetic image (internal/cmd/synthimage: 30 gzip layers, 200k entries,
#   ~2 GiB unpacked, a 600 MiB ELF-headed executable, 40 executables of which 10 Go
#   binaries, a 300 MiB fat jar of stored nested jars), the wall time and peak RSS
#   of a cold `tidewatch scan --archive` (target <= 250 MB), with TMPDIR pointed at
#   an empty directory that must still be empty afterwards (no temp files).
# The image (~2 GiB) is written under $BENCH_DIR (default: a fresh directory in
# /tmp) and deleted on exit; `df` is checked first.
#
#   scripts/bench-coverage.sh          # BENCHTIME=10x by default
#   scripts/bench.sh --coverage        # the same, after bench.sh's own output
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
[ -x /usr/bin/time ] || apt_install time

SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
BENCHTIME="${BENCHTIME:-10x}"
RSS_LIMIT_MB=250
RATIO_LIMIT=1.3
parent="${BENCH_DIR:-${TMPDIR:-/tmp}}"
free_kb=$(df -Pk "$parent" | awk 'NR == 2 { print $4 }')
[ "$free_kb" -ge $((5 * 1024 * 1024)) ] || die "bench-coverage: need 5 GiB free in $parent for the synthetic image (have $((free_kb / 1024)) MiB)"
work=$(mktemp -d "$parent/tidewatch-bench-coverage.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "Debian cold scan against the floor, every extractor registered (benchtime $BENCHTIME)"
# Three rounds of each; the fastest of each is kept, so load from other work on
# the machine (which only ever slows a run) disturbs the ratio less.
go test -run '^$' -bench 'BenchmarkWalkFloor|BenchmarkScanCold' -benchtime "$BENCHTIME" -count "${BENCHCOUNT:-3}" ./handler/inventory/ | tee "$work/bench.out"

say "synthetic image"
go build -o "$work/synthimage" ./handler/internal/cmd/synthimage
go build -o "$work/tidewatch" ./handler
"$work/synthimage" -out "$work/synthetic.tar"
mkdir "$work/tmp" "$work/cache"
# The advisory cache is compiled first (by scanning a small image with the same
# cache), so the measured scan is a scan's own cost and not the compile's.
folders=Debian,Go,npm,PyPI
"$work/tidewatch" scan --archive "$SHARED/images/debian12-minbase.tar" --advisories "$SHARED/advisories" \
	--ecosystems "$folders" --cache-dir "$work/cache" --format json >/dev/null 2>"$work/warm.err" ||
	{ cat "$work/warm.err" >&2; die "compiling the advisory cache failed"; }
TMPDIR="$work/tmp" /usr/bin/time -o "$work/time.out" -f '%e %M' "$work/tidewatch" scan --archive "$work/synthetic.tar" \
	--advisories "$SHARED/advisories" --ecosystems "$folders" --cache-dir "$work/cache" --format json >"$work/scan.json" 2>"$work/scan.err" ||
	[ -s "$work/scan.json" ] || { cat "$work/scan.err" >&2; die "scanning the synthetic image failed"; }
stats=$(tail -1 "$work/time.out")
leftover=$(find "$work/tmp" -mindepth 1 | head -20)

ns() { awk -v pat="$1" '$1 ~ pat && (m == "" || $3 < m) { m = $3 } END { print m }' "$work/bench.out"; }
cpu() { awk -v pat="$1" '$1 ~ pat { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-ms/op" && (m == "" || $i < m)) m = $i } END { print m }' "$work/bench.out"; }
echo
printf '%-20s %13s %13s %7s %12s %12s %9s %7s\n' image floor_ms_min cold_ms_min ratio floor_cpu_ms cold_cpu_ms cpu_ratio limit
for img in debian12-minbase debian12-layered; do
	floor=$(ns "BenchmarkWalkFloor/$img") cold=$(ns "BenchmarkScanCold/$img")
	floor_cpu=$(cpu "BenchmarkWalkFloor/$img") cold_cpu=$(cpu "BenchmarkScanCold/$img")
	[ -n "$floor" ] && [ -n "$cold" ] && [ -n "$floor_cpu" ] && [ -n "$cold_cpu" ] || die "benchmark output for $img missing"
	awk -v i="$img" -v f="$floor" -v c="$cold" -v fc="$floor_cpu" -v cc="$cold_cpu" -v l="$RATIO_LIMIT" \
		'BEGIN { printf "%-20s %13.1f %13.1f %6.2fx %12.1f %12.1f %8.2fx %6.1fx%s\n", i, f/1e6, c/1e6, c/f, fc, cc, cc/fc, l, (c/f > l ? "  OVER (wall)" : "") }'
done
echo "(ratio: wall time, fastest of ${BENCHCOUNT:-3} rounds; cpu_ratio: process CPU time, steadier when other work shares the cores)"
echo
awk -v s="$stats" -v l="$RSS_LIMIT_MB" 'BEGIN { split(s, t, " ")
	printf "synthetic image (30 layers, 200k entries, ~2 GiB): cold scan wall %.1f s, peak RSS %.1f MB (limit %d MB, %.2fx of it)\n", t[1], t[2]/1024, l, t[2]/1024/l }'
python3 - "$work/scan.json" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["platforms"]:
    print("  status %s, packages %s, skipped files %d" % (p["status"], p.get("packages"), len(p.get("skipped") or [])))
PY
if [ -n "$leftover" ]; then
	echo "TMPDIR during the scan: NOT empty:"
	echo "$leftover"
	exit 1
fi
echo "TMPDIR during the scan: empty (no temp files)"
