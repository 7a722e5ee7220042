package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Server is a child process a test runs until it ends: the program, where its output
// goes and the URL that answers once it serves.
type Server struct {
	// Name names the process in failure messages ("docker-registry").
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Log is the file that receives the process's stdout and stderr.
	Log string
	// Ready is polled until it answers with any HTTP status.
	Ready string
	// Interrupt stops the process with os.Interrupt, waiting up to 5 s before killing
	// it, so it can report on its way out; otherwise it is killed.
	Interrupt bool
}

// StartServer starts s, fails the test (with s.Log) unless s.Ready answers within
// 10 s or if the process exits first, and stops the process when the test ends.
// Cleanups registered before StartServer run after the process has stopped.
func StartServer(t testing.TB, s Server) {
	t.Helper()
	logFile, err := os.Create(s.Log)
	if err != nil {
		t.Fatalf("creating the log of %s: %v", s.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, s.Path, s.Args...)
	if s.Interrupt {
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 5 * time.Second
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		logFile.Close()
		t.Fatalf("starting %s: %v", s.Name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		logFile.Close()
	})
	if err := waitReady(ctx, s.Ready, exited); err != nil {
		log, _ := os.ReadFile(s.Log)
		t.Fatalf("%s did not start: %v\n%s", s.Name, err, log)
	}
}

// waitReady polls url until it answers (any HTTP status), the process exits, or 10 s pass.
func waitReady(ctx context.Context, url string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s: %w", url, err)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("process exited: %v", err)
		case <-tick.C:
		}
	}
}

// freePort is a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
