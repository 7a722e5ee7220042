// Command synthimage writes the synthetic image of the coverage benchmark
// (scripts/bench-coverage.sh) as an OCI layout archive that `tidewatch scan
// --archive` reads: 30 gzip layers, 200,000 entries in all, about 2 GiB unpacked,
// with one 600 MiB executable-looking file, 40 executables (10 of them Go binaries:
// copies of this command), a 300 MiB fat jar of stored nested jars, a dpkg status
// rewritten by an upper layer, and npm and Python metadata. Contents come from a
// seeded ChaCha8 stream, so the same seed writes the same image.
//
//	go run ./handler/internal/cmd/synthimage -out /tmp/synth.tar
//
// The layer blobs and the jar are staged next to -out and removed once the archive
// is written; the archive is the only file left.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "synthimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("synthimage", flag.ContinueOnError)
	out := fs.String("out", "", "archive to write (required)")
	seed := fs.Uint64("seed", 9, "seed of the contents")
	entries := fs.Int("entries", 200_000, "tar entries in all layers together")
	layers := fs.Int("layers", 30, "number of layers")
	hugeMiB := fs.Int("huge-mib", 600, "size of the single big file, MiB")
	jarMiB := fs.Int("jar-mib", 300, "size of the fat jar, MiB")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this command's binary (the Go binaries' contents): %w", err)
	}
	goBinary, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("reading this command's binary: %w", err)
	}
	p := plan{
		seed: *seed, entries: *entries, layers: *layers,
		hugeBytes: int64(*hugeMiB) << 20, jarBytes: int64(*jarMiB) << 20, goBinary: goBinary,
	}
	if p.layers < 8 {
		return fmt.Errorf("-layers %d: at least 8 are needed for the special files", p.layers)
	}
	st, err := write(ctx, p, *out)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d layers, %d entries, %.1f MiB unpacked, %.1f MiB archive\n",
		*out, p.layers, st.entries, float64(st.unpacked)/(1<<20), float64(st.archive)/(1<<20))
	return nil
}
