package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/pipeline"
	"github.com/tidewatch/tidewatch/handler/store"
)

// pagingSweep is a handler whose sweep sends one list task, waits until the host
// delivered it, then sends a second: a sweep still walking the catalog while the
// list tasks of its first page run.
type pagingSweep struct {
	st        *store.Store
	delivered chan struct{}
	once      sync.Once
	listed    atomic.Int64
}

func (s *pagingSweep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/" + pipeline.FuncSweep:
		if err := s.st.ListTasks().Send(r.Context(), []byte("page 1")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		select {
		case <-s.delivered:
		case <-r.Context().Done():
			http.Error(w, "page 1's list task was not delivered while the sweep ran", http.StatusInternalServerError)
			return
		}
		if err := s.st.ListTasks().Send(r.Context(), []byte("page 2")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case "/" + pipeline.FuncListRepo:
		s.listed.Add(1)
		s.once.Do(func() { close(s.delivered) })
	default:
		http.NotFound(w, r)
	}
}

func TestRunDeliversListTasksWhileTheSweepIsStillRunning(t *testing.T) {
	cs := testenv.Storage(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{ConnectionString: cs}, store.WithNameSuffix(testenv.Name(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.DeleteResources(context.Background()); err != nil {
			t.Logf("deleting test resources: %v", err)
		}
	})
	sweep := &pagingSweep{st: st, delivered: make(chan struct{})}
	r, err := serveLocally(ctx, &pipelineHandler{Handler: sweep, store: st}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	r.timers, r.parallel = []string{pipeline.FuncSweep}, 2
	// Bounded: a drive loop that waits for the sweep before delivering waits for ever.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	stats, err := r.drive(dctx, time.Second)

	if err != nil {
		t.Fatalf("drive: %v", err)
	}
	if got := sweep.listed.Load(); got != 2 {
		t.Errorf("%d list tasks delivered, want 2: the one sent while the sweep ran and the one sent after it", got)
	}
	if stats.completed != 3 {
		t.Errorf("%d invocations completed, want 3 (the sweep and two list tasks)", stats.completed)
	}
	if n, err := st.ListTasks().ApproximateCount(ctx); err != nil || n != 0 {
		t.Errorf("list-tasks holds %d messages (%v) after the drive, want none", n, err)
	}
}
