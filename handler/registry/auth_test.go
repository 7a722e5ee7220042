package registry_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestAuthentication(t *testing.T) {
	locked := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	pushRandom(t, locked, locked.Ref("team/api:1"))
	open := testenv.StartRegistry(t)
	pushRandom(t, open, open.Ref("team/api:1"))

	tests := []struct {
		name     string
		host     string
		opts     []registry.Option
		wantFail bool
	}{
		{"correct credentials list and resolve", locked.Host, []registry.Option{registry.WithBasicAuth("alice", "s3cret")}, false},
		{"missing credentials fail permanently", locked.Host, nil, true},
		{"wrong password fails permanently", locked.Host, []registry.Option{registry.WithBasicAuth("alice", "wrong")}, true},
		{"anonymous access to an open registry works", open.Host, []registry.Option{registry.WithAnonymous()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := registry.New(tt.host, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			repos, listErr := c.Repositories(ctx)
			_, resolveErr := c.Resolve(ctx, "team/api", "1")
			if !tt.wantFail {
				if listErr != nil || resolveErr != nil {
					t.Fatalf("list: %v; resolve: %v", listErr, resolveErr)
				}
				if len(repos) != 1 || repos[0] != "team/api" {
					t.Errorf("repositories = %q, want [team/api]", repos)
				}
				return
			}
			for _, check := range []struct {
				op  string
				err error
			}{{"list repositories", listErr}, {"resolve", resolveErr}} {
				if check.err == nil {
					t.Fatalf("%s succeeded without valid credentials", check.op)
				}
				if registry.IsTransient(check.err) {
					t.Errorf("%s: %v is classified transient, want permanent", check.op, check.err)
				}
				var re *registry.Error
				if !errors.As(check.err, &re) || re.Status != http.StatusUnauthorized {
					t.Errorf("%s: %v is not a *registry.Error with status 401", check.op, check.err)
				}
				msg := check.err.Error()
				if !strings.Contains(msg, tt.host) || !strings.Contains(msg, check.op) {
					t.Errorf("%s: message %q does not name the registry %s and the operation", check.op, msg, tt.host)
				}
				if strings.Contains(msg, "s3cret") || strings.Contains(msg, "wrong") {
					t.Errorf("%s: message %q leaks a password", check.op, msg)
				}
			}
		})
	}
}

func TestEveryRequestCarriesTheTidewatchUserAgent(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	pushRandom(t, reg, reg.Ref("team/api:1"))
	rec := startProxy(t, reg.Host, nil)
	c, err := registry.New(rec.Host, registry.WithBasicAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Repositories(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags(ctx, "team/api"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx, "team/api", "1"); err != nil {
		t.Fatal(err)
	}
	img, err := firstImage(ctx, c, "team/api:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(layers[0]); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	for kind, uas := range rec.allUserAgents() {
		seen[strings.Fields(kind)[1]] = true
		for _, ua := range uas {
			if !strings.HasPrefix(ua, registry.UserAgentProduct+"/") {
				t.Errorf("%s request sent User-Agent %q, want prefix %q", kind, ua, registry.UserAgentProduct+"/")
			}
		}
	}
	for _, kind := range []string{"ping", "catalog", "tags", "manifest", "blob"} {
		if !seen[kind] {
			t.Errorf("no %s request was recorded; the check above did not cover it", kind)
		}
	}
}

func TestNewRejectsAUserAgentThatHidesTidewatch(t *testing.T) {
	if _, err := registry.New("127.0.0.1:1", registry.WithUserAgent("curl/8.0")); err == nil {
		t.Fatal("New accepted a User-Agent without the tidewatch/ prefix that activity tracking relies on")
	}
}
