# Shared by scripts/test.sh and scripts/dev.sh: install and start the real services
# Tidewatch needs (Azurite for Azure Storage, the distribution registry), on loopback,
# and stop them when the calling script exits. Source it; don't run it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="$REPO_ROOT/.cache"
AZURITE_VERSION=3.35.0
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
SERVICE_PIDS=()

die() { echo "error: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

stop_services() {
	local pid
	for pid in "${SERVICE_PIDS[@]:-}"; do
		[ -n "$pid" ] || continue
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	SERVICE_PIDS=()
}

# as_root runs a command as root (directly, or through sudo when available).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root to run: $*"
	fi
}

apt_install() {
	say "installing $* with apt-get"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
		die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
		die "apt-get install $* failed"
}

ensure_go() {
	command -v go >/dev/null || die "Go is not installed (need Go 1.26: https://go.dev/dl)"
}

ensure_docker_registry() {
	command -v docker-registry >/dev/null || apt_install docker-registry
	command -v docker-registry >/dev/null || die "docker-registry still missing after apt-get install"
}

ensure_dpkg() {
	command -v dpkg >/dev/null || die "dpkg is needed (tests compare versions with dpkg --compare-versions)"
}

# ensure_app_version_references installs the reference version orderings the
# application-ecosystem oracles run (handler/internal/testenv/appversions.go): Ruby's
# Gem::Version and Composer's Composer\Semver. apt-get is bounded to 10 minutes.
ensure_app_version_references() {
	if command -v ruby >/dev/null && command -v php >/dev/null &&
		php -r 'require "Composer/Semver/autoload.php";' 2>/dev/null; then
		return
	fi
	say "installing ruby, php-cli and php-composer-semver (RubyGems and Packagist oracles)"
	as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq >/dev/null ||
		die "apt-get update failed or took over 10 minutes (needed for ruby, php-composer-semver)"
	as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
		ruby php-cli php-composer-semver >/dev/null ||
		die "apt-get install ruby php-cli php-composer-semver failed or took over 10 minutes"
	php -r 'require "Composer/Semver/autoload.php";' ||
		die "Composer\\Semver not loadable after installing php-composer-semver"
}

# ensure_rpm_tools installs Debian's rpm and python3-rpm: the rpm oracle in
# handler/internal/testenv lists rpm databases with `rpm --dbpath … -qa` and orders
# versions with rpm.labelCompare (/usr/bin/python3, where python3-rpm installs).
RPM_TOOLS_TIMEOUT=${RPM_TOOLS_TIMEOUT:-300}
ensure_rpm_tools() {
	if command -v rpm >/dev/null && /usr/bin/python3 -c 'import rpm' 2>/dev/null; then
		return
	fi
	say "installing rpm and python3-rpm with apt-get (at most ${RPM_TOOLS_TIMEOUT}s)"
	as_root env DEBIAN_FRONTEND=noninteractive timeout "$RPM_TOOLS_TIMEOUT" apt-get update -qq >/dev/null ||
		die "apt-get update failed or took more than ${RPM_TOOLS_TIMEOUT}s (needed for rpm, python3-rpm)"
	as_root env DEBIAN_FRONTEND=noninteractive timeout "$RPM_TOOLS_TIMEOUT" \
		apt-get install -y -qq --no-install-recommends rpm python3-rpm >/dev/null ||
		die "apt-get install rpm python3-rpm failed or took more than ${RPM_TOOLS_TIMEOUT}s (the rpm oracle needs them)"
	command -v rpm >/dev/null && /usr/bin/python3 -c 'import rpm' ||
		die "rpm or python3-rpm (for /usr/bin/python3) still missing after apt-get install"
}

# ensure_maven_version_oracle installs what the Maven oracle runs: java and Maven's
# maven-artifact jar (its ComparableVersion orders versions), Debian's
# default-jre-headless and libmaven3-core-java, bounded by 10 minutes.
ensure_maven_version_oracle() {
	if command -v java >/dev/null && { [ -f /usr/share/java/maven3-artifact.jar ] ||
		compgen -G '/usr/share/maven/lib/maven-artifact-*.jar' >/dev/null; }; then
		return
	fi
	say "installing default-jre-headless libmaven3-core-java with apt-get (the Maven version oracle)"
	as_root env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update -qq >/dev/null ||
		die "apt-get update failed or took more than 5 minutes"
	as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
		default-jre-headless libmaven3-core-java >/dev/null ||
		die "apt-get install default-jre-headless libmaven3-core-java failed or took more than 10 minutes (tests order Maven versions with Maven's ComparableVersion)"
	command -v java >/dev/null && [ -f /usr/share/java/maven3-artifact.jar ] ||
		die "java or /usr/share/java/maven3-artifact.jar still missing after apt-get install"
}

AZURITE_BIN="$CACHE_DIR/azurite/node_modules/.bin/azurite"
ensure_azurite() {
	if [ -x "$AZURITE_BIN" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" \
		"$CACHE_DIR/azurite/node_modules/azurite/package.json" 2>/dev/null; then
		return
	fi
	command -v npm >/dev/null || apt_install nodejs npm
	say "installing azurite@$AZURITE_VERSION into $CACHE_DIR/azurite"
	mkdir -p "$CACHE_DIR/azurite"
	npm install --prefix "$CACHE_DIR/azurite" --no-audit --no-fund --loglevel=error \
		"azurite@$AZURITE_VERSION" >&2 || die "npm install azurite@$AZURITE_VERSION failed"
	[ -x "$AZURITE_BIN" ] || die "azurite binary missing after npm install"
}

# The independent version oracles of the npm and PyPI tests (handler/internal/testenv
# apporacle.go): npm's own semver package, driven by node, and Debian's
# python3-packaging for Debian's /usr/bin/python3 (not a python3 earlier on PATH).
SEMVER_VERSION=7.8.6
SEMVER_DIR="$CACHE_DIR/semver"
ensure_npm_semver() {
	if grep -q "\"version\": \"$SEMVER_VERSION\"" "$SEMVER_DIR/node_modules/semver/package.json" 2>/dev/null; then
		return
	fi
	command -v npm >/dev/null || apt_install nodejs npm
	say "installing semver@$SEMVER_VERSION into $SEMVER_DIR"
	mkdir -p "$SEMVER_DIR"
	timeout 300 npm install --prefix "$SEMVER_DIR" --no-audit --no-fund --loglevel=error \
		"semver@$SEMVER_VERSION" >&2 || die "npm install semver@$SEMVER_VERSION failed or took over 5 minutes"
	node -e "require(process.argv[1])" "$SEMVER_DIR/node_modules/semver" ||
		die "node cannot load semver from $SEMVER_DIR after npm install"
}

ensure_python_packaging() {
	/usr/bin/python3 -c 'import packaging.version' 2>/dev/null && return
	timeout 300 bash -c "$(declare -f say die as_root apt_install); apt_install python3 python3-packaging" ||
		die "apt-get install python3-packaging failed or took over 5 minutes"
	/usr/bin/python3 -c 'import packaging.version' ||
		die "/usr/bin/python3 cannot import packaging after apt-get install python3-packaging"
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local port
	for _ in $(seq 1 200); do
		port=$(( (RANDOM % 20000) + 20000 ))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"; return
		fi
	done
	die "no free port found"
}

# wait_http URL NAME PID LOG: poll until URL answers any HTTP status, the process dies, or 60 s pass.
wait_http() {
	local url=$1 name=$2 pid=$3 log=$4
	for _ in $(seq 1 600); do
		if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
		if ! kill -0 "$pid" 2>/dev/null; then
			cat "$log" >&2
			die "$name exited before it was ready (log above)"
		fi
		sleep 0.1
	done
	cat "$log" >&2
	die "$name did not answer at $url within 60 s (log above)"
}

# start_azurite DIR: starts Azurite with its data in DIR and exports
# AZURITE_CONNECTION (full devstoreaccount1 connection string). AZURITE_IN_MEMORY=1
# keeps the data in memory only (scripts/scale.sh: no database file rewritten on disk).
start_azurite() {
	local dir=$1 blob queue table extra=()
	mkdir -p "$dir"
	if [ "${AZURITE_IN_MEMORY:-0}" = 1 ]; then extra+=(--inMemoryPersistence); else extra+=(--location "$dir"); fi
	blob=$(free_port); queue=$(free_port); table=$(free_port)
	"$AZURITE_BIN" --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
		--blobPort "$blob" --queuePort "$queue" --tablePort "$table" "${extra[@]}" \
		--disableTelemetry --skipApiVersionCheck >"$dir/azurite.log" 2>&1 &
	SERVICE_PIDS+=($!)
	local pid=$!
	wait_http "http://127.0.0.1:$blob/" Azurite-blob "$pid" "$dir/azurite.log"
	wait_http "http://127.0.0.1:$queue/" Azurite-queue "$pid" "$dir/azurite.log"
	wait_http "http://127.0.0.1:$table/" Azurite-table "$pid" "$dir/azurite.log"
	export AZURITE_CONNECTION="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$blob/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table/devstoreaccount1;"
	say "Azurite listening on 127.0.0.1:$blob (blob) :$queue (queue) :$table (table)"
}

# start_azurite_split DIR: as start_azurite, but blob, queue and table each in their
# own Azurite process (azurite-blob, azurite-queue, azurite-table), without access logs
# (--silent), so that the emulator's three services do not share one Node.js event loop.
# Benchmarks use it (scripts/scale.sh): there the storage service is not what is being
# measured, and Azure Storage serves each service on its own front ends. Exports
# AZURITE_CONNECTION and AZURITE_PIDS (blob, queue, table).
start_azurite_split() {
	local dir=$1 bin port svc extra=() endpoints="" conn
	mkdir -p "$dir"
	AZURITE_PIDS=()
	for svc in blob queue table; do
		bin="$CACHE_DIR/azurite/node_modules/.bin/azurite-$svc"
		[ -x "$bin" ] || die "azurite-$svc not found at $bin"
		extra=()
		if [ "${AZURITE_IN_MEMORY:-0}" = 1 ]; then extra+=(--inMemoryPersistence); else extra+=(--location "$dir/$svc"); fi
		port=$(free_port)
		"$bin" "--${svc}Host" 127.0.0.1 "--${svc}Port" "$port" "${extra[@]}" \
			--disableTelemetry --skipApiVersionCheck --silent >"$dir/azurite-$svc.log" 2>&1 &
		SERVICE_PIDS+=($!)
		AZURITE_PIDS+=($!)
		wait_http "http://127.0.0.1:$port/" "Azurite-$svc" "$!" "$dir/azurite-$svc.log"
		case $svc in
		blob) endpoints+="BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;" ;;
		queue) endpoints+="QueueEndpoint=http://127.0.0.1:$port/devstoreaccount1;" ;;
		table) endpoints+="TableEndpoint=http://127.0.0.1:$port/devstoreaccount1;" ;;
		esac
	done
	conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_KEY;$endpoints"
	export AZURITE_CONNECTION="$conn"
	say "Azurite listening as three processes (blob, queue, table): pids ${AZURITE_PIDS[*]}"
}

# start_registry DIR [HTPASSWD_FILE]: starts docker-registry with storage in DIR and
# exports REGISTRY_HOST (127.0.0.1:PORT).
start_registry() {
	local dir=$1 htpasswd=${2:-} port auth=""
	mkdir -p "$dir"
	port=$(free_port)
	if [ -n "$htpasswd" ]; then
		auth=$(printf 'auth:\n  htpasswd:\n    realm: tidewatch\n    path: %s\n' "$htpasswd")
	fi
	cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
YAML
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	SERVICE_PIDS+=($!)
	wait_http "http://127.0.0.1:$port/v2/" docker-registry "$!" "$dir/registry.log"
	export REGISTRY_HOST="127.0.0.1:$port"
	say "docker-registry listening on $REGISTRY_HOST"
}
