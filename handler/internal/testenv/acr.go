package testenv

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/fakeacr"
)

// ACR is an in-process Azure Container Registry data plane (package fakeacr: the
// token exchange of AAD-OAuth.md, Bearer challenges naming scopes, the /acr/v1
// listing API) whose repositories and manifests the test sets (SetManifest, Touch).
// /v2/ requests are proxied, with the access token checked, to an upstream registry
// when one is given, so scans read real content. It counts requests per endpoint
// (Count) and answers faults per endpoint (Fail).
type ACR struct {
	*fakeacr.Server
	*fakeacr.Memory
}

// ACRManifest is one manifest the fake lists (ManifestAttributesBase).
type ACRManifest = fakeacr.Manifest

// ACRPlatformRef is a child of an index (ManifestAttributes_manifest_references).
type ACRPlatformRef = fakeacr.PlatformRef

// ACRFault is one answer the fake gives instead of the real one.
type ACRFault = fakeacr.Fault

// ACR endpoint names for Count and Fail.
const (
	ACRExchange   = fakeacr.Exchange
	ACRToken      = fakeacr.Token
	ACRPing       = fakeacr.Ping
	ACRCatalog    = fakeacr.Catalog
	ACRRepository = fakeacr.Repository
	ACRManifests  = fakeacr.Manifests
	ACRV2         = fakeacr.V2
)

// StartACR starts a fake ACR for the test. upstream, when not "", is the host of a
// registry (docker-registry) that /v2/ requests are proxied to.
func StartACR(t testing.TB, upstream string) *ACR {
	t.Helper()
	token, err := fakeacr.ExampleAADToken(filepath.Join(Shared(t), "azure-specs", "acr-dataplane"))
	if err != nil {
		t.Fatal(err)
	}
	mem := fakeacr.NewMemory()
	f := &ACR{Server: fakeacr.New(mem, token, upstream), Memory: mem}
	srv := httptest.NewUnstartedServer(f.Server)
	f.Host = srv.Listener.Addr().String()
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// StringPtr returns &s, for the nullable ACRManifest fields.
func StringPtr(s string) *string { return &s }
