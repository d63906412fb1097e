package graph

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/torua/torua/graph/cypher"
	"github.com/torua/torua/graph/oracle"
	"github.com/torua/torua/router/client"
)

// TestRandomQueriesAgreeWithTheOracle runs generated read queries (patterns of one to three
// relationships in every direction, type alternatives, variable length, property maps,
// WHERE trees with pattern predicates, =~ and list predicates, UNWIND, OPTIONAL MATCH, WITH
// with aggregation and WHERE and a MATCH after it, RETURN with DISTINCT, aggregates, map
// projections, COUNT { }, ORDER BY, SKIP and LIMIT) on the cluster and on the oracle, and requires the
// same answer, or both refusing. The fixed list (oracle_test.go) covers each construct; the
// generated queries cover their combinations, where a planner's special cases meet.
// TORUA_RANDOM_QUERIES sets how many per graph (default 150) and TORUA_RANDOM_SEED the seed.
func TestRandomQueriesAgreeWithTheOracle(t *testing.T) {
	n, seed := randomSettings(t, 150)
	cl := startCluster(t)
	opts := oracle.Options{SelfLoops: true, Parallel: true}
	for _, tc := range []struct {
		name     string
		g        *oracle.Graph
		vertices int
	}{
		{"random", oracle.Random(5, 60, 200, opts), 60},
		{"powerlaw", oracle.PowerLaw(9, 80, 260, opts), 80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, cl, tc.name, tc.g)
			gen := &queryGen{rng: rand.New(rand.NewPCG(seed, 77)), vertices: tc.vertices}
			refused, rows := 0, 0
			for i := range n {
				q, ordered := gen.query()
				got, ok := agree(t, cl, tc.name, tc.g, q, ordered)
				if !ok {
					refused++
				}
				rows += got
				if i < 5 || os.Getenv("TORUA_RANDOM_VERBOSE") != "" {
					t.Logf("%d rows: %s", got, q)
				}
			}
			t.Logf("%d queries: %d refused by both, %d rows in all", n, refused, rows)
			// A generator whose queries both stores refuse, or that answer nothing, tests nothing.
			if refused > n/10 || rows < n {
				t.Fatalf("%d of %d queries refused, %d rows in all: the generator is broken", refused, n, rows)
			}
		})
	}
}

// randomSettings are how many queries to generate (TORUA_RANDOM_QUERIES, else n) and the
// seed (TORUA_RANDOM_SEED, else 1).
func randomSettings(t *testing.T, n int) (int, uint64) {
	t.Helper()
	if s := os.Getenv("TORUA_RANDOM_QUERIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("TORUA_RANDOM_QUERIES=%q: %v", s, err)
		}
	}
	seed := uint64(1)
	if s := os.Getenv("TORUA_RANDOM_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TORUA_RANDOM_SEED=%q: %v", s, err)
		}
	}
	return n, seed
}

// agree is same (oracle_test.go) that also accepts both refusing the query. It returns the
// number of rows and false when both refused.
func agree(t *testing.T, cl *client.Client, name string, g *oracle.Graph, q string, ordered bool) (int, bool) {
	t.Helper()
	parsed, err := cypher.Parse(q)
	if err != nil {
		t.Fatalf("generated an unparsable query: %s: %v", q, err)
	}
	want, oerr := oracle.Eval(g.Clone(), parsed, nil)
	if oerr != nil {
		_, cerr := cl.Query(context.Background(), name, q, nil)
		if cerr == nil {
			t.Fatalf("%s: the oracle refused it (%v), the cluster answered", q, oerr)
		}
		t.Logf("both refused %s: %v", q, oerr)
		return 0, false
	}
	same(t, cl, name, g, q, nil, ordered)
	return len(want.Rows), true
}

// queryGen generates read queries over the generators' vocabulary (oracle/gen.go).
type queryGen struct {
	rng      *rand.Rand
	vertices int
	nodes    []string // node variables bound so far
	rels     []string // relationship variables bound so far (single, not variable length)
	varLen   bool     // whether the query has a variable-length relationship
	next     int
}

func (g *queryGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }
func (g *queryGen) chance(p float64) bool    { return g.rng.Float64() < p }

func (g *queryGen) fresh(prefix string) string {
	g.next++
	return prefix + strconv.Itoa(g.next)
}

// query returns a query and whether its ORDER BY fixes the order of every row.
func (g *queryGen) query() (string, bool) {
	g.nodes, g.rels, g.varLen, g.next = nil, nil, false, 0
	var b strings.Builder
	if g.chance(0.1) {
		// Rows before the MATCH: each starts it from another vertex.
		x := g.fresh("x")
		fmt.Fprintf(&b, "UNWIND [%d, %d, %d] AS %s MATCH (%s {id: %s})", 1+g.rng.IntN(g.vertices),
			1+g.rng.IntN(g.vertices), 1+g.rng.IntN(g.vertices), x, g.fresh("n"), x)
		g.nodes = append(g.nodes, "n"+strconv.Itoa(g.next))
		b.WriteString(" MATCH " + g.pattern(false))
	} else {
		b.WriteString("MATCH " + g.pattern(true))
	}
	if g.chance(0.25) {
		b.WriteString(", " + g.pattern(false))
	}
	if g.chance(0.6) {
		b.WriteString(" WHERE " + g.predicate(2))
	}
	if g.chance(0.25) {
		from := g.pick(g.nodes...)
		to := g.fresh("o")
		rel := ""
		if g.chance(0.5) {
			rel = g.fresh("q")
		}
		fmt.Fprintf(&b, " OPTIONAL MATCH (%s)%s(%s%s)", from, g.relationship(rel, false), to, g.labels())
		g.nodes = append(g.nodes, to)
		if rel != "" {
			g.rels = append(g.rels, rel)
		}
		if g.chance(0.5) {
			b.WriteString(" WHERE " + g.nodePredicate(to))
		}
	}
	if g.chance(0.3) {
		b.WriteString(" " + g.with())
		if g.chance(0.5) {
			// Another MATCH from a vertex the WITH kept.
			b.WriteString(" MATCH " + g.pattern(false))
			if g.chance(0.4) {
				b.WriteString(" WHERE " + g.predicate(1))
			}
		}
	}
	ret, cols := g.returnItems()
	b.WriteString(" RETURN " + ret)
	if g.chance(0.35) {
		// Every column, so that ties are whole equal rows: the order is then fixed.
		order := make([]string, len(cols))
		for i, c := range cols {
			order[i] = c + g.pick("", " DESC")
		}
		b.WriteString(" ORDER BY " + strings.Join(order, ", "))
		if g.chance(0.4) {
			fmt.Fprintf(&b, " SKIP %d", g.rng.IntN(4))
		}
		if g.chance(0.6) {
			fmt.Fprintf(&b, " LIMIT %d", 1+g.rng.IntN(8))
		}
		return b.String(), true
	}
	return b.String(), false
}

// pattern is a path of zero to three relationships; the first pattern of a query may start
// anywhere, a later one starts at a node already bound.
func (g *queryGen) pattern(first bool) string {
	var b strings.Builder
	hops := g.rng.IntN(4)
	var start string
	if !first && len(g.nodes) > 0 {
		start = g.pick(g.nodes...)
		b.WriteString("(" + start + ")")
		hops = 1
	} else {
		start = g.fresh("n")
		g.nodes = append(g.nodes, start)
		b.WriteString("(" + start + g.labels())
		// Long paths start from one vertex: the answers stay small.
		if hops >= 2 || g.chance(0.3) {
			fmt.Fprintf(&b, " {id: %d}", 1+g.rng.IntN(g.vertices))
		}
		b.WriteString(")")
	}
	for range hops {
		rel := ""
		if g.chance(0.5) {
			rel = g.fresh("r")
		}
		// One variable-length relationship per query, in its first pattern: more, on a
		// power-law graph, reach past the row limit.
		varLen := first && hops <= 2 && !g.varLen && g.chance(0.2)
		g.varLen = g.varLen || varLen
		b.WriteString(g.relationship(rel, varLen))
		if rel != "" && !varLen {
			g.rels = append(g.rels, rel)
		}
		switch {
		case g.chance(0.15) && len(g.nodes) > 1:
			b.WriteString("(" + g.pick(g.nodes...) + ")") // a cycle back to a bound node
		case g.chance(0.2):
			b.WriteString("(" + g.labels() + ")") // anonymous
		default:
			v := g.fresh("n")
			g.nodes = append(g.nodes, v)
			b.WriteString("(" + v + g.labels())
			if g.chance(0.15) {
				fmt.Fprintf(&b, " {name: '%s'}", g.pick("ann", "bob", "cid", "eve"))
			}
			b.WriteString(")")
		}
	}
	return b.String()
}

func (g *queryGen) labels() string {
	switch {
	case g.chance(0.6):
		return ""
	case g.chance(0.15):
		return ":Person:City"
	default:
		return ":" + g.pick("Person", "Company", "City")
	}
}

func (g *queryGen) relationship(name string, varLen bool) string {
	inner := name
	switch r := g.rng.IntN(10); {
	case r < 4:
	case r < 8:
		inner += ":" + g.pick("KNOWS", "LIKES", "WORKS_AT")
	default:
		inner += ":KNOWS|LIKES"
	}
	if varLen {
		inner += g.pick("*1..2", "*2", "*0..1", "*..2")
	} else if name != "" && g.chance(0.1) {
		inner += fmt.Sprintf(" {since: %d}", 1990+g.rng.IntN(35))
	}
	left, right := "-", "->"
	switch g.rng.IntN(3) {
	case 1:
		left, right = "<-", "-"
	case 2:
		right = "-"
	}
	if inner == "" && g.chance(0.5) {
		return left + right // -->, <--, --
	}
	return left + "[" + inner + "]" + right
}

// predicate is a tree of comparisons on the bound variables, depth at most depth.
func (g *queryGen) predicate(depth int) string {
	if depth > 0 && g.chance(0.4) {
		l, r := g.predicate(depth-1), g.predicate(depth-1)
		switch g.rng.IntN(4) {
		case 0:
			return "(" + l + " OR " + r + ")"
		case 1:
			return "NOT (" + l + ")"
		case 2:
			return "(" + l + " XOR " + r + ")"
		}
		return l + " AND " + r
	}
	switch {
	case len(g.rels) > 0 && g.chance(0.25):
		r := g.pick(g.rels...)
		return g.pick(
			fmt.Sprintf("%s.weight > %d.5", r, g.rng.IntN(9)),
			fmt.Sprintf("%s.since < %d", r, 1990+g.rng.IntN(35)),
			fmt.Sprintf("type(%s) = '%s'", r, g.pick("KNOWS", "LIKES", "WORKS_AT")),
			r+".weight IS NULL",
		)
	case len(g.nodes) > 1 && g.chance(0.2):
		a, c := g.pick(g.nodes...), g.pick(g.nodes...)
		return g.pick(a+" <> "+c, a+".id < "+c+".id", a+".age = "+c+".age", a+" = "+c,
			"("+a+")"+g.relationship("", false)+"("+c+")")
	case g.chance(0.15):
		// A pattern predicate from a bound node: a semi-join (or, under NOT, an anti-join).
		a := g.pick(g.nodes...)
		rel := g.relationship("", false)
		return g.pick(
			"("+a+")"+rel+"("+g.labels()+")",
			"NOT ("+a+")"+rel+"()",
			"exists(("+a+")"+rel+"({name: "+a+".name}))",
			fmt.Sprintf("COUNT { (%s)%s() } > %d", a, rel, g.rng.IntN(3)),
			fmt.Sprintf("EXISTS { MATCH (%s)%s(z) WHERE z.age > %s.age }", a, rel, a),
		)
	}
	return g.nodePredicate(g.pick(g.nodes...))
}

func (g *queryGen) nodePredicate(v string) string {
	return g.pick(
		fmt.Sprintf("%s.age > %d", v, g.rng.IntN(100)),
		fmt.Sprintf("%s.age <= %d", v, g.rng.IntN(100)),
		fmt.Sprintf("%s.name = '%s'", v, g.pick("ann", "bob", "dee", "hal")),
		fmt.Sprintf("%s.name IN ['%s', '%s']", v, g.pick("ann", "bob"), g.pick("cid", "eve", "fay")),
		fmt.Sprintf("%s.score >= %d.25", v, g.rng.IntN(100)),
		v+".active",
		"NOT "+v+".active",
		v+".age IS NULL",
		v+".name IS NOT NULL",
		fmt.Sprintf("%s.name STARTS WITH '%s'", v, g.pick("a", "d", "g")),
		fmt.Sprintf("%s.name CONTAINS '%s'", v, g.pick("e", "a")),
		v+":"+g.pick("Person", "Company", "City"),
		fmt.Sprintf("'%s' IN %s.tags", g.pick("ann", "gus"), v),
		fmt.Sprintf("%s.id %% %d = 0", v, 2+g.rng.IntN(4)),
		fmt.Sprintf("%s.name =~ '%s'", v, g.pick("[a-d].*", ".*e.*", "a|bob")),
		fmt.Sprintf("any(t IN %s.tags WHERE t STARTS WITH '%s')", v, g.pick("a", "g")),
		fmt.Sprintf("size([t IN coalesce(%s.tags, []) WHERE t > 'c']) >= 1", v),
	)
}

// with groups by one or two bound nodes, counts, and may filter on the count; after it only
// the nodes it keeps are bound.
func (g *queryGen) with() string {
	keep := []string{g.pick(g.nodes...)}
	if len(g.nodes) > 1 && g.chance(0.4) {
		if o := g.pick(g.nodes...); o != keep[0] {
			keep = append(keep, o)
		}
	}
	g.nodes, g.rels = keep, nil
	s := "WITH " + strings.Join(keep, ", ")
	switch g.rng.IntN(3) {
	case 0:
		s += ", count(*) AS c"
		if g.chance(0.6) {
			s += fmt.Sprintf(" WHERE c > %d", g.rng.IntN(3))
		}
	case 1:
		s = "WITH DISTINCT " + strings.Join(keep, ", ")
		if g.chance(0.5) {
			s += " WHERE " + g.nodePredicate(keep[0])
		}
	}
	return s
}

// returnItems are the RETURN items (properties and aggregates, never whole entities: their
// ids differ between the stores) and their column names.
func (g *queryGen) returnItems() (string, []string) {
	prop := func() string {
		if len(g.rels) > 0 && g.chance(0.2) {
			r := g.pick(g.rels...)
			return g.pick(r+".weight", r+".since", "type("+r+")")
		}
		v := g.pick(g.nodes...)
		return g.pick(v+".id", v+".name", v+".age", v+".score", v+".active", "labels("+v+")", v+".tags",
			v+" {.name, .age}", "COUNT { ("+v+")-->() }",
			"size([("+v+")"+g.relationship("", false)+"(z) WHERE z.age > 40 | z.id])",
			"left("+v+".name, 2) + right(toString("+v+".age), 1)", "round("+v+".score / 3)", "reverse(split("+v+".name, 'a'))",
			"reduce(s = 0, x IN [("+v+")-->(z) | z.id] | s + x)")
	}
	var items, cols []string
	add := func(expr string) {
		alias := "c" + strconv.Itoa(len(items))
		items = append(items, expr+" AS "+alias)
		cols = append(cols, alias)
	}
	distinct := false
	if g.chance(0.5) {
		for range 1 + g.rng.IntN(2) {
			add(prop())
		}
		v := g.pick(g.nodes...)
		for range 1 + g.rng.IntN(2) {
			add(g.pick("count(*)", "count("+v+".age)", "count(DISTINCT "+v+".id)", "sum("+v+".age)",
				"min("+v+".score)", "max("+v+".name)", "avg("+v+".age)", "size(collect(DISTINCT "+v+".name))"))
		}
	} else {
		distinct = g.chance(0.4)
		for range 1 + g.rng.IntN(3) {
			add(prop())
		}
	}
	s := strings.Join(items, ", ")
	if distinct {
		s = "DISTINCT " + s
	}
	return s, slices.Clip(cols)
}

// TestRandomWritesAgreeWithTheOracle runs generated writes (SET of properties, maps and
// labels, REMOVE, DELETE and DETACH DELETE, CREATE of vertices and relationships between bound
// ones, MERGE of vertices and of relationships, UNWIND-driven writes), each on the cluster and
// on the oracle, and after each compares their answers and the whole graphs. A write both
// refuse must change nothing on either.
func TestRandomWritesAgreeWithTheOracle(t *testing.T) {
	n, seed := randomSettings(t, 300)
	n /= 5 // each write is followed by two reads of the whole graph
	cl := startCluster(t)
	g := oracle.Random(31, 50, 180, oracle.Options{SelfLoops: true, Parallel: true})
	load(t, cl, "rw", g)
	gen := &queryGen{rng: rand.New(rand.NewPCG(seed, 91)), vertices: 50}
	refused := 0
	for i := range n {
		w := gen.write(1000 + i)
		parsed, err := cypher.Parse(w)
		if err != nil {
			t.Fatalf("generated an unparsable write: %s: %v", w, err)
		}
		want, oerr := oracle.Eval(g.Clone(), parsed, nil)
		got, cerr := cl.Query(context.Background(), "rw", w, nil)
		switch {
		case oerr != nil && cerr != nil:
			refused++
			t.Logf("both refused %s: %v", w, oerr)
		case oerr != nil:
			t.Fatalf("%s: the oracle refused it (%v), the cluster answered %v", w, oerr, got.Rows)
		case cerr != nil:
			t.Fatalf("%s: the cluster refused it (%v), the oracle answered %v", w, cerr, want.Rows)
		default:
			if _, err := oracle.Eval(g, parsed, nil); err != nil {
				t.Fatalf("oracle: %s: %v", w, err)
			}
			if gk, wk := canonical(got.Rows), canonical(want.Rows); len(gk) != len(wk) || key(flatten(gk)) != key(flatten(wk)) {
				t.Fatalf("%s: the cluster answered %v, the oracle %v", w, head(gk), head(wk))
			}
		}
		for _, d := range dumps {
			same(t, cl, "rw", g, d, nil, false)
		}
	}
	t.Logf("%d writes, %d refused by both", n, refused)
	if refused > n/4 {
		t.Fatalf("%d of %d writes refused: the generator is broken", refused, n)
	}
}

func flatten(rows [][]any) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

// write is a generated writing query; fresh is an id no vertex has yet.
func (g *queryGen) write(fresh int) string {
	g.nodes, g.rels, g.varLen, g.next = []string{"n"}, nil, false, 0
	id := func() int { return 1 + g.rng.IntN(g.vertices+20) } // some are created ones, some gone
	val := func() string {
		return g.pick("1", "-7", "2.5", "'x'", "true", "null", "[1, 'a']", "n.age + 1", "toUpper(n.name)", "size(labels(n))")
	}
	prop := func() string { return g.pick("name", "age", "score", "active", "tags", "other") }
	match := func() string {
		if g.chance(0.4) {
			return fmt.Sprintf("MATCH (n {id: %d})", id())
		}
		return "MATCH (n" + g.labels() + ") WHERE " + g.nodePredicate("n")
	}
	ret := func() string {
		if g.chance(0.5) {
			return ""
		}
		return g.pick(" RETURN count(*) AS c", " RETURN n.id AS id", " RETURN n.id AS id, properties(n) AS p")
	}
	switch g.rng.IntN(18) {
	case 16:
		return match() + fmt.Sprintf(" FOREACH (x IN %s | SET n.f = coalesce(n.f, 0) + x)", g.pick("[1, 2]", "range(1, 3)", "null", "[]"))
	case 17:
		return match() + fmt.Sprintf(" FOREACH (x IN [1, 2] | SET n.g = x CREATE (n)-[:FE {x: n.g}]->(:Fe {id: %d + x}))", fresh*10)
	case 12:
		return fmt.Sprintf("MATCH (n {id: %d}), (m {id: %d}) SET n.copy = m.name, m.copy = n.age", id(), id()) + ret()
	case 13:
		return fmt.Sprintf("MATCH (n {id: %d}), (m {id: %d}) MERGE (n)-[r:PAIR]->(m) ON CREATE SET r.made = true ON MATCH SET r.hits = coalesce(r.hits, 0) + 1", id(), id()) +
			g.pick("", " RETURN r.made AS made, r.hits AS hits")
	case 14:
		return fmt.Sprintf("MATCH p = (n {id: %d})%s(m) WHERE m.id > n.id DELETE %s", id(), g.relationship("", false), g.pick("relationships(p)[0]", "last(relationships(p))")) + ret()
	case 15:
		return fmt.Sprintf("MATCH (n) WHERE %s WITH n, COUNT { (n)-->() } AS d SET n.d = d", g.nodePredicate("n"))
	case 0:
		return match() + fmt.Sprintf(" SET n.%s = %s", prop(), val()) + ret()
	case 1:
		return match() + fmt.Sprintf(" SET n.%s = %s, n.%s = %s", prop(), val(), prop(), val()) + ret()
	case 2:
		return match() + " SET n" + g.pick(":Tagged", ":Person", ":City:Extra") + ret()
	case 3:
		return match() + " REMOVE n" + g.pick(".name", ".age", ":Person", ":City", ".tags") + ret()
	case 4:
		return match() + fmt.Sprintf(" SET n += {%s: %s, extra: %s}", prop(), val(), val()) + ret()
	case 5:
		return match() + fmt.Sprintf(" SET n = {id: n.id, %s: %s}", prop(), val()) + ret()
	case 6:
		rel := g.relationship("r", false)
		act := g.pick(" DELETE r", fmt.Sprintf(" SET r.weight = %d.5", g.rng.IntN(9)), " SET r.seen = true REMOVE r.since", " SET r += {since: 2001}")
		return fmt.Sprintf("MATCH (n {id: %d})%s(m)", id(), rel) + act + g.pick("", " RETURN count(*) AS c")
	case 7:
		return fmt.Sprintf("MATCH (n {id: %d}) DETACH DELETE n", id())
	case 8:
		return fmt.Sprintf("MATCH (n {id: %d}), (m {id: %d}) CREATE (n)-[r:%s {since: %d}]->(m)",
			id(), id(), g.pick("KNOWS", "LIKES", "NEW"), 1990+g.rng.IntN(35)) + g.pick("", " RETURN type(r) AS t")
	case 9:
		return fmt.Sprintf("CREATE (n%s {id: %d, name: '%s', age: %d})", g.pick(":Person", ":City", ""), fresh,
			g.pick("ann", "zed"), g.rng.IntN(100)) + g.pick("", fmt.Sprintf(" WITH n MATCH (m {id: %d}) CREATE (n)-[:KNOWS]->(m)", id()))
	case 10:
		return fmt.Sprintf("MERGE (n:Merged {k: %d}) ON CREATE SET n.id = %d, n.made = 1 ON MATCH SET n.hits = coalesce(n.hits, 0) + 1", g.rng.IntN(4), fresh) + ret()
	default:
		return fmt.Sprintf("UNWIND [%d, %d] AS i MATCH (n {id: i}) MERGE (n)-[:LINK]->(z:Zed {k: i %% 3}) ON CREATE SET z.id = %d + i",
			id(), id(), 10*fresh)
	}
}
