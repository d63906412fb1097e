// Package value holds the values an openCypher query handles in Torua's graph layer (issue 18),
// their semantics and their encodings; the parser, the key layout, the planner and the nodes'
// graph operations all use it.
//
// A value is a Go any holding exactly one of nil (null), bool, int64, float64, string, []any
// (list), map[string]any (map), *Node, *Relationship or *Path. Files, one concern each:
//   - model.go: the types, TypeName, Normalize (Go values into the model), CheckProperty (what a
//     node or relationship may store), the sentinel errors.
//   - compare.go: openCypher's equality (Equal, ternary), comparability (Less, LessEqual) and
//     orderability (Compare, the total order of ORDER BY), after CIP2016-06-14 and the TCK.
//   - keyenc.go: the order-preserving, brace-free encoding of scalars for index keys
//     (AppendKey, EqualityPrefix, DecodeKey) and the canonical key of equivalence for DISTINCT
//     and grouping (Key), one layout documented there.
//   - props.go: the versioned binary encoding of stored property maps (EncodeProps,
//     DecodeProps) and of any value sent between router and nodes (EncodeValue, DecodeValue);
//     ChangeProps, a property map changed as SET and REMOVE change it (the store's writes
//     and the router's rows make the same change).
//   - json.go: values in query results (ToJSON) and query parameters from JSON (FromJSON).
//   - wire.go: Wire and WireMap, values carried exactly through encoding/json (the nodes'
//     graph API).
//
// It imports the standard library only, nothing of Torua: every graph package may import it.
package value
