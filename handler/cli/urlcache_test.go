package cli_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// statusCounter serves a directory in OSV bucket layout and counts the answers by
// path and status.
type statusCounter struct {
	mu     sync.Mutex
	counts map[string]int // "GET /Debian/all.zip 200" → n
	files  http.Handler
}

func (s *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.files.ServeHTTP(rec, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[r.Method+" "+r.URL.Path+" "+http.StatusText(rec.status)]++
}

// take returns the counts since the last take.
func (s *statusCounter) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.counts
	s.counts = map[string]int{}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func TestScanWithAnAdvisoryURLSyncsIntoTheCacheFirst(t *testing.T) {
	oracle := testenv.NewDebianOracle(t)
	counter := &statusCounter{counts: map[string]int{}, files: http.FileServer(http.Dir(testenv.Advisories(t)))}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)
	scanWith := func(t *testing.T, cache string, environ ...string) cliRun {
		t.Helper()
		return runCLIWithEnviron(t, environ, "", "scan", "--archive", testenv.Image(t, "debian12-minbase"), "--advisories", srv.URL,
			"--ecosystems", "Debian", "--severity-source", "GIT", "--format", "json", "--cache-dir", cache)
	}
	cache := t.TempDir()

	first := scanWith(t, cache)
	t.Run("the first run downloads every folder and has the oracle's findings", func(t *testing.T) {
		checkOracleFindings(t, oracle, "debian12-minbase", first)
		want := map[string]int{"GET /Debian/all.zip OK": 1, "GET /GIT/all.zip OK": 1}
		if diff := cmp.Diff(want, counter.take()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
	})
	t.Run("the URL scan prints what the raw directory scan prints", func(t *testing.T) {
		raw := runCLI(t, "", "scan", "--archive", testenv.Image(t, "debian12-minbase"), "--advisories", testenv.Advisories(t),
			"--ecosystems", "Debian", "--severity-source", "GIT", "--format", "json", "--no-cache")
		checkOracleFindings(t, oracle, "debian12-minbase", raw)
		if diff := cmp.Diff(raw.stdout, first.stdout); diff != "" {
			t.Errorf("(-directory +URL):\n%.2000s", diff)
		}
	})

	second := scanWith(t, cache)
	t.Run("the second run costs only 304s", func(t *testing.T) {
		checkOracleFindings(t, oracle, "debian12-minbase", second)
		want := map[string]int{"GET /Debian/all.zip Not Modified": 1, "GET /GIT/all.zip Not Modified": 1}
		if diff := cmp.Diff(want, counter.take()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}
		if strings.Contains(second.stderr, "warning") {
			t.Errorf("a successful sync warned:\n%s", second.stderr)
		}
	})

	srv.Close()
	tests := []struct {
		name       string
		cache      string
		environ    []string
		wantCode   int
		wantStderr []string
	}{
		{name: "with the server down a fresh cached generation is scanned with a warning", cache: cache,
			wantCode: 0, wantStderr: []string{"warning: syncing advisories from " + srv.URL, "scanning with the cached generation"}},
		{name: "with the server down a cached generation older than TIDEWATCH_MAX_DB_AGE fails the scan", cache: cache,
			environ: []string{"TIDEWATCH_MAX_DB_AGE=1ns"}, wantCode: 1, wantStderr: []string{"syncing advisories from " + srv.URL, "stale", "TIDEWATCH_MAX_DB_AGE"}},
		{name: "with the server down and nothing cached the scan fails", cache: t.TempDir(),
			wantCode: 1, wantStderr: []string{"syncing advisories from " + srv.URL, "no advisories"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scanWith(t, tt.cache, tt.environ...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
			if tt.wantCode != 0 {
				if r.stdout != "" {
					t.Errorf("a failed scan printed a result:\n%.500s", r.stdout)
				}
				return
			}
			if diff := cmp.Diff(first.stdout, r.stdout); diff != "" {
				t.Errorf("(-server up +server down):\n%.2000s", diff)
			}
		})
	}
}
