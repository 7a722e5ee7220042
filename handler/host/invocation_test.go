package host

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// loadEnvelope reads a testdata envelope into an Invocation the way the server does.
func loadEnvelope(t *testing.T, name string) *Invocation {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := decodeInvocation(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return inv
}

func TestQueueMessage(t *testing.T) {
	tests := []struct {
		name    string
		value   string // the Data value as it appears in the envelope JSON
		want    string
		wantErr error
	}{
		{"the documented form holds the text as one JSON string", `"{ message: \"Message sent\" }"`, `{ message: "Message sent" }`, nil},
		{"the host form double-encodes plain text", `"\"hello\""`, `hello`, nil},
		{"the host form double-encodes JSON text", `"\"{\\\"a\\\":1}\""`, `{"a":1}`, nil},
		{"a singly encoded JSON message is decoded once", `"{\"v\":1}"`, `{"v":1}`, nil},
		{"a raw JSON object is the message itself", ` {"v":1} `, `{"v":1}`, nil},
		{"an empty message is empty text", `"\"\""`, ``, nil},
		{"a null value is an error", `null`, ``, ErrNullBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Invocation{Data: map[string]json.RawMessage{"task": json.RawMessage(tt.value)}}
			got, err := inv.QueueMessage("task")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("QueueMessage error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("QueueMessage text (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a missing binding is ErrNoBinding", func(t *testing.T) {
		inv := &Invocation{Data: map[string]json.RawMessage{"other": json.RawMessage(`"x"`)}}
		if _, err := inv.QueueMessage("task"); !errors.Is(err, ErrNoBinding) {
			t.Errorf("QueueMessage error = %v, want ErrNoBinding", err)
		}
	})
}

func TestEnvelopeFixtures(t *testing.T) {
	t.Run("the documentation example decodes to its message and metadata", func(t *testing.T) {
		inv := loadEnvelope(t, "queue-docs.json")
		text, err := inv.QueueMessage("myQueueItem")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{
			"text":         string(text),
			"dequeueCount": inv.DequeueCount(),
			"id":           inv.MessageID(),
			"popReceipt":   inv.MetadataString("PopReceipt"),
			"insertion":    inv.MetadataString("InsertionTime"),
		}
		want := map[string]any{
			"text":         `{ message: "Message sent" }`,
			"dequeueCount": 1,
			"id":           "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
			"popReceipt":   "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
			"insertion":    "2019-10-09T17:58:31+00:00",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded docs envelope (-want +got):\n%s", diff)
		}
	})
	t.Run("the host-code example decodes to the same kind of values", func(t *testing.T) {
		inv := loadEnvelope(t, "queue-host.json")
		text, err := inv.QueueMessage(QueueBinding)
		if err != nil {
			t.Fatal(err)
		}
		var task struct {
			V          int    `json:"v"`
			Registry   string `json:"registry"`
			Repository string `json:"repository"`
		}
		if err := json.Unmarshal(text, &task); err != nil {
			t.Fatalf("message text %q is not the JSON task: %v", text, err)
		}
		got := map[string]any{
			"registry":     task.Registry,
			"repository":   task.Repository,
			"dequeueCount": inv.DequeueCount(),
			"id":           inv.MessageID(),
			"popReceipt":   inv.MetadataString("PopReceipt"),
		}
		want := map[string]any{
			"registry":     "contoso.azurecr.io",
			"repository":   "team/api",
			"dequeueCount": 1,
			"id":           "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
			"popReceipt":   "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded host envelope (-want +got):\n%s", diff)
		}
	})
}

func TestDequeueCount(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  int
	}{
		{"a JSON number is read as is", `1`, 1},
		{"a string number is accepted", `"3"`, 3},
		{"a doubly quoted number is accepted", `"\"5\""`, 5},
		{"text that is not a number reads as zero", `"many"`, 0},
		{"null reads as zero", `null`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Invocation{Metadata: map[string]json.RawMessage{"DequeueCount": json.RawMessage(tt.value)}}
			if got := inv.DequeueCount(); got != tt.want {
				t.Errorf("DequeueCount() = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("a timer invocation has no dequeue count and no message id", func(t *testing.T) {
		if got := loadEnvelope(t, "timer-host.json").DequeueCount(); got != 0 {
			t.Errorf("DequeueCount() = %d, want 0", got)
		}
		if got := loadEnvelope(t, "timer-host.json").MessageID(); got != "" {
			t.Errorf("MessageID() of a timer = %q, want none", got)
		}
	})
}

func TestMetadataString(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"a plain string is returned unquoted", `"abc"`, "abc"},
		{"a string quoted inside a string is unquoted twice", `"\"abc\""`, "abc"},
		{"a number is returned as its text", `42`, "42"},
		{"an object is returned as its JSON text", `{"a":1}`, `{"a":1}`},
		{"null is empty", `null`, ""},
		{"escapes inside the inner string are decoded", `"\"a\\\\b\""`, `a\b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Invocation{Metadata: map[string]json.RawMessage{"key": json.RawMessage(tt.value)}}
			if got := inv.MetadataString("key"); got != tt.want {
				t.Errorf("MetadataString = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("a missing key is empty", func(t *testing.T) {
		if got := (&Invocation{}).MetadataString("Id"); got != "" {
			t.Errorf("MetadataString = %q, want empty", got)
		}
	})
}

func TestTimer(t *testing.T) {
	t.Run("a monitored timer carries its schedule status", func(t *testing.T) {
		got, err := loadEnvelope(t, "timer-host.json").Timer(TimerBinding)
		if err != nil {
			t.Fatal(err)
		}
		want := TimerInfo{
			Schedule: TimerSchedule{AdjustForDST: true},
			ScheduleStatus: &ScheduleStatus{
				Last:        time.Date(2024, 10, 24, 6, 0, 0, 1234500, time.UTC),
				Next:        time.Date(2024, 10, 24, 12, 0, 0, 0, time.UTC),
				LastUpdated: time.Date(2024, 10, 24, 6, 0, 0, 1234500, time.UTC),
			},
			IsPastDue: true,
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(time.Time.Equal)); diff != "" {
			t.Errorf("Timer (-want +got):\n%s", diff)
		}
	})
	t.Run("a first run has a null schedule status", func(t *testing.T) {
		got, err := loadEnvelope(t, "timer-first-run.json").Timer(TimerBinding)
		if err != nil {
			t.Fatal(err)
		}
		want := TimerInfo{Schedule: TimerSchedule{AdjustForDST: true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Timer (-want +got):\n%s", diff)
		}
	})
	t.Run("a timer serialised into a string is accepted", func(t *testing.T) {
		inv := &Invocation{Data: map[string]json.RawMessage{"timer": json.RawMessage(`"{\"IsPastDue\":true,\"ScheduleStatus\":null}"`)}}
		got, err := inv.Timer("timer")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(TimerInfo{IsPastDue: true}, got); diff != "" {
			t.Errorf("Timer (-want +got):\n%s", diff)
		}
	})
	t.Run("an unparseable time is an error naming the field", func(t *testing.T) {
		inv := &Invocation{Data: map[string]json.RawMessage{"timer": json.RawMessage(`{"ScheduleStatus":{"Last":"yesterday"}}`)}}
		_, err := inv.Timer("timer")
		if err == nil || !strings.Contains(err.Error(), "ScheduleStatus.Last") {
			t.Errorf("Timer error = %v, want one naming ScheduleStatus.Last", err)
		}
	})
	t.Run("a missing binding is ErrNoBinding", func(t *testing.T) {
		if _, err := (&Invocation{}).Timer("timer"); !errors.Is(err, ErrNoBinding) {
			t.Errorf("Timer error = %v, want ErrNoBinding", err)
		}
	})
}
