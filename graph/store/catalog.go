package store

import (
	"encoding/json"
	"fmt"

	"github.com/torua/torua/graph/shardapi"
)

// encodeCatalog is a version byte followed by the catalog as JSON: small, rare, and readable
// when debugging a shard.
func encodeCatalog(c *shardapi.Catalog) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encode catalog: %v", err)) // NB: plain strings and numbers always encode
	}
	return append([]byte{recordVersion}, b...)
}

func decodeCatalog(data []byte) (*shardapi.Catalog, error) {
	if len(data) == 0 || data[0] != recordVersion {
		return nil, fmt.Errorf("catalog record: unknown version: %w", ErrCorrupt)
	}
	var c shardapi.Catalog
	if err := json.Unmarshal(data[1:], &c); err != nil {
		return nil, fmt.Errorf("catalog record: %v: %w", err, ErrCorrupt)
	}
	return &c, nil
}
