// Package bench is the load generator behind `torua bench`: a fixed number of workers send
// GET and PUT requests through router/client over a fixed key set until a count or a duration
// is reached, and latencies go into HDR histograms (microseconds, 1µs..60s, 3 significant
// digits), one per worker and operation, merged at the end.
//
// It imports router/client and the HDR histogram library; it knows nothing of terminals
// (the command in cmd/torua draws progress from Runner.Progress).
package bench
