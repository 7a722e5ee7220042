#!/usr/bin/env bash
# Monthly cost of keeping a registry continuously scanned, from measured storage
# transactions, executions and billed instance time (not part of test.sh or CI).
#
#   scripts/cost.sh                         # REPOS=50 TAGS=10, scaled to IMAGES=1000
#   IMAGES=1000 CHURN=0.02 CHANGED_SYNCS=24 MEMORY_MB=2048 scripts/cost.sh
#
# The full table is printed for the first of MEMORY_MB and CHANGED_LIST, a total line
# for every other pair.
#
# Against a local docker-registry (regfill's tiny images plus the real fixture images
# of ../shared/images) and a fresh in-memory Azurite, it runs `tidewatch run
# --count-storage --parallel PARALLEL` once per part of the steady state, the way the
# host would (real custom-handler protocol, real queues):
#   sync-first    advisories timer, first sync (downloads and compiles every folder)
#   scan-tiny     sweep timer: list tasks, then a scan of every regfill image
#   scan-real     sweep timer after pushing the fixtures: the regfill repositories are
#                 listed again (nothing due) and the fixture images scanned
#   sweep         sweep timer with nothing due (every digest scanned within 24 h)
#   sync-304      advisories timer, nothing changed (one conditional GET per folder)
#   sync-changed  advisories timer after one folder changed: new generation, then the
#                 rematch of every stored inventory in pages of 100 (no registry pull)
# and prints each part per image, then the month for IMAGES images (month below).
#
# What the code does in steady state (handler/pipeline listrepo.go scanDue, rematch.go):
# a digest is pulled and scanned only when new (a push) or its stored result is
# unusable; one whose result is older than 24 h or of another advisory generation, with
# a current inventory, is re-matched from the stored inventory (no pull). A changed
# advisory sync re-matches every images row in pages of 100; without one, the sweep
# sends a rematch task per digest once a day. The month is therefore:
#   SWEEPS_PER_DAY sweeps (infra/main.bicep sweepSchedule '0 0 */6 * * *': 4) at the
#   measured `sweep` cost per image; 24 advisory syncs a day (advisorySchedule
#   '0 0 * * * *'), CHANGED_SYNCS of them changed (each: the sync plus a rematch of
#   every image in pages), the rest 304s; once a day a rematch task per digest from
#   the sweep (due by age, or by generation when the day's first sweep lists a digest
#   before the pages reached it; a digest is enqueued at most once a day, ScanClaimedOn),
#   counted in every case as an upper bound and DERIVED, not measured (the run cannot
#   move the clock past the day's claims): the page rematch's per-row work, plus a
#   send, a receive, a delete and a claim, one execution, and an empty rematch
#   invocation's time plus a row's, PARALLEL at once; CHURN x IMAGES new digests a day,
#   each scanned at the measured real-image scan cost (scan-real).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"
ensure_go
ensure_docker_registry
ensure_azurite
[ -x /usr/bin/time ] || apt_install time

REPOS=${REPOS:-50}
TAGS=${TAGS:-10}
PARALLEL=${PARALLEL:-6} # host.json batchSize 4 + newBatchThreshold 2: one instance's queue concurrency
IMAGES=${IMAGES:-1000}
CHURN=${CHURN:-0.02}
CHANGED_SYNCS=${CHANGED_SYNCS:-24}
SWEEPS_PER_DAY=${SWEEPS_PER_DAY:-4}
MEMORY_MB=${MEMORY_MB:-"2048 512"} # infra/main.bicep instanceMemoryMB allows 512, 2048, 4096
CHANGED_LIST=${CHANGED_LIST:-"$CHANGED_SYNCS 1 0"}
SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
FIXTURES=${FIXTURES:-"debian12-minbase debian12-layered debian12-multiarch distroless-style alpine-3.4 almalinux-9-micro go-app node-app"}
work=$(mktemp -d -t tidewatch-cost.XXXXXX)
trap 'stop_services; rm -rf "$work"' EXIT

say "building tidewatch, regfill, pushlayout"
go build -o "$work/tidewatch" ./handler
go build -o "$work/pushlayout" ./handler/internal/ocilayout/pushlayout
(cd "$SHARED/tools/regfill" && go build -o "$work/regfill" .)

start_registry "$work/registry"
AZURITE_IN_MEMORY=1 start_azurite "$work/azurite"

# The advisory source, served over HTTP so the sync is conditional (Last-Modified).
cp -r "$SHARED/advisories" "$work/advisories"
adv_port=$(free_port)
(cd "$work/advisories" && exec python3 -m http.server --bind 127.0.0.1 "$adv_port" >"$work/http.log" 2>&1) &
SERVICE_PIDS+=($!)
wait_http "http://127.0.0.1:$adv_port/" advisories-http "${SERVICE_PIDS[-1]}" "$work/http.log"

say "filling $REGISTRY_HOST with $REPOS x $TAGS regfill images"
"$work/regfill" -registry "$REGISTRY_HOST" -repos "$REPOS" -tags "$TAGS" | tail -1
"$work/regfill" -list -registry "$REGISTRY_HOST" -concurrency 8 -digests "$work/tiny.tsv" >/dev/null
tiny=$(cut -f1,3 "$work/tiny.tsv" | sort -u | wc -l)

export TIDEWATCH_REGISTRIES="$REGISTRY_HOST=anonymous"
export TIDEWATCH_STORAGE="$AZURITE_CONNECTION"
export TIDEWATCH_ADVISORIES_URL="http://127.0.0.1:$adv_port"
export TIDEWATCH_LOG_LEVEL=warn

# part NAME TIMER: one `tidewatch run --timers TIMER`, its output in $work/NAME.out.
part() {
	say "$1: tidewatch run --timers $2 --parallel $PARALLEL --count-storage"
	/usr/bin/time -v -o "$work/$1.time" "$work/tidewatch" run --timers "$2" --parallel "$PARALLEL" \
		--count-storage --timeout 60m >"$work/$1.out" 2>"$work/$1.err" ||
		{ tail -20 "$work/$1.err" >&2; die "part $1 failed"; }
	grep '^run: ' "$work/$1.out" >&2
}

part sync-first advisories
part scan-tiny sweep
say "pushing the fixture images: $FIXTURES"
for f in $FIXTURES; do "$work/pushlayout" "$SHARED/images/$f.tar" "$REGISTRY_HOST/fixtures/$f:1"; done
real=$(echo "$FIXTURES" | wc -w)
part scan-real sweep
part sweep sweep
part sync-304 advisories
# change_advisories ID: adds a copy of a Debian record as ID, so the next sync sees a
# changed folder (new Last-Modified, new content) and makes a new generation.
change_advisories() {
	say "changing the Debian folder (record $1 added) for the next sync"
	python3 - "$work/advisories/Debian/all.zip" "$1" <<'PY'
import json, sys, zipfile
path, new_id = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path) as z:
    name = next(n for n in z.namelist() if n.endswith(".json"))
    record = json.loads(z.read(name))
record["id"] = new_id
with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
    z.writestr(new_id + ".json", json.dumps(record))
PY
}
change_advisories TIDEWATCH-COST-1
part sync-changed advisories

# Prices (USD, pay as you go; all retrieved 2026-12-02 through the search tool; the
# exact sentences are in README "What it costs"). azure.microsoft.com/pricing renders
# its figures client-side (the stored pages read "$-"), so no price below is from
# Microsoft's own page: they are SECONDARY and marked so.
#   Flex Consumption on demand (secondary: modal.com/blog/azure-function-pricing-guide,
#     2025-05-22, East US): $0.000026 per GB-s; $0.40 per million executions (not in the
#     excerpt read: unverified, consistent with a EUR 0.371 per million table); free grant
#     100,000 GB-s and 250,000 executions a month (two third-party reads of the pricing
#     page; EUR: EUR 0.000025/GB-s, EUR 0.371 per million, same grants).
#   Billing model (primary, learn.microsoft.com/azure/azure-functions/flex-consumption-plan
#     #billing and monitor-functions-reference): on demand bills "The total amount of
#     memory provisioned while each on demand instance is actively executing functions
#     (in GB-seconds)"; "The minimum billable execution period for both execution modes
#     is 1,000 ms. Past that, the billable activity period is rounded up to the nearest
#     100 ms." Non-HTTP functions scale "individually in their own set of instances".
#     tidewatch run prints that per function ("billed"): one instance per function
#     running up to PARALLEL executions at once.
#   Storage, StorageV2 Standard_LRS as infra/modules/storage.bicep deploys (secondary:
#     infracost's test fixtures priced from the Azure Retail Prices API,
#     internal/providers/terraform/azure/testdata/storage_{queue,table}_test/*.golden):
#     table $0.00036 per 10,000 operations of every kind (no customer-managed key);
#     queue $0.004 per 10,000 class 1 and class 2 operations alike; blob $0.055 per
#     10,000 writes (PUT here), $0.0044 per 10,000 reads and other operations.
PRICE_GBS=${PRICE_GBS:-0.000026}
PRICE_EXEC=${PRICE_EXEC:-0.40}         # per million
FREE_GBS=${FREE_GBS:-100000}
FREE_EXEC=${FREE_EXEC:-250000}
PRICE_TABLE=${PRICE_TABLE:-0.00036}    # per 10,000
PRICE_QUEUE=${PRICE_QUEUE:-0.004}      # per 10,000
PRICE_BLOB_WRITE=${PRICE_BLOB_WRITE:-0.055}
PRICE_BLOB_READ=${PRICE_BLOB_READ:-0.0044}

# figures NAME [FUNCTION]: the run's storage transactions and, of FUNCTION's
# invocations (default: all), executions and billed and busy seconds:
#   "table queue blob-writes blob-reads advisory-blobs executions billed-s busy-s"
# Blob PUTs are writes, every other blob request a read or "other" (same price).
figures() {
	awk -v only="${2:-}" '
	$1 == "storage:" && ($2 == "table" || $2 == "queue" || $2 == "blob") {
		n = $NF; method = $(NF - 1); resource = NF == 5 ? $3 : ""
		if ($2 == "table") table += n
		else if ($2 == "queue") queue += n
		else if (resource == "advisories") adv += n
		else if (method == "PUT") bw += n
		else br += n
	}
	$1 == "run:" && $2 == "function" && (only == "" || $3 == only ":") {
		execs += $4; busy += substr($7, 1, length($7) - 2); billed += substr($14, 1, length($14) - 1)
	}
	END { printf "%d %d %d %d %d %d %.1f %.1f\n", table, queue, bw, br, adv, execs, billed, busy }
	' "$work/$1.out"
}

echo
echo "== cost: measured on $tiny regfill digests ($REPOS x $TAGS) + $real fixture images, --parallel $PARALLEL, load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
printf "%-13s %8s %8s %8s %8s %8s %6s %9s %9s\n" part table queue blob-w blob-r adv-blob execs billed-s busy-s
for p in sync-first scan-tiny scan-real sweep sync-304 sync-changed; do
	# shellcheck disable=SC2046
	printf "%-13s %8s %8s %8s %8s %8s %6s %9s %9s\n" "$p" $(figures "$p")
done
for p in sync-first scan-tiny scan-real sweep sync-changed; do echo "$p:"; grep '^run: function ' "$work/$p.out" | sed 's/^run: /  /'; done
maxrss() { awk -F: '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/$1.time"; }
echo "peak RSS of tidewatch (MB, --parallel $PARALLEL): scan-tiny $(maxrss scan-tiny), scan-real $(maxrss scan-real), sweep $(maxrss sweep), sync-first $(maxrss sync-first), sync-changed $(maxrss sync-changed)"

# month MEMORY CHANGED VERBOSE: the month at MEMORY MB with CHANGED changed syncs a day.
month() {

awk -v tiny="$tiny" -v real="$real" -v images="$IMAGES" -v churn="$CHURN" -v changed="$2" \
	-v sweeps="$SWEEPS_PER_DAY" -v mem="$1" -v verbose="$3" \
	-v pgbs="$PRICE_GBS" -v pexec="$PRICE_EXEC" -v fgbs="$FREE_GBS" -v fexec="$FREE_EXEC" \
	-v pt="$PRICE_TABLE" -v pq="$PRICE_QUEUE" -v pbw="$PRICE_BLOB_WRITE" -v pbr="$PRICE_BLOB_READ" \
	-v F_sreal="$(figures scan-real)" -v F_sweep="$(figures sweep)" -v F_304="$(figures sync-304)" \
	-v F_chsync="$(figures sync-changed advisories)" -v F_chremat="$(figures sync-changed rematch)" \
	-v F_empty="$(figures sync-first rematch)" -v parallel="$PARALLEL" '
# Index of the figures: 1 table, 2 queue, 3 blob writes, 4 blob reads, 5 advisory
# blobs, 6 executions, 7 billed s, 8 busy s.
function load(s, a) { split(s, a, " ") }
function usd(a, k) { return k * (a[1] * pt + a[2] * pq + a[3] * pbw + (a[4] + a[5]) * pbr) / 10000 }
# row: k times the figures a, added to the totals.
function row(name, a, k,   tx, gbs, st) {
	tx = k * (a[1] + a[2] + a[3] + a[4] + a[5]); gbs = k * a[7] * mem / 1024; st = usd(a, k)
	TX += tx; EX += k * a[6]; GBS += gbs; ST += st
	if (verbose) printf "  %-46s %12.0f %10.0f %10.0f %9.3f %9.3f\n", name, tx, k * a[6], gbs, st, k * a[6] * pexec / 1e6 + gbs * pgbs
}
BEGIN {
	load(F_sweep, sw); load(F_sreal, sr); load(F_304, q); load(F_chsync, cs); load(F_chremat, cr)
	load(F_empty, em)
	total = tiny + real; month = 30
	for (i = 1; i <= 8; i++) {
		sweep1[i] = sw[i] / total                       # a steady sweep, per digest
		scan1[i] = (sr[i] - sw[i] * tiny / total) / real # a real image scanned, with its listing
		sync304[i] = q[i]                               # one unchanged sync
	}
	# The changed sync: its advisory blobs and the advisories invocation; the rest of the
	# run (tables, queues, inventory blobs, rematch invocations) is the rematch.
	for (i = 1; i <= 8; i++) { synch[i] = 0; remat1[i] = 0 }
	synch[5] = cs[5]; synch[6] = cs[6]; synch[7] = cs[7]
	for (i = 1; i <= 4; i++) remat1[i] = cs[i] / total
	remat1[6] = cr[6] / total; remat1[7] = cr[7] / total
	# A rematch task per digest (derived): the per-row storage of the page rematch,
	# plus a claim (table), a send, a receive and a delete (queue); one execution; the
	# busy time of an empty rematch invocation (the page of sync-first found no rows)
	# plus the share of one row of a page, PARALLEL of them overlapping on one instance.
	for (i = 1; i <= 8; i++) scoped1[i] = remat1[i]
	scoped1[1] += 1; scoped1[2] += 3; scoped1[6] = 1
	scoped1[7] = (em[8] / em[6] + cr[8] / total) / parallel
	if (verbose) printf "\nper digest, a rematch task of its own (derived): %.1f transactions, 1 execution, %.3f billed s\n",
		scoped1[1] + scoped1[2] + scoped1[3] + scoped1[4], scoped1[7]
	if (verbose) printf "per image: sweep %.1f transactions, %.3f billed s; real scan %.1f transactions, %.2f billed s; rematch %.1f transactions, %.3f billed s\n",
		sweep1[1] + sweep1[2] + sweep1[3] + sweep1[4], sweep1[7], scan1[1] + scan1[2] + scan1[3] + scan1[4] + scan1[5], scan1[7],
		remat1[1] + remat1[2] + remat1[3] + remat1[4], remat1[7]
	if (verbose) printf "per sync: unchanged %d transactions, %.1f billed s; changed %d transactions, %.1f billed s\n",
		q[1] + q[2] + q[3] + q[4] + q[5], q[7], cs[5], cs[7]
	if (verbose) {
		printf "\nmonth, %d images, %d sweeps/day, %d of 24 hourly syncs changed, churn %.1f %%/day, %d MB instances:\n", images, sweeps, changed, 100 * churn, mem
		printf "  %-46s %12s %10s %10s %9s %9s\n", "part", "transactions", "executions", "GB-s", "storage$", "compute$"
	}
	row(sprintf("sweeps (%d/day)", sweeps), sweep1, images * sweeps * month)
	row(sprintf("advisory syncs, unchanged (%d/day)", 24 - changed), sync304, (24 - changed) * month)
	if (changed > 0) {
		row(sprintf("advisory syncs, changed (%d/day)", changed), synch, changed * month)
		row(sprintf("rematch of every image per changed sync"), remat1, images * changed * month)
	}
	row("daily rematch task per digest (derived, bound)", scoped1, images * month)
	row(sprintf("scans of new digests (%.0f/day)", images * churn), scan1, images * churn * month)
	gbs_usd = GBS * pgbs; exec_usd = EX * pexec / 1e6
	gbs_free = (GBS > fgbs ? GBS - fgbs : 0) * pgbs; exec_free = (EX > fexec ? EX - fexec : 0) * pexec / 1e6
	if (!verbose) {
		printf "month, %d images, %4d MB, %2d changed syncs/day: %8.0f transactions %7.0f executions %7.0f GB-s: $%.2f without the free grant, $%.2f with it\n", images, mem, changed, TX, EX, GBS, ST + exec_usd + gbs_usd, ST + exec_free + gbs_free
		exit
	}
	printf "  %-46s %12.0f %10.0f %10.0f %9.3f %9.3f\n", "total", TX, EX, GBS, ST, exec_usd + gbs_usd
	printf "  USD/month, no free grant:   storage $%.2f + executions $%.2f + GB-s $%.2f = $%.2f (target <= $1)\n", ST, exec_usd, gbs_usd, ST + exec_usd + gbs_usd
	printf "  USD/month, with free grant: storage $%.2f + executions $%.2f + GB-s $%.2f = $%.2f\n", ST, exec_free, gbs_free, ST + exec_free + gbs_free
	printf "  not counted: the host'"'"'s own use of the storage account (timer status blobs, queue polling while an instance is up)\n"
}'
}

verbose=1
for mem in $MEMORY_MB; do
	for changed in $CHANGED_LIST; do
		month "$mem" "$changed" "$verbose"
		verbose=0
	done
done
