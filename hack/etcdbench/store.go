package main

import (
	"context"
	"errors"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/torua/torua/router/client/bench"
)

// etcdStore is the bench.Store of an etcd cluster: a PUT is a Put, a GET a Range of one key,
// serializable when the run asks for stale reads (answered by the member the request
// reaches, without asking the leader: etcd's counterpart of Torua's stale reads).
type etcdStore struct{ kv clientv3.KV }

var _ bench.Store = etcdStore{}

func (s etcdStore) Put(ctx context.Context, key string, value []byte) error {
	_, err := s.kv.Put(ctx, key, string(value))
	return err
}

func (s etcdStore) Get(ctx context.Context, key string, stale bool) (bool, error) {
	var opts []clientv3.OpOption
	if stale {
		opts = append(opts, clientv3.WithSerializable())
	}
	resp, err := s.kv.Get(ctx, key, opts...)
	if err != nil {
		return false, err
	}
	return len(resp.Kvs) > 0, nil
}

// Transient reports a failure that changed nothing for sure or that a rewrite of the same
// value repairs: no leader, unavailable, timed out.
func (etcdStore) Transient(err error) bool {
	k := errorKind(err)
	return k == "unavailable" || k == "timeout"
}

func (etcdStore) ErrorKind(err error) string { return errorKind(err) }

// errorKind names the kind of a failed operation, in the words `torua bench` uses where they
// mean the same: "unavailable" (no leader, or no connection), "timeout", otherwise "grpc_" and
// the lower-case gRPC code ("grpc_resourceexhausted").
func errorKind(err error) string {
	code := codes.Unknown
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || code == codes.DeadlineExceeded:
		return "timeout"
	case code == codes.Unavailable:
		return "unavailable"
	default:
		return "grpc_" + strings.ToLower(code.String())
	}
}
