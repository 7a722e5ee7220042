package regevent_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/regevent"
)

func spec(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "azure-specs", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const exampleDigest = "sha256:57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166"

func TestEventGridExamplesDecode(t *testing.T) {
	pushed := regevent.Event{ID: "c25fdb80-ebbd-4dd0-a29c-a7349e6388f6", Action: regevent.ActionPush,
		Registry: "jolovcr.azurecr.io", Repository: "samples/nginx", Digest: exampleDigest, Tag: "latest",
		MediaType: "application/vnd.docker.distribution.manifest.v2+json",
		At:        time.Date(2021, 9, 8, 6, 37, 45, 468100900, time.UTC), Format: "eventgrid",
		UserAgent: `docker/20.10.7 go/go1.13.15 git-commit/b0f5bc3 kernel/5.10.16.3-microsoft-standard-WSL2 os/linux arch/amd64 UpstreamClient(Docker-Client/20.10.7 \(windows\))`}
	deleted := regevent.Event{ID: "6fdef14c-2594-41e8-9156-c0376eb0a190", Action: regevent.ActionDelete,
		Registry: "jolovcr.azurecr.io", Repository: "samples/nginx", Digest: exampleDigest,
		MediaType: "application/vnd.docker.distribution.manifest.v2+json",
		At:        time.Date(2021, 9, 8, 6, 49, 40, 185024800, time.UTC), Format: "eventgrid",
		UserAgent: "python-requests/2.22.0"}
	for _, tc := range []struct {
		name string
		text []byte
		want regevent.Event
	}{
		{"an EventGridSchema ImagePushed is a push of the tag", spec(t, "acr-eventgrid/examples/event-grid-schema/image_pushed.json"), pushed},
		{"a CloudEvents ImagePushed is the same push", spec(t, "acr-eventgrid/examples/cloud-events-schema/image_pushed.json"), pushed},
		{"an EventGridSchema ImageDeleted is a delete of the digest", spec(t, "acr-eventgrid/examples/event-grid-schema/image_deleted.json"), deleted},
		{"a base64-encoded event decodes the same", []byte(base64.StdEncoding.EncodeToString(spec(t, "acr-eventgrid/examples/event-grid-schema/image_pushed.json"))), pushed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := regevent.DecodeEventGrid(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventGridEventsTidewatchDoesNotActOnAreIgnoredWithAReason(t *testing.T) {
	pushed := string(spec(t, "acr-eventgrid/examples/event-grid-schema/image_pushed.json"))
	for _, tc := range []struct {
		name, text, reason string
	}{
		{"a Helm chart push", strings.Replace(pushed, "ImagePushed", "ChartPushed", 1), "Helm chart"},
		{"a validation event on the queue", `{"id":"1","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"X"}}`, "storage-queue"},
		{"an unknown event type", strings.Replace(pushed, "ImagePushed", "ImageQuarantined", 1), "not tracked"},
		{"a push of a Helm chart media type", strings.Replace(pushed, "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.cncf.helm.config.v1+json", 1), "not an image manifest"},
		{"a push of a cosign signature tag", strings.Replace(pushed, `"tag": "latest"`, `"tag": "sha256-57a94fc99816c6aa225678b738ac40d85422e75dbb96115f1bb9b6ed77176166.sig"`, 1), "signature"},
	} {
		t.Run(tc.name+" is ignored", func(t *testing.T) {
			got, err := regevent.DecodeEventGrid([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Ignored, tc.reason) {
				t.Errorf("Ignored = %q, want it to contain %q", got.Ignored, tc.reason)
			}
		})
	}
}

func TestMalformedEventsAreRejected(t *testing.T) {
	pushed := string(spec(t, "acr-eventgrid/examples/event-grid-schema/image_pushed.json"))
	for _, tc := range []struct{ name, text string }{
		{"a digest that is not a digest", strings.Replace(pushed, exampleDigest, "sha256:nothex", 1)},
		{"a digest of another algorithm", strings.Replace(pushed, exampleDigest, "md5:d41d8cd98f00b204e9800998ecf8427e", 1)},
		{"a repository with ..", strings.Replace(pushed, `"repository": "samples/nginx"`, `"repository": "samples/../../etc"`, 1)},
		{"a repository with upper case", strings.Replace(pushed, `"repository": "samples/nginx"`, `"repository": "Samples/Nginx"`, 1)},
		{"a missing repository", strings.Replace(pushed, `"repository": "samples/nginx"`, `"repository": ""`, 1)},
		{"a tag with a slash", strings.Replace(pushed, `"tag": "latest"`, `"tag": "a/b"`, 1)},
		{"not JSON", "<html>"},
		{"an event without a type", `{"id":"1","data":{}}`},
	} {
		t.Run(tc.name+" is malformed", func(t *testing.T) {
			_, err := regevent.DecodeEventGrid([]byte(tc.text))
			if !errors.Is(err, regevent.ErrMalformed) {
				t.Errorf("error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestWebhookBodiesDecode(t *testing.T) {
	harborDigest := "sha256:dde8e930c7b6a490f728e66292bc9bce42efc9bbb5278bae40e4f30f6e00fe8c"
	harborPull := regevent.Event{Action: regevent.ActionPull, Registry: "harbor.dev", Repository: "library/busybox",
		Digest: harborDigest, Format: "harbor"}
	for _, tc := range []struct {
		name string
		body string
		want []regevent.Event
	}{
		{
			"a Harbor default-format pull is a pull by digest with occur_at as its time",
			string(spec(t, "registry-webhooks/harbor/pull-artifact.default.json")),
			[]regevent.Event{withAt(harborPull, time.Unix(1678082303, 0).UTC())},
		},
		{
			"a Harbor CloudEvents pull is the same pull with its id",
			string(spec(t, "registry-webhooks/harbor/pull-artifact.cloudevents.json")),
			[]regevent.Event{withID(withAt(harborPull, time.Date(2023, 3, 6, 6, 8, 43, 0, time.UTC)), "4b2f89a6-548d-4c12-9993-a1f5790b97d2")},
		},
		{
			"a distribution manifest pull is a pull of the tag and its layer events are ignored",
			distributionPull + "",
			[]regevent.Event{{ID: "320678d8-ca14-430f-8bb6-4ca139cd83f7", Action: regevent.ActionPull, Registry: "192.168.100.227:5000",
				Repository: "hello-world", Digest: "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf", Tag: "latest",
				MediaType: "application/vnd.docker.distribution.manifest.v2+json",
				At:        time.Date(2016, 3, 9, 14, 44, 26, 402973972, time.FixedZone("", -8*3600)), Format: "distribution",
				UserAgent: "curl/7.38.0"},
				{ID: "asdf-asdf-asdf-asdf-1", Action: regevent.ActionPush, Registry: "registrycluster.local", Repository: "library/test",
					Digest:    "sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d5",
					MediaType: "application/vnd.docker.container.image.rootfs.diff+x-gtar", At: time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC),
					Format: "distribution", Ignored: "blob event", UserAgent: "test/0.1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := regevent.DecodeWebhook([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rejected) > 0 {
				t.Fatalf("rejected: %v", got.Rejected)
			}
			if diff := cmp.Diff(tc.want, got.Events, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		malform  bool // the whole body is refused
		rejected int  // events rejected inside an accepted body
	}{
		{"a body that is not JSON is refused", "not json", true, 0},
		{"a JSON object of no known format is refused", `{"hello":"world"}`, true, 0},
		{"an empty events array is refused", `{"events":[]}`, true, 0},
		{"a distribution event with a bad digest is rejected, the envelope accepted", strings.Replace(distributionPull, "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf", "sha256:zz", 1), false, 1},
		{"a distribution event with .. in the repository is rejected", strings.Replace(distributionPull, `"repository": "hello-world"`, `"repository": "a/../b"`, 1), false, 1},
		{"a Harbor event without resources is rejected", `{"type":"PUSH_ARTIFACT","occur_at":1,"event_data":{"resources":[],"repository":{"repo_full_name":"a/b"}}}`, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := regevent.DecodeWebhook([]byte(tc.body))
			if tc.malform {
				if !errors.Is(err, regevent.ErrMalformed) {
					t.Errorf("error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rejected) != tc.rejected {
				t.Errorf("rejected %d events (%v), want %d", len(got.Rejected), got.Rejected, tc.rejected)
			}
		})
	}
	t.Run("an unknown distribution action is decoded and ignored with a reason", func(t *testing.T) {
		got, err := regevent.DecodeWebhook([]byte(strings.Replace(distributionPull, `"action": "pull"`, `"action": "explode"`, 1)))
		if err != nil || len(got.Events) != 2 {
			t.Fatalf("events %v, error %v", got.Events, err)
		}
		if !strings.Contains(got.Events[0].Ignored, `action "explode" is not tracked`) {
			t.Errorf("Ignored = %q", got.Events[0].Ignored)
		}
	})
}

func TestEventGridValidationHandshakeIsRecognised(t *testing.T) {
	body := `[{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/x","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate?id=y"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2018-01-25T22:12:19.4556811Z","metadataVersion":"1","dataVersion":"1"}]`
	code, ok := regevent.EventGridValidationCode([]byte(body))
	if !ok || code != "512d38b6-c7b8-40c8-89fe-f46f9e9622b6" {
		t.Errorf("validation code = %q, %v", code, ok)
	}
	if _, ok := regevent.EventGridValidationCode([]byte(distributionPull)); ok {
		t.Error("a distribution envelope was taken for a validation handshake")
	}
}

func withAt(e regevent.Event, at time.Time) regevent.Event { e.At = at; return e }
func withID(e regevent.Event, id string) regevent.Event    { e.ID = id; return e }

// distributionPull is the manifest pull example of notifications-v1-mediatype.md
// plus a layer pull from the same document's envelope example.
const distributionPull = `{
   "events": [
      {
         "id": "320678d8-ca14-430f-8bb6-4ca139cd83f7",
         "timestamp": "2016-03-09T14:44:26.402973972-08:00",
         "action": "pull",
         "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
            "size": 708,
            "length": 708,
            "repository": "hello-world",
            "url": "http://192.168.100.227:5000/v2/hello-world/manifests/sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
            "tag": "latest"
         },
         "request": {
            "id": "6df24a34-0959-4923-81ca-14f09767db19",
            "addr": "192.168.64.11:42961",
            "host": "192.168.100.227:5000",
            "method": "GET",
            "useragent": "curl/7.38.0"
         },
         "actor": {},
         "source": {
            "addr": "xtal.local:5000",
            "instanceID": "a53db899-3b4b-4a62-a067-8dd013beaca4"
         }
      },
      {
         "id": "asdf-asdf-asdf-asdf-1",
         "timestamp": "2006-01-02T15:04:05Z",
         "action": "push",
         "target": {
            "mediaType": "application/vnd.docker.container.image.rootfs.diff+x-gtar",
            "digest": "sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d5",
            "length": 2,
            "repository": "library/test",
            "url": "https://example.com/v2/library/test/blobs/sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d5"
         },
         "request": {"id": "asdfasdf", "addr": "client.local", "host": "registrycluster.local", "method": "PUT", "useragent": "test/0.1"},
         "actor": {"name": "test-actor"},
         "source": {"addr": "hostname.local:port"}
      }
   ]
}`
