package feed_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidewatch/tidewatch/handler/feed"
)

func TestAFetchWhoseBudgetRunsOutDuringARetryStillNamesWhatTheSourceAnswered(t *testing.T) {
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		select { // the retry hangs until the caller's budget is gone
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := feed.NewHTTPSource(srv.URL, feed.WithAttempts(3), feed.WithSleep(func(context.Context, time.Duration) error {
		go func() {
			// Cancel once the retry's request is in flight: the budget ends during it.
			for requests.Load() < 2 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		return nil
	}))
	_, err := src.Fetch(ctx, "Debian", feed.Validators{}, 1<<20)
	if err == nil {
		t.Fatal("fetch succeeded, want an error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %q does not say the budget ended it", err)
	}
	if !strings.Contains(err.Error(), "500") {
		t.Errorf("error %q does not name the 500 the source answered before", err)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("source saw %d requests, want 2", got)
	}
}
