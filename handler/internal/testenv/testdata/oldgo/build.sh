#!/bin/sh
# Rebuilds oldgo: a Go binary made by the go1.22.0 toolchain (fetched through the
# module proxy, cached under the worktree's .cache) linking golang.org/x/text v0.3.7,
# which GO-2021-0113 and GO-2022-1059 affect. The truth the tests use is what
# `go version -m oldgo` prints at test time, not anything Tidewatch wrote.
set -eu
cd "$(dirname "$0")"
export GOMODCACHE="${GOMODCACHE:-$(git rev-parse --show-toplevel)/.cache/gomod}"
GOTOOLCHAIN=go1.22.0 GOFLAGS=-mod=mod timeout 600 go build -trimpath -ldflags=-s -o oldgo .
go version -m oldgo
