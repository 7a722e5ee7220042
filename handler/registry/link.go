package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// nextPage returns the absolute URL of the rel="next" Link of a listing response, or
// "" when there is none (the last page). The link may be relative (docker-registry,
// ACR); it must stay on the registry's scheme and host so a hostile registry cannot
// point our credentials elsewhere.
func nextPage(resp *http.Response, reg name.Registry) (string, error) {
	for _, header := range resp.Header.Values("Link") {
		for _, link := range strings.Split(header, ",") {
			target, ok := nextTarget(link)
			if !ok {
				continue
			}
			u, err := url.Parse(target)
			if err != nil {
				return "", fmt.Errorf("parsing Link %q: %w", link, err)
			}
			u = resp.Request.URL.ResolveReference(u)
			if u.Scheme != reg.Scheme() || u.Host != reg.RegistryStr() {
				return "", fmt.Errorf("link header %q leaves registry %s", link, reg.RegistryStr())
			}
			return u.String(), nil
		}
	}
	return "", nil
}

// nextTarget returns the URL of one link-value (`<url>; rel="next"`) if its rel
// includes "next".
func nextTarget(link string) (string, bool) {
	link = strings.TrimSpace(link)
	end := strings.Index(link, ">")
	if !strings.HasPrefix(link, "<") || end < 0 {
		return "", false
	}
	target := link[1:end]
	for _, param := range strings.Split(link[end+1:], ";") {
		key, value, ok := strings.Cut(strings.TrimSpace(param), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(value), `"`)) {
			if strings.EqualFold(rel, "next") && target != "" {
				return target, true
			}
		}
	}
	return "", false
}
