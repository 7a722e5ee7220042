#!/usr/bin/env bash
# Benchmarks (not part of the tests). Prints, for debian12-minbase and debian12-layered:
# the in-process floor (read + decompress + walk the same layers doing nothing else),
# the cold scan (empty layer cache) and their ratio; the CLI's wall time and peak RSS
# for a whole cold `tidewatch scan --archive`; the peak RSS of a synthetic image of 60
# layers each rewriting a 2,000-package dpkg status (BenchmarkScanManyLayers, alone in
# its process); the advisory index load time; the rematch's in-memory step (stored
# inventories of the shared images, replicated, one core) and whole rematch pages
# against Azurite (pages/s, rows/s).
# Targets: cold scan <= 1.5x floor, peak RSS <= 150 MB, many-layers RSS <= 120 MB,
# index load <= 1 s, rematch in memory >= 2,000 inventories/s per core.
#
#   scripts/bench.sh            # BENCHTIME=10x by default
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
ensure_azurite
[ -x /usr/bin/time ] || apt_install time

SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
BENCHTIME="${BENCHTIME:-10x}"
out=$(mktemp -t tidewatch-bench.XXXXXX)
work=$(mktemp -d -t tidewatch-bench.XXXXXX)
trap 'stop_services; rm -rf "$work"; rm -f "$out" "$out.bin"' EXIT
start_azurite "$work/azurite"
export TIDEWATCH_TEST_STORAGE="$AZURITE_CONNECTION"

say "go test -bench (benchtime $BENCHTIME)"
go test -run '^$' -bench 'BenchmarkWalkFloor|BenchmarkScanCold' -benchtime "$BENCHTIME" ./handler/inventory/ | tee "$out"
go test -run '^$' -bench 'BenchmarkLoadDebian' -benchtime 5x ./handler/advisory/ | tee -a "$out"
# Alone in its process, so VmHWM is this scan's peak and no other benchmark's.
go test -run '^$' -bench 'BenchmarkScanManyLayers' -benchtime 1x ./handler/inventory/ | tee -a "$out"
go test -run '^$' -bench 'BenchmarkRematchInMemory' -benchtime 5x -cpu 1 ./handler/pipeline/ | tee -a "$out"
go test -run '^$' -bench 'BenchmarkRematchPagesAzurite' -benchtime 2x ./handler/pipeline/ | tee -a "$out"
go build -o "$out.bin" ./handler

ns() { awk -v pat="$1" '$1 ~ pat { print $3; exit }' "$out"; }
echo
printf '%-20s %14s %14s %7s %12s %10s\n' image floor_ms cold_ms ratio cli_wall_ms peak_rss_MB
for img in debian12-minbase debian12-layered; do
	floor=$(ns "BenchmarkWalkFloor/$img")
	cold=$(ns "BenchmarkScanCold/$img")
	[ -n "$floor" ] && [ -n "$cold" ] || die "benchmark output for $img missing"
	stats=$( { /usr/bin/time -f '%e %M' "$out.bin" scan --archive "$SHARED/images/$img.tar" \
		--advisories "$SHARED/advisories" --format json >/dev/null; } 2>&1 | tail -1)
	wall=$(awk '{ printf "%.0f", $1 * 1000 }' <<<"$stats")
	rss=$(awk '{ printf "%.1f", $2 / 1024 }' <<<"$stats")
	awk -v i="$img" -v f="$floor" -v c="$cold" -v w="$wall" -v r="$rss" \
		'BEGIN { printf "%-20s %14.1f %14.1f %6.2fx %12s %10s\n", i, f/1e6, c/1e6, c/f, w, r }'
done
many=$(awk '$1 ~ /BenchmarkScanManyLayers/ { for (i = 1; i < NF; i++) if ($(i+1) == "peak-RSS-MB") print $i }' "$out")
[ -n "$many" ] || die "BenchmarkScanManyLayers reported no peak RSS"
awk -v r="$many" 'BEGIN { printf "\n60 layers x 2,000-package status: peak RSS %.1f MB (limit 120 MB, %.2fx of it)\n", r, r/120 }'
load=$(ns "BenchmarkLoadDebian")
awk -v l="$load" 'BEGIN { printf "\nadvisory index load (Debian): %.0f ms\n", l/1e6 }'
metric() { awk -v pat="$1" -v unit="$2" '$1 ~ pat { for (i = 1; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$out"; }
inmem=$(metric BenchmarkRematchInMemory inventories/s)
percpu=$(metric BenchmarkRematchInMemory inventories/cpu-s)
pages=$(metric BenchmarkRematchPagesAzurite pages/s)
rows=$(metric BenchmarkRematchPagesAzurite rows/s)
[ -n "$inmem" ] && [ -n "$percpu" ] && [ -n "$pages" ] || die "rematch benchmark output missing"
awk -v m="$inmem" -v c="$percpu" -v p="$pages" -v r="$rows" 'BEGIN { printf "\nrematch in memory (-cpu 1): %.0f inventories/s wall, %.0f per CPU-second (target 2,000 per core, %.2fx of it)\nrematch against Azurite: %.2f pages/s, %.1f rows/s\n", m, c, c/2000, p, r }'
