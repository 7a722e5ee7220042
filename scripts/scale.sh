#!/usr/bin/env bash
# Scale and cost benchmark of the activity stage (not part of test.sh or CI; bounded).
#
#   scripts/scale.sh                      # REPOS=1000 TAGS=10
#   REPOS=10000 SCALE_DIR=/tmp/tw-scale scripts/scale.sh
#
# In one run it:
#   1. fills a local docker-registry with REPOS x TAGS tiny images (skipped when
#      SCALE_DIR already holds that fill): FILL=regseed (default) writes the registry's
#      filesystem storage directly before it starts (handler/internal/cmd/regseed,
#      seconds to minutes); FILL=regfill pushes the same images over HTTP
#      (../shared/tools/regfill, ~19 tags/s);
#   2. measures the listing floor: _catalog + tags/list + HEAD of every tag at
#      concurrency 32 (regfill -list);
#   3. runs the first sweep the way the host would: `tidewatch run --stop-before scan
#      --parallel PARALLEL --count-storage` (timer -> sweep -> list tasks over the real
#      custom-handler protocol, scan tasks left queued) against a fresh Azurite;
#   4. re-pushes one tag in 1 % of the repositories (regfill -update) and runs the
#      second sweep the same way;
#   5. prints sweep/floor, second/first, peak RSS of every process (tidewatch from
#      /usr/bin/time, registry and Azurite from VmHWM in /proc), storage transactions per
#      sweep and per 1,000 images, and the monthly cost of keeping a 1,000-image
#      registry scanned (prices and their sources below).
#
# Targets (issue 10): first sweep <= 1.5x floor; <= 256 MB peak RSS per process; second
# sweep <= 10 % of the first (that one needs ACR's lastUpdateTime; the generic path
# measured here lists every repository again); <= US$1/month for 1,000 images.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
ensure_docker_registry
ensure_azurite
[ -x /usr/bin/time ] || apt_install time

REPOS=${REPOS:-1000}
TAGS=${TAGS:-10}
FILL=${FILL:-regseed}
case $FILL in regseed | regfill) ;; *) die "FILL=$FILL: want regseed or regfill" ;; esac
PARALLEL=${PARALLEL:-32}
SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
SCALE_DIR=${SCALE_DIR:-$(mktemp -d -t tidewatch-scale.XXXXXX)}
mkdir -p "$SCALE_DIR"
work=$(mktemp -d -t tidewatch-scale-run.XXXXXX)
trap 'stop_services; rm -rf "$work"' EXIT

say "building tidewatch, regseed, regfill"
go build -o "$work/tidewatch" ./handler
go build -o "$work/regseed" ./handler/internal/cmd/regseed
(cd "$SHARED/tools/regfill" && go build -o "$work/regfill" .)

# vmhwm PID: the peak resident set of a running process, in MB.
vmhwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# maxrss FILE: the peak resident set /usr/bin/time -v wrote to FILE, in MB.
maxrss() { awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"; }

marker="$SCALE_DIR/registry/filled-${REPOS}x${TAGS}"
mkdir -p "$SCALE_DIR/registry"
if [ ! -f "$marker" ]; then
	if [ "$FILL" = regseed ]; then
		# The registry is not running yet: its storage root is start_registry's DIR/data.
		say "seeding $SCALE_DIR/registry/data with $REPOS x $TAGS images (regseed)"
		"$work/regseed" -root "$SCALE_DIR/registry/data" -repos "$REPOS" -tags "$TAGS"
	else
		start_registry "$SCALE_DIR/registry"
		say "filling $REGISTRY_HOST with $REPOS x $TAGS images (regfill)"
		"$work/regfill" -registry "$REGISTRY_HOST" -repos "$REPOS" -tags "$TAGS" | tail -1
		# Stop the registry so that the sweeps' one has their VmHWM, not the fill's.
		stop_services
	fi
	touch "$marker"
fi
start_registry "$SCALE_DIR/registry"
registry_pid=${SERVICE_PIDS[-1]}
# In memory: Azurite would otherwise rewrite its whole database file as it grows.
AZURITE_IN_MEMORY=${AZURITE_IN_MEMORY:-1} start_azurite "$work/azurite"
azurite_pid=${SERVICE_PIDS[-1]}

say "listing floor (regfill -list, concurrency 32)"
/usr/bin/time -v -o "$work/floor.time" "$work/regfill" -list -registry "$REGISTRY_HOST" \
	-concurrency 32 -digests "$work/digests.tsv" >"$work/floor.out"
cat "$work/floor.out"
floor=$(sed -n 's/^list: .* elapsed=\([0-9.]*\)s.*/\1/p' "$work/floor.out")
floor_registry_rss=$(vmhwm "$registry_pid")
[ -n "$floor" ] || die "regfill -list printed no elapsed time"
images=$(cut -f1,3 "$work/digests.tsv" | sort -u | wc -l)

export TIDEWATCH_REGISTRIES="$REGISTRY_HOST=anonymous"
export TIDEWATCH_STORAGE="$AZURITE_CONNECTION"
export TIDEWATCH_ADVISORIES_URL="$SHARED/advisories"
export TIDEWATCH_LOG_LEVEL=warn

# sweep NAME: one `tidewatch run --stop-before scan`, its output in $work/NAME.*.
sweep() {
	say "sweep $1: tidewatch run --stop-before scan --parallel $PARALLEL --count-storage"
	/usr/bin/time -v -o "$work/$1.time" "$work/tidewatch" run --stop-before scan \
		--parallel "$PARALLEL" --count-storage --timeout 60m >"$work/$1.out" 2>"$work/$1.err" ||
		{ tail -20 "$work/$1.err" >&2; die "sweep $1 failed"; }
	grep -v '^storage: [a-z]* ' "$work/$1.out"
}
seconds() { sed -n 's/^run: .* in \([0-9.]*\)s (.*/\1/p' "$work/$1.out"; }
busy() { sed -n 's/^run: .* busy \([0-9.]*\)s)$/\1/p' "$work/$1.out"; }
transactions() { sed -n 's/^storage: \([0-9]*\) transactions.*/\1/p' "$work/$1.out"; }
queued() { sed -n 's/^run: stopped before scan: \([0-9]*\) scan tasks.*/\1/p' "$work/$1.out"; }
invocations() { sed -n 's/^run: \([0-9]*\) invocations.*/\1/p' "$work/$1.out"; }

sweep first
first_registry_rss=$(vmhwm "$registry_pid")
first_azurite_rss=$(vmhwm "$azurite_pid")

changed=$(( (REPOS + 99) / 100 ))
say "re-pushing $changed tags (1 % of repositories) with new digests"
"$work/regfill" -registry "$REGISTRY_HOST" -repos "$REPOS" -tags "$TAGS" -update "$changed" \
	-changes "$work/changes.jsonl" | tail -1
changed_repos=$(sed -n 's/.*"repo":"\([^"]*\)".*/\1/p' "$work/changes.jsonl" | sort -u | wc -l)
sweep second

t1=$(seconds first); t2=$(seconds second)
tx1=$(transactions first); tx2=$(transactions second)
q1=$(queued first); q2=$(queued second)
inv1=$(invocations first); inv2=$(invocations second)

echo
echo "== scale: $REPOS repositories x $TAGS tags, $images tagged digests, parallel $PARALLEL, registry concurrency ${TIDEWATCH_REGISTRY_CONCURRENCY:-32}"
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
awk -v f="$floor" -v a="$t1" -v b="$t2" -v c="$changed_repos" 'BEGIN {
	printf "listing floor          %8.2f s\n", f
	printf "first sweep            %8.2f s   %5.2fx floor (target <= 1.5x)\n", a, a / f
	printf "second sweep (%d repos changed, generic path) %8.2f s   %5.1f %% of the first (target <= 10 %%, ACR path)\n", c, b, 100 * b / a
}'
echo "peak RSS (MB): tidewatch first $(maxrss "$work/first.time"), second $(maxrss "$work/second.time"); regfill -list $(maxrss "$work/floor.time");"
echo "               docker-registry $floor_registry_rss after the floor, $first_registry_rss after the first sweep, $(vmhwm "$registry_pid") after both;"
echo "               azurite $first_azurite_rss after the first sweep, $(vmhwm "$azurite_pid") after both (target <= 256 each)"
echo "invocations: first $inv1 (busy $(busy first) s), second $inv2 (busy $(busy second) s); scan tasks left queued: $q1 after the first, $q2 after the second"
awk -v a="$tx1" -v b="$tx2" -v n="$images" 'BEGIN {
	printf "storage transactions: first sweep %d (%.0f per 1,000 images), second sweep %d (%.0f per 1,000 images)\n", a, 1000 * a / n, b, 1000 * b / n
}'
echo "first sweep by resource:"; grep '^storage: [a-z]* ' "$work/first.out" | sed 's/^storage: /  /'
echo "second sweep by resource:"; grep '^storage: [a-z]* ' "$work/second.out" | sed 's/^storage: /  /'

# Monthly cost of a 1,000-image registry kept scanned, from the second (steady-state)
# sweep's measured transactions, executions and busy time scaled to 1,000 images, at
# list prices (USD, pay as you go, East US, no free grants applied):
#   Flex Consumption on demand: $0.000026 per GB-s, $0.40 per million executions
#     https://azure.microsoft.com/en-us/pricing/details/functions/ (as quoted for East US
#     by https://modal.com/blog/azure-function-pricing-guide, 2025-05-22)
#   Table storage (LRS): $0.00036 per 10,000 transactions
#     https://azure.microsoft.com/en-us/pricing/details/storage/tables/
#   Queue storage (GPv2 LRS): $0.004 per 10,000 class 1 operations
#     https://azure.microsoft.com/en-us/pricing/details/storage/queues/
#   Blob storage (hot LRS): $0.055 per 10,000 write operations
#     https://azure.microsoft.com/en-us/pricing/details/storage/blobs/
# The storage figures are the pages' as last known, not re-read when this was written
# (2026-12-02): check them. To stay an upper bound, every table, queue and blob
# transaction is priced at the queue price and blob transactions at the blob write
# price. GB-s: the invocations' summed busy time at the instance memory (2,048 MB), as if
# each ran alone on an instance (the host overlaps up to batchSize + newBatchThreshold =
# 6 on one instance, which divides this by up to 6). Scans: SCAN_SECONDS busy and
# SCAN_TRANSACTIONS transactions per image, one scan per image per day (rescanAfter).
SWEEPS_PER_DAY=${SWEEPS_PER_DAY:-4}   # TIDEWATCH_SWEEP_SCHEDULE every 6 h
SCAN_SECONDS=${SCAN_SECONDS:-2}
SCAN_TRANSACTIONS=${SCAN_TRANSACTIONS:-40}
blob2=$(sed -n 's/^storage: .* blob \([0-9]*\))$/\1/p' "$work/second.out")
awk -v tx="$tx2" -v btx="$blob2" -v inv="$inv2" -v busy="$(busy second)" -v n="$images" \
	-v sweeps="$SWEEPS_PER_DAY" -v scansecs="$SCAN_SECONDS" -v scantx="$SCAN_TRANSACTIONS" 'BEGIN {
	per = 1000 / n                     # scale the measured sweep to 1,000 images
	month = 30
	sweep_tx = tx * per * sweeps * month
	sweep_btx = btx * per * sweeps * month
	sweep_exec = inv * per * sweeps * month
	sweep_gbs = busy * 2 * per * sweeps * month
	scan_exec = 1000 * month
	scan_gbs = 1000 * scansecs * 2 * month
	scan_tx = 1000 * scantx * month
	storage_usd = (sweep_tx - sweep_btx + scan_tx) * 0.004 / 10000 + sweep_btx * 0.055 / 10000
	exec_usd = (sweep_exec + scan_exec) * 0.40 / 1e6
	gbs_usd = (sweep_gbs + scan_gbs) * 0.000026
	printf "\nmonthly cost, 1,000 images, %d sweeps/day, one scan per image per day (USD, list prices, no free grants):\n", sweeps
	printf "  sweeps: %.0f transactions, %.0f executions, %.0f GB-s\n", sweep_tx, sweep_exec, sweep_gbs
	printf "  scans:  %.0f transactions, %.0f executions, %.0f GB-s (assumed: SCAN_SECONDS=%s, SCAN_TRANSACTIONS=%s)\n", scan_tx, scan_exec, scan_gbs, scansecs, scantx
	printf "  storage $%.3f + executions $%.3f + GB-s $%.3f = $%.2f/month (target <= $1)\n", storage_usd, exec_usd, gbs_usd, storage_usd + exec_usd + gbs_usd
	printf "  with 6 executions overlapped per instance (host.json): GB-s $%.3f, total $%.2f/month\n", gbs_usd / 6, storage_usd + exec_usd + gbs_usd / 6
	printf "  (busy time here is bound by the local emulator: a list task spent %.1f s on average)\n", busy / inv
}'
echo "registry kept in $SCALE_DIR (reused by the next run with the same REPOS and TAGS)"
