package regevent

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrMalformed reports a body or message that is not any known event format, or an
// event in it that names an invalid digest, repository or tag. Retrying cannot help.
var ErrMalformed = errors.New("malformed registry event")

// Action is what happened to a manifest.
type Action string

// The actions Tidewatch acts on.
const (
	ActionPush   Action = "push"
	ActionPull   Action = "pull"
	ActionDelete Action = "delete"
)

// Event is one manifest event, whatever format it came in.
type Event struct {
	// ID is the sender's event id (distribution event id, Event Grid id, Harbor
	// CloudEvents id); "" when the format has none.
	ID     string
	Action Action
	// Registry is the registry host the sender names (request.host, the Harbor
	// resource_url's host, ACR's login server); "" when it names none.
	Registry   string
	Repository string
	// Digest is the manifest digest; "" only for a delete of a tag.
	Digest string
	// Tag is the tag pushed, pulled or deleted, or "".
	Tag       string
	MediaType string
	// At is when it happened by the sender's clock (zero when unknown).
	At time.Time
	// Format names where it came from: "distribution", "harbor", "eventgrid".
	Format string
	// UserAgent is the User-Agent of the request that caused the event, when the
	// format carries it (distribution, Event Grid).
	UserAgent string
	// Ignored, when not empty, is why Tidewatch does not act on the event (a blob, a
	// Helm chart, a signature, an action it does not track).
	Ignored string
}

// Ref is "registry/repository@digest" (or ":tag") for logs and reasons.
func (e Event) Ref() string {
	s := e.Registry + "/" + e.Repository
	if e.Digest != "" {
		return s + "@" + e.Digest
	}
	return s + ":" + e.Tag
}

// manifestMediaTypes are the manifest media types of container images and indexes.
var manifestMediaTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
	"application/vnd.docker.distribution.manifest.v1+json":      true,
	"application/vnd.docker.distribution.manifest.v1+prettyjws": true,
}

// classify sets e.Ignored for events that are not about an image manifest. A delete
// carries no media type (distribution and ACR send only digest and repository).
func classify(e *Event) {
	switch {
	case e.Action != ActionPush && e.Action != ActionPull && e.Action != ActionDelete:
		e.Ignored = fmt.Sprintf("action %q is not tracked", e.Action)
	case e.MediaType != "" && !manifestMediaTypes[e.MediaType]:
		e.Ignored = fmt.Sprintf("not an image manifest: media type %q", e.MediaType)
	case isSignatureTag(e.Tag):
		e.Ignored = fmt.Sprintf("signature or attestation artifact: tag %q", e.Tag)
	}
}

// isSignatureTag recognises cosign's sha256-<hex>.sig/.att/.sbom tags.
func isSignatureTag(tag string) bool {
	rest, ok := strings.CutPrefix(tag, "sha256-")
	if !ok {
		return false
	}
	hex, suffix, ok := strings.Cut(rest, ".")
	return ok && len(hex) == 64 && (suffix == "sig" || suffix == "att" || suffix == "sbom")
}

// validate checks the names an event carries: a repository name without empty or
// dot-dot components that go-containerregistry accepts, a sha256 digest, a tag.
func validate(e Event) error {
	bad := func(what, value string, err error) error {
		return fmt.Errorf("%w: %s %q: %w", ErrMalformed, what, value, err)
	}
	if e.Repository == "" {
		return bad("repository", e.Repository, errors.New("missing"))
	}
	for _, part := range strings.Split(e.Repository, "/") {
		if part == "" || part == "." || part == ".." || strings.Contains(part, "..") {
			return bad("repository", e.Repository, errors.New("has an empty or dot-dot component"))
		}
	}
	registry := e.Registry
	if registry == "" {
		registry = "registry.invalid"
	}
	reg, err := name.NewRegistry(registry, name.StrictValidation)
	if err != nil {
		return bad("registry", e.Registry, err)
	}
	repo, err := name.NewRepository(reg.RegistryStr()+"/"+e.Repository, name.StrictValidation)
	if err == nil && (repo.RepositoryStr() != e.Repository || repo.RegistryStr() != reg.RegistryStr()) {
		err = fmt.Errorf("parses as %s", repo.RepositoryStr())
	}
	if err != nil {
		return bad("repository", e.Repository, err)
	}
	if e.Digest == "" && (e.Action != ActionDelete || e.Tag == "") {
		return bad("digest", e.Digest, errors.New("missing"))
	}
	if e.Digest != "" {
		h, err := v1.NewHash(e.Digest)
		if err == nil && (h.Algorithm != "sha256" || len(h.Hex) != 64) {
			err = errors.New("not a sha256 digest")
		}
		if err != nil {
			return bad("digest", e.Digest, err)
		}
	}
	if e.Tag != "" && e.Tag != e.Digest {
		if _, err := name.NewTag(repo.Name()+":"+e.Tag, name.StrictValidation); err != nil {
			return bad("tag", e.Tag, err)
		}
	}
	return nil
}

// finish classifies and validates one decoded event.
func finish(e Event) (Event, error) {
	if e.Tag == e.Digest {
		e.Tag = "" // Harbor names a by-digest push's tag by its digest
	}
	if err := validate(e); err != nil {
		return e, err
	}
	classify(&e)
	return e, nil
}
