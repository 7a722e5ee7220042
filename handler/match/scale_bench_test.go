package match_test

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
)

// kernelRecords writes an OSV Debian export of n records all naming the source
// "linux", as Debian's tracker does for the kernel (about 4,090 in bookworm).
func kernelRecords(tb testing.TB, n int) *advisory.Index {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "Debian"), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "Debian", "all.zip"))
	if err != nil {
		tb.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for i := range n {
		w, err := zw.Create(fmt.Sprintf("DEBIAN-CVE-2024-%05d.json", i))
		if err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(w, `{"id":"DEBIAN-CVE-2024-%05d","modified":"2024-08-01T00:00:00Z","aliases":["CVE-2024-%05d"],
"summary":"linux: flaw %d","affected":[{"package":{"ecosystem":"Debian:12","name":"linux"},
"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"6.1.119-1"}]}]}]}`, i, i, i)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	idx, err := advisory.Load(context.Background(), dir, []string{"Debian"})
	if err != nil {
		tb.Fatal(err)
	}
	return idx
}

// BenchmarkMatchFiftyKernelBinaries is the case: 50 binaries of source
// linux against 4,090 records, 204,500 findings.
func BenchmarkMatchFiftyKernelBinaries(b *testing.B) {
	idx := kernelRecords(b, 4090)
	pkgs := kernelBinaries(50)
	b.ReportAllocs()
	for b.Loop() {
		if n := len(matchDebian12(b, idx, pkgs)); n != 50*4090 {
			b.Fatalf("%d findings, want %d", n, 50*4090)
		}
	}
}
