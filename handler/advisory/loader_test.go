package advisory_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// countingSource counts the opens of each file of the shared export and can fail
// the next opens of one file.
type countingSource struct {
	dir   string
	mu    sync.Mutex
	opens map[string]int
	fail  map[string]int
}

func (s *countingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens[name]++
	if s.fail[name] > 0 {
		s.fail[name]--
		return nil, errors.New("injected read failure")
	}
	return os.Open(filepath.Join(s.dir, filepath.FromSlash(name)))
}

func (s *countingSource) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.opens)
}

func TestALoaderReadsEachFolderOnceAndOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	src := &countingSource{dir: testenv.Advisories(t), opens: map[string]int{}, fail: map[string]int{}}
	l := advisory.NewLoader(src, advisory.WithSeverityFolder("GIT"))

	t.Run("an index of Debian opens Debian and the severity folder, nothing else", func(t *testing.T) {
		idx, err := l.Index(ctx, []string{"Debian"})
		if err != nil {
			t.Fatal(err)
		}
		if !idx.Covers("Debian:12") || idx.Covers("Go") {
			t.Errorf("Covers(Debian:12) = %v, Covers(Go) = %v; want true, false", idx.Covers("Debian:12"), idx.Covers("Go"))
		}
		if diff := cmp.Diff(map[string]int{"Debian/all.zip": 1, "GIT/all.zip": 1}, src.counts()); diff != "" {
			t.Errorf("opens (-want +got):\n%s", diff)
		}
	})
	t.Run("concurrent indexes of Debian and Go open Go once and Debian not again", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				idx, err := l.Index(ctx, []string{"Go", "Debian"})
				if err == nil && (!idx.Covers("Go") || !idx.Covers("Debian:12")) {
					err = errors.New("index does not cover Go and Debian:12")
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(map[string]int{"Debian/all.zip": 1, "GIT/all.zip": 1, "Go/all.zip": 1}, src.counts()); diff != "" {
			t.Errorf("opens (-want +got):\n%s", diff)
		}
	})
	t.Run("an index of no folder covers nothing but keeps severity data", func(t *testing.T) {
		idx, err := l.Index(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if idx.Covers("Debian:12") || idx.SeverityOf("CVE-2016-2179") == nil {
			t.Errorf("Covers(Debian:12) = %v, SeverityOf(CVE-2016-2179) = %v; want false and the GIT vectors", idx.Covers("Debian:12"), idx.SeverityOf("CVE-2016-2179"))
		}
	})
	t.Run("a folder that failed to read is read again on the next request", func(t *testing.T) {
		src.fail["npm/all.zip"] = 1
		if _, err := l.Index(ctx, []string{"npm"}); err == nil {
			t.Fatal("Index(npm) succeeded through an injected read failure")
		}
		if _, err := l.Index(ctx, []string{"npm"}); err != nil {
			t.Fatalf("Index(npm) after the failure: %v", err)
		}
		if got := src.counts()["npm/all.zip"]; got != 2 {
			t.Errorf("npm opened %d times, want 2 (the failure, then the retry)", got)
		}
	})
	t.Run("a named generation is every index's generation", func(t *testing.T) {
		named := advisory.NewLoader(src, advisory.WithGeneration("gen-7"))
		for _, folders := range [][]string{{"Debian"}, {"Debian", "Go"}} {
			idx, err := named.Index(ctx, folders)
			if err != nil {
				t.Fatal(err)
			}
			if idx.Generation() != "gen-7" {
				t.Errorf("Generation of %v = %q, want gen-7", folders, idx.Generation())
			}
		}
	})
}
