package host

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidewatch/tidewatch/handler/config"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// readJSON decodes a repository file.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

// binding is the subset of a function.json binding Tidewatch relies on.
type binding struct {
	Type       string   `json:"type"`
	Direction  string   `json:"direction"`
	Name       string   `json:"name"`
	Schedule   string   `json:"schedule,omitempty"`
	UseMonitor *bool    `json:"useMonitor,omitempty"`
	QueueName  string   `json:"queueName,omitempty"`
	Connection string   `json:"connection,omitempty"`
	AuthLevel  string   `json:"authLevel,omitempty"`
	Methods    []string `json:"methods,omitempty"`
}

func TestFunctionJSON(t *testing.T) {
	useMonitor := true
	tests := []struct {
		function string
		want     []binding
	}{
		{FunctionSweep, []binding{{Type: "timerTrigger", Direction: "in", Name: TimerBinding,
			Schedule: "%" + config.EnvSweepSchedule + "%", UseMonitor: &useMonitor}}},
		{FunctionAdvisories, []binding{{Type: "timerTrigger", Direction: "in", Name: TimerBinding,
			Schedule: "%" + config.EnvAdvisorySchedule + "%", UseMonitor: &useMonitor}}},
		// Queue names as in DESIGN.md; handler/store holds them as QueueListTasks/QueueScanTasks.
		{FunctionListRepo, []binding{{Type: "queueTrigger", Direction: "in", Name: QueueBinding,
			QueueName: "list-tasks", Connection: StorageConnection}}},
		{FunctionScan, []binding{{Type: "queueTrigger", Direction: "in", Name: QueueBinding,
			QueueName: "scan-tasks", Connection: StorageConnection}}},
		{FunctionRematch, []binding{{Type: "queueTrigger", Direction: "in", Name: QueueBinding,
			QueueName: "rematch-tasks", Connection: StorageConnection}}},
		// Function-key auth is the host's (authLevel function); the handler checks no key.
		{FunctionRegistryEvents, []binding{
			{Type: "httpTrigger", Direction: "in", Name: HTTPBinding, AuthLevel: "function", Methods: []string{"post"}},
			{Type: "http", Direction: "out", Name: HTTPOutputBinding}}},
		{FunctionRegistryEventsQueue, []binding{{Type: "queueTrigger", Direction: "in", Name: QueueBinding,
			QueueName: "registry-events", Connection: StorageConnection}}},
	}
	for _, tt := range tests {
		t.Run("functions/"+tt.function+"/function.json binds what the handler reads", func(t *testing.T) {
			var fn struct {
				Bindings []binding `json:"bindings"`
			}
			readJSON(t, filepath.Join("functions", tt.function, "function.json"), &fn)
			if diff := cmp.Diff(tt.want, fn.Bindings); diff != "" {
				t.Errorf("bindings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the storage connection is the config package's setting", func(t *testing.T) {
		if StorageConnection != config.EnvStorage {
			t.Errorf("StorageConnection = %q, config reads %q", StorageConnection, config.EnvStorage)
		}
	})
}

func TestHostJSON(t *testing.T) {
	var got struct {
		Version         string `json:"version"`
		FunctionTimeout string `json:"functionTimeout"`
		ExtensionBundle struct {
			ID      string `json:"id"`
			Version string `json:"version"`
		} `json:"extensionBundle"`
		Extensions struct {
			Queues struct {
				BatchSize         int    `json:"batchSize"`
				NewBatchThreshold *int   `json:"newBatchThreshold"`
				MaxDequeueCount   int    `json:"maxDequeueCount"`
				VisibilityTimeout string `json:"visibilityTimeout"`
				MessageEncoding   string `json:"messageEncoding"`
			} `json:"queues"`
		} `json:"extensions"`
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string   `json:"defaultExecutablePath"`
				WorkingDirectory      *string  `json:"workingDirectory"`
				Arguments             []string `json:"arguments"`
			} `json:"description"`
			EnableForwardingHTTPRequest *bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
	}
	readJSON(t, "host.json", &got)

	t.Run("it is a version 2 host with the v4 extension bundle", func(t *testing.T) {
		if got.Version != "2.0" || got.ExtensionBundle.ID != "Microsoft.Azure.Functions.ExtensionBundle" || got.ExtensionBundle.Version != "[4.*, 5.0.0)" {
			t.Errorf("version %q, bundle %+v", got.Version, got.ExtensionBundle)
		}
	})
	t.Run("the custom handler runs tidewatch serve without HTTP forwarding", func(t *testing.T) {
		d := got.CustomHandler.Description
		if d.DefaultExecutablePath != "tidewatch" || d.WorkingDirectory == nil || *d.WorkingDirectory != "" ||
			!cmp.Equal(d.Arguments, []string{"serve"}) ||
			got.CustomHandler.EnableForwardingHTTPRequest == nil || *got.CustomHandler.EnableForwardingHTTPRequest {
			t.Errorf("customHandler = %+v", got.CustomHandler)
		}
	})
	t.Run("queue messages are base64 and poisoned after five dequeues", func(t *testing.T) {
		q := got.Extensions.Queues
		if q.MaxDequeueCount != MaxDequeueCount || q.MessageEncoding != "base64" || q.BatchSize < 1 || q.NewBatchThreshold == nil || q.VisibilityTimeout == "" {
			t.Errorf("extensions.queues = %+v", q)
		}
		if _, err := parseTimeSpan(q.VisibilityTimeout); err != nil {
			t.Errorf("visibilityTimeout: %v", err)
		}
	})
	t.Run("the invocation budget ends before the function timeout", func(t *testing.T) {
		timeout, err := parseTimeSpan(got.FunctionTimeout)
		if err != nil {
			t.Fatalf("functionTimeout: %v", err)
		}
		if timeout != config.MaxScanBudget || config.DefaultScanBudget >= timeout {
			t.Errorf("functionTimeout %v; config.MaxScanBudget %v, default budget %v", timeout, config.MaxScanBudget, config.DefaultScanBudget)
		}
	})
}

// parseTimeSpan parses a .NET TimeSpan "hh:mm:ss" as host.json writes them.
func parseTimeSpan(s string) (time.Duration, error) {
	t, err := time.Parse("15:04:05", s)
	if err != nil {
		return 0, err
	}
	return t.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)), nil
}
