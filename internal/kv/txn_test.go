package kv

import (
	"encoding/json"
	"testing"
)

// TestTxnJSONIsTheAPI pins the field names of POST /txn's body and answer (docs/api.md).
func TestTxnJSONIsTheAPI(t *testing.T) {
	for _, tt := range []struct {
		v    any
		want string
	}{
		{TxnRequest{Ops: []TxnOp{
			{Op: TxnCheck, Key: "user:{42}", IfMatch: "7"},
			{Op: TxnPut, Key: "name:{42}", Value: []byte("1"), IfNoneMatch: "*"},
			{Op: TxnPut, Key: "empty:{42}", Value: []byte{}},
			{Op: TxnDelete, Key: "old:{42}"},
		}}, `{"ops":[{"op":"check","key":"user:{42}","ifMatch":"7"},` +
			`{"op":"put","key":"name:{42}","value":"MQ==","ifNoneMatch":"*"},` +
			`{"op":"put","key":"empty:{42}"},{"op":"delete","key":"old:{42}"}]}`},
		{TxnResult{Revisions: []uint64{3, 0}}, `{"revisions":[3,0]}`},
	} {
		got, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%+v:\n got %s\nwant %s", tt.v, got, tt.want)
		}
	}
}
