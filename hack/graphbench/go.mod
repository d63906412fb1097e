// Module graphbench runs the graph bench's queries on PostgreSQL and in memory for
// hack/bench-graph-vs-postgres.sh. It is a module of its own so that the main module gains no
// PostgreSQL driver.
module github.com/torua/torua/hack/graphbench

go 1.26.8

require (
	github.com/jackc/pgx/v5 v5.13.0
	github.com/torua/torua v0.0.0-00010101000000-000000000000
)

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/text v0.42.0 // indirect
)

replace github.com/torua/torua => ../..
