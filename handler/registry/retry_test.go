package registry_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/tidewatch/tidewatch/handler/registry"
)

func TestRetry(t *testing.T) {
	transient := &registry.Error{Op: "resolve", Ref: "r/a:1", Status: http.StatusServiceUnavailable, Err: &transport.Error{StatusCode: http.StatusServiceUnavailable}}
	permanent := &registry.Error{Op: "resolve", Ref: "r/a:1", Status: http.StatusNotFound, Err: &transport.Error{StatusCode: http.StatusNotFound}}
	tests := []struct {
		name      string
		failures  []error // returned by successive calls; then success
		attempts  int
		wantCalls int
		wantErr   error // matched with errors.Is; nil = success
	}{
		{"success on the first call does not wait", nil, 3, 1, nil},
		{"two transient failures then success takes three calls", []error{transient, transient}, 5, 3, nil},
		{"a permanent failure stops at once", []error{permanent}, 5, 1, permanent},
		{"transient failures beyond the attempts give up with the last one", []error{transient, transient, transient}, 3, 3, transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sleeps
			calls := 0
			err := registry.Retry(context.Background(), registry.RetryPolicy{Attempts: tt.attempts, BaseDelay: 8 * time.Millisecond, MaxDelay: time.Second, Sleep: s.sleep},
				func(context.Context) error {
					calls++
					if calls <= len(tt.failures) {
						return tt.failures[calls-1]
					}
					return nil
				})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			waits := s.recorded()
			if len(waits) != calls-1 {
				t.Fatalf("waits = %v, want %d", waits, calls-1)
			}
			// Exponential back-off jittered down by up to half: 4–8ms, 8–16ms, …
			for i, w := range waits {
				ceiling := 8 * time.Millisecond << i
				if w < ceiling/2 || w > ceiling {
					t.Errorf("wait %d = %s, want within [%s, %s]", i+1, w, ceiling/2, ceiling)
				}
			}
		})
	}
}

func TestRetryStopsWhenTheContextIsDone(t *testing.T) {
	transient := &transport.Error{StatusCode: http.StatusBadGateway}
	t.Run("a wait that cannot fit before the deadline exhausts the budget without sleeping", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		var s sleeps
		err := registry.Retry(ctx, registry.RetryPolicy{Sleep: s.sleep, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }},
			func(context.Context) error { return transient })
		if !errors.Is(err, registry.ErrBudgetExhausted) || !errors.Is(err, transient) {
			t.Errorf("err = %v, want ErrBudgetExhausted wrapping the last failure", err)
		}
		if diff := cmp.Diff([]time.Duration(nil), s.recorded()); diff != "" {
			t.Errorf("waits (-want +got):\n%s", diff)
		}
	})
	t.Run("cancellation stops retrying and keeps the last failure", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := registry.Retry(ctx, registry.RetryPolicy{BaseDelay: time.Millisecond}, func(context.Context) error {
			calls++
			cancel()
			return transient
		})
		if !errors.Is(err, context.Canceled) || !errors.Is(err, transient) || calls != 1 {
			t.Errorf("err = %v after %d calls, want Canceled wrapping the failure after 1 call", err, calls)
		}
	})
	t.Run("an exhausted budget from a nested retry is not retried again", func(t *testing.T) {
		calls := 0
		var s sleeps
		err := registry.Retry(context.Background(), registry.RetryPolicy{Sleep: s.sleep}, func(context.Context) error {
			calls++
			return registry.ErrBudgetExhausted
		})
		if !errors.Is(err, registry.ErrBudgetExhausted) || calls != 1 {
			t.Errorf("err = %v after %d calls, want ErrBudgetExhausted after 1", err, calls)
		}
	})
}
