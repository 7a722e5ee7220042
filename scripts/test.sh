#!/usr/bin/env bash
# Runs every test: unit tests and integration tests against real Azurite and real
# docker-registry processes. Installs what is missing (apt docker-registry, npm
# azurite into .cache/), starts Azurite, and fails loudly if a service can't start.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -run TestScan ./handler/cli/   # extra args go to `go test`
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"

ensure_go
ensure_dpkg
ensure_app_version_references
ensure_rpm_tools
ensure_maven_version_oracle
ensure_docker_registry
ensure_azurite
ensure_npm_semver
ensure_python_packaging
command -v curl >/dev/null || apt_install curl

work=$(mktemp -d -t tidewatch-test.XXXXXX)
trap 'stop_services; rm -rf "$work"' EXIT
start_azurite "$work/azurite"
# Tests start a fresh docker-registry per test (isolated pagination, auth, faults);
# this preflight fails loudly here if the registry cannot start on this machine.
start_registry "$work/registry-preflight"

export TIDEWATCH_TEST_STORAGE="$AZURITE_CONNECTION"
export TIDEWATCH_TEST_REQUIRE_SERVICES=1
export TIDEWATCH_TEST_DOCKER_REGISTRY
TIDEWATCH_TEST_DOCKER_REGISTRY="$(command -v docker-registry)"

say "go vet ./..."
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

say "go test"
if [ $# -gt 0 ]; then
	go test -timeout 20m "$@"
else
	go test -timeout 20m ./...
fi
