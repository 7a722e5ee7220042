#!/usr/bin/env bash
# The main job, locally, end to end: installs what is missing, starts Azurite and a
# real docker-registry on loopback, pushes demo images, runs the whole pipeline once
# (timer -> sweep -> list tasks -> scan tasks, through the custom-handler protocol),
# prints the findings, then replaces the vulnerable tag with a patched build and runs
# again to show the old findings resolved. Stops everything it started on exit.
#
#   scripts/dev.sh
#
# Env: TIDEWATCH_SHARED (fixtures, default ../shared), TIDEWATCH_ADVISORIES_URL
# (advisory directory, default $TIDEWATCH_SHARED/advisories), KEEP=1 to keep the
# services running until Ctrl-C.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"

SHARED="${TIDEWATCH_SHARED:-$REPO_ROOT/../shared}"
ADVISORIES="${TIDEWATCH_ADVISORIES_URL:-$SHARED/advisories}"
[ -d "$ADVISORIES" ] || die "no advisory data at $ADVISORIES (set TIDEWATCH_ADVISORIES_URL to a directory in OSV bulk layout)"

ensure_go
ensure_docker_registry
ensure_azurite
command -v curl >/dev/null || apt_install curl

bin="$CACHE_DIR/bin"
mkdir -p "$bin"
say "building tidewatch"
go build -o "$bin/tidewatch" -ldflags "-X main.version=dev-$(git rev-parse --short HEAD 2>/dev/null || echo local)" ./handler
go build -o "$bin/demoimage" ./handler/internal/cmd/demoimage

work=$(mktemp -d -t tidewatch-dev.XXXXXX)
trap 'stop_services; rm -rf "$work"' EXIT
start_azurite "$work/azurite"
start_registry "$work/registry"
REG="$REGISTRY_HOST"

say "pushing demo images to $REG"
if [ -d "$SHARED/images" ]; then
	"$bin/demoimage" push "$SHARED/images/debian12-layered.tar" "$REG/demo/app:1"
	"$bin/demoimage" push "$SHARED/images/debian12-multiarch.tar" "$REG/demo/multiarch:1"
	"$bin/demoimage" push "$SHARED/images/distroless-style.tar" "$REG/demo/distroless:1"
else
	say "no $SHARED/images: building a minimal Debian 12 image with debootstrap"
	command -v debootstrap >/dev/null || apt_install debootstrap
	as_root debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
	"$bin/demoimage" rootfs "$work/rootfs" "$REG/demo/app:1"
fi

export TIDEWATCH_REGISTRIES="$REG=anonymous"
export TIDEWATCH_STORAGE="$AZURITE_CONNECTION"
export TIDEWATCH_ADVISORIES_URL="$ADVISORIES"
export TIDEWATCH_LOG_LEVEL="${TIDEWATCH_LOG_LEVEL:-warn}"

say "run 1: scanning everything pushed"
"$bin/tidewatch" run
"$bin/tidewatch" findings --state active

say "building a patched demo/app:1 (libssl3, openssl, libexpat1 from bookworm-security)"
debs="$work/debs"
mkdir -p "$debs"
if (cd "$debs" && apt-get download libssl3 openssl libexpat1 >/dev/null 2>&1); then
	"$bin/demoimage" patch "$REG/demo/app:1" "$REG/demo/app:1" "$debs"/*.deb
else
	say "apt-get download failed (no Debian mirror?): replacing demo/app:1 with the plain minbase image instead"
	[ -d "$SHARED/images" ] || die "nothing to replace demo/app:1 with"
	"$bin/demoimage" push "$SHARED/images/debian12-minbase.tar" "$REG/demo/app:1"
fi

say "run 2: the moved tag is scanned; findings the patch removed are resolved"
"$bin/tidewatch" run
"$bin/tidewatch" findings --state resolved --repository demo/app
"$bin/tidewatch" findings --state active --repository demo/app

if [ "${KEEP:-}" = 1 ]; then
	say "services still running (Azurite: TIDEWATCH_STORAGE above, registry $REG); Ctrl-C to stop"
	wait
fi
