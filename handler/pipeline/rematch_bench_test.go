package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
	"github.com/tidewatch/tidewatch/handler/match"
	"github.com/tidewatch/tidewatch/handler/scanner"
	"github.com/tidewatch/tidewatch/handler/store"
)

// benchImages are the shared Debian fixtures whose inventories the benchmarks
// replicate (the multi-arch index gives two).
var benchImages = []string{"debian12-minbase", "debian12-layered", "debian12-multiarch", "distroless-style"}

// storedInventories scans the shared images once and returns their inventories as
// stored (JSON, gzipped) and the index they were matched with.
func storedInventories(b *testing.B) (*advisory.Index, [][]byte) {
	b.Helper()
	ctx := context.Background()
	idx, err := advisory.Load(ctx, testenv.Advisories(b), []string{"Debian"}, advisory.WithSeverityFolder("GIT"))
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scanner.New(idx)
	if err != nil {
		b.Fatal(err)
	}
	var blobs [][]byte
	for _, name := range benchImages {
		target, err := image.FromArchive(testenv.Image(b, name))
		if err != nil {
			b.Fatal(err)
		}
		res, err := sc.Scan(ctx, target)
		if err != nil {
			b.Fatal(err)
		}
		for _, pr := range res.Platforms {
			data, err := json.Marshal(pr.Inventory)
			if err != nil {
				b.Fatal(err)
			}
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			if _, err := zw.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				b.Fatal(err)
			}
			blobs = append(blobs, gz.Bytes())
		}
	}
	return idx, blobs
}

// BenchmarkRematchInMemory is the rematch's in-memory step for stored inventories:
// gunzip, decode, match and assess (scanner.AssessWith, one Matcher per page of
// defaultRematchPageSize as the function does), rows for the lifecycle. The shared
// images' inventories are replicated to 1,000; target ≥ 2,000 inventories/s per core
// (run with -cpu 1).
func BenchmarkRematchInMemory(b *testing.B) {
	idx, blobs := storedInventories(b)
	const replicas = 1000
	findings := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpuBefore := processCPU(b)
	for b.Loop() {
		findings = 0
		var matcher *match.Matcher
		for i := range replicas {
			if i%defaultRematchPageSize == 0 {
				matcher = match.NewMatcher(idx)
			}
			zr, err := gzip.NewReader(bytes.NewReader(blobs[i%len(blobs)]))
			if err != nil {
				b.Fatal(err)
			}
			data, err := io.ReadAll(zr)
			if err != nil {
				b.Fatal(err)
			}
			inv, err := inventory.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			pr := scanner.AssessWith(matcher, inv)
			findings += len(findingRows(pr.Findings))
		}
	}
	if findings == 0 {
		b.Fatal("no findings: the benchmark matched nothing")
	}
	cpu := processCPU(b) - cpuBefore
	b.ReportMetric(float64(b.N*replicas)/b.Elapsed().Seconds(), "inventories/s")
	// The machine may be shared: per CPU-second of this process (every thread, the
	// garbage collector's included) is the per-core rate whatever else runs.
	b.ReportMetric(float64(b.N*replicas)/cpu.Seconds(), "inventories/cpu-s")
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRematchPagesAzurite runs whole rematch chains over 400 images rows (20
// repositories of 20 digests, each with one of the shared images' inventories)
// against Azurite: inventories read, findings partitions read and written, images
// rows rewritten, the next page enqueued. Rows keep their inventories inline (as
// scans write them) or, as before inline copies (and for an inventory too big to
// inline), only in blobs: the inline limit is then 1 byte, so the chain keeps them
// there. It reports pages/s, rows/s, storage transactions and inventory blob reads
// per image (default page size). Skips without TIDEWATCH_TEST_STORAGE.
func BenchmarkRematchPagesAzurite(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int
	}{
		{"rows keep inline inventories", store.MaxInlineInventory},
		{"rows without inline inventories read blobs", 1},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkRematchPages(b, bc.limit) })
	}
}

func benchmarkRematchPages(b *testing.B, inlineLimit int) {
	cs := testenv.Storage(b)
	_, blobs := storedInventories(b)
	ctx := context.Background()
	counter := store.NewTransactionCounter()
	st, err := store.Open(ctx, store.Config{ConnectionString: cs}, store.WithNameSuffix(testenv.Name(b)), store.WithTransactionCounter(counter))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.EnsureResources(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.DeleteResources(context.Background()) })
	const registryHost, repositories, digests = "bench.example", 20, 20
	cfg, err := config.Load([]string{
		config.EnvRegistries + "=" + registryHost + "=anonymous",
		config.EnvStorage + "=" + cs,
		config.EnvAdvisoriesURL + "=" + testenv.Advisories(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	at := testenv.AdvisoryTime(b, testenv.Advisories(b))
	p, err := New(cfg, st, "bench", WithClock(func() time.Time { return at }), WithInlineInventoryLimit(inlineLimit))
	if err != nil {
		b.Fatal(err)
	}
	for r := range repositories {
		for d := range digests {
			digest := fmt.Sprintf("sha256:%064x", r*digests+d)
			raw, err := gunzip(blobs[(r*digests+d)%len(blobs)])
			if err != nil {
				b.Fatal(err)
			}
			ref, err := st.PutInventory(ctx, digest, raw)
			if err != nil {
				b.Fatal(err)
			}
			img := store.Image{Registry: registryHost, Repository: fmt.Sprintf("team/app%02d", r), Digest: digest,
				Tags: []string{"1"}, Platform: "linux/amd64", Status: scanner.StatusScanned, LastScannedAt: at,
				InventoryRef: ref, Analyzer: inventory.Analyzer}
			if _, err := img.SetInlineInventory(raw, inlineLimit); err != nil {
				b.Fatal(err)
			}
			if err := st.PutImage(ctx, img); err != nil {
				b.Fatal(err)
			}
		}
	}
	log := discardLog()
	pages := 0
	before := counter.Counts()
	b.ResetTimer()
	for b.Loop() {
		text, err := store.EncodeRematchTask(store.RematchTask{Generation: "bench", RunID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; text != nil; n++ {
			if err := p.Rematch(ctx, queueInvocation(b, FuncRematch, text, fmt.Sprintf("page-%d-%d", pages, n), 1), log); err != nil {
				b.Fatal(err)
			}
			pages++
			msgs, err := st.RematchTasks().Receive(ctx, 1, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			text = nil
			if len(msgs) == 1 {
				text = msgs[0].Text
				if err := st.RematchTasks().Delete(ctx, msgs[0]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	secs := b.Elapsed().Seconds()
	images := float64(b.N * repositories * digests)
	// The test's own receive and delete of each page are a host's work, not the
	// function's, but they are counted here like every request.
	var transactions, inventoryReads int64
	for k, n := range counter.Counts() {
		n -= before[k]
		transactions += n
		if k.Service == store.ServiceBlob && k.Method == "GET" && strings.HasPrefix(k.Resource, store.ContainerInventories) {
			inventoryReads += n
		}
	}
	b.ReportMetric(float64(pages)/secs, "pages/s")
	b.ReportMetric(images/secs, "rows/s")
	b.ReportMetric(float64(transactions)/images, "transactions/image")
	b.ReportMetric(float64(inventoryReads)/images, "blobreads/image")
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
