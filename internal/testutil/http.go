package testutil

import (
	"context"
	"io"
	"net/http"
)

// Do sends a request with hc, with a bearer token unless token is empty, and returns the
// answer's status and body.
func Do(ctx context.Context, hc *http.Client, method, url, token string, body io.Reader) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}
