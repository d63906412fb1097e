package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/torua/torua/router/client/bench"
)

// The graph as a PostgreSQL user would hold it: a vertex table keyed by id and an edge
// table with a primary key on (src, dst) and an index on (dst, src), foreign keys to the
// vertices; loaded with COPY into bare tables, the indexes and keys built afterwards.
const (
	schemaDrop   = `DROP TABLE IF EXISTS edge, vertex`
	schemaCreate = `CREATE TABLE vertex (id bigint NOT NULL);
CREATE TABLE edge (src bigint NOT NULL, dst bigint NOT NULL)`
	schemaIndex = `ALTER TABLE vertex ADD PRIMARY KEY (id);
ALTER TABLE edge ADD PRIMARY KEY (src, dst);
CREATE INDEX edge_dst_src ON edge (dst, src);
ALTER TABLE edge ADD FOREIGN KEY (src) REFERENCES vertex, ADD FOREIGN KEY (dst) REFERENCES vertex;
ANALYZE vertex, edge`
)

// shortestPathFunc is a breadth-first search as a PL/pgSQL function: one query per level
// expands the whole frontier through the (src, dst) index and keeps the vertices not seen
// before (EXCEPT, a hashed set difference); before expanding, one probe of the (dst, src)
// index asks whether the target is a neighbour of the frontier, which ends the search at the
// level that reaches it. A recursive CTE over paths with a cycle check, the textbook form,
// enumerates every path up to the depth bound instead of every vertex once, which on a
// power-law graph does not finish; a CTE over vertices alone (UNION) cannot carry the depth.
const shortestPathFunc = `CREATE OR REPLACE FUNCTION shortest_path_length(a bigint, b bigint, max_depth int)
RETURNS int LANGUAGE plpgsql STABLE AS $$
DECLARE
	frontier bigint[] := ARRAY[a];
	seen bigint[] := ARRAY[a];
	depth int := 0;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM vertex WHERE id = a) OR NOT EXISTS (SELECT 1 FROM vertex WHERE id = b) THEN
		RETURN NULL;
	END IF;
	WHILE depth < max_depth AND cardinality(frontier) > 0 LOOP
		depth := depth + 1;
		IF EXISTS (SELECT 1 FROM edge WHERE dst = b AND src = ANY (frontier)) THEN
			RETURN depth;
		END IF;
		EXIT WHEN depth = max_depth;
		SELECT coalesce(array_agg(n), '{}') INTO frontier FROM (
			SELECT e.dst AS n FROM edge e WHERE e.src = ANY (frontier)
			EXCEPT
			SELECT unnest(seen)) s;
		seen := seen || frontier;
	END LOOP;
	RETURN NULL;
END $$`

// pgQueries are the SQL forms of the query kinds, each matching its openCypher form
// (bench.GraphQueryText) row for row: the start vertex must exist, and three hops never use
// one edge twice (only the first and the third can be the same edge, there being no
// self-loops).
var pgQueries = map[bench.GraphQuery]string{
	bench.OneHop: `SELECT e.dst FROM vertex a JOIN edge e ON e.src = a.id WHERE a.id = $1`,
	bench.TwoHop: `SELECT count(DISTINCT e2.dst) FROM vertex a
JOIN edge e1 ON e1.src = a.id JOIN edge e2 ON e2.src = e1.dst WHERE a.id = $1`,
	bench.ThreeHop: `SELECT count(DISTINCT e3.dst) FROM vertex a
JOIN edge e1 ON e1.src = a.id JOIN edge e2 ON e2.src = e1.dst JOIN edge e3 ON e3.src = e2.dst
WHERE a.id = $1 AND NOT (e3.src = e1.src AND e3.dst = e1.dst)`,
	bench.Shortest: `SELECT shortest_path_length($1, $2, $3)`,
}

// pgGraph runs the graph queries on PostgreSQL through a pool of connections.
type pgGraph struct{ pool *pgxpool.Pool }

var _ bench.GraphStore = pgGraph{}

func openPostgres(ctx context.Context, dsn string, conns int) (pgGraph, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return pgGraph{}, fmt.Errorf("--dsn: %w", err)
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return pgGraph{}, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return pgGraph{}, fmt.Errorf("postgres: %w", err)
	}
	return pgGraph{pool: pool}, nil
}

// Query runs q's SQL form. One-hop reads its rows as the openCypher query returns them.
func (s pgGraph) Query(ctx context.Context, q bench.GraphQuery, from, to int64) (bench.GraphAnswer, error) {
	switch q {
	case bench.OneHop:
		rows, err := s.pool.Query(ctx, pgQueries[q], from)
		if err != nil {
			return bench.GraphAnswer{}, err
		}
		var n int64
		for rows.Next() {
			var dst int64
			if err := rows.Scan(&dst); err != nil {
				rows.Close()
				return bench.GraphAnswer{}, err
			}
			n++
		}
		return bench.GraphAnswer{Value: n}, rows.Err()
	case bench.Shortest:
		var length *int64
		if err := s.pool.QueryRow(ctx, pgQueries[q], from, to, bench.MaxPathLength).Scan(&length); err != nil {
			return bench.GraphAnswer{}, err
		}
		if length == nil {
			return bench.GraphAnswer{Value: bench.NoPath}, nil
		}
		return bench.GraphAnswer{Value: *length}, nil
	default:
		var n int64
		err := s.pool.QueryRow(ctx, pgQueries[q], from).Scan(&n)
		return bench.GraphAnswer{Value: n}, err
	}
}

// ErrorKind names a failed query: its SQLSTATE, "timeout" or "error".
func (pgGraph) ErrorKind(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return "sqlstate_" + pe.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "error"
	}
}

// load replaces the tables with g: COPY of the vertices, then COPY of the edges and the
// indexes, keys and statistics (the edge phase's time includes them), then the shortest-path
// function.
func (s pgGraph) load(ctx context.Context, g *bench.Graph) (*bench.LoadResult, error) {
	res := &bench.LoadResult{Vertices: g.Spec.Vertices, Edges: len(g.Edges), Batches: 2}
	if _, err := s.pool.Exec(ctx, schemaDrop+";\n"+schemaCreate); err != nil {
		return nil, fmt.Errorf("create tables: %w", err)
	}
	t0 := time.Now()
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"vertex"}, []string{"id"},
		pgx.CopyFromSlice(g.Spec.Vertices, func(i int) ([]any, error) { return []any{int64(i)}, nil }))
	if err != nil || n != int64(g.Spec.Vertices) {
		return nil, fmt.Errorf("copy vertices: %d rows: %w", n, err)
	}
	res.VertexSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	n, err = s.pool.CopyFrom(ctx, pgx.Identifier{"edge"}, []string{"src", "dst"},
		pgx.CopyFromSlice(len(g.Edges), func(i int) ([]any, error) {
			return []any{int64(g.Edges[i].Src), int64(g.Edges[i].Dst)}, nil
		}))
	if err != nil || n != int64(len(g.Edges)) {
		return nil, fmt.Errorf("copy edges: %d rows: %w", n, err)
	}
	if _, err := s.pool.Exec(ctx, schemaIndex); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	res.EdgeSeconds = time.Since(t1).Seconds()
	res.VerticesPerSec = float64(res.Vertices) / max(res.VertexSeconds, 1e-9)
	res.EdgesPerSec = float64(res.Edges) / max(res.EdgeSeconds, 1e-9)
	if _, err := s.pool.Exec(ctx, shortestPathFunc); err != nil {
		return nil, fmt.Errorf("create function: %w", err)
	}
	return res, nil
}
