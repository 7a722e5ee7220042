package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/lifecycle"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// The Event Grid examples of ../shared/azure-specs name this registry, digest and
// times; tests put their own in their place.
const (
	exampleRegistry   = "jolovcr.azurecr.io"
	exampleDigest     = "sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166"
	examplePushTimes  = "2021-09-08T06:37:45.4681009Z|2021-09-08T06:37:45.6609948Z"
	exampleDeleteTime = "2021-09-08T06:49:40.1850248Z|2021-09-08T06:49:40.5342401Z"
)

// eventGridExample is one Event Grid example event (file under acr-eventgrid/examples)
// for registry and digest in repository samples/nginx, happening at `at`.
func eventGridExample(t *testing.T, file, registry, digest string, at time.Time) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "azure-specs", "acr-eventgrid", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), exampleRegistry, registry)
	s = strings.ReplaceAll(s, exampleDigest, digest)
	for _, old := range strings.Split(examplePushTimes+"|"+exampleDeleteTime, "|") {
		s = strings.ReplaceAll(s, old, at.UTC().Format(time.RFC3339Nano))
	}
	return []byte(s)
}

func (h *harness) activity(t *testing.T, repository, digest string) store.Activity {
	t.Helper()
	a, err := h.store.GetActivity(context.Background(), h.registry, repository, digest)
	if err != nil {
		t.Fatalf("reading activity of %s: %v", digest, err)
	}
	return a
}

func (h *harness) tag(t *testing.T, repository, name string) store.Tag {
	t.Helper()
	tag, err := h.store.GetTag(context.Background(), h.registry, repository, name)
	if err != nil {
		t.Fatalf("reading tag %s: %v", name, err)
	}
	return tag
}

// event delivers one registry-events queue message and wants it completed.
func (h *harness) event(t *testing.T, text []byte) {
	t.Helper()
	if status := h.call(t, pipeline.FuncRegistryEventsQueue, delivery(pipeline.FuncRegistryEventsQueue, text, 1, host.HostEncoding)); status != okStatus {
		t.Fatalf("registryeventsqueue: HTTP %d, want %d", status, okStatus)
	}
}

func TestEventGridPushScansOnceWithTheSweepAndDeleteResolvesTheFindings(t *testing.T) {
	for _, schema := range []string{"event-grid-schema", "cloud-events-schema"} {
		t.Run("in the "+schema, func(t *testing.T) {
			reg := testenv.StartRegistry(t)
			truth := loadSidecar(t, minbase)
			push(t, minbase, reg.Ref("samples/nginx:latest"))
			h := newHarness(t, reg.Host)
			pushedAt := h.clock.Now().Add(-time.Minute)
			pushed := eventGridExample(t, schema+"/image_pushed.json", reg.Host, truth.ManifestDigest, pushedAt)

			h.event(t, pushed)
			tasks := h.scanTasks(t)
			if diff := cmp.Diff([]queued{{truth.ManifestDigest, []string{"latest"}}}, queuedOf(tasks)); diff != "" {
				t.Fatalf("the push enqueued (-want +got):\n%s", diff)
			}
			if tasks[0].Reason != store.ReasonEvent {
				t.Errorf("scan reason %q, want %q", tasks[0].Reason, store.ReasonEvent)
			}
			act := h.activity(t, "samples/nginx", truth.ManifestDigest)
			if !act.LastPushedAt.Equal(pushedAt) || act.Source != "eventgrid" {
				t.Errorf("activity = pushed %s from %q, want %s from eventgrid", act.LastPushedAt, act.Source, pushedAt)
			}
			if tag := h.tag(t, "samples/nginx", "latest"); tag.Digest != truth.ManifestDigest {
				t.Errorf("tag latest at %s, want %s", tag.Digest, truth.ManifestDigest)
			}

			t.Run("the same event delivered again enqueues nothing", func(t *testing.T) {
				h.event(t, pushed)
				if got := h.scanTasks(t); len(got) != 0 {
					t.Errorf("enqueued %v", queuedOf(got))
				}
			})
			t.Run("a listing of the repository the same day enqueues nothing", func(t *testing.T) {
				if status := h.call(t, pipeline.FuncListRepo, delivery(pipeline.FuncListRepo, h.listTask(t, "samples/nginx"), 1, host.HostEncoding)); status != okStatus {
					t.Fatalf("listrepo: HTTP %d", status)
				}
				if got := h.scanTasks(t); len(got) != 0 {
					t.Errorf("enqueued %v", queuedOf(got))
				}
			})

			scan := delivery(pipeline.FuncScan, h.scanTask(t, "samples/nginx", truth.ManifestDigest, "latest"), 1, host.HostEncoding)
			if status := h.call(t, pipeline.FuncScan, scan); status != okStatus {
				t.Fatalf("scan: HTTP %d", status)
			}
			before := h.findings(t, truth.ManifestDigest)
			if len(before) == 0 {
				t.Fatal("the scan wrote no findings for the minbase image")
			}
			if schema != "event-grid-schema" {
				return // the spec has an ImageDeleted example in the EventGridSchema only
			}
			t.Run("an ImageDeleted resolves every finding deleted and deletes the tag", func(t *testing.T) {
				h.clock.Set(h.clock.Now().Add(time.Minute))
				h.event(t, eventGridExample(t, schema+"/image_deleted.json", reg.Host, truth.ManifestDigest, h.clock.Now()))
				for key, f := range h.findings(t, truth.ManifestDigest) {
					if f.State != lifecycle.StateResolved || f.ResolvedReason != lifecycle.ReasonDeleted {
						t.Errorf("finding %s is %s/%s, want resolved/deleted", key, f.State, f.ResolvedReason)
					}
				}
				if tag := h.tag(t, "samples/nginx", "latest"); !tag.Deleted {
					t.Errorf("tag latest = %+v, want deleted", tag)
				}
				img := h.images(t, "samples/nginx")[truth.ManifestDigest]
				if img.Counts != (store.Counts{}) || len(img.Tags) != 0 {
					t.Errorf("images row counts %+v tags %v, want none", img.Counts, img.Tags)
				}
			})
		})
	}
}

func TestEventsOutOfOrderConvergeOnTheLatest(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("samples/nginx:latest"))
	h := newHarness(t, reg.Host)
	t0 := h.clock.Now().Add(-10 * time.Minute)
	pushed := func(at time.Time) []byte {
		return eventGridExample(t, "event-grid-schema/image_pushed.json", reg.Host, truth.ManifestDigest, at)
	}
	deleted := eventGridExample(t, "event-grid-schema/image_deleted.json", reg.Host, truth.ManifestDigest, t0.Add(time.Minute))

	h.event(t, deleted)
	t.Run("a push older than a delete already seen is not scanned", func(t *testing.T) {
		h.event(t, pushed(t0))
		if got := h.scanTasks(t); len(got) != 0 {
			t.Errorf("enqueued %v", queuedOf(got))
		}
		if act := h.activity(t, "samples/nginx", truth.ManifestDigest); !act.LastDeletedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("LastDeletedAt = %s, want %s", act.LastDeletedAt, t0.Add(time.Minute))
		}
	})
	t.Run("a push after the delete is scanned", func(t *testing.T) {
		h.event(t, pushed(t0.Add(2*time.Minute)))
		if diff := cmp.Diff([]queued{{truth.ManifestDigest, []string{"latest"}}}, queuedOf(h.scanTasks(t))); diff != "" {
			t.Errorf("enqueued (-want +got):\n%s", diff)
		}
	})
	t.Run("the late delete does not undo the later push", func(t *testing.T) {
		h.event(t, deleted)
		if tag := h.tag(t, "samples/nginx", "latest"); tag.Deleted || tag.Digest != truth.ManifestDigest {
			t.Errorf("tag latest = %+v, want at %s and not deleted", tag, truth.ManifestDigest)
		}
	})
}

func TestBadEventGridMessagesAreRecordedAndCompleted(t *testing.T) {
	reg := testenv.StartRegistry(t)
	h := newHarness(t, reg.Host)
	valid := eventGridExample(t, "event-grid-schema/image_pushed.json", reg.Host, exampleDigest, h.clock.Now())
	for _, tc := range []struct {
		name, text, want string
	}{
		{"a message that is not an event", "<html>nope</html>", "rejected"},
		{"an event whose digest is not a digest", strings.ReplaceAll(string(valid), exampleDigest, "sha256:1234"), "rejected"},
		{"an event whose repository climbs with ..", strings.ReplaceAll(string(valid), `"samples/nginx"`, `"samples/../nginx"`), "rejected"},
		{"a Helm chart push", strings.ReplaceAll(string(valid), "ImagePushed", "ChartPushed"), "ignored"},
		{"an event from a registry not configured", strings.ReplaceAll(string(valid), reg.Host, "other.azurecr.io"), "ignored"},
	} {
		t.Run(tc.name+" is completed and "+tc.want+" with a reason", func(t *testing.T) {
			h.event(t, []byte(tc.text))
			if got := h.scanTasks(t); len(got) != 0 {
				t.Errorf("enqueued %v", queuedOf(got))
			}
		})
	}
	date := h.clock.Now().Format(time.DateOnly)
	rejected, err := h.store.GetRun(context.Background(), date, "rejected-messages")
	if err != nil {
		t.Fatal(err)
	}
	if rejected.Failed != 3 {
		t.Errorf("rejected-messages counts %d, want 3:\n%s", rejected.Failed, rejected.Failures)
	}
	events, err := h.store.GetRun(context.Background(), date, "registry-events-"+h.clock.Now().UTC().Format("20060102T15"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Helm chart event", `registry "other.azurecr.io" is not configured`} {
		if !strings.Contains(events.Failures, want) {
			t.Errorf("registry-events run Failures lacks %q:\n%s", want, events.Failures)
		}
	}
}

// webhook POSTs body to the registryevents HTTP function as the host would and
// returns the handler's status and the caller's answer.
func (h *harness) webhook(t *testing.T, body []byte, query map[string]string) (int, host.HTTPResponse) {
	t.Helper()
	env := host.HTTPEnvelope(host.HTTPBinding, host.HTTPRequest{URL: "http://localhost:7071/api/registryevents", Method: "POST",
		Query: query, Headers: map[string][]string{"Content-Type": {"application/vnd.docker.distribution.events.v1+json"}}, Body: body},
		host.NewSys(pipeline.FuncRegistryEvents, time.Now()))
	status, resp, err := host.Call(context.Background(), h.base, pipeline.FuncRegistryEvents, env)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := host.HTTPOutput(resp, host.HTTPOutputBinding)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

func TestWebhookRequests(t *testing.T) {
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("demo/app:1"))
	h := newHarness(t, reg.Host)
	at := h.clock.Now().Add(-time.Minute).Format(time.RFC3339Nano)
	envelope := func(action, digest, repository string) []byte {
		return []byte(`{"events":[{"id":"` + action + digest[len(digest)-6:] + `","timestamp":"` + at + `","action":"` + action + `",
		"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","repository":"` + repository + `","tag":"1"},
		"request":{"host":"` + reg.Host + `","method":"GET"}}]}`)
	}
	for _, tc := range []struct {
		name       string
		body       []byte
		query      map[string]string
		wantStatus int
		wantBody   string
	}{
		{"a distribution pull is recorded", envelope("pull", truth.ManifestDigest, "demo/app"), nil, 200, "pull recorded"},
		{"a pull naming its registry in the query parameter is recorded", envelope("pull", truth.ManifestDigest, "demo/app"), map[string]string{"registry": reg.Host}, 200, "pull recorded"},
		{"a body of no known format is 400", []byte(`{"what":"ever"}`), nil, 400, "neither a distribution envelope nor a Harbor webhook"},
		{"a 10 MB body is 413", []byte(`{"events":[` + strings.Repeat(" ", 10<<20) + `]}`), nil, 413, "too large"},
		{"an event with a bad digest is listed as rejected", envelope("push", "sha256:0123", "demo/app"), nil, 200, `"rejected":["distribution event`},
		{"an event for an unconfigured registry is ignored", envelope("pull", truth.ManifestDigest, "demo/app"), map[string]string{"registry": "elsewhere.example"}, 200, "is not configured"},
		{"an Event Grid validation handshake is answered with its code", []byte(`[{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"CODE-123"}}]`), nil, 200, `{"validationResponse":"CODE-123"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := h.webhook(t, tc.body, tc.query)
			if status != okStatus {
				t.Fatalf("handler answered HTTP %d, want %d with the caller's status in the output", status, okStatus)
			}
			if out.StatusCode != tc.wantStatus || !strings.Contains(out.Body, tc.wantBody) {
				t.Errorf("caller gets %d %s, want %d containing %q", out.StatusCode, truncated(out.Body), tc.wantStatus, tc.wantBody)
			}
		})
	}
	act := h.activity(t, "demo/app", truth.ManifestDigest)
	if act.PullCount != 2 || act.Source != "webhook" || act.LastPulledAt.IsZero() {
		t.Errorf("activity = %+v, want 2 pulls from webhook", act)
	}
	var answer struct{ Enqueued int }
	_, out := h.webhook(t, envelope("push", truth.ManifestDigest, "demo/app"), nil)
	if err := json.Unmarshal([]byte(out.Body), &answer); err != nil || answer.Enqueued != 1 {
		t.Errorf("push answer %s (%v), want 1 enqueued", out.Body, err)
	}
	if diff := cmp.Diff([]queued{{truth.ManifestDigest, []string{"1"}}}, queuedOf(h.scanTasks(t))); diff != "" {
		t.Errorf("the push enqueued (-want +got):\n%s", diff)
	}
}

func truncated(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func harborExample(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "azure-specs", "registry-webhooks", "harbor", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHarborWebhooks(t *testing.T) {
	const harborDigest = "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"
	reg := testenv.StartRegistry(t)
	truth := loadSidecar(t, minbase)
	push(t, minbase, reg.Ref("library/busybox:1.36"))
	h := newHarness(t, reg.Host)
	onRegistry := map[string]string{"registry": reg.Host}

	t.Run("the default and CloudEvents pull examples each count a pull", func(t *testing.T) {
		for _, file := range []string{"pull-artifact.default.json", "pull-artifact.cloudevents.json"} {
			if _, out := h.webhook(t, []byte(harborExample(t, file)), onRegistry); out.StatusCode != 200 || !strings.Contains(out.Body, "pull recorded") {
				t.Errorf("%s: caller gets %d %s", file, out.StatusCode, out.Body)
			}
		}
		if act := h.activity(t, "library/busybox", harborDigest); act.PullCount != 2 || act.Source != "webhook" {
			t.Errorf("activity = %+v, want 2 pulls from webhook", act)
		}
	})
	t.Run("a PUSH_ARTIFACT of a tag enqueues its scan", func(t *testing.T) {
		body := strings.Replace(harborExample(t, "pull-artifact.default.json"), "PULL_ARTIFACT", "PUSH_ARTIFACT", 1)
		body = strings.Replace(body, `"occur_at":1678082303`, fmt.Sprintf(`"occur_at":%d`, h.clock.Now().Add(-time.Minute).Unix()), 1)
		body = strings.Replace(body, `"tag":"`+harborDigest+`"`, `"tag":"1.36"`, 1)
		body = strings.ReplaceAll(body, harborDigest, truth.ManifestDigest)
		if _, out := h.webhook(t, []byte(body), onRegistry); out.StatusCode != 200 || !strings.Contains(out.Body, `"enqueued":1`) {
			t.Fatalf("caller gets %d %s", out.StatusCode, out.Body)
		}
		if diff := cmp.Diff([]queued{{truth.ManifestDigest, []string{"1.36"}}}, queuedOf(h.scanTasks(t))); diff != "" {
			t.Errorf("enqueued (-want +got):\n%s", diff)
		}
	})
	t.Run("an unknown Harbor event type is ignored with its reason", func(t *testing.T) {
		body := strings.Replace(harborExample(t, "pull-artifact.default.json"), "PULL_ARTIFACT", "QUOTA_EXCEED", 1)
		if _, out := h.webhook(t, []byte(body), onRegistry); out.StatusCode != 200 || !strings.Contains(out.Body, `QUOTA_EXCEED`) {
			t.Errorf("caller gets %d %s", out.StatusCode, out.Body)
		}
	})
}

// TestEventGridPushIsIdempotentUnderStorageFaults delivers an ImagePushed that moves
// tag latest from an earlier digest, with a storage failure injected at each of the
// event's storage calls in turn: redelivery ends where the failure-free run ends.
func TestEventGridPushIsIdempotentUnderStorageFaults(t *testing.T) {
	reg := testenv.StartRegistry(t)
	base, app := loadSidecar(t, minbase), loadSidecar(t, layered)
	push(t, layered, reg.Ref("samples/nginx:latest"))
	faultEveryCall(t, reg.Host, pipeline.FuncRegistryEventsQueue, "samples/nginx", func(t *testing.T, h *harness) []byte {
		now := h.clock.Now()
		h.runID = "registry-events-" + now.UTC().Format("20060102T15")
		earlier := now.Add(-7 * 24 * time.Hour)
		if err := h.store.PutTags(context.Background(), reg.Host, "samples/nginx", []store.Tag{{Registry: reg.Host, Repository: "samples/nginx",
			Name: "latest", Digest: base.ManifestDigest, ChangedAt: earlier}}); err != nil {
			t.Fatal(err)
		}
		return eventGridExample(t, "event-grid-schema/image_pushed.json", reg.Host, app.ManifestDigest, now.Add(-time.Minute))
	})
}
