package kv

// MaxTxnOps is the most ops one transaction may hold.
const MaxTxnOps = 1024

// Transaction op names (TxnOp.Op).
const (
	TxnPut    = "put"
	TxnDelete = "delete"
	TxnCheck  = "check"
)

// TxnRequest is the JSON body of POST /txn: ops applied in order, all of them or none, on
// the one shard that holds every key.
type TxnRequest struct {
	Ops []TxnOp `json:"ops"`
}

// TxnOp is one op of a transaction, with at most one precondition, written as the HTTP
// API's precondition headers are.
type TxnOp struct {
	// Op is TxnPut, TxnDelete or TxnCheck (asserts the precondition, writes nothing).
	Op string `json:"op"`
	// Key is the key, as in /data/{key} (decoded).
	Key string `json:"key"`
	// Value is a put's value (base64 in JSON); absent or "" for an empty value, as an empty
	// PUT body. Refused for other ops.
	Value []byte `json:"value,omitempty"`
	// IfMatch is "*" (the key exists) or its revision, as an entity tag ("\"7\"") or bare
	// ("7"): the If-Match header.
	IfMatch string `json:"ifMatch,omitempty"`
	// IfNoneMatch is "*" (the key does not exist): the If-None-Match header.
	IfNoneMatch string `json:"ifNoneMatch,omitempty"`
}

// TxnResult is the JSON body of a committed transaction.
type TxnResult struct {
	// Revisions has one entry per op: the revision a put or delete wrote, or the revision
	// of the key a check found (0: absent).
	Revisions []uint64 `json:"revisions"`
}
