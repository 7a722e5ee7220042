package fakeacr_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/fakeacr"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// specs is the shared ACR data-plane spec directory.
func specs(t *testing.T) string {
	t.Helper()
	return filepath.Join(testenv.Shared(t), "azure-specs", "acr-dataplane")
}

// swaggerDefinition is one definition of containerregistry.json: its required and
// declared property names, and those of its example.
type swaggerDefinition struct {
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
	Example    map[string]json.RawMessage `json:"example"`
}

func loadDefinitions(t *testing.T) map[string]swaggerDefinition {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(specs(t), "containerregistry.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Definitions map[string]swaggerDefinition `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Definitions
}

// conforms checks that body has every required property of def and only properties
// def declares or its example shows.
func conforms(t *testing.T, what string, def swaggerDefinition, body map[string]json.RawMessage) {
	t.Helper()
	for _, name := range def.Required {
		if _, ok := body[name]; !ok {
			t.Errorf("%s: required property %q missing", what, name)
		}
	}
	for name := range body {
		_, declared := def.Properties[name]
		_, shown := def.Example[name]
		if !declared && !shown {
			t.Errorf("%s: property %q is not in the swagger", what, name)
		}
	}
}

// client is a caller of the fake that holds an access token for scopes.
type client struct {
	t     *testing.T
	base  string
	token string
}

func newClient(t *testing.T, s *fakeacr.Server, base string, scopes ...string) *client {
	t.Helper()
	post := func(path string, form url.Values) map[string]string {
		resp, err := http.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("POST %s: HTTP %d", path, resp.StatusCode)
		}
		return out
	}
	refresh := post("/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {s.Host}, "access_token": {s.AADToken}})
	access := post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {s.Host},
		"refresh_token": {refresh["refresh_token"]}, "scope": scopes})
	return &client{t: t, base: base, token: access["access_token"]}
}

// get reads path into v and returns the Link header.
func (c *client) get(path string, v any) string {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.Header.Get("Link")
}

func serve(t *testing.T, source fakeacr.Source, upstream string) (*fakeacr.Server, string) {
	t.Helper()
	token, err := fakeacr.ExampleAADToken(specs(t))
	if err != nil {
		t.Fatal(err)
	}
	s := fakeacr.New(source, token, upstream)
	srv := httptest.NewUnstartedServer(s)
	s.Host = srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	return s, "http://" + s.Host
}

func TestTheSwaggerExampleManifestsComeBackAsTheExampleShowsThem(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(specs(t), "examples", "GetManifestList.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Parameters map[string]string `json:"parameters"`
		Responses  map[string]struct {
			Body struct {
				Manifests []map[string]json.RawMessage `json:"manifests"`
			} `json:"body"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	repo, examples := ex.Parameters["name"], ex.Responses["200"].Body.Manifests
	mem := fakeacr.NewMemory()
	for _, e := range examples {
		var m fakeacr.Manifest
		b, _ := json.Marshal(e)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		mem.SetManifest(repo, m)
	}
	s, base := serve(t, mem, "")
	c := newClient(t, s, base, "repository:"+repo+":metadata_read")
	var body map[string]json.RawMessage
	c.get("/acr/v1/"+repo+"/_manifests?orderby=timeasc", &body)
	defs := loadDefinitions(t)
	conforms(t, "AcrManifests", defs["AcrManifests"], body)
	var got []map[string]json.RawMessage
	if err := json.Unmarshal(body["manifests"], &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(examples) {
		t.Fatalf("%d manifests, want the example's %d", len(got), len(examples))
	}
	for i := range got {
		conforms(t, "manifest "+string(got[i]["digest"]), defs["ManifestAttributesBase"], got[i])
		for name, value := range got[i] {
			if diff := cmp.Diff(compact(t, examples[i][name]), compact(t, value)); diff != "" {
				t.Errorf("manifest %d property %s (-example +served):\n%s", i, name, diff)
			}
		}
	}
}

func TestAFakeOverARealRegistryAnswersAsTheSwaggerSays(t *testing.T) {
	reg := testenv.StartRegistry(t)
	digest, _, _ := pushRandom(t, reg.Host+"/team/api:1", "amd64")
	pushRandom(t, reg.Host+"/team/web:1", "arm64")
	storage, err := fakeacr.NewStorage(filepath.Join(reg.Dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	s, base := serve(t, storage, reg.Host)
	c := newClient(t, s, base, "registry:catalog:*", "repository:team/api:metadata_read")
	defs := loadDefinitions(t)

	t.Run("the catalog pages by n and last with a relative Link", func(t *testing.T) {
		var page map[string][]string
		link := c.get("/acr/v1/_catalog?n=1", &page)
		if diff := cmp.Diff([]string{"team/api"}, page["repositories"]); diff != "" {
			t.Errorf("first page (-want +got):\n%s", diff)
		}
		next, ok := strings.CutPrefix(link, "<")
		next, _, _ = strings.Cut(next, ">")
		if !ok || !strings.HasPrefix(next, "/acr/v1/_catalog?") || !strings.HasSuffix(link, `; rel="next"`) {
			t.Fatalf("Link %q, want <relative next page>; rel=\"next\"", link)
		}
		if c.get(next, &page) != "" || !slices.Equal(page["repositories"], []string{"team/web"}) {
			t.Errorf("second page %v, want [team/web] and no Link", page["repositories"])
		}
	})
	t.Run("repository attributes have every required property and ACR's 100 ns times", func(t *testing.T) {
		var body map[string]json.RawMessage
		c.get("/acr/v1/team/api", &body)
		conforms(t, "RepositoryAttributes", defs["RepositoryAttributes"], body)
		var updated string
		if err := json.Unmarshal(body["lastUpdateTime"], &updated); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, updated)
		if err != nil || !strings.HasSuffix(updated, "Z") || at.Nanosecond()%100 != 0 {
			t.Errorf("lastUpdateTime %q: want UTC at 100 ns precision (%v)", updated, err)
		}
	})
	t.Run("the manifests listing has every required property of each manifest", func(t *testing.T) {
		var body struct {
			Manifests []map[string]json.RawMessage `json:"manifests"`
		}
		c.get("/acr/v1/team/api/_manifests?orderby=timedesc", &body)
		if len(body.Manifests) != 1 || string(body.Manifests[0]["digest"]) != `"`+digest+`"` {
			t.Fatalf("manifests %v, want the one pushed, %s", body.Manifests, digest)
		}
		conforms(t, "manifest", defs["ManifestAttributesBase"], body.Manifests[0])
	})
	t.Run("a repository the token does not cover is challenged with its scope", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, base+"/acr/v1/team/web", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Www-Authenticate"), `scope="repository:team/web:metadata_read"`) {
			t.Errorf("HTTP %d, Www-Authenticate %q; want 401 naming the scope", resp.StatusCode, resp.Header.Get("Www-Authenticate"))
		}
	})
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}
