package oracle

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed testdata/karate.txt
var karateData string

// Karate returns Zachary's karate club (testdata/karate.txt, which cites its source): 34
// vertices with ids 1..34 as in the data, each labelled Member with the property id equal to
// its vertex id, and 78 friendships, each one edge of type FRIEND directed as the data lists
// it (source to target). The friendships are undirected: query them with -[:FRIEND]-.
func Karate() *Graph {
	g, err := parseKarate(karateData)
	if err != nil {
		panic(fmt.Sprintf("oracle: testdata/karate.txt: %v", err)) // the file is embedded: a bug
	}
	return g
}

func parseKarate(data string) (*Graph, error) {
	g := New()
	for id := int64(1); id <= 34; id++ {
		if err := g.AddVertexWithID(id, []string{"Member"}, map[string]any{"id": id}); err != nil {
			return nil, err
		}
	}
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"source target\", found %q", i+1, line)
		}
		s, err1 := strconv.ParseInt(f[0], 10, 64)
		t, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: vertex ids are integers: %q", i+1, line)
		}
		if _, err := g.AddEdge("FRIEND", s, t, nil); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return g, nil
}
