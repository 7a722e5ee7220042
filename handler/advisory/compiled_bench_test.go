package advisory_test

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// blobSource serves in-memory folders, as a generation's blobs would once read.
type blobSource map[string][]byte

func (s blobSource) Open(_ context.Context, name string) (io.ReadCloser, error) {
	data, ok := s[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// allEcosystems are the shared export's matchable folders; GIT is the severity folder.
var allEcosystems = []string{"AlmaLinux", "Alpine", "Debian", "Go", "PyPI", "npm"}

// sources reads the shared folders raw and compiles them.
func sources(b *testing.B) (raw, compiled blobSource) {
	b.Helper()
	raw, compiled = blobSource{}, blobSource{}
	for _, folder := range append([]string{"GIT"}, allEcosystems...) {
		data, err := os.ReadFile(filepath.Join(testenv.Advisories(b), folder, "all.zip"))
		if err != nil {
			b.Fatal(err)
		}
		blob, err := advisory.Compile(context.Background(), data)
		if err != nil {
			b.Fatal(err)
		}
		raw[folder+"/all.zip"], compiled[folder+"/all.zip"] = data, blob
	}
	return raw, compiled
}

// benchLoad loads ecosystems from src per iteration and reports the live heap the
// last index holds (MB), measured after a GC with the index still referenced.
func benchLoad(b *testing.B, src advisory.Source, ecosystems []string) {
	ctx := context.Background()
	var before runtime.MemStats
	// Two collections: the first only moves sync.Pool contents (the inflaters of
	// sources' compiles) to the victim cache, the second frees them.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	var idx *advisory.Index
	b.ResetTimer()
	for b.Loop() {
		idx = nil
		var err error
		idx, err = advisory.LoadFrom(ctx, src, ecosystems, advisory.WithSeverityFolder("GIT"))
		if err != nil {
			b.Fatal(err)
		}
		if idx.Records(ecosystems[0]) == 0 {
			b.Fatal("no records")
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(idx)
	runtime.KeepAlive(src) // the blobs were live at the first reading: keep them in the second
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MB")
}

func BenchmarkLoadCompiledDebian(b *testing.B) {
	_, compiled := sources(b)
	benchLoad(b, compiled, []string{"Debian"})
}

func BenchmarkLoadCompiledAll(b *testing.B) {
	_, compiled := sources(b)
	benchLoad(b, compiled, allEcosystems)
}

// BenchmarkLoadJSONDebian and BenchmarkLoadJSONAll are the JSON baselines of the
// same data from memory (BenchmarkLoadDebian reads the directory).
func BenchmarkLoadJSONDebian(b *testing.B) {
	raw, _ := sources(b)
	benchLoad(b, raw, []string{"Debian"})
}

func BenchmarkLoadJSONAll(b *testing.B) {
	raw, _ := sources(b)
	benchLoad(b, raw, allEcosystems)
}

// BenchmarkLoadDir loads the ecosystems of TIDEWATCH_BENCH_ECOSYSTEMS (comma list,
// default Debian) and the GIT severity folder from the directory
// TIDEWATCH_BENCH_ADVISORIES (OSV layout; each all.zip raw or compiled), as a scan
// reads them: scripts/bench.sh runs it alone in its process at several scales, so
// peak-RSS-MB (VmHWM) is the load's peak. Skipped without the directory.
func BenchmarkLoadDir(b *testing.B) {
	dir := os.Getenv("TIDEWATCH_BENCH_ADVISORIES")
	if dir == "" {
		b.Skip("TIDEWATCH_BENCH_ADVISORIES is not set")
	}
	ecosystems := strings.Split(cmp.Or(os.Getenv("TIDEWATCH_BENCH_ECOSYSTEMS"), "Debian"), ",")
	ctx := context.Background()
	for b.Loop() {
		idx, err := advisory.Load(ctx, dir, ecosystems, advisory.WithSeverityFolder("GIT"))
		if err != nil {
			b.Fatal(err)
		}
		if idx.Records(ecosystems[0]) == 0 {
			b.Fatal("no records")
		}
	}
	b.ReportMetric(peakRSSMB(b), "peak-RSS-MB")
}

// peakRSSMB is the process's peak resident set (VmHWM) in MB.
func peakRSSMB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
