package cypher

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind int

// Token kinds. Keywords are Ident tokens (openCypher's keywords are not reserved in every
// position, so the parser decides, case-insensitively); Symbol covers punctuation and
// operators.
const (
	EOF Kind = iota
	Ident
	Int
	Float
	String
	Param
	Symbol
)

func (k Kind) String() string {
	switch k {
	case EOF:
		return "end of query"
	case Ident:
		return "identifier"
	case Int:
		return "integer"
	case Float:
		return "float"
	case String:
		return "string"
	case Param:
		return "parameter"
	case Symbol:
		return "symbol"
	}
	return "token " + strconv.Itoa(int(k))
}

// Pos is a place in a query: line and column from 1, the column counting characters.
type Pos struct{ Line, Column int }

// Token is one token of a query. Text is what the token means: an identifier's name
// (backquotes removed), a string's value (escapes resolved), a parameter's name (without
// $), a number's or a symbol's text.
type Token struct {
	Kind Kind
	Text string
	Pos  Pos
	// Off and End are the byte offsets of the token's first byte and of the byte after it
	// in the query: query[Off:End] is the token as written.
	Off, End int
}

// Error is a query that cannot be read, with where.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Pos.Line, e.Pos.Column, e.Msg)
}

// symbols are the multi-character symbols, longest first; any other punctuation character
// of single is a symbol of its own. Arrows (-> and <-) are two symbols each: the parser
// reads them, since "a<-1" is a comparison.
var symbols = []string{"..", "<=", ">=", "<>", "=~", "+="}

const single = "()[]{},.:;|+-*/%^=<>"

// Lex returns the tokens of query, the last one EOF.
func Lex(query string) ([]Token, error) {
	l := lexer{src: query, line: 1, col: 1}
	var toks []Token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		t.Off, t.End = l.start, l.off
		toks = append(toks, t)
		if t.Kind == EOF {
			return toks, nil
		}
	}
}

type lexer struct {
	src       string
	off       int
	start     int // offset of the token being read
	line, col int
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

func (l *lexer) peek() rune {
	r, _ := utf8.DecodeRuneInString(l.src[l.off:])
	return r
}

func (l *lexer) advance() rune {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line, l.col = l.line+1, 1
	} else {
		l.col++
	}
	return r
}

func (l *lexer) errorf(p Pos, format string, args ...any) error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// skip passes over white space and comments.
func (l *lexer) skip() error {
	for l.off < len(l.src) {
		switch {
		case unicode.IsSpace(l.peek()):
			l.advance()
		case strings.HasPrefix(l.src[l.off:], "//"):
			for l.off < len(l.src) && l.peek() != '\n' {
				l.advance()
			}
		case strings.HasPrefix(l.src[l.off:], "/*"):
			p := l.pos()
			l.advance()
			l.advance()
			for !strings.HasPrefix(l.src[l.off:], "*/") {
				if l.off >= len(l.src) {
					return l.errorf(p, "comment not closed: expected */")
				}
				l.advance()
			}
			l.advance()
			l.advance()
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (Token, error) {
	if err := l.skip(); err != nil {
		return Token{}, err
	}
	p := l.pos()
	l.start = l.off
	if l.off >= len(l.src) {
		return Token{Kind: EOF, Pos: p}, nil
	}
	r := l.peek()
	switch {
	case r == '`':
		return l.quotedIdent(p)
	case isIdentStart(r):
		start := l.off
		for l.off < len(l.src) && isIdentPart(l.peek()) {
			l.advance()
		}
		return Token{Kind: Ident, Text: l.src[start:l.off], Pos: p}, nil
	case r == '$':
		l.advance()
		start := l.off
		for l.off < len(l.src) && isIdentPart(l.peek()) {
			l.advance()
		}
		if start == l.off {
			return Token{}, l.errorf(p, "expected a parameter name after $")
		}
		return Token{Kind: Param, Text: l.src[start:l.off], Pos: p}, nil
	case r == '\'' || r == '"':
		return l.str(p)
	case isDigit(r) || (r == '.' && l.off+1 < len(l.src) && isDigit(rune(l.src[l.off+1]))):
		return l.number(p)
	}
	for _, s := range symbols {
		if strings.HasPrefix(l.src[l.off:], s) {
			for range s {
				l.advance()
			}
			return Token{Kind: Symbol, Text: s, Pos: p}, nil
		}
	}
	if strings.ContainsRune(single, r) {
		l.advance()
		return Token{Kind: Symbol, Text: string(r), Pos: p}, nil
	}
	return Token{}, l.errorf(p, "unexpected character %q", r)
}

// quotedIdent reads a name in backquotes, where two backquotes in a row stand for one.
func (l *lexer) quotedIdent(p Pos) (Token, error) {
	l.advance()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return Token{}, l.errorf(p, "identifier not closed: expected `")
		}
		r := l.advance()
		if r == '`' {
			if l.peek() != '`' || l.off >= len(l.src) {
				break
			}
			l.advance()
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return Token{}, l.errorf(p, "empty identifier ``")
	}
	return Token{Kind: Ident, Text: b.String(), Pos: p}, nil
}

// str reads a string in single or double quotes, with openCypher's escapes.
func (l *lexer) str(p Pos) (Token, error) {
	quote := l.advance()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return Token{}, l.errorf(p, "string not closed: expected %c", quote)
		}
		ep := l.pos()
		r := l.advance()
		if r == quote {
			return Token{Kind: String, Text: b.String(), Pos: p}, nil
		}
		if r != '\\' {
			b.WriteRune(r)
			continue
		}
		if l.off >= len(l.src) {
			return Token{}, l.errorf(p, "string not closed: expected %c", quote)
		}
		switch e := l.advance(); e {
		case '\\', '\'', '"':
			b.WriteRune(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 8
			}
			if l.off+n > len(l.src) {
				return Token{}, l.errorf(ep, "expected %d hexadecimal digits after \\%c", n, e)
			}
			v, err := strconv.ParseUint(l.src[l.off:l.off+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return Token{}, l.errorf(ep, "expected %d hexadecimal digits of a character after \\%c", n, e)
			}
			for range n {
				l.advance()
			}
			b.WriteRune(rune(v))
		default:
			return Token{}, l.errorf(ep, "unknown escape \\%c in a string", e)
		}
	}
}

// intMagnitude is the value of an integer literal's text (decimal, 0x hexadecimal or 0o
// octal), at most 2^63.
func intMagnitude(text string) (uint64, error) {
	base, digits := 10, text
	if len(text) > 1 && text[0] == '0' {
		switch text[1] {
		case 'x', 'X':
			base, digits = 16, text[2:]
		case 'o', 'O':
			base, digits = 8, text[2:]
		}
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err == nil && v > 1<<63 {
		err = strconv.ErrRange
	}
	return v, err
}

// number reads an integer (decimal, 0x hexadecimal, 0o octal) or a float (a fraction, an
// exponent). An integer's magnitude may be up to 2^63, which only -9223372036854775808 uses
// (the parser refuses it unsigned).
func (l *lexer) number(p Pos) (Token, error) {
	start := l.off
	if rest := l.src[l.off:]; len(rest) > 1 && rest[0] == '0' && strings.ContainsRune("xXoO", rune(rest[1])) {
		l.advance()
		l.advance()
		for l.off < len(l.src) && isIdentPart(l.peek()) {
			l.advance()
		}
		text := l.src[start:l.off]
		if _, err := intMagnitude(text); err != nil {
			base := "hexadecimal"
			if text[1] == 'o' || text[1] == 'O' {
				base = "octal"
			}
			return Token{}, l.errorf(p, "invalid %s integer %s", base, text)
		}
		return Token{Kind: Int, Text: text, Pos: p}, nil
	}
	kind := Int
	digits := func() {
		for l.off < len(l.src) && isDigit(l.peek()) {
			l.advance()
		}
	}
	digits()
	// A fraction, unless the dot starts a range (1..3).
	if l.peek() == '.' && !strings.HasPrefix(l.src[l.off:], "..") {
		kind = Float
		l.advance()
		digits()
	}
	if r := l.peek(); r == 'e' || r == 'E' {
		kind = Float
		l.advance()
		if r := l.peek(); r == '+' || r == '-' {
			l.advance()
		}
		if !isDigit(l.peek()) {
			return Token{}, l.errorf(p, "expected digits in the exponent of %s", l.src[start:l.off])
		}
		digits()
	}
	if isIdentStart(l.peek()) {
		return Token{}, l.errorf(p, "invalid number %s%c", l.src[start:l.off], l.peek())
	}
	text := l.src[start:l.off]
	var err error
	if kind == Int {
		_, err = intMagnitude(text)
	} else {
		_, err = strconv.ParseFloat(text, 64)
	}
	if err != nil {
		return Token{}, l.errorf(p, "number %s out of range", text)
	}
	return Token{Kind: kind, Text: text, Pos: p}, nil
}

func isDigit(r rune) bool      { return r >= '0' && r <= '9' }
func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
