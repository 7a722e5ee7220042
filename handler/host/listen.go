package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// PortSetting is the environment variable through which the host passes the port.
const PortSetting = "FUNCTIONS_CUSTOMHANDLER_PORT"

// DefaultPort is used when PortSetting is unset, i.e. when running locally.
const DefaultPort = 8080

// shutdownGrace is how long in-flight invocations get to finish after ctx is cancelled.
// Anything still running then is abandoned; its queue message reappears and is retried.
const shutdownGrace = 30 * time.Second

// Addr returns the loopback address to listen on, from FUNCTIONS_CUSTOMHANDLER_PORT.
func Addr(getenv func(string) string) (string, error) {
	port := DefaultPort
	if v := getenv(PortSetting); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("%s=%q is not a TCP port", PortSetting, v)
		}
		port = p
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// ListenAndServe listens on addr and serves h until ctx is cancelled, then shuts down
// gracefully. It listens before doing anything else so the host's readiness probe
// succeeds at once.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h)
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully. It closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: an invocation legitimately runs for minutes.
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down server on %s: %w", ln.Addr(), err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	}
	return nil
}
