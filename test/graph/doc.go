// Package graph tests the graph store end to end against an oracle: the same generated
// graphs (random, power-law, Zachary's karate club) are loaded into a 3-node cluster with
// replication factor 3 (the nodes and the router of `torua local`, in this process, on
// loopback) and into graph/oracle's independent in-memory evaluator, and every query of a
// fixed list must answer the same rows on both.
//
// It imports internal/local (the cluster), router/client (the queries, as a user sends them),
// graph/oracle and graph/cypher.
package graph
