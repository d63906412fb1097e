// Package cypher reads the openCypher subset Torua's graph layer runs (issue 18): a lexer
// (lexer.go) that turns a query into tokens with their line and column, so that every error
// can say where it is. The parser and the planner build on it.
//
// It imports nothing of Torua.
package cypher
