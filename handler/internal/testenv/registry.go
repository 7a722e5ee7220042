package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a running docker-registry (Debian package docker-registry, the CNCF
// distribution registry 2.8) owned by one test.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// Username and Password are set when the registry requires basic auth.
	Username, Password string
	// Dir is the registry's storage root.
	Dir string
}

// RegistryOption configures a test registry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	username, password string
	notify             *notification
}

// notification is one notifications endpoint of the registry's config.
type notification struct {
	url     string
	headers map[string][]string
}

// WithNotifications makes the registry POST its notification envelopes (manifest
// events; blob media types are ignored) to url with headers, as
// notifications.endpoints in config.yml does (timeout 5s, threshold 3, backoff 1s).
func WithNotifications(url string, headers map[string][]string) RegistryOption {
	return func(c *registryConfig) { c.notify = &notification{url: url, headers: headers} }
}

// WithBasicAuth makes the registry require HTTP basic auth (htpasswd, bcrypt).
func WithBasicAuth(username, password string) RegistryOption {
	return func(c *registryConfig) { c.username, c.password = username, password }
}

// StartRegistry starts a fresh docker-registry on a free loopback port and stops it
// when the test ends. The binary is `docker-registry` on PATH or
// TIDEWATCH_TEST_DOCKER_REGISTRY.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	var cfg registryConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin := os.Getenv("TIDEWATCH_TEST_DOCKER_REGISTRY")
	if bin == "" {
		p, err := exec.LookPath("docker-registry")
		if err != nil {
			missing(t, "docker-registry not on PATH (apt-get install docker-registry)")
		}
		bin = p
	}
	dir := t.TempDir()
	port := freePort(t)
	r := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Username: cfg.username, Password: cfg.password}

	configPath := writeRegistryConfig(t, dir, r.Host, cfg)

	StartServer(t, Server{Name: "docker-registry", Path: bin, Args: []string{"serve", configPath},
		Log: filepath.Join(dir, "registry.log"), Ready: "http://" + r.Host + "/v2/"})
	return r
}

// writeRegistryConfig writes the config.yml (and, with basic auth, the htpasswd) of a
// registry listening on host with its storage and files below dir, and returns its path.
func writeRegistryConfig(t testing.TB, dir, host string, cfg registryConfig) string {
	t.Helper()
	var auth string
	if cfg.username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(cfg.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(cfg.username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: tidewatch-test\n    path: %s\n", htpasswd)
	}
	if n := cfg.notify; n != nil {
		var hdr strings.Builder
		for k, vs := range n.headers {
			fmt.Fprintf(&hdr, "        %s: [%s]\n", k, strings.Join(vs, ", "))
		}
		auth += fmt.Sprintf(`notifications:
  endpoints:
    - name: tidewatch
      url: %s
      headers:
%s      timeout: 5s
      threshold: 3
      backoff: 1s
      ignoredmediatypes:
        - application/octet-stream
        - application/vnd.oci.image.layer.v1.tar+gzip
        - application/vnd.docker.image.rootfs.diff.tar.gzip
        - application/vnd.oci.image.config.v1+json
        - application/vnd.docker.container.image.v1+json
`, n.url, hdr.String())
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), host, auth)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return configPath
}

// Ref returns "HOST/repo" for use in image references.
func (r *Registry) Ref(repo string) string {
	return r.Host + "/" + strings.TrimPrefix(repo, "/")
}
