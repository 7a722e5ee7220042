package testenv

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartFaultProxy builds the shared faultproxy tool (../shared/tools/faultproxy) and
// runs it on a free loopback port in front of upstream ("http://127.0.0.1:PORT") with
// the given flags (e.g. "-p500", "0.05", "-seed", "7"; its defaults are the "default
// fault mix"). It returns the proxy's "127.0.0.1:PORT" and stops it when the test ends.
func StartFaultProxy(t testing.TB, upstream string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "faultproxy")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(Shared(t), "tools", "faultproxy")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building faultproxy: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"-listen", addr, "-upstream", upstream, "-log", filepath.Join(dir, "faults.jsonl")}, flags...)
	logPath := filepath.Join(dir, "faultproxy.log")
	// Registered first, this runs once the proxy has stopped: interrupted, the proxy
	// prints its fault counts before it exits.
	t.Cleanup(func() {
		if testing.Verbose() {
			if summary, err := os.ReadFile(logPath); err == nil {
				t.Logf("faultproxy %s -> %s:\n%s", addr, upstream, summary)
			}
		}
	})
	// Any answer will do: the proxy forwards the probe to upstream.
	StartServer(t, Server{Name: "faultproxy", Path: bin, Args: args, Log: logPath, Ready: "http://" + addr + "/", Interrupt: true})
	return addr
}

// FaultyStorage returns the storage connection string cs with its blob, queue and
// table endpoints moved behind one fault proxy each, started with flags. Every HTTP
// method may be faulted (the tool's default is only GET and HEAD), so writes fail too.
// The SDK's own retries still run; use it to test what survives them.
func FaultyStorage(t testing.TB, cs string, flags ...string) string {
	t.Helper()
	parts := strings.Split(cs, ";")
	for i, part := range parts {
		key, value, ok := strings.Cut(part, "=")
		if !ok || (key != "BlobEndpoint" && key != "QueueEndpoint" && key != "TableEndpoint") {
			continue
		}
		u, err := url.Parse(value)
		if err != nil {
			t.Fatalf("parsing %s of the storage connection string: %v", key, err)
		}
		upstream := u.Scheme + "://" + u.Host
		// A seed per service, so the three proxies do not fault in lockstep; a -seed in
		// flags comes later and wins.
		own := []string{"-methods", "GET,HEAD,PUT,POST,DELETE,PATCH,MERGE", "-seed", fmt.Sprint(i + 1)}
		u.Host = StartFaultProxy(t, upstream, append(own, flags...)...)
		parts[i] = key + "=" + u.String()
	}
	return strings.Join(parts, ";")
}
