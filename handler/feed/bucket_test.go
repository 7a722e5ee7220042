package feed_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// bucket serves folders in the OSV bucket layout (`/<Folder>/all.zip`) with ETag
// and Last-Modified, honouring conditional requests as GCS does (http.ServeContent).
// fault, when set, may answer a request itself (n counts requests from 0).
type bucket struct {
	t        *testing.T
	mu       sync.Mutex
	files    map[string][]byte
	fault    func(w http.ResponseWriter, r *http.Request, n int) bool
	requests int
	statuses []int
	url      string
}

func newBucket(t *testing.T, folders map[string][]byte) *bucket {
	b := &bucket{t: t, files: folders}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// sharedBucket serves the shared advisories of the given folders.
func sharedBucket(t *testing.T, folders ...string) *bucket {
	files := map[string][]byte{}
	for _, f := range folders {
		files[f] = sharedArchive(t, f)
	}
	return newBucket(t, files)
}

func (b *bucket) set(folder string, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[folder] = data
}

func (b *bucket) setFault(f func(w http.ResponseWriter, r *http.Request, n int) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fault = f
}

// seen returns the statuses answered so far and forgets them.
func (b *bucket) seen() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.statuses
	b.statuses = nil
	return s
}

// statusWriter records the status as it is sent, before the client can see the
// response, so a test reading the statuses after its sync never misses one.
type statusWriter struct {
	http.ResponseWriter
	status int
	record func(int)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.record(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (b *bucket) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw, record: func(code int) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.statuses = append(b.statuses, code)
	}}
	b.mu.Lock()
	n, fault := b.requests, b.fault
	b.requests++
	folder, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
	data, held := b.files[folder]
	b.mu.Unlock()
	if fault != nil && fault(w, r, n) {
		return
	}
	if !ok || !held {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, "all.zip", time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

// sharedArchive reads a shared all.zip.
func sharedArchive(t *testing.T, folder string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.Advisories(t), folder, "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// member is one zip member.
type member struct {
	name string
	body []byte
}

// members reads every member of a zip, in order (the test's own reading, not the
// feed's).
func members(t *testing.T, data []byte) []member {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out []member
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{f.Name, body})
	}
	return out
}

// jsonMembers counts the .json members of a zip: the oracle for record counts.
func jsonMembers(t *testing.T, data []byte) int {
	n := 0
	for _, m := range members(t, data) {
		if strings.HasSuffix(m.name, ".json") {
			n++
		}
	}
	return n
}

// zipOf writes members into a zip.
func zipOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		w, err := zw.Create(m.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waits records the back-off waits a source asked for instead of spending them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.d)
}

// syncer returns a Syncer over the bucket into dir, with a test clock and
// recorded waits.
func syncer(b *bucket, dir feed.Blobs, clock *testenv.Clock, w *waits, opts ...feed.Option) *feed.Syncer {
	src := feed.NewHTTPSource(b.url, feed.WithSleep(w.sleep))
	return feed.NewSyncer(src, dir, append([]feed.Option{feed.WithClock(clock.Now)}, opts...)...)
}

// idxFiles lists the .idx files under dir, relative and slash-separated.
func idxFiles(t *testing.T, dir feed.Dir) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(string(dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".idx") {
			rel, _ := filepath.Rel(string(dir), path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// current reads the pointer.
func current(t *testing.T, dir feed.BlobReader) feed.Pointer {
	t.Helper()
	g, err := feed.OpenCurrent(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return g.Pointer
}
