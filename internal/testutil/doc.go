// Package testutil holds helpers shared by Torua's test packages: child test processes that
// report and are killed (child.go), a buffer safe for concurrent writers (syncbuffer.go) and
// an HTTP request with a bearer token (http.go). Only tests import it; it imports nothing of
// Torua.
package testutil
