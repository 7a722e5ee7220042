package inventory_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/tidewatch/tidewatch/handler/image"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

var benchImages = []string{"debian12-minbase", "debian12-layered"}

// BenchmarkWalkFloor is the least work any scan must do: read each layer blob
// (through a buffer of the size the scanner reads with, so neither pays for more
// read calls than the other), gunzip it (with the same fast decompressor the
// scanner uses, so the ratio measures Tidewatch's own overhead, not a library
// choice) to the end of the gzip stream, and walk its tar, discarding everything.
// It leaves out what a scan adds: both digests, the extractors, the cache.
func BenchmarkWalkFloor(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			path := testenv.Image(b, name)
			layers := map[string]bool{}
			for _, m := range readSidecarB(b, name).Manifests {
				for _, l := range m.Layers {
					layers["blobs/sha256/"+l.Digest[len("sha256:"):]] = true
				}
			}
			cpu := processCPU()
			for b.Loop() {
				walkFloor(b, path, layers)
			}
			reportCPU(b, cpu)
		})
	}
}

// floorReadBytes is the buffer image.WalkLayer reads a blob through.
const floorReadBytes = 256 << 10

func walkFloor(b *testing.B, path string, layers map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	archive := tar.NewReader(f)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			b.Fatal(err)
		}
		if !layers[hdr.Name] {
			continue
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(archive, floorReadBytes))
		if err != nil {
			b.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				b.Fatal(err)
			}
		}
		// The rest of the stream (the tar's end-of-archive padding) and the gzip
		// trailer, as the scan reads them.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanCold resolves the archive and inventories it with an empty cache.
func BenchmarkScanCold(b *testing.B) {
	for _, name := range benchImages {
		b.Run(name, func(b *testing.B) {
			path := testenv.Image(b, name)
			cpu := processCPU()
			defer reportCPU(b, cpu)
			for b.Loop() {
				target, err := image.FromArchive(path)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range target.Platforms {
					if _, err := inventory.Scan(context.Background(), p, inventory.NewMemoryCache()); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// Shape of the many-layers benchmark: every layer rewrites the whole dpkg status, as
// an image built by one apt-get per Dockerfile step does.
const (
	manyLayers         = 60
	packagesPerLayer   = 2000
	manyLayersRSSLimit = 120 // MB, issue 7
)

// manyLayersImage builds the synthetic image: layer i's status lists the same
// packages as the layer below except package i, upgraded.
func manyLayersImage(b *testing.B) image.PlatformImage {
	b.Helper()
	var layers []v1.Layer
	for i := range manyLayers {
		var status strings.Builder
		for p := range packagesPerLayer {
			version := "1.0-1"
			if p <= i {
				version = "1.0-2"
			}
			fmt.Fprintf(&status, "Package: package-%04d\nStatus: install ok installed\nPriority: optional\nSection: libs\n"+
				"Installed-Size: 1234\nMaintainer: Debian Maintainers <debian@example.org>\nArchitecture: amd64\n"+
				"Source: source-%04d\nVersion: %s\nDepends: libc6 (>= 2.36)\nDescription: synthetic package %d\n"+
				" A package of the many-layers benchmark, described at about the length\n of a real description.\n\n",
				p, p/4, version, p)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := status.String()
		if err := tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: int64(len(body))}); err != nil {
			b.Fatal(err)
		}
		io.WriteString(tw, body)
		tw.Close()
		raw := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
		if err != nil {
			b.Fatal(err)
		}
		// Compress once, so the benchmark holds gzip blobs as a registry would.
		compressed, err := layer.Compressed()
		if err != nil {
			b.Fatal(err)
		}
		blob, err := io.ReadAll(compressed)
		if err != nil {
			b.Fatal(err)
		}
		// A gzip layer built from the held blob: its diffID is that of the tar, which
		// the walk verifies (static.NewLayer would claim the compressed digest).
		gz, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, gz)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		b.Fatal(err)
	}
	target, err := image.FromImage("many-layers", img)
	if err != nil {
		b.Fatal(err)
	}
	return target.Platforms[0]
}

// BenchmarkScanManyLayers scans a 60-layer image whose every layer rewrites a
// 2,000-package dpkg status, through a MemoryCache as the CLI does, and reports the
// process's peak RSS (VmHWM) in MB: memory must follow the packages of the image and
// one layer's result, not layers × packages. scripts/bench.sh runs it alone in its
// process and compares the number with manyLayersRSSLimit.
func BenchmarkScanManyLayers(b *testing.B) {
	img := manyLayersImage(b)
	runtime.GC()
	for b.Loop() {
		inv, err := inventory.Scan(context.Background(), img, inventory.NewMemoryCache())
		if err != nil {
			b.Fatal(err)
		}
		// package-0030 was upgraded by layer 30; package-0060 never was.
		if len(inv.Packages) != packagesPerLayer || inv.Packages[30].LayerIndex != 30 || inv.Packages[manyLayers].LayerIndex != 0 {
			b.Fatalf("inventory of %d packages, want %d with package-0030 from layer 30 and package-0060 from layer 0",
				len(inv.Packages), packagesPerLayer)
		}
	}
	if rss, ok := peakRSSMB(); ok {
		b.ReportMetric(rss, "peak-RSS-MB")
		b.ReportMetric(manyLayersRSSLimit, "limit-MB")
	}
}

// peakRSSMB reads the process's peak resident set size from /proc (Linux only).
func peakRSSMB() (float64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// processCPU is the user and system CPU time the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start as cpu-ms/op: unlike
// ns/op it does not grow when other work on the machine takes the cores, so the
// scan/floor ratio of it is the steadier one on a shared machine.
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
