package config

import (
	"errors"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// hostnameRE matches a DNS name of letters, digits and hyphens (lower-cased first).
var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// parseRegistries reads TIDEWATCH_REGISTRIES and each registry's credentials.
func parseRegistries(env environment) ([]Registry, error) {
	value := env.get(EnvRegistries, "")
	if value == "" {
		// Commands that only read storage (findings) need no registries; sweeping ones
		// call Config.RequireRegistries.
		return nil, nil
	}
	var (
		registries []Registry
		errs       []error
		seen       = map[string]bool{}
	)
	for i, entry := range strings.Split(value, ",") {
		n := i + 1
		reg, err := parseRegistryEntry(n, strings.TrimSpace(entry))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[reg.Host] {
			errs = append(errs, problem(EnvRegistries, "registry %s is listed twice", reg.Host))
			continue
		}
		seen[reg.Host] = true
		if err := reg.credentials(n, env); err != nil {
			errs = append(errs, err)
		}
		registries = append(registries, reg)
	}
	errs = append(errs, strayCredentials(env, len(strings.Split(value, ",")))...)
	return registries, errors.Join(errs...)
}

// parseRegistryEntry reads one "host[=mode]" entry at 1-based position n.
func parseRegistryEntry(n int, entry string) (Registry, error) {
	hostText, modeText, hasMode := strings.Cut(entry, "=")
	host := strings.ToLower(strings.TrimSpace(hostText))
	if host == "" {
		return Registry{}, problem(EnvRegistries, "entry %d is empty", n)
	}
	if err := checkHost(host); err != nil {
		return Registry{}, problem(EnvRegistries, "entry %d %q: %v", n, hostText, err)
	}
	reg := Registry{Host: host, Auth: defaultAuth(host)}
	if hasMode {
		switch mode := AuthMode(strings.ToLower(strings.TrimSpace(modeText))); mode {
		case AuthACR, AuthBasic, AuthAnonymous:
			reg.Auth = mode
		default:
			return Registry{}, problem(EnvRegistries, "entry %d %q: auth mode %q is not acr, basic or anonymous", n, hostText, modeText)
		}
	}
	return reg, nil
}

// checkHost accepts "name", "name:port", "ip:port" and "[ipv6]:port"; no scheme or path.
func checkHost(host string) error {
	if strings.Contains(host, "/") {
		return errors.New("want a registry host such as contoso.azurecr.io or localhost:5000, without scheme or path")
	}
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		p, perr := strconv.Atoi(port)
		if perr != nil || p < 1 || p > 65535 {
			return errors.New("port is not a number from 1 to 65535")
		}
		name = h
	}
	if net.ParseIP(name) != nil || hostnameRE.MatchString(name) {
		return nil
	}
	return errors.New("not a valid host name")
}

// defaultAuth is acr for Azure Container Registry hosts, anonymous otherwise.
func defaultAuth(host string) AuthMode {
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	if strings.HasSuffix(host, ".azurecr.io") {
		return AuthACR
	}
	return AuthAnonymous
}

// credentials reads the n-th registry's username and password: both required for
// basic auth and refused otherwise, so a forgotten "=basic" is caught.
func (r *Registry) credentials(n int, env environment) error {
	userName, passName := registryUsername(n), registryPassword(n)
	if r.Auth != AuthBasic {
		var errs []error
		for _, name := range []string{userName, passName} {
			if env.has(name) {
				errs = append(errs, problem(name, "set for registry %s whose auth mode is %s; write %s=basic in %s to use it", r.Host, r.Auth, r.Host, EnvRegistries))
			}
		}
		return errors.Join(errs...)
	}
	r.Username, r.Password = env.get(userName, ""), Secret(env.get(passName, ""))
	var errs []error
	if r.Username == "" {
		errs = append(errs, problem(userName, "required: registry %s uses basic auth", r.Host))
	}
	if r.Password == "" {
		errs = append(errs, problem(passName, "required: registry %s uses basic auth", r.Host))
	}
	return errors.Join(errs...)
}

// strayCredentials rejects credentials for positions TIDEWATCH_REGISTRIES does not have.
func strayCredentials(env environment, count int) []error {
	var stray []string
	for name := range env {
		m := registrySettingRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n > count {
			stray = append(stray, name)
		}
	}
	slices.Sort(stray)
	errs := make([]error, len(stray))
	for i, name := range stray {
		errs[i] = problem(name, "%s lists only %d registries", EnvRegistries, count)
	}
	return errs
}

// RequireRegistries fails, naming the setting, when no registry is configured: the
// sweep has nothing to do and would silently report nothing.
func (c *Config) RequireRegistries() error {
	if len(c.Registries) == 0 {
		return problem(EnvRegistries, "no registries configured; want a comma list of hosts, each optionally host=acr|basic|anonymous")
	}
	return nil
}
