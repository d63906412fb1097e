package kv

// ReservedPrefix begins every key of Torua's own data kept beside the KV keys (the graph
// store's keys begin with "\x00g"). The KV API refuses such keys and its listings skip them,
// so that a KV client can neither see nor damage them.
//
// NB: no reserved key has 0xFF as its second byte: listings skip the reserved range by
// starting after reservedCeiling.
const ReservedPrefix = "\x00"

// reservedCeiling sorts after every reserved key and before every other key.
const reservedCeiling = ReservedPrefix + "\xff"

// Reserved reports whether key (or a listing prefix) is in the reserved namespace.
func Reserved(key string) bool { return len(key) > 0 && key[0] == ReservedPrefix[0] }

// ListAfter returns the exclusive start of a KV listing of prefix after after that skips the
// reserved namespace: after itself, unless the listing would begin inside that namespace.
func ListAfter(prefix, after string) string {
	if prefix == "" && after < reservedCeiling {
		return reservedCeiling
	}
	return after
}
