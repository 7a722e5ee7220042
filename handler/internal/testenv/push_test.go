package testenv

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPushServesTheSidecarDigests(t *testing.T) {
	tests := []struct {
		name     string
		image    string
		username string
	}{
		{name: "an image index is pushed whole to an open registry", image: "debian12-multiarch"},
		{name: "a single image is pushed with the registry's credentials", image: "debian12-minbase", username: "pusher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []RegistryOption
			auth := authn.Anonymous
			if tt.username != "" {
				opts = append(opts, WithBasicAuth(tt.username, "pw-"+tt.username))
				auth = &authn.Basic{Username: tt.username, Password: "pw-" + tt.username}
			}
			reg := StartRegistry(t, opts...)
			reg.Push(t, tt.image, "demo/app:1")
			ref, err := name.ParseReference(reg.Ref("demo/app:1"), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Head(ref, remote.WithContext(t.Context()), remote.WithAuth(auth))
			if err != nil {
				t.Fatalf("HEAD %s: %v", ref, err)
			}
			if want := ReadSidecar(t, tt.image).PushedDigest(); desc.Digest.String() != want {
				t.Errorf("registry serves %s, sidecar says %s", desc.Digest, want)
			}
		})
	}
}
