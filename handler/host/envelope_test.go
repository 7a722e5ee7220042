package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testInserted = time.Date(2019, 10, 9, 17, 58, 31, 0, time.UTC)
	testSys      = Sys{MethodName: "scan", UtcNow: time.Date(2019, 10, 9, 17, 58, 32, 220539900, time.UTC), RandGuid: "24ad4c06-24ad-4e5b-8294-3da9714877e9"}
	testMessage  = QueueTrigger{
		Text:            []byte(`{"v":1,"digest":"sha256:ab"}`),
		ID:              "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
		PopReceipt:      "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
		DequeueCount:    1,
		InsertionTime:   testInserted,
		ExpirationTime:  testInserted.Add(7 * 24 * time.Hour),
		NextVisibleTime: testInserted.Add(10*time.Minute + time.Second),
	}
)

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, want string, got any) {
	t.Helper()
	gotJSON, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected JSON is invalid: %v", err)
	}
	if err := json.Unmarshal(gotJSON, &g); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON (-want +got):\n%s\ngot: %s", diff, gotJSON)
	}
}

func TestQueueEnvelope(t *testing.T) {
	// Expected bodies written from wire-format.md: the docs example for DocsEncoding;
	// for HostEncoding JsonConvert.SerializeObject applied to every scalar first.
	tests := []struct {
		name string
		enc  Encoding
		want string
	}{
		{"the docs encoding matches the documented example", DocsEncoding, `{
			"Data": {"task": "{\"v\":1,\"digest\":\"sha256:ab\"}"},
			"Metadata": {
				"DequeueCount": 1,
				"ExpirationTime": "2019-10-16T17:58:31+00:00",
				"Id": "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
				"InsertionTime": "2019-10-09T17:58:31+00:00",
				"NextVisibleTime": "2019-10-09T18:08:32+00:00",
				"PopReceipt": "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
				"sys": {"MethodName": "scan", "UtcNow": "2019-10-09T17:58:32.2205399Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}
			}}`},
		{"the host encoding serialises scalars before the envelope", HostEncoding, `{
			"Data": {"task": "\"{\\\"v\\\":1,\\\"digest\\\":\\\"sha256:ab\\\"}\""},
			"Metadata": {
				"DequeueCount": "1",
				"ExpirationTime": "2019-10-16T17:58:31.0000000+00:00",
				"Id": "\"800ae4b3-bdd2-4c08-badd-f08e5a34b865\"",
				"InsertionTime": "2019-10-09T17:58:31.0000000+00:00",
				"NextVisibleTime": "2019-10-09T18:08:32.0000000+00:00",
				"PopReceipt": "\"AgAAAAMAAAAAAAAAAgtnj8x+1QE=\"",
				"sys": {"MethodName": "scan", "UtcNow": "2019-10-09T17:58:32.2205399Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}
			}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameJSON(t, tt.want, QueueEnvelope(QueueBinding, testMessage, testSys, tt.enc))
		})
	}
}

func TestTimerEnvelope(t *testing.T) {
	t.Run("a first run has a null ScheduleStatus", func(t *testing.T) {
		env := TimerEnvelope(TimerBinding, TimerInfo{Schedule: TimerSchedule{AdjustForDST: true}}, testSys)
		sameJSON(t, `{
			"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
			"Metadata": {"sys": {"MethodName": "scan", "UtcNow": "2019-10-09T17:58:32.2205399Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}}}`, env)
	})
	t.Run("a monitored run carries Newtonsoft-formatted times", func(t *testing.T) {
		last := time.Date(2024, 10, 24, 6, 0, 0, 1234567, time.UTC)
		info := TimerInfo{ScheduleStatus: &ScheduleStatus{Last: last, Next: last.Add(6 * time.Hour), LastUpdated: last}, IsPastDue: true}
		sameJSON(t, `{"timer": {"Schedule": {"AdjustForDST": false}, "IsPastDue": true, "ScheduleStatus": {
			"Last": "2024-10-24T06:00:00.0012345Z", "Next": "2024-10-24T12:00:00.0012345Z", "LastUpdated": "2024-10-24T06:00:00.0012345Z"}}}`,
			TimerEnvelope(TimerBinding, info, testSys).Data)
	})
}

func TestCall(t *testing.T) {
	type seen struct {
		ID, Text, MessageID string
		DequeueCount        int
		Timer               TimerInfo
	}
	var got seen
	srv, _ := newTestServer(t, map[string]Func{
		"scan": func(_ context.Context, inv *Invocation, _ *slog.Logger) error {
			text, err := inv.QueueMessage(QueueBinding)
			if err != nil {
				return err
			}
			got = seen{ID: inv.InvocationID, Text: string(text), MessageID: inv.MetadataString("Id"), DequeueCount: inv.DequeueCount()}
			return nil
		},
		"sweep": func(_ context.Context, inv *Invocation, _ *slog.Logger) error {
			info, err := inv.Timer(TimerBinding)
			got = seen{ID: inv.InvocationID, Timer: info}
			return err
		},
		"listrepo": func(context.Context, *Invocation, *slog.Logger) error {
			return errors.New("table service unavailable")
		},
	})
	for _, enc := range []struct {
		name string
		enc  Encoding
	}{{"host", HostEncoding}, {"docs", DocsEncoding}} {
		t.Run("a queue envelope in the "+enc.name+" encoding reaches the function intact", func(t *testing.T) {
			env := QueueEnvelope(QueueBinding, testMessage, testSys, enc.enc)
			env.InvocationID = "0b6c1f7e-3d0a-4b8e-8f7c-2a1d9e4c5b60"
			status, _, err := Call(t.Context(), srv.URL, "scan", env)
			if err != nil || status != http.StatusOK {
				t.Fatalf("Call = %d, %v; want 200", status, err)
			}
			want := seen{ID: env.InvocationID, Text: string(testMessage.Text), MessageID: testMessage.ID, DequeueCount: 1}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("what the function saw (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a timer envelope reaches the function intact", func(t *testing.T) {
		info := TimerInfo{Schedule: TimerSchedule{AdjustForDST: true}, IsPastDue: true}
		status, _, err := Call(t.Context(), srv.URL+"/", "sweep", TimerEnvelope(TimerBinding, info, testSys))
		if err != nil || status != http.StatusOK {
			t.Fatalf("Call = %d, %v; want 200", status, err)
		}
		if diff := cmp.Diff(info, got.Timer); diff != "" {
			t.Errorf("TimerInfo (-want +got):\n%s", diff)
		}
		if got.ID == "" {
			t.Error("Call sent no invocation id")
		}
	})
	t.Run("a failed invocation returns its status and logs without an error", func(t *testing.T) {
		status, resp, err := Call(t.Context(), srv.URL, "listrepo", QueueEnvelope(QueueBinding, testMessage, testSys, HostEncoding))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", status)
		}
		if diff := cmp.Diff([]string{"transient failure: table service unavailable"}, resp.Logs); diff != "" {
			t.Errorf("Logs (-want +got):\n%s", diff)
		}
	})
	t.Run("an unreachable handler is an error", func(t *testing.T) {
		closed := newClosedURL(t)
		if _, _, err := Call(t.Context(), closed, "scan", Envelope{}); err == nil {
			t.Error("Call to a closed port succeeded")
		}
	})
}
