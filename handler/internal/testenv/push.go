package testenv

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/ocilayout"
)

// PushImage pushes a shared fixture image (an OCI-layout tarball, e.g.
// "debian12-multiarch") unchanged to ref ("HOST/repo:tag", plain HTTP): the one image
// or image index its index.json names, so the registry serves the sidecar's digests.
// opts are passed to remote.Write or remote.WriteIndex after a default
// remote.WithContext(t.Context()), e.g. remote.WithAuth. Any failure fails the test.
func PushImage(t testing.TB, image, ref string, opts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("parsing %s: %v", ref, err)
	}
	if err := ocilayout.Push(t.Context(), Image(t, image), r, opts...); err != nil {
		t.Fatal(err)
	}
}

// Push pushes a shared fixture image to repoTag ("demo/app:1") on r, with r's basic
// auth credentials when it has them.
func (r *Registry) Push(t testing.TB, image, repoTag string) {
	t.Helper()
	auth := authn.Anonymous
	if r.Username != "" {
		auth = &authn.Basic{Username: r.Username, Password: r.Password}
	}
	PushImage(t, image, r.Ref(repoTag), remote.WithAuth(auth))
}
