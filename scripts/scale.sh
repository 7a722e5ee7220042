#!/usr/bin/env bash
# Scale and cost benchmark of the activity stage (not part of test.sh or CI; bounded).
#
#   scripts/scale.sh                      # REPOS=1000 TAGS=10
#   REPOS=10000 SCALE_DIR=/tmp/tw-scale scripts/scale.sh
#   ACR=1 scripts/scale.sh                # the same through the fake ACR (below)
#   PROFILE=DIR scripts/scale.sh          # also CPU profiles of both sweeps: DIR/first.pprof, DIR/second.pprof
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
#      custom-handler protocol, scan tasks left queued: one per listing) against a fresh Azurite;
#   4. re-pushes one tag in 1 % of the repositories (regfill -update) and runs the
#      second sweep the same way;
#   5. prints sweep/floor, second/first, peak RSS of every process (tidewatch from
#      /usr/bin/time, registry and Azurite from VmHWM in /proc), storage transactions per
#      sweep and per 1,000 images, and what a steady sweep costs per 1,000 images (the
#      month of a 1,000-image registry kept scanned is scripts/cost.sh's).
#
# ACR=1 puts the fake ACR (handler/internal/cmd/fakeacr) in front of the same registry:
# /acr/v1 catalog, attributes and _manifests listed from the registry's own storage
# (times are the link files' mtimes, written by the real pushes, regfill -update's
# included), /v2/ proxied, tokens exchanged as ACR does, and the App Service managed
# identity endpoint azidentity reads (IDENTITY_ENDPOINT, IDENTITY_HEADER). The
# registry is configured "=acr", so the sweep skips repositories whose lastUpdateTime
# did not move. The floor printed then is ACR's own: _catalog + one _manifests listing
# per repository (first sweep), _catalog + one attributes read per repository (a
# sweep of an unchanged registry), both at concurrency 32 (fakeacr -floor), beside
# the distribution floor.
#
# Targets (issue 10): first sweep <= 1.5x floor; <= 256 MB peak RSS per process; second
# sweep <= 10 % of the first (that one needs ACR's lastUpdateTime, ACR=1; the generic path
# lists every repository again); <= US$1/month for 1,000 images.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
ensure_docker_registry
ensure_azurite
[ -x /usr/bin/time ] || apt_install time

ACR=${ACR:-0}
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
[ "$ACR" = 1 ] && go build -o "$work/fakeacr" ./handler/internal/cmd/fakeacr

# vmhwm PID: the peak resident set of a running process, in MB.
vmhwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# cpusec PID: the CPU seconds (user + system) a running process has used so far.
cpusec() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# cputime FILE: the CPU seconds (user + system) /usr/bin/time -v wrote to FILE.
cputime() { awk -F: '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }
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
# AZURITE_SPLIT=1 (default): blob, queue and table as three Azurite processes without
# access logs (start_azurite_split), so the emulator's one event loop is not what the
# sweep waits on; AZURITE_SPLIT=0: the single process the tests use.
AZURITE_SPLIT=${AZURITE_SPLIT:-1}
if [ "$AZURITE_SPLIT" = 1 ]; then
	AZURITE_IN_MEMORY=${AZURITE_IN_MEMORY:-1} start_azurite_split "$work/azurite"
else
	AZURITE_IN_MEMORY=${AZURITE_IN_MEMORY:-1} start_azurite "$work/azurite"
	AZURITE_PIDS=("${SERVICE_PIDS[-1]}")
fi
# azurite_rss: the peak RSS of each Azurite process, in MB.
azurite_rss() {
	local pid out=""
	for pid in "${AZURITE_PIDS[@]}"; do out+="${out:+/}$(vmhwm "$pid")"; done
	echo "$out"
}
# service_cpu: the CPU seconds the registry and each Azurite process have used so far.
service_cpu() {
	local pid out="registry $(cpusec "$registry_pid") azurite"
	for pid in "${AZURITE_PIDS[@]}"; do out+=" $(cpusec "$pid")"; done
	echo "$out"
}
# cpu_delta A B: what each process of two service_cpu readings used between them.
cpu_delta() { awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
	for (i = 1; i <= n; i++) printf "%s%s", (x[i] ~ /^[a-z]/ ? x[i] : sprintf("%.1f", y[i] - x[i])), (i < n ? " " : "") }'; }

say "listing floor (regfill -list, concurrency 32)"
cpu_before_floor=$(service_cpu)
/usr/bin/time -v -o "$work/floor.time" "$work/regfill" -list -registry "$REGISTRY_HOST" \
	-concurrency 32 -digests "$work/digests.tsv" >"$work/floor.out"
cat "$work/floor.out"
floor=$(sed -n 's/^list: .* elapsed=\([0-9.]*\)s.*/\1/p' "$work/floor.out")
floor_registry_rss=$(vmhwm "$registry_pid")
cpu_after_floor=$(service_cpu)
[ -n "$floor" ] || die "regfill -list printed no elapsed time"
images=$(cut -f1,3 "$work/digests.tsv" | sort -u | wc -l)

export TIDEWATCH_REGISTRIES="$REGISTRY_HOST=anonymous"
path_name="generic path"
acr_counts() { :; }
if [ "$ACR" = 1 ]; then
	acr_host="127.0.0.1:$(free_port)"
	"$work/fakeacr" -listen "$acr_host" -upstream "$REGISTRY_HOST" -storage "$SCALE_DIR/registry/data" \
		-specs "$SHARED/azure-specs/acr-dataplane" >"$work/fakeacr.log" 2>&1 &
	SERVICE_PIDS+=($!)
	wait_http "http://$acr_host/v2/" fakeacr "$!" "$work/fakeacr.log"
	say "fake ACR listening on $acr_host in front of $REGISTRY_HOST"
	say "ACR listing floor (fakeacr -floor, concurrency 32)"
	"$work/fakeacr" -floor "$acr_host" -specs "$SHARED/azure-specs/acr-dataplane" -concurrency 32 >"$work/acrfloor.out"
	cat "$work/acrfloor.out"
	acr_floor=$(sed -n 's/^acr floor manifests: .* elapsed=\([0-9.]*\)s.*/\1/p' "$work/acrfloor.out")
	acr_floor2=$(sed -n 's/^acr floor attributes: .* elapsed=\([0-9.]*\)s.*/\1/p' "$work/acrfloor.out")
	export TIDEWATCH_REGISTRIES="$acr_host=acr"
	export IDENTITY_ENDPOINT="http://$acr_host/msi/token" IDENTITY_HEADER=fakeacr
	path_name="ACR path"
	# acr_counts NAME: the fake's requests per endpoint so far, to $work/NAME.acr.
	acr_counts() { curl -fsS "http://$acr_host/fakeacr/counts" >"$work/$1.acr"; }
fi
export TIDEWATCH_STORAGE="$AZURITE_CONNECTION"
export TIDEWATCH_ADVISORIES_URL="$SHARED/advisories"
export TIDEWATCH_LOG_LEVEL=warn

# sweep NAME: one `tidewatch run --stop-before scan`, its output in $work/NAME.*.
sweep() {
	say "sweep $1: tidewatch run --stop-before scan --parallel $PARALLEL --count-storage"
	/usr/bin/time -v -o "$work/$1.time" "$work/tidewatch" run --stop-before scan \
		--parallel "$PARALLEL" --count-storage --timeout 60m ${PROFILE:+--cpuprofile "$PROFILE/$1.pprof"} >"$work/$1.out" 2>"$work/$1.err" ||
		{ tail -20 "$work/$1.err" >&2; die "sweep $1 failed"; }
	grep -v '^storage: [a-z]* ' "$work/$1.out"
}
seconds() { sed -n 's/^run: .* in \([0-9.]*\)s (.*/\1/p' "$work/$1.out"; }
busy() { sed -n 's/^run: .* busy \([0-9.]*\)s)$/\1/p' "$work/$1.out"; }
transactions() { sed -n 's/^storage: \([0-9]*\) transactions.*/\1/p' "$work/$1.out"; }
queued() { sed -n 's/^run: stopped before scan: \([0-9]*\) scan tasks.*/\1/p' "$work/$1.out"; }
# enqueued SWEEP: the digest scans the day's runs had enqueued when SWEEP stopped (a
# scan task carries one digest or a listing's batch).
enqueued() { sed -n 's/^run: stopped before scan: .*enqueued \([0-9]*\) digest scans.*/\1/p' "$work/$1.out"; }
invocations() { sed -n 's/^run: \([0-9]*\) invocations.*/\1/p' "$work/$1.out"; }

acr_counts before
cpu_before_first=$(service_cpu)
sweep first
cpu_after_first=$(service_cpu)
acr_counts first
first_registry_rss=$(vmhwm "$registry_pid")
first_azurite_rss=$(azurite_rss)

changed=$(( (REPOS + 99) / 100 ))
say "re-pushing $changed tags (1 % of repositories) with new digests"
"$work/regfill" -registry "$REGISTRY_HOST" -repos "$REPOS" -tags "$TAGS" -update "$changed" \
	-changes "$work/changes.jsonl" | tail -1
changed_repos=$(sed -n 's/.*"repo":"\([^"]*\)".*/\1/p' "$work/changes.jsonl" | sort -u | wc -l)
cpu_before_second=$(service_cpu)
sweep second
cpu_after_second=$(service_cpu)
acr_counts second

t1=$(seconds first); t2=$(seconds second)
tx1=$(transactions first); tx2=$(transactions second)
q1=$(queued first); q2=$(queued second)
e1=$(enqueued first); e2=$(enqueued second)
inv1=$(invocations first); inv2=$(invocations second)

echo
echo "== scale: $REPOS repositories x $TAGS tags, $images tagged digests, parallel $PARALLEL, registry concurrency ${TIDEWATCH_REGISTRY_CONCURRENCY:-32}"
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
awk -v f="$floor" -v a="$t1" -v b="$t2" -v c="$changed_repos" -v p="$path_name" 'BEGIN {
	printf "listing floor          %8.2f s\n", f
	printf "first sweep            %8.2f s   %5.2fx floor (target <= 1.5x)\n", a, a / f
	printf "second sweep (%d repos changed, %s) %8.2f s   %5.1f %% of the first (target <= 10 %%, ACR path)\n", c, p, b, 100 * b / a
}'
if [ "$ACR" = 1 ]; then
	awk -v f="$acr_floor" -v g="$acr_floor2" -v a="$t1" -v b="$t2" 'BEGIN {
	printf "ACR floor, first sweep (_catalog + one _manifests per repository) %8.2f s; first sweep %5.2fx it\n", f, a / f
	printf "ACR floor, unchanged registry (_catalog + one attributes read per repository) %8.2f s; second sweep %5.2fx it\n", g, b / g
}'
	# acr_delta A B: the fake's requests per endpoint between two acr_counts.
	acr_delta() { python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print(", ".join("%s %d" % (k, b[k]-a.get(k,0)) for k in sorted(b) if b[k]-a.get(k,0)))' "$work/$1.acr" "$work/$2.acr"; }
	echo "ACR requests: first sweep $(acr_delta before first); second sweep $(acr_delta first second)"
fi
echo "peak RSS (MB): tidewatch first $(maxrss "$work/first.time"), second $(maxrss "$work/second.time"); regfill -list $(maxrss "$work/floor.time");"
echo "               docker-registry $floor_registry_rss after the floor, $first_registry_rss after the first sweep, $(vmhwm "$registry_pid") after both;"
echo "               azurite ($([ "$AZURITE_SPLIT" = 1 ] && echo "blob/queue/table" || echo "one process")) $first_azurite_rss after the first sweep, $(azurite_rss) after both (target <= 256 each)"
echo "CPU seconds (Azurite blob/queue/table or one process): floor regfill $(cputime "$work/floor.time"), $(cpu_delta "$cpu_before_floor" "$cpu_after_floor");"
echo "               first sweep tidewatch $(cputime "$work/first.time"), $(cpu_delta "$cpu_before_first" "$cpu_after_first");"
echo "               second sweep tidewatch $(cputime "$work/second.time"), $(cpu_delta "$cpu_before_second" "$cpu_after_second")"
echo "invocations: first $inv1 (busy $(busy first) s), second $inv2 (busy $(busy second) s); scan tasks left queued: $q1 after the first, $q2 after the second"
echo "digest scans enqueued (runs rows, cumulative for the day): $e1 after the first, $e2 after the second (the second sweep's: $(( ${e2:-0} - ${e1:-0} )))"
awk -v a="$tx1" -v b="$tx2" -v n="$images" 'BEGIN {
	printf "storage transactions: first sweep %d (%.0f per 1,000 images), second sweep %d (%.0f per 1,000 images)\n", a, 1000 * a / n, b, 1000 * b / n
}'
echo "first sweep by resource:"; grep '^storage: [a-z]* ' "$work/first.out" | sed 's/^storage: /  /'
echo "second sweep by resource:"; grep '^storage: [a-z]* ' "$work/second.out" | sed 's/^storage: /  /'

# What a sweep costs per 1,000 images, from the second (steady-state) sweep's measured
# transactions and billed instance time (the run's "run: function" lines: each
# function on one instance, up to PARALLEL executions at once, 1 s minimum per activity
# period; a Flex instance runs 6 queue executions at once (host.json), so at PARALLEL
# above 6 this is a lower bound), at the prices of scripts/cost.sh (sources there and in
# README "What it costs"). The month (sweeps, advisory syncs, rematches, scans of new
# pushes) is scripts/cost.sh's, measured at --parallel 6.
MEMORY_MB=${MEMORY_MB:-2048}
awk -v n="$images" -v mem="$MEMORY_MB" '
$1 == "storage:" && $2 == "table" { table += $NF }
$1 == "storage:" && $2 == "queue" { queue += $NF }
$1 == "storage:" && $2 == "blob" { if ($(NF - 1) == "PUT") bw += $NF; else br += $NF }
$1 == "run:" && $2 == "function" { billed += substr($14, 1, length($14) - 1) }
END {
	per = 1000 / n
	usd = per * (table * 0.00036 + queue * 0.004 + bw * 0.055 + br * 0.0044) / 10000
	gbs = per * billed * mem / 1024
	printf "\nsecond sweep per 1,000 images: storage $%.4f, %.1f GB-s at %d MB ($%.4f at $0.000026/GB-s); the month: scripts/cost.sh\n", usd, gbs, mem, gbs * 0.000026
}' "$work/second.out"
echo "registry kept in $SCALE_DIR (reused by the next run with the same REPOS and TAGS)"
