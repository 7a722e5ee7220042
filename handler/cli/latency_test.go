package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tidewatch/tidewatch/handler/scanner"
)

// TestScanOnPushLatency measures scan on push in the local loop: a real
// docker-registry notifies tidewatch run's HTTP trigger stand-in, the handler
// enqueues the scan, the stand-in delivers it, the scan writes the rows. Each push is
// debian12-minbase plus a fresh 30 MB incompressible layer (so a new digest and a
// layer never seen), and the clock runs from the manifest push returning to the
// scanned images row and its findings rows being readable. Run by scripts/latency.sh
// (TIDEWATCH_LATENCY_PUSHES=20); skipped otherwise.
func TestScanOnPushLatency(t *testing.T) {
	pushes, _ := strconv.Atoi(os.Getenv("TIDEWATCH_LATENCY_PUSHES"))
	if pushes <= 0 {
		t.Skip("set TIDEWATCH_LATENCY_PUSHES (scripts/latency.sh)")
	}
	l := startEventsLoop(t)
	l.reg.Push(t, "debian12-minbase", "bench/base:1")
	base, err := remote.Image(mustRef(t, l.reg.Ref("bench/base:1")))
	if err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for i := range pushes {
		img, err := mutate.AppendLayers(base, randomLayer(t, 30<<20))
		if err != nil {
			t.Fatal(err)
		}
		digest, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref := mustRef(t, l.reg.Ref(fmt.Sprintf("bench/app:%d", i)))
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitFor(t, "the scanned row of push "+strconv.Itoa(i), func() bool {
			imgs, err := l.store.ImagesOf(context.Background(), l.reg.Host, "bench/app", digest.String())
			if err != nil || len(imgs) == 0 || imgs[0].Status != scanner.StatusScanned {
				return false
			}
			return len(l.findings(t, digest.String())) > 0
		})
		took = append(took, time.Since(start))
		t.Logf("push %2d: %s", i+1, took[i].Round(time.Millisecond))
	}
	slices.Sort(took)
	p50, p95 := percentile(took, 50), percentile(took, 95)
	fmt.Printf("scan-on-push latency over %d pushes of a 30 MB image: p50 %s, p95 %s, max %s (target p95 <= 30s)\n",
		len(took), p50.Round(time.Millisecond), p95.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	if p95 > 30*time.Second {
		t.Errorf("p95 %s exceeds 30s", p95)
	}
}

// percentile is the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// randomLayer is a gzip layer holding one file of n random bytes.
func randomLayer(t *testing.T, n int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "opt/bench/blob.bin", Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.Reader, n); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return layer
}
