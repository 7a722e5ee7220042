#!/usr/bin/env bash
# Benchmarks (not part of the tests). Prints, for debian12-minbase and debian12-layered:
# the in-process floor (read + decompress + walk the same layers doing nothing else),
# the cold scan (empty layer cache) and their ratio; the CLI's wall time and peak RSS
# for a whole cold `tidewatch scan --archive`; the peak RSS of a synthetic image of 60
# layers each rewriting a 2,000-package dpkg status (BenchmarkScanManyLayers, alone in
# its process); the advisory index load time, JSON against the compiled format
# (BenchmarkLoadCompiled*: Debian and the whole shared set, with live heap); and, at
# x1 and x$SCALE (default 20) copies of every record of $SCALE_FOLDERS (default
# Debian) plus GIT (internal/cmd/advgen): the compile time of `tidewatch advisories
# sync`, the compiled .idx size against the zip, and the load time and peak RSS of
# a load alone in its process (BenchmarkLoadDir), compiled and JSON.
# Targets: cold scan <= 1.3x floor (with every extractor, issue 9), peak RSS <= 150 MB, many-layers RSS <= 120 MB,
# index load <= 1 s; compiled Debian <= 30 ms, whole shared set <= 100 ms and
# <= 40 MB heap; the rematch's in-memory step (stored inventories of the shared images,
# replicated, one core) >= 2,000 inventories/s per core, and whole rematch pages against
# Azurite (pages/s, rows/s).
#
#   scripts/bench.sh            # BENCHTIME=10x by default
#   scripts/bench.sh --coverage # then scripts/bench-coverage.sh: the 1.3x ratio and the
#                               # synthetic 2 GiB image's peak RSS and time (<= 250 MB)
set -euo pipefail
coverage=0
for arg in "$@"; do
	case "$arg" in
	--coverage) coverage=1 ;;
	*) echo "usage: scripts/bench.sh [--coverage]" >&2; exit 2 ;;
	esac
done
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
ensure_azurite
[ -x /usr/bin/time ] || apt_install time

SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
BENCHTIME="${BENCHTIME:-10x}"
out=$(mktemp -t tidewatch-bench.XXXXXX)
work=$(mktemp -d -t tidewatch-bench.XXXXXX)
scale_dir=$(mktemp -d -t tidewatch-advscale.XXXXXX)
trap 'stop_services; rm -rf "$work" "$scale_dir"; rm -f "$out" "$out.bin"' EXIT
start_azurite "$work/azurite"
export TIDEWATCH_TEST_STORAGE="$AZURITE_CONNECTION"

say "go test -bench (benchtime $BENCHTIME)"
go test -run '^$' -bench 'BenchmarkWalkFloor|BenchmarkScanCold' -benchtime "$BENCHTIME" ./handler/inventory/ | tee "$out"
go test -run '^$' -bench 'BenchmarkLoad(Debian|DebianWithSeverityFolder|CompiledDebian|CompiledAll|JSONDebian|JSONAll)$' -benchtime 5x ./handler/advisory/ | tee -a "$out"
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
inline=BenchmarkRematchPagesAzurite/rows_keep_inline blob=BenchmarkRematchPagesAzurite/rows_without_inline
pages=$(metric "$inline" pages/s)
rows=$(metric "$inline" rows/s) tx=$(metric "$inline" transactions/image)
blobrows=$(metric "$blob" rows/s) blobtx=$(metric "$blob" transactions/image)
[ -n "$inmem" ] && [ -n "$percpu" ] && [ -n "$pages" ] && [ -n "$blobtx" ] || die "rematch benchmark output missing"
awk -v m="$inmem" -v c="$percpu" -v p="$pages" -v r="$rows" -v t="$tx" -v br="$blobrows" -v bt="$blobtx" 'BEGIN { printf "\nrematch in memory (-cpu 1): %.0f inventories/s wall, %.0f per CPU-second (target 2,000 per core, %.2fx of it)\nrematch against Azurite, inline inventories: %.2f pages/s, %.1f rows/s, %.3f transactions/image\n  rows reading blobs instead: %.1f rows/s (%.2fx), %.3f transactions/image (%.2fx)\n", m, c, c/2000, p, r, t, br, r/br, bt, t/bt }'

awk -v pat='BenchmarkLoadCompiledDebian|BenchmarkLoadCompiledAll|BenchmarkLoadJSONDebian|BenchmarkLoadJSONAll' '
	$1 ~ "^(" pat ")-" { name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkLoad/, "", name)
		for (i = 1; i < NF; i++) if ($(i+1) == "heap-MB") heap = $i
		printf "advisory load %-13s %8.1f ms  live heap %6.1f MB\n", name, $3/1e6, heap }' "$out"

# Scale: the shared records xN (renamed ids and packages), synced (compiled) by the CLI.
SCALE="${SCALE:-20}"
SCALE_FOLDERS="${SCALE_FOLDERS:-Debian}"
go build -o "$scale_dir/advgen" ./handler/internal/cmd/advgen
sizes() { find "$@" -type f \( -name all.zip -o -name '*.idx' \) -printf '%s\n' | awk '{ s += $1 } END { printf "%.2f", s / 1048576 }'; }
load_bench() { # DIR → "ms peakRSS"
	TIDEWATCH_BENCH_ADVISORIES="$1" TIDEWATCH_BENCH_ECOSYSTEMS="$SCALE_FOLDERS" \
		go test -run '^$' -bench 'BenchmarkLoadDir$' -benchtime "$2" ./handler/advisory/ |
		awk '$1 ~ /^BenchmarkLoadDir/ { for (i = 1; i < NF; i++) if ($(i+1) == "peak-RSS-MB") r = $i; printf "%.1f %s", $3/1e6, r }'
}
echo
printf '%-6s %10s %12s %12s %10s %12s %12s %12s\n' scale compile_s sync_rss_MB zip_MB idx_MB load_idx_ms idx_rss_MB load_json_ms
for n in 1 "$SCALE"; do
	raw="$scale_dir/raw-$n" synced="$scale_dir/synced-$n" compiled="$scale_dir/compiled-$n"
	"$scale_dir/advgen" -from "$SHARED/advisories" -to "$raw" -n "$n" -folders "$SCALE_FOLDERS,GIT"
	stats=$( { /usr/bin/time -f '%e %M' "$out.bin" advisories sync --source "$raw" --out "$synced" \
		--ecosystems "$SCALE_FOLDERS" --severity-source GIT >/dev/null; } 2>&1 | tail -1)
	# The synced .idx blobs laid out as an export, as a scan's Source serves them.
	for f in ${SCALE_FOLDERS//,/ } GIT; do
		mkdir -p "$compiled/$f"
		ln -s "$(ls "$synced/$f/"*.idx | head -1)" "$compiled/$f/all.zip"
	done
	read -r idx_ms idx_rss <<<"$(load_bench "$compiled" 3x)"
	read -r json_ms _ <<<"$(load_bench "$raw" 1x)"
	awk -v n="x$n" -v s="$stats" -v z="$(sizes "$raw")" -v i="$(sizes "$synced")" -v lm="$idx_ms" -v lr="$idx_rss" -v jm="$json_ms" \
		'BEGIN { split(s, t, " "); printf "%-6s %10.1f %12.1f %12s %10s %12s %12s %12s\n", n, t[1], t[2]/1024, z, i, lm, lr, jm }'
done

if [ "$coverage" = 1 ]; then
	echo
	"$REPO_ROOT/scripts/bench-coverage.sh"
fi
