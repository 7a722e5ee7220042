package host

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// newClosedURL returns the URL of a loopback port that nothing listens on.
func newClosedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestAddr(t *testing.T) {
	tests := []struct {
		name    string
		port    string
		want    string
		wantErr bool
	}{
		{"an unset port means 8080 for local runs", "", "127.0.0.1:8080", false},
		{"the host's port is used on loopback", "40123", "127.0.0.1:40123", false},
		{"a non-number is an error", "http", "", true},
		{"a port beyond 65535 is an error", "70000", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Addr(func(k string) string {
				if k == PortSetting {
					return tt.port
				}
				return ""
			})
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Addr = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestServe(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := NewServer(slog.New(slog.DiscardHandler), map[string]Func{
		"scan": func(context.Context, *Invocation, *slog.Logger) error {
			close(started)
			<-release
			return nil
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	begin := time.Now()
	go func() { served <- Serve(ctx, ln, h) }()

	t.Run("the readiness probe answers at once", func(t *testing.T) {
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		elapsed := time.Since(begin)
		t.Logf("ready after %v", elapsed)
		if resp.StatusCode != 200 || elapsed > 100*time.Millisecond {
			t.Errorf("probe = %d after %v, want 200 within 100ms", resp.StatusCode, elapsed)
		}
	})
	t.Run("cancelling lets an in-flight invocation finish and then stops", func(t *testing.T) {
		inflight := make(chan int, 1)
		go func() {
			status, _, err := Call(context.Background(), base, "scan", TimerEnvelope(TimerBinding, TimerInfo{}, testSys))
			if err != nil {
				t.Error(err)
			}
			inflight <- status
		}()
		<-started
		cancel()
		close(release)
		if status := <-inflight; status != 200 {
			t.Errorf("in-flight invocation status = %d, want 200", status)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
		if _, err := http.Get(base + "/"); err == nil {
			t.Error("server still answers after shutdown")
		}
	})
}

func TestListenAndServeReportsABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = ListenAndServe(t.Context(), ln.Addr().String(), http.NotFoundHandler())
	if err == nil {
		t.Fatal("ListenAndServe on a busy port succeeded")
	}
}
