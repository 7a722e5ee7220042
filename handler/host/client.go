package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// localHostVersion identifies the local runner in the host-version headers.
const localHostVersion = "4.0.0-tidewatch-local"

// Call POSTs env to function at baseURL (for example http://127.0.0.1:8080) with the
// headers the host adds, and returns the status code and decoded response body. A
// non-2xx status is not an error: the caller decides, as the host does, whether to retry.
func Call(ctx context.Context, baseURL, function string, env Envelope) (int, Response, error) {
	body, err := json.Marshal(env)
	if err != nil {
		return 0, Response{}, fmt.Errorf("encoding envelope for %s: %w", function, err)
	}
	url := strings.TrimSuffix(baseURL, "/") + "/" + function
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, Response{}, fmt.Errorf("building request for %s: %w", function, err)
	}
	id := env.InvocationID
	if id == "" {
		id = newInvocationID()
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(InvocationIDHeader, id)
	req.Header.Set(HostVersionHeader, localHostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+localHostVersion)

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, Response{}, fmt.Errorf("invoking %s: %w", function, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxEnvelopeBytes))
	if err != nil {
		return resp.StatusCode, Response{}, fmt.Errorf("reading response of %s: %w", function, err)
	}
	var out Response
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return resp.StatusCode, Response{}, fmt.Errorf("decoding response of %s (status %d): %w", function, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out, nil
}
