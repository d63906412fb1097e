package exec

import (
	"sync"

	"github.com/torua/torua/graph/cypher"
)

// plans keeps the checked syntax trees of the queries run lately, by their text: clients
// send the same text over and over with other parameters, and parsing and checking it again
// was a twentieth of a one-hop query's CPU. A tree is read, never changed, by the runs that
// share it (test/graph runs each query of its list against two graphs through one
// executor, the second from here). Past maxPlans texts the cache starts over: a client that
// sends its values inside the text, not as parameters, only makes it start over sooner.
type plans struct {
	mu sync.Mutex
	m  map[string]*cypher.Query
}

// maxPlans bounds the texts kept, and maxPlanText the length of one: a query longer than
// that costs more to run than to parse.
const (
	maxPlans    = 1024
	maxPlanText = 4096
)

// parse returns the checked tree of query (cypher.ParseChecked and checkFunctions), from the
// cache when it holds it.
func (p *plans) parse(query string) (*cypher.Query, error) {
	p.mu.Lock()
	q, ok := p.m[query]
	p.mu.Unlock()
	if ok {
		return q, nil
	}
	q, err := cypher.ParseChecked(query)
	if err == nil {
		err = checkFunctions(q)
	}
	if err != nil || len(query) > maxPlanText {
		return q, err
	}
	p.mu.Lock()
	if p.m == nil || len(p.m) >= maxPlans {
		p.m = make(map[string]*cypher.Query)
	}
	p.m[query] = q
	p.mu.Unlock()
	return q, nil
}
