package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/scanner"
)

// eventsLoop is a real docker-registry whose notifications go to tidewatch run's
// HTTP trigger stand-in, which delivers queue messages until the test ends.
type eventsLoop struct {
	*runTestHost
	reg     *testenv.Registry
	trigger string // URL of /api/registryevents
	key     string
}

func startEventsLoop(t *testing.T) *eventsLoop {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := rand.Text()
	trigger := "http://" + ln.Addr().String() + "/api/" + pipeline.FuncRegistryEvents
	reg := testenv.StartRegistry(t, testenv.WithNotifications(trigger, map[string][]string{"x-functions-key": {key}}))
	h := startRunTestHost(t, reg.Host, newSteppedClock(t).Now)
	h.serveTriggersOn(ln, key)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.watch(ctx, 0)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("delivering queue messages: %v", err)
		}
	})
	return &eventsLoop{runTestHost: h, reg: reg, trigger: trigger, key: key}
}

// waitFor polls cond until it holds or a minute passes: the registry's notification
// and the queue deliveries happen on their own schedule.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRegistryNotificationsScanOnPushAndResolveOnDelete(t *testing.T) {
	l := startEventsLoop(t)
	oracle := testenv.NewDebianOracle(t)
	want := oracleFindings(t, oracle, "debian12-minbase", "linux/amd64")
	truth := testenv.ReadSidecar(t, "debian12-minbase")
	tr := newTableReader(t, l.runTestHost)

	l.reg.Push(t, "debian12-minbase", "demo/app:1")
	waitFor(t, "the pushed image's scanned row", func() bool {
		for _, img := range l.images(t, "demo/app") {
			if img.Digest == truth.ManifestDigest && img.Status == scanner.StatusScanned {
				return true
			}
		}
		return false
	})
	if diff := cmp.Diff(want, tr.active(t, "demo/app")); diff != "" {
		t.Errorf("active findings after the push notification (-oracle +stored):\n%s", diff)
	}
	act, err := l.store.GetActivity(context.Background(), l.reg.Host, "demo/app", truth.ManifestDigest)
	if err != nil || act.Source != "webhook" || act.LastPushedAt.IsZero() {
		t.Errorf("activity = %+v (%v), want a push from webhook", act, err)
	}

	t.Run("a pull notification counts the pull", func(t *testing.T) {
		if _, err := remote.Get(mustRef(t, l.reg.Ref("demo/app:1"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pull in activity", func() bool {
			a, err := l.store.GetActivity(context.Background(), l.reg.Host, "demo/app", truth.ManifestDigest)
			return err == nil && a.PullCount >= 1 && !a.LastPulledAt.IsZero()
		})
	})

	t.Run("a manifest delete notification resolves the findings deleted", func(t *testing.T) {
		if err := remote.Delete(mustRef(t, l.reg.Ref("demo/app@"+truth.ManifestDigest))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the findings resolved", func() bool { return len(tr.active(t, "demo/app")) == 0 })
		for _, f := range l.findings(t, truth.ManifestDigest) {
			if f.State != lifecycle.StateResolved || f.ResolvedReason != lifecycle.ReasonDeleted {
				t.Errorf("finding %s is %s/%s, want resolved/deleted", f.RowKey(), f.State, f.ResolvedReason)
			}
		}
	})
	// By now the registry has also notified the pulls of Tidewatch's own scan (sent
	// before the delete's notification): they are not counted.
	if a, err := l.store.GetActivity(context.Background(), l.reg.Host, "demo/app", truth.ManifestDigest); err != nil || a.PullCount != 1 {
		t.Errorf("PullCount = %d (%v), want 1: the test's pull, not the scan's", a.PullCount, err)
	}
	if n := l.eventScans(t); n != 1 {
		t.Errorf("%d scans ran for one push, want 1", n)
	}
}

// eventScans is how many scan invocations the registry-events runs recorded.
func (l *eventsLoop) eventScans(t *testing.T) int {
	t.Helper()
	runs, err := l.store.ListRuns(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range runs {
		if strings.HasPrefix(r.ID, "registry-events-") {
			n += r.Scanned
		}
	}
	return n
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHTTPTriggerStandInEnforcesTheFunctionKeyAndBoundsBodies(t *testing.T) {
	l := startEventsLoop(t)
	body := []byte(`{"events":[{"id":"x","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` +
		strings.Repeat("a", 64) + `","repository":"demo/app"},"request":{"host":"` + l.reg.Host + `"}}]}`)
	for _, tc := range []struct {
		name   string
		url    string
		header string
		body   []byte
		want   int
	}{
		{"no key is 401", l.trigger, "", body, http.StatusUnauthorized},
		{"a wrong key is 401", l.trigger, "wrong-" + l.key, body, http.StatusUnauthorized},
		{"the key in x-functions-key is accepted", l.trigger, l.key, body, http.StatusOK},
		{"the key as the code parameter is accepted", l.trigger + "?code=" + l.key, "", body, http.StatusOK},
		{"a wrong code parameter is 401", l.trigger + "?code=nope", "", body, http.StatusUnauthorized},
		{"a 10 MB body is 413", l.trigger, l.key, bytes.Repeat([]byte(" "), 10<<20), http.StatusRequestEntityTooLarge},
		{"a forged body of no known format is 400", l.trigger, l.key, []byte(`{"events":"nope"}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, tc.url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("x-functions-key", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
