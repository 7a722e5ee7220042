package inventory

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// ndbOf is an NDB Packages.db holding blobs, one slot each.
func ndbOf(blobs [][]byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, ndbPageSize)
	le.PutUint32(b, ndbMagic)
	le.PutUint32(b[12:], 1)
	for off := ndbHeaderSize; off < ndbPageSize; off += ndbSlotSize {
		le.PutUint32(b[off:], ndbSlotMagic)
	}
	for i, blob := range blobs {
		slot := b[ndbHeaderSize+i*ndbSlotSize:]
		le.PutUint32(slot[4:], uint32(i+1))
		le.PutUint32(slot[8:], uint32(len(b)/ndbBlobHeaderSize))
		head := make([]byte, ndbBlobHeaderSize)
		le.PutUint32(head, ndbBlobMagic)
		le.PutUint32(head[4:], uint32(i+1))
		le.PutUint32(head[12:], uint32(len(blob)))
		b = append(b, head...)
		b = append(b, blob...)
		b = append(b, make([]byte, 2*ndbBlobHeaderSize-len(blob)%ndbBlobHeaderSize)...)
	}
	return b
}

// analyzeFile analyzes a one-file layer.
func analyzeFile(t *testing.T, path string, body []byte) *LayerResult {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	r, err := AnalyzeLayer(context.Background(), layer)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestABadRPMHeaderCostsOnlyItsPackage(t *testing.T) {
	headers, err := bdbHeaders(testenv.FixtureFile(t, "almalinux-9-micro", "var/lib/rpm/Packages"))
	if err != nil {
		t.Fatal(err)
	}
	if len(headers) != 22 {
		t.Fatalf("%d headers in the AlmaLinux BerkeleyDB, want its 22 packages", len(headers))
	}
	const path = "var/lib/rpm/Packages.db"
	t.Run("the NDB form of the AlmaLinux headers lists all 22 packages", func(t *testing.T) {
		r := analyzeFile(t, path, ndbOf(headers))
		if n := len(r.PackageFiles[path]); n != 22 || len(r.Skipped) != 0 {
			t.Errorf("%d packages, skipped %v; want 22 and nothing skipped", n, r.Skipped)
		}
	})
	t.Run("a garbage header among them loses that package only and says so", func(t *testing.T) {
		bad := append([][]byte{}, headers...)
		bad[5] = []byte(strings.Repeat("\xff", 64))
		r := analyzeFile(t, path, ndbOf(bad))
		if n := len(r.PackageFiles[path]); n != 21 || !strings.Contains(r.Skipped[path], "could not read 1 of 22 package headers") ||
			strings.Contains(r.Skipped[path], "/proc/") {
			t.Errorf("%d packages, skipped %v; want 21 and the bad header reported", n, r.Skipped)
		}
	})
	t.Run("two hundred headers in one database are all read", func(t *testing.T) {
		var many [][]byte
		for range 10 {
			many = append(many, headers...)
		}
		r := analyzeFile(t, path, ndbOf(many))
		if n := len(r.PackageFiles[path]); n != len(many) || len(r.Skipped) != 0 {
			t.Errorf("%d packages, skipped %v; want %d", n, r.Skipped, len(many))
		}
	})
	t.Run("garbage headers leave no goroutine behind", func(t *testing.T) {
		bad := [][]byte{[]byte("garbage"), headers[0], []byte(strings.Repeat("\x00", 100)), headers[1]}
		before := runtime.NumGoroutine()
		for range 20 {
			analyzeFile(t, path, ndbOf(bad))
		}
		// go-rpmdb's reader parks its feeding goroutine when it stops at a bad header
		// with entries left; one header per read leaves it none (20 reads, 40 bad headers).
		if after := runtime.NumGoroutine(); after > before+5 {
			t.Errorf("%d goroutines after 20 reads with bad headers, %d before", after, before)
		}
	})
}

// BenchmarkRPMDatabase measures reading the AlmaLinux 9 micro BerkeleyDB (22
// packages) from memory: storage format, then one extractor call per header.
func BenchmarkRPMDatabase(b *testing.B) {
	data := testenv.FixtureFile(b, "almalinux-9-micro", "var/lib/rpm/Packages")
	ps, err := plugins()
	if err != nil {
		b.Fatal(err)
	}
	rpmPlugin := ps[len(ps)-1]
	info := regularFileInfo{name: "Packages"}
	b.ReportAllocs()
	for b.Loop() {
		a := &layerAnalysis{ctx: context.Background(), result: &LayerResult{PackageFiles: map[string][]Package{}, Skipped: map[string]string{}}}
		if err := a.extractRPMDatabase(rpmPlugin, "var/lib/rpm/Packages", info, data); err != nil {
			b.Fatal(err)
		}
		if n := len(a.result.PackageFiles["var/lib/rpm/Packages"]); n != 22 {
			b.Fatalf("%d packages", n)
		}
	}
}
