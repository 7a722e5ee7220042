// Command tidewatch is the Tidewatch CLI and Azure Functions custom handler.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tidewatch/tidewatch/handler/cli"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// gcPercent and memoryLimit are the garbage collector's settings unless GOGC and
// GOMEMLIMIT say otherwise. The handler's live heap is small (tens of MB while
// listing) and the Tables SDK allocates a 32 KiB copy buffer per entity of a
// transaction, so at Go's default (100) a sweep spent a quarter of its CPU collecting;
// at 400 it spends a third less CPU (scripts/scale.sh), with a peak RSS of 104-112 MB
// on first sweeps and 235 MB on a 10,000-repository second sweep (five times a larger
// live heap). Scans gain nothing from it (the synthetic 2 GiB image of
// scripts/bench-coverage.sh: the same 4.9 s, peak RSS 147 MB against 82). The soft
// limit makes the collector work harder past 384 MiB, inside even a 512 MB instance
// (infra/main.bicep instanceMemoryMB), so a larger live heap (an advisory sync) costs
// collections, not the instance.
const (
	gcPercent   = 400
	memoryLimit = 384 << 20
)

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.Env{
		Args:    os.Args[1:],
		Environ: os.Environ(),
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Version: version,
	})
	stop()
	os.Exit(code)
}
