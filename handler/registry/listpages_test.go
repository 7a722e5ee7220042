package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/registry"
)

// pagedCatalog serves _catalog from names in pages of n after last, with a relative
// rel="next" Link while more remain, as docker-registry does, and counts the pages
// it served.
type pagedCatalog struct {
	names []string // sorted

	mu     sync.Mutex
	served int
}

func (pc *pagedCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v2/_catalog" {
		w.WriteHeader(http.StatusOK) // the /v2/ ping
		return
	}
	pc.mu.Lock()
	pc.served++
	pc.mu.Unlock()
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	last := r.URL.Query().Get("last")
	start, found := slices.BinarySearch(pc.names, last)
	if found {
		start++
	}
	end := min(start+n, len(pc.names))
	page := pc.names[start:end]
	if end < len(pc.names) {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {page[len(page)-1]}}
		w.Header().Set("Link", `</v2/_catalog?`+q.Encode()+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string][]string{"repositories": page})
}

func (pc *pagedCatalog) pagesServed() int {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.served
}

// startPagedCatalog serves names in pages and returns a client asking pageSize at a time.
func startPagedCatalog(t *testing.T, pageSize int, names ...string) (*pagedCatalog, *registry.Client) {
	t.Helper()
	pc := &pagedCatalog{names: names}
	srv := httptest.NewServer(pc)
	t.Cleanup(srv.Close)
	c, err := registry.New(strings.TrimPrefix(srv.URL, "http://"), registry.WithAnonymous(), registry.WithInsecure(), registry.WithPageSize(pageSize))
	if err != nil {
		t.Fatal(err)
	}
	return pc, c
}

func TestRepositoryPagesHandsOverEachCatalogPageInOrderAsItArrives(t *testing.T) {
	pc, c := startPagedCatalog(t, 2, "a", "b", "c", "d", "e")
	var got [][]string
	err := c.RepositoryPages(context.Background(), func(_ context.Context, repos []string) error {
		// Each page is handed over before the next is asked for.
		if served := pc.pagesServed(); served != len(got)+1 {
			t.Errorf("page %d handed over after %d pages were served, want %d", len(got)+1, served, len(got)+1)
		}
		got = append(got, slices.Clone(repos))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"a", "b"}, {"c", "d"}, {"e"}}, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

func TestRepositoryPagesStopsAtAPageCallbackErrorAndReturnsItWrapped(t *testing.T) {
	pc, c := startPagedCatalog(t, 2, "a", "b", "c", "d", "e")
	errStop := errors.New("queue unavailable")
	calls := 0
	err := c.RepositoryPages(context.Background(), func(context.Context, []string) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("RepositoryPages error = %v, want the callback's error wrapped", err)
	}
	if err.Error() == errStop.Error() {
		t.Errorf("error %q is the callback's bare: want it to say what was being done", err)
	}
	if calls != 2 {
		t.Errorf("callback called %d times, want 2 (paging stops at the failure)", calls)
	}
	if served := pc.pagesServed(); served != 2 {
		t.Errorf("%d catalog pages served, want 2: the page after a failed callback is not asked for", served)
	}
}

func TestRepositoriesStillReturnsTheWholeCatalog(t *testing.T) {
	_, c := startPagedCatalog(t, 2, "a", "b", "c", "d", "e")
	got, err := c.Repositories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, got); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
}
