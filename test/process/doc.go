// Package process tests Torua at the process level: TestMain builds the real torua binary
// (go build ./cmd/torua into a temporary directory; $TORUA_PROCESS_BINARY instead when set, as
// hack/cover.sh sets it to a binary built with -cover) and the tests run it as separate processes,
// three `torua node` processes on 127.0.0.1, 127.0.0.2 and 127.0.0.3 and one `torua router`
// sharing a shard map file, or one `torua local`, and talk to them over loopback HTTP only.
//
// It covers CRUD with awkward keys and values at the size limit, concurrent clients with
// compare-and-set, SIGKILL and SIGTERM of a node in the middle of writes (no acknowledged write
// is lost), shard map file updates and corrupt maps picked up without restarts, bad input, and
// the restart of `torua local` on its data directory (growing it to five nodes and draining it
// back to three).
//
// The replicated tests (faults_test.go) run three nodes with replication factor 3 and Raft
// traffic through a fault-injecting TCP proxy (faultproxy_test.go): leader SIGKILL, leader
// SIGSTOP/SIGCONT, a leader partitioned from its followers and healed, every node killed and
// restarted, and nodes added and drained under load. Concurrent clients record every
// put/get/compare-and-set with invocation and completion times (history_test.go, on
// test/kvhistory's history and model, which the e2e suite shares) and
// github.com/anishathalye/porcupine checks the history for linearizability; on a failure the
// visualisation's path is printed. Every acknowledged write is then read back.
//
// It has no non-test code and must not be imported.
package process
