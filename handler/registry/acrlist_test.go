package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

// newFakeACRClient is a Client for f with a managed identity f accepts, the given
// page size and retries recorded in s.
func newFakeACRClient(t *testing.T, f *testenv.ACR, pageSize int, s *sleeps) *registry.Client {
	t.Helper()
	c, err := registry.New(f.Host, registry.WithACRCredential(&fakeCredential{token: f.AADToken}),
		registry.WithRetry(fastRetry(s)), registry.WithPageSize(pageSize), registry.WithUserAgent("tidewatch/acr-test"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// exampleManifests reads the manifests of the swagger's GetManifestList example.
func exampleManifests(t *testing.T) (string, []testenv.ACRManifest) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.Shared(t), "azure-specs", "acr-dataplane", "examples", "GetManifestList.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Parameters map[string]string `json:"parameters"`
		Responses  map[string]struct {
			Body struct {
				Manifests []testenv.ACRManifest `json:"manifests"`
			} `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	return ex.Parameters["name"], ex.Responses["200"].Body.Manifests
}

func TestACRListingFollowsTheDataPlaneAPI(t *testing.T) {
	f := testenv.StartACR(t, "")
	repo, examples := exampleManifests(t)
	for _, m := range examples {
		f.SetManifest(repo, m)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	imported := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	index := testenv.ACRManifest{
		Digest: "sha256:" + repeat("a"), CreatedTime: created, LastUpdateTime: imported,
		MediaType: "application/vnd.oci.image.index.v1+json", Tags: []string{"1.0"},
		References: []testenv.ACRPlatformRef{
			{Digest: "sha256:" + repeat("b"), Architecture: "amd64", OS: "linux"},
			{Digest: "sha256:" + repeat("c"), Architecture: "arm64", OS: "linux"},
		},
	}
	f.SetManifest("production/alpine", index)
	f.SetManifest("testing/alpine", testenv.ACRManifest{Digest: "sha256:" + repeat("d"), CreatedTime: created, LastUpdateTime: created})

	var s sleeps
	c := newFakeACRClient(t, f, 1, &s) // one item a page: every listing pages
	ctx := context.Background()

	repos, err := c.ACRRepositories(ctx)
	if err != nil {
		t.Fatalf("listing repositories: %v", err)
	}
	if diff := cmp.Diff([]string{repo, "production/alpine", "testing/alpine"}, repos); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}

	t.Run("the swagger example's manifests come back newest first with their tags and platforms", func(t *testing.T) {
		got, err := c.ACRManifests(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.ACRManifest{
			{Digest: "sha256:7af5cd1dde3e8f5c2c9103860afa4ca871a6075373b6564b0e7b1b47866dab52",
				CreatedTime: time.Date(2018, 9, 7, 16, 30, 46, 565170100, time.UTC), LastUpdateTime: time.Date(2018, 9, 7, 16, 30, 46, 565170100, time.UTC),
				Tags: []string{"4.7.2-20180906-nanoserver-1803"}, Architecture: "amd64", OS: "windows"},
			{Digest: "sha256:110d2b6c84592561338aa040b1b14b7ab81c2f9edbd564c2285dd7d70d777086",
				CreatedTime: time.Date(2018, 9, 6, 6, 17, 20, 998391500, time.UTC), LastUpdateTime: time.Date(2018, 9, 6, 6, 17, 20, 998391500, time.UTC),
				Tags: []string{"4.7.2-20180905-nanoserver-1803"}, Architecture: "amd64", OS: "windows"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("manifests (-want +got):\n%s", diff)
		}
	})

	t.Run("an imported index has its import as push time and lists its child platforms", func(t *testing.T) {
		got, err := c.ACRManifests(ctx, "production/alpine")
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.ACRManifest{{Digest: index.Digest, MediaType: index.MediaType, CreatedTime: created, LastUpdateTime: imported,
			Tags: []string{"1.0"}, References: []registry.ACRPlatform{
				{Digest: "sha256:" + repeat("b"), Architecture: "amd64", OS: "linux"},
				{Digest: "sha256:" + repeat("c"), Architecture: "arm64", OS: "linux"},
			}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("manifests (-want +got):\n%s", diff)
		}
		if len(got) == 1 && !got[0].PushedAt().Equal(imported) {
			t.Errorf("PushedAt = %s, want the import at %s", got[0].PushedAt(), imported)
		}
	})

	t.Run("repository attributes give the last update time", func(t *testing.T) {
		got, err := c.ACRRepositoryAttributes(ctx, "production/alpine")
		if err != nil {
			t.Fatal(err)
		}
		want := registry.ACRRepository{Name: "production/alpine", CreatedTime: created, LastUpdateTime: imported, ManifestCount: 1, TagCount: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("attributes (-want +got):\n%s", diff)
		}
	})

	t.Run("each scope's token is fetched once and reused", func(t *testing.T) {
		if _, err := c.ACRRepositoryAttributes(ctx, "production/alpine"); err != nil {
			t.Fatal(err)
		}
		want := []string{"registry:catalog:*", "repository:" + repo + ":metadata_read",
			"repository:production/alpine:metadata_read"}
		if diff := cmp.Diff(want, f.AskedScopes()); diff != "" {
			t.Errorf("scopes asked of /oauth2/token (-want +got):\n%s", diff)
		}
		if got := f.Count(testenv.ACRExchange); got != 1 {
			t.Errorf("/oauth2/exchange called %d times, want 1", got)
		}
		if got := f.Count(testenv.ACRPing); got != 1 {
			t.Errorf("/v2/ pinged %d times for 3 scopes, want once: a new scope needs a token, not a new challenge", got)
		}
	})

	t.Run("an access token that expires mid-sweep is refreshed and the call retried", func(t *testing.T) {
		before := len(f.AskedScopes())
		f.ExpireAccessTokens()
		if _, err := c.ACRRepositoryAttributes(ctx, "production/alpine"); err != nil {
			t.Fatalf("after expiry: %v", err)
		}
		if got := len(f.AskedScopes()) - before; got != 1 {
			t.Errorf("%d new access tokens, want 1", got)
		}
	})
}

func TestACRListingFaults(t *testing.T) {
	type check struct {
		permanent, transient bool
		status               int
	}
	for _, tc := range []struct {
		name     string
		endpoint string
		faults   []testenv.ACRFault
		call     func(context.Context, *registry.Client) error
		want     check
		waits    []time.Duration // exact Retry-After waits
		backoffs int             // or this many jittered back-offs
	}{
		{name: "a catalog answering 403 after the token is a permanent failure",
			endpoint: testenv.ACRCatalog, faults: []testenv.ACRFault{{Status: http.StatusForbidden, Code: "DENIED"}},
			call: listCatalog, want: check{permanent: true, status: http.StatusForbidden}},
		{name: "manifests answering 401 twice (the retry with a fresh token too) is a permanent failure",
			endpoint: testenv.ACRManifests, faults: []testenv.ACRFault{{Status: 401, Code: "UNAUTHORIZED"}, {Status: 401, Code: "UNAUTHORIZED"}},
			call: listManifests, want: check{permanent: true, status: http.StatusUnauthorized}},
		{name: "an unknown repository's attributes are a permanent 404",
			endpoint: testenv.ACRRepository, faults: []testenv.ACRFault{{Status: 404, Code: "NAME_UNKNOWN"}},
			call: readAttributes, want: check{permanent: true, status: http.StatusNotFound}},
		{name: "a throttled manifest listing waits the Retry-After and succeeds",
			endpoint: testenv.ACRManifests, faults: []testenv.ACRFault{{Status: 429, Code: "TOOMANYREQUESTS", RetryAfter: "7"}},
			call: listManifests, waits: []time.Duration{7 * time.Second}},
		{name: "a catalog throttled on every try is transient",
			endpoint: testenv.ACRCatalog, faults: repeatFault(testenv.ACRFault{Status: 429, Code: "TOOMANYREQUESTS", RetryAfter: "1"}, 4),
			call: listCatalog, want: check{transient: true, status: http.StatusTooManyRequests},
			waits: []time.Duration{time.Second, time.Second, time.Second}},
		{name: "a token endpoint answering 500 once is retried",
			endpoint: testenv.ACRToken, faults: []testenv.ACRFault{{Status: 500, Code: "UNKNOWN"}},
			call: readAttributes, backoffs: 1},
		{name: "a manifest whose digest is not a digest fails the listing, not as permanent",
			endpoint: testenv.ACRManifests, faults: []testenv.ACRFault{{Status: 200, Body: `{"manifests":[{"digest":"sha256:../../etc","createdTime":"2025-01-01T00:00:00Z","lastUpdateTime":"2025-01-01T00:00:00Z"}]}`}},
			call: listManifests, want: check{}},
		{name: "a manifest with a tag that is not a tag fails the listing",
			endpoint: testenv.ACRManifests, faults: []testenv.ACRFault{{Status: 200, Body: `{"manifests":[{"digest":"sha256:` + repeat("e") + `","createdTime":"2025-01-01T00:00:00Z","lastUpdateTime":"2025-01-01T00:00:00Z","tags":["../x"]}]}`}},
			call: listManifests, want: check{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := testenv.StartACR(t, "")
			f.SetManifest("team/api", testenv.ACRManifest{Digest: "sha256:" + repeat("f"), CreatedTime: time.Unix(1e9, 0).UTC(), LastUpdateTime: time.Unix(1e9, 0).UTC(), Tags: []string{"1"}})
			var s sleeps
			c := newFakeACRClient(t, f, 100, &s)
			if tc.endpoint != testenv.ACRToken {
				// Authenticate first, so the fault hits the endpoint itself, after the token.
				if err := tc.call(context.Background(), c); err != nil {
					t.Fatalf("first call: %v", err)
				}
			}
			f.Fail(tc.endpoint, tc.faults...)
			err := tc.call(context.Background(), c)
			ok := tc.want == check{} && tc.faults[0].Body == ""
			switch {
			case ok && err != nil:
				t.Fatalf("err = %v, want success", err)
			case !ok && err == nil:
				t.Fatal("err = nil, want a failure")
			case err != nil:
				var re *registry.Error
				status := 0
				if asError(err, &re) {
					status = re.Status
				}
				got := check{permanent: registry.IsPermanent(err), transient: registry.IsTransient(err), status: status}
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(check{})); diff != "" {
					t.Errorf("classification of %v (-want +got):\n%s", err, diff)
				}
			}
			if tc.backoffs > 0 {
				if got := len(s.recorded()); got != tc.backoffs {
					t.Errorf("%d back-offs, want %d", got, tc.backoffs)
				}
			} else if diff := cmp.Diff(tc.waits, s.recorded()); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestACRRefusesRepositoryNamesThatLeaveTheirPath(t *testing.T) {
	f := testenv.StartACR(t, "")
	var s sleeps
	c := newFakeACRClient(t, f, 100, &s)
	for _, repo := range []string{"team/../admin", "..", "team//api", "./api"} {
		t.Run(repo+" is refused without a request", func(t *testing.T) {
			if _, err := c.ACRManifests(context.Background(), repo); err == nil {
				t.Errorf("ACRManifests(%q) = nil error", repo)
			}
			if _, err := c.ACRRepositoryAttributes(context.Background(), repo); err == nil {
				t.Errorf("ACRRepositoryAttributes(%q) = nil error", repo)
			}
		})
	}
	if diff := cmp.Diff(map[string]int{}, f.Counts()); diff != "" {
		t.Errorf("requests made (-want +got):\n%s", diff)
	}
}

func listCatalog(ctx context.Context, c *registry.Client) error {
	_, err := c.ACRRepositories(ctx)
	return err
}

func listManifests(ctx context.Context, c *registry.Client) error {
	_, err := c.ACRManifests(ctx, "team/api")
	return err
}

func readAttributes(ctx context.Context, c *registry.Client) error {
	_, err := c.ACRRepositoryAttributes(ctx, "team/api")
	return err
}

func repeatFault(f testenv.ACRFault, n int) []testenv.ACRFault {
	out := make([]testenv.ACRFault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func repeat(hex string) string {
	out := ""
	for len(out) < 64 {
		out += hex
	}
	return out
}

func asError(err error, target **registry.Error) bool { return errors.As(err, target) }
