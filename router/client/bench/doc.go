// Package bench is the load generator behind `torua bench` and hack/etcdbench: a fixed number
// of workers send GETs and PUTs to a Store over a fixed key set until a count or a duration is
// reached, and latencies go into HDR histograms (microseconds, 1µs..60s, 3 significant
// digits), one per worker and operation, merged at the end.
//
// It imports the HDR histogram library and nothing of Torua: the Store of a Torua router is
// router/client/benchstore, etcd's is in hack/etcdbench. It draws no progress bar (cmd/torua
// does, from Runner.Progress); ReportProgress prints progress lines.
package bench
