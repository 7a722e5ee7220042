package store

import (
	"context"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// newTestStore opens a store on the test Azurite with resources private to this test.
func newTestStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	cs := testenv.Storage(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{ConnectionString: cs}, append([]Option{WithNameSuffix(testenv.Name(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureResources(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DeleteResources(context.Background()); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	return s
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		opts    []Option
		wantErr bool
	}{
		{"an empty config is rejected", Config{}, nil, true},
		{"service URLs without all three are rejected", Config{TableServiceURL: "https://a.table.core.windows.net", Credential: fakeCredential{}}, nil, true},
		{"an identity-based config with an injected credential opens", Config{
			TableServiceURL: "https://a.table.core.windows.net", QueueServiceURL: "https://a.queue.core.windows.net",
			BlobServiceURL: "https://a.blob.core.windows.net", Credential: fakeCredential{}}, nil, false},
		{"an uppercase suffix is rejected", Config{ConnectionString: azuriteLike}, []Option{WithNameSuffix("Abc")}, true},
		{"a suffix with a hyphen is rejected", Config{ConnectionString: azuriteLike}, []Option{WithNameSuffix("a-b")}, true},
		{"a full connection string opens", Config{ConnectionString: azuriteLike}, []Option{WithNameSuffix("t0a")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.cfg, tt.opts...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Open error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

const azuriteLike = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
