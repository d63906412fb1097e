package exec

import (
	"errors"
	"fmt"

	"github.com/torua/torua/graph/cypher"
)

// QueryError is a fault of the query itself, found at Pos: an unknown variable or function, a
// type error, a division by zero, a value that cannot be stored. The HTTP API answers it 400
// with its line and column.
type QueryError struct {
	Pos cypher.Pos
	Msg string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
}

// errorf returns a *QueryError at pos.
func errorf(pos cypher.Pos, format string, args ...any) error {
	return &QueryError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Limits the executor enforces; the HTTP API answers them 413 (rows) and 503 (time).
var (
	// ErrTooManyRows is an intermediate result larger than the query's row limit.
	ErrTooManyRows = errors.New("the query's intermediate result exceeded its row limit")
	// ErrTimeLimit is a query that ran past its time limit.
	ErrTimeLimit = errors.New("the query ran past its time limit")
)
