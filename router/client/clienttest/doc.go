// Package clienttest provides an in-memory stand-in for the Torua router's public HTTP API,
// for tests of code that uses router/client (the CLI, the load generator). It implements the
// API contract (keys, revisions and ETags, preconditions, paginated listing, /cluster) on a
// map in memory; it is not the router, which is tested in its own package.
//
// It must be imported only by tests. It imports router/client for the /cluster types.
package clienttest
