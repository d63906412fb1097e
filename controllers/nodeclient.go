package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/torua/torua/shardmap"
)

// NodeClient is how the operator asks a storage node about itself. Implementations must be
// safe for concurrent use and bound every call by ctx.
type NodeClient interface {
	// Status returns the node's GET /internal/status.
	Status(ctx context.Context, apiAddr string) (*shardmap.NodeStatus, error)
	// TransferLeadership asks the node to hand off every shard leadership it holds
	// (POST /internal/transfer-leadership). A nil error means the node answered 2xx: it leads
	// nothing now. Any other answer means "not yet" and is returned as an error.
	TransferLeadership(ctx context.Context, apiAddr string) error
	// ShardMap returns the shard map the node holds (GET /internal/shardmap), decoded and
	// validated; ErrNoShardMap when the node holds none yet.
	ShardMap(ctx context.Context, apiAddr string) (*shardmap.Map, error)
}

// ErrNoShardMap is a node's answer that it holds no shard map yet.
var ErrNoShardMap = errors.New("node holds no shard map")

// HTTPNodeClient is the NodeClient that speaks HTTP to the nodes' API port.
type HTTPNodeClient struct {
	// Client does the requests; http.DefaultClient when nil.
	Client *http.Client
	// Timeout bounds each call (default 3s).
	Timeout time.Duration
}

// errNodeAnswer is a node's non-2xx answer.
var errNodeAnswer = errors.New("node answered")

// answerError is a node's non-2xx answer with its status code.
type answerError struct {
	method, path, status string
	code                 int
}

func (e *answerError) Error() string {
	return fmt.Sprintf("%s %s: %v %s", e.method, e.path, errNodeAnswer, e.status)
}

func (e *answerError) Unwrap() error { return errNodeAnswer }

func (c *HTTPNodeClient) do(ctx context.Context, method, apiAddr, path string) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+apiAddr+path, nil)
	if err != nil {
		return nil, err
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &answerError{method: method, path: path, status: resp.Status, code: resp.StatusCode}
	}
	return body, nil
}

// Status implements NodeClient.
func (c *HTTPNodeClient) Status(ctx context.Context, apiAddr string) (*shardmap.NodeStatus, error) {
	body, err := c.do(ctx, http.MethodGet, apiAddr, "/internal/status")
	if err != nil {
		return nil, err
	}
	var st shardmap.NodeStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decode /internal/status: %w", err)
	}
	return &st, nil
}

// TransferLeadership implements NodeClient.
func (c *HTTPNodeClient) TransferLeadership(ctx context.Context, apiAddr string) error {
	_, err := c.do(ctx, http.MethodPost, apiAddr, "/internal/transfer-leadership")
	return err
}

// ShardMap implements NodeClient.
func (c *HTTPNodeClient) ShardMap(ctx context.Context, apiAddr string) (*shardmap.Map, error) {
	body, err := c.do(ctx, http.MethodGet, apiAddr, "/internal/shardmap")
	var ae *answerError
	if errors.As(err, &ae) && ae.code == http.StatusNotFound {
		return nil, fmt.Errorf("%s: %w", apiAddr, ErrNoShardMap)
	}
	if err != nil {
		return nil, err
	}
	m, err := shardmap.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode /internal/shardmap of %s: %w", apiAddr, err)
	}
	return m, nil
}
