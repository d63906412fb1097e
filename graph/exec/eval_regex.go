package exec

import (
	"errors"
	"regexp"
	"regexp/syntax"

	"github.com/torua/torua/graph/cypher"
)

// regexMatch is s =~ pattern: whether the whole of s matches pattern, a Go (RE2) regular
// expression, as Cypher's (Java's) String.matches does; null unless both sides are strings.
// An invalid pattern is a QueryError.
func (c *evalCtx) regexMatch(x *cypher.RegexMatch) (any, error) {
	s, pattern, ok, err := c.twoStrings(x.L, x.R)
	if err != nil || !ok {
		return nil, err
	}
	re, err := c.env.regexp(x, pattern)
	if err != nil {
		return nil, err
	}
	loc := re.FindStringIndex(s)
	return loc != nil && loc[0] == 0 && loc[1] == len(s), nil
}

// regexp compiles the pattern of x, leftmost-longest: then a match of the whole string
// exists exactly when the first match found spans it. A constant pattern is compiled once
// per Env (one query), a pattern read from rows on each use.
func (e *Env) regexp(x *cypher.RegexMatch, pattern string) (*regexp.Regexp, error) {
	cacheable := constant(x.R)
	if cacheable {
		if re, ok := e.regexps.Load(x); ok {
			return re.(*regexp.Regexp), nil
		}
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = se.Code.String()
		}
		return nil, errorf(x.R.Position(), "invalid regular expression %s: %s", (&cypher.Literal{Value: pattern}).String(), msg)
	}
	re.Longest()
	if cacheable {
		e.regexps.Store(x, re)
	}
	return re, nil
}
