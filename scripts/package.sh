#!/usr/bin/env bash
# Builds the deployable Functions package: dist/tidewatch.zip holding host.json, the
# `tidewatch` executable (linux/amd64, static, stripped, version-stamped, mode 0755) and
# one <Name>/function.json per function, all at the zip root where the host looks.
#
#   scripts/package.sh                          # -> dist/tidewatch.zip
#   TIDEWATCH_DIST=/tmp/out scripts/package.sh  # -> /tmp/out/tidewatch.zip
#   TIDEWATCH_VERSION=1.4.0 scripts/package.sh  # default: git describe, else "dev"
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"

ensure_go
command -v zip >/dev/null || apt_install zip

dist="${TIDEWATCH_DIST:-$REPO_ROOT/dist}"
version="${TIDEWATCH_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
[[ "$version" =~ ^[A-Za-z0-9._+-]+$ ]] || die "TIDEWATCH_VERSION must be letters, digits and ._+- (got '$version')"

stage=$(mktemp -d -t tidewatch-package.XXXXXX)
trap 'rm -rf "$stage"' EXIT

say "building tidewatch $version for linux/amd64"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
	-ldflags "-s -w -X main.version=$version" \
	-o "$stage/tidewatch" ./handler
chmod 0755 "$stage/tidewatch"

cp host.json "$stage/host.json"
found=0
for dir in functions/*/; do
	name=$(basename "$dir")
	[ -f "$dir/function.json" ] || die "$dir has no function.json"
	mkdir -p "$stage/$name"
	cp "$dir/function.json" "$stage/$name/function.json"
	found=$((found + 1))
done
[ "$found" -gt 0 ] || die "no functions/<Name>/function.json to package"

mkdir -p "$dist"
rm -f "$dist/tidewatch.zip"
# -X: no extra file attributes beyond the Unix mode, so the executable bit survives.
(cd "$stage" && zip -q -X -r "$dist/tidewatch.zip" host.json tidewatch */function.json)
say "wrote $dist/tidewatch.zip ($found functions)"
