package feed_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/feed"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// ovalServer serves OVAL documents by file name with ETags, as raw.githubusercontent.com
// does, and records the status of each answer.
type ovalServer struct {
	mu       sync.Mutex
	files    map[string][]byte
	statuses []int
	url      string
}

func newOVALServer(t *testing.T) *ovalServer {
	t.Helper()
	s := &ovalServer{files: map[string][]byte{}}
	for _, d := range feed.OVALDocuments {
		data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "oval", d.File))
		if err != nil {
			t.Fatalf("shared OVAL data: %v", err)
		}
		s.files[d.File] = data
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *ovalServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	s.mu.Unlock()
	w := &statusWriter{ResponseWriter: rw, record: func(code int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.statuses = append(s.statuses, code)
	}}
	if !ok {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	http.ServeContent(w, r, "oval.xml", time.Time{}, bytes.NewReader(data))
}

func (s *ovalServer) set(file string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[file] = data
}

func (s *ovalServer) seen() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.statuses
	s.statuses = nil
	return out
}

func ovalSyncer(t *testing.T, s *ovalServer, dir feed.Blobs, clock *testenv.Clock) *feed.Syncer {
	t.Helper()
	src, err := feed.OpenSources(t.TempDir(), s.url, []string{feed.OVALFolder}, feed.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	return feed.NewSyncer(src, dir, feed.WithClock(clock.Now))
}

func TestAzureLinuxAdvisoriesAreSyncedFromOVAL(t *testing.T) {
	ctx := context.Background()
	s := newOVALServer(t)
	dir := feed.Dir(t.TempDir())
	clock := testenv.NewClock(t0)
	sync := ovalSyncer(t, s, dir, clock)

	t.Run("a first sync converts every definition of both documents", func(t *testing.T) {
		res, err := sync.Sync(ctx, []string{feed.OVALFolder})
		if err != nil {
			t.Fatal(err)
		}
		// 1,222 + 2,436 definitions: ../shared/oval/SOURCES.md.
		if got := current(t, dir).Folders[feed.OVALFolder].Records; got != 1222+2436 {
			t.Errorf("%d records, want 3658", got)
		}
		if !res.Changed {
			t.Error("a first sync did not change the generation")
		}
		g, err := feed.OpenCurrent(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := g.Load(ctx, []string{feed.OVALFolder})
		if err != nil {
			t.Fatal(err)
		}
		// Read off azurelinux-3.0-oval.xml and cbl-mariner-2.0-oval.xml by hand.
		for _, want := range []struct{ ecosystem, pkg string }{
			{"Azure Linux:3.0", "oath-toolkit"}, {"Azure Linux:2.0", "syslinux"},
		} {
			if len(idx.Affected(want.ecosystem, want.pkg)) == 0 {
				t.Errorf("no advisories for %s in %s", want.pkg, want.ecosystem)
			}
		}
	})
	t.Run("unchanged documents cost one 304 each and no rebuild", func(t *testing.T) {
		s.seen()
		clock.Set(t0.Add(time.Hour))
		res, err := sync.Sync(ctx, []string{feed.OVALFolder})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.seen(); len(got) != 2 || got[0] != 304 || got[1] != 304 {
			t.Errorf("statuses %v, want two 304s", got)
		}
		if res.Changed {
			t.Error("an unchanged OVAL set changed the generation")
		}
		if p := current(t, dir); !p.CheckedAt.Equal(clock.Now()) {
			t.Errorf("checkedAt %s, want %s: a 304 refreshes freshness", p.CheckedAt, clock.Now())
		}
	})
	t.Run("an HTML page served with 200 is rejected and the current generation stays", func(t *testing.T) {
		before := current(t, dir)
		s.set(feed.OVALDocuments[0].File, []byte("<html><body>rate limited</body></html>"))
		_, err := sync.Sync(ctx, []string{feed.OVALFolder})
		if !errors.Is(err, feed.ErrRejected) {
			t.Fatalf("err = %v, want ErrRejected", err)
		}
		if after := current(t, dir); after.Generation != before.Generation || after.Folders[feed.OVALFolder].Blob != before.Folders[feed.OVALFolder].Blob {
			t.Errorf("generation %s → %s: a rejected OVAL document replaced the current one", before.Generation, after.Generation)
		}
	})
}
