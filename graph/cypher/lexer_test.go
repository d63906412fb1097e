package cypher

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// tok abbreviates a token in the tables: kind, text, line, column.
func tok(k Kind, text string, line, col int) Token {
	return Token{Kind: k, Text: text, Pos: Pos{line, col}}
}

func TestLexQueries(t *testing.T) {
	for query, want := range map[string][]Token{
		"MATCH (a:Person {name: 'Ann'})-[:KNOWS*1..3]->(b) RETURN b": {
			tok(Ident, "MATCH", 1, 1), tok(Symbol, "(", 1, 7), tok(Ident, "a", 1, 8), tok(Symbol, ":", 1, 9),
			tok(Ident, "Person", 1, 10), tok(Symbol, "{", 1, 17), tok(Ident, "name", 1, 18), tok(Symbol, ":", 1, 22),
			tok(String, "Ann", 1, 24), tok(Symbol, "}", 1, 29), tok(Symbol, ")", 1, 30), tok(Symbol, "-", 1, 31),
			tok(Symbol, "[", 1, 32), tok(Symbol, ":", 1, 33), tok(Ident, "KNOWS", 1, 34), tok(Symbol, "*", 1, 39),
			tok(Int, "1", 1, 40), tok(Symbol, "..", 1, 41), tok(Int, "3", 1, 43), tok(Symbol, "]", 1, 44),
			tok(Symbol, "-", 1, 45), tok(Symbol, ">", 1, 46), tok(Symbol, "(", 1, 47), tok(Ident, "b", 1, 48),
			tok(Symbol, ")", 1, 49), tok(Ident, "RETURN", 1, 51), tok(Ident, "b", 1, 58), tok(EOF, "", 1, 59),
		},
		"WHERE a.age >= $min AND a.x <> 1.5e3\n  // a comment\nRETURN `my var`, \"q\\\"\\u00e9\\n\"": {
			tok(Ident, "WHERE", 1, 1), tok(Ident, "a", 1, 7), tok(Symbol, ".", 1, 8), tok(Ident, "age", 1, 9),
			tok(Symbol, ">=", 1, 13), tok(Param, "min", 1, 16), tok(Ident, "AND", 1, 21), tok(Ident, "a", 1, 25),
			tok(Symbol, ".", 1, 26), tok(Ident, "x", 1, 27), tok(Symbol, "<>", 1, 29), tok(Float, "1.5e3", 1, 32),
			tok(Ident, "RETURN", 3, 1), tok(Ident, "my var", 3, 8), tok(Symbol, ",", 3, 16),
			tok(String, "q\"é\n", 3, 18), tok(EOF, "", 3, 31),
		},
		"(a)<-[r]-(b) /* both\nways */ SKIP 0x1F LIMIT .5": {
			tok(Symbol, "(", 1, 1), tok(Ident, "a", 1, 2), tok(Symbol, ")", 1, 3), tok(Symbol, "<", 1, 4),
			tok(Symbol, "-", 1, 5), tok(Symbol, "[", 1, 6), tok(Ident, "r", 1, 7), tok(Symbol, "]", 1, 8),
			tok(Symbol, "-", 1, 9), tok(Symbol, "(", 1, 10), tok(Ident, "b", 1, 11), tok(Symbol, ")", 1, 12),
			tok(Ident, "SKIP", 2, 9), tok(Int, "0x1F", 2, 14), tok(Ident, "LIMIT", 2, 19), tok(Float, ".5", 2, 25),
			tok(EOF, "", 2, 27),
		},
		"`a``b` 'it\\'s' 1e-2 $0 =~ +=": {
			tok(Ident, "a`b", 1, 1), tok(String, "it's", 1, 8), tok(Float, "1e-2", 1, 16), tok(Param, "0", 1, 21),
			tok(Symbol, "=~", 1, 24), tok(Symbol, "+=", 1, 27), tok(EOF, "", 1, 29),
		},
		"": {tok(EOF, "", 1, 1)},
	} {
		g := NewWithT(t)
		got, err := Lex(query)
		g.Expect(err).NotTo(HaveOccurred(), query)
		// Each token's offsets hold its text as written: read alone, it is the same token.
		for i, tk := range got {
			if tk.Kind == EOF {
				g.Expect([]int{tk.Off, tk.End}).To(Equal([]int{len(query), len(query)}), query)
			} else {
				alone, err := Lex(query[tk.Off:tk.End])
				g.Expect(err).NotTo(HaveOccurred(), "%q token %d", query, i)
				g.Expect(alone[0].Kind).To(Equal(tk.Kind), "%q token %d", query, i)
				g.Expect(alone[0].Text).To(Equal(tk.Text), "%q token %d", query, i)
			}
			got[i].Off, got[i].End = 0, 0
		}
		g.Expect(got).To(Equal(want), query)
	}
}

// TestLexErrors: a query that cannot be read names the line and column of what is wrong
// and what was expected.
func TestLexErrors(t *testing.T) {
	for query, want := range map[string]string{
		"RETURN 'abc":                 "line 1, column 8: string not closed: expected '",
		"RETURN\n  \"a\\qb\"":         `line 2, column 5: unknown escape \q in a string`,
		"RETURN '\\u12'":              `line 1, column 9: expected 4 hexadecimal digits after \u`,
		"RETURN '\\uZZZZ'":            `line 1, column 9: expected 4 hexadecimal digits of a character after \u`,
		"MATCH (a) /* open":           "line 1, column 11: comment not closed: expected */",
		"RETURN `abc":                 "line 1, column 8: identifier not closed: expected `",
		"RETURN ``":                   "line 1, column 8: empty identifier ``",
		"RETURN $ x":                  "line 1, column 8: expected a parameter name after $",
		"RETURN 1e":                   "line 1, column 8: expected digits in the exponent of 1e",
		"RETURN 12abc":                "line 1, column 8: invalid number 12a",
		"RETURN 0xZZ":                 "line 1, column 8: invalid hexadecimal integer 0xZZ",
		"RETURN 99999999999999999999": "line 1, column 8: number 99999999999999999999 out of range",
		"MATCH (a)\nRETURN a # b":     `line 2, column 10: unexpected character '#'`,
	} {
		g := NewWithT(t)
		_, err := Lex(query)
		var e *Error
		g.Expect(errors.As(err, &e)).To(BeTrue(), "%q: %v", query, err)
		g.Expect(err.Error()).To(Equal(want), query)
	}
}

// FuzzLex: any input either lexes into tokens whose positions lie inside it, in order,
// ending with EOF, or fails with an *Error inside it; it never panics.
func FuzzLex(f *testing.F) {
	for _, s := range []string{"MATCH (a)-[:T*..2]->(b) RETURN a.name, count(*)", "'\\u00e9'", "`x``y`", "1..2", "0x10", "/* c */ $p", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Count(s, "\n") + 1
		toks, err := Lex(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Column < 1 {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		if len(toks) == 0 || toks[len(toks)-1].Kind != EOF {
			t.Fatalf("%q: no EOF at the end: %v", s, toks)
		}
		for i, tk := range toks {
			if tk.Pos.Line < 1 || tk.Pos.Line > lines || tk.Pos.Column < 1 {
				t.Fatalf("%q: token %d at %v", s, i, tk.Pos)
			}
			if i > 0 && (tk.Pos.Line < toks[i-1].Pos.Line || tk.Pos.Line == toks[i-1].Pos.Line && tk.Pos.Column <= toks[i-1].Pos.Column) {
				t.Fatalf("%q: token %d at %v after %v", s, i, tk.Pos, toks[i-1].Pos)
			}
		}
	})
}
