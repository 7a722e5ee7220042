package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestRepositories(t *testing.T) {
	reg := testenv.StartRegistry(t)
	want := []string{"a/b/c", "a/b/d", "alpha", "beta", "m1", "m2", "nested/deep/x", "team/api", "team/web", "zeta"}
	for _, repo := range want {
		pushRandom(t, reg, reg.Ref(repo+":1"))
	}
	rec := startProxy(t, reg.Host, nil)

	tests := []struct {
		name      string
		pageSize  int
		wantPages int // ceil(10 / pageSize): derived from the pushed set, not from our output
	}{
		{"ten repositories in pages of three take at least four requests", 3, 4},
		{"ten repositories fit one default page", registry.MaxPageSize, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rec.count("GET catalog")
			c, err := registry.New(rec.Host, registry.WithPageSize(tt.pageSize))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Repositories(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repositories (-want +got):\n%s", diff)
			}
			if pages := rec.count("GET catalog") - before; pages < tt.wantPages {
				t.Errorf("catalog requests = %d, want at least %d", pages, tt.wantPages)
			}
		})
	}
}

func TestNewRejectsPageSizeAboveTheRegistryLimit(t *testing.T) {
	if _, err := registry.New("127.0.0.1:1", registry.WithPageSize(registry.MaxPageSize+1)); err == nil {
		t.Fatal("New accepted a page size of 1001, which _catalog answers with 400")
	}
}

func TestTags(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ref := reg.Ref("team/api:v0")
	img := pushRandom(t, reg, ref)
	want := []string{"v0"}
	for i := 1; i <= 7; i++ {
		tag := "v" + strconv.Itoa(i)
		tagImage(t, reg, ref, img, tag)
		want = append(want, tag)
	}
	slices.Sort(want)

	// docker-registry 2.x ignores n/last on tags/list; paging serves the real
	// registry's tags in pages of n with a relative Link, as ACR does.
	paged := startProxy(t, reg.Host, nil)
	paged.inject = pageTags(t, reg.Host)

	tests := []struct {
		name      string
		host      string
		wantPages int
	}{
		{"the real registry returns all eight tags at once", reg.Host, 0},
		{"a registry that pages by three is followed over three pages", paged.Host, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := registry.New(tt.host, registry.WithPageSize(3))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Tags(context.Background(), "team/api")
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if tt.wantPages > 0 {
				if pages := paged.count("GET tags"); pages != tt.wantPages {
					t.Errorf("tags pages = %d, want %d", pages, tt.wantPages)
				}
			}
		})
	}
}

// pageTags answers tags/list from the upstream registry's full list, n at a time
// after last, with a relative rel="next" Link while more remain.
func pageTags(t *testing.T, upstream string) injector {
	return func(kind string, r *http.Request, _ int) *fault {
		if kind != "GET tags" {
			return nil
		}
		resp, err := http.Get("http://" + upstream + r.URL.Path)
		if err != nil {
			t.Errorf("upstream tags: %v", err)
			return &fault{status: http.StatusBadGateway}
		}
		defer resp.Body.Close()
		var list struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
			t.Errorf("upstream tags: %v", err)
			return &fault{status: http.StatusBadGateway}
		}
		slices.Sort(list.Tags)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		last := r.URL.Query().Get("last")
		start, _ := slices.BinarySearch(list.Tags, last)
		if last != "" && start < len(list.Tags) && list.Tags[start] == last {
			start++
		}
		end := min(start+n, len(list.Tags))
		page := list.Tags[start:end]
		header := http.Header{"Content-Type": {"application/json"}}
		if end < len(list.Tags) {
			q := url.Values{"n": {strconv.Itoa(n)}, "last": {page[len(page)-1]}}
			header.Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
		}
		body, _ := json.Marshal(map[string]any{"name": list.Name, "tags": page})
		return &fault{status: http.StatusOK, header: header, body: string(body)}
	}
}
