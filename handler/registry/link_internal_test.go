package registry

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestNextPage(t *testing.T) {
	reg, err := name.NewRegistry("127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	reqURL, _ := url.Parse("http://127.0.0.1:5000/v2/_catalog?n=3")
	tests := []struct {
		name    string
		links   []string
		want    string
		wantErr bool
	}{
		{"no Link header is the last page", nil, "", false},
		{"a relative next link resolves against the request", []string{`</v2/_catalog?last=c&n=3>; rel="next"`}, "http://127.0.0.1:5000/v2/_catalog?last=c&n=3", false},
		{"an unquoted rel works", []string{`</v2/_catalog?last=c&n=3>; rel=next`}, "http://127.0.0.1:5000/v2/_catalog?last=c&n=3", false},
		{"next is picked among several links", []string{`</v2/_catalog?n=3>; rel="prev", </v2/_catalog?last=f&n=3>; rel="next"`}, "http://127.0.0.1:5000/v2/_catalog?last=f&n=3", false},
		{"a link without rel next is ignored", []string{`</v2/_catalog?last=c&n=3>; rel="prev"`}, "", false},
		{"a next link to another host is refused", []string{`<http://evil.example/v2/_catalog?last=c>; rel="next"`}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{"Link": tt.links}, Request: &http.Request{URL: reqURL}}
			got, err := nextPage(resp, reg)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("nextPage = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
