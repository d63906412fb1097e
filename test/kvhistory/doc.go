// Package kvhistory records histories of reads, writes and compare-and-sets of Torua keys, as
// clients see them over HTTP, and checks them: for linearizability against a register model
// with revisions (github.com/anishathalye/porcupine), and for acknowledged writes that final
// reads contradict (lost writes).
//
// One model for every tier that checks histories: test/process (the real binary as processes)
// and test/e2e (the real binary on a Kubernetes control plane) both record with Do and History
// and check with History.Check. The clients that generate a history (how many, how paced, how
// they retry) belong to each tier.
//
// An operation's Result says what the client knows of its effect: OK and NotFound and Failed
// (a compare-and-set answered 412) are definite; Unknown (a write that failed after it was
// sent: 5xx, timeout, connection lost) may take effect at any time after its call, so it stays
// open until the end of the history; None (a failed read, a write refused before it was sent
// or applied: 421, 429, a refused connection) is not recorded at all.
//
// It is test code: it must not be imported by anything but tests.
package kvhistory
