// Package shardapi is the nodes' graph API as its callers and the node share it: the records a
// shard returns (vertices, edge halves, outbox records, the catalog), the mutations it applies,
// the predicates it evaluates for a query (pushed down from the router), the requests and
// answers of each call, and a Client. The router's query executor calls it for each hop (one
// request per shard), and the nodes call each other's Apply to deliver outbox records.
//
// Values inside requests travel as value.Wire, so integers stay integers and floats floats.
//
// Files: records.go (Vertex, Half, Outbox; the stored encoding of vertices and halves, and
// their checks), catalog.go (primary keys and indexes, a vertex's label and index entries, the
// loading mark), load.go (a bulk load's parts, LoadMediaType), filter.go
// (predicates and their openCypher semantics), mutations.go (the writes), api.go (requests,
// answers, paths and the Client), ids.go (PackedIDs, ids in JSON), readswire.go (the binary
// encodings of the read and reads answers, ReadMediaType and ReadsMediaType, which the Client
// asks for and the node writes when asked), readreqwire.go (the binary encodings of the read
// and reads requests, ReadRequestMediaType and ReadsRequestMediaType, which the Client sends,
// in JSON to a node that refuses them).
//
// Imports: graph/layout, graph/value, internal/binenc and internal/nodeapi (the HTTP client
// policy). It must not
// import node, router or graph/store.
package shardapi
