package smb

import (
	"strings"
	"unicode"
)

// Directory search patterns (MS-FSA 2.1.4.4), compared without regard to
// case: '*' matches any run of characters, '?' any one; the DOS wildcards
// that Windows clients send for patterns typed by users are '<' (any run
// up to the name's last period), '>' (any one character, or nothing at a
// period or the end of the name) and '"' (a period, or nothing at the end
// of the name).

// hasWildcard reports whether a pattern is more than one literal name.
func hasWildcard(p string) bool { return strings.ContainsAny(p, `*?<>"`) }

// matchPattern reports whether name matches pattern. It runs the pattern
// as a set of positions over the name, so that no pattern costs more than
// its length times the name's.
func matchPattern(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	pat := []rune(pattern)
	nm := []rune(name)
	lastDot := -1
	for i, c := range nm {
		if c == '.' {
			lastDot = i
		}
	}
	cur := make([]bool, len(pat)+1)
	next := make([]bool, len(pat)+1)
	cur[0] = true
	for p := 0; ; p++ {
		closure(cur, pat, nm, p)
		if p == len(nm) {
			return cur[len(pat)]
		}
		clear(next)
		c := nm[p]
		any := false
		for i, on := range cur[:len(pat)] {
			if !on {
				continue
			}
			switch pat[i] {
			case '*':
				next[i] = true
			case '?':
				next[i+1] = true
			case '<':
				if c != '.' || p != lastDot {
					next[i] = true // the final period must be matched by what follows
				}
			case '>':
				if c != '.' {
					next[i+1] = true
				}
			case '"':
				if c == '.' {
					next[i+1] = true
				}
			default:
				if foldEq(pat[i], c) {
					next[i+1] = true
				}
			}
		}
		for _, on := range next {
			any = any || on
		}
		if !any {
			return false
		}
		cur, next = next, cur
	}
}

// closure adds the positions reachable without consuming a character of
// the name at position p.
func closure(set []bool, pat, name []rune, p int) {
	atEnd := p == len(name)
	for i := 0; i < len(pat); i++ {
		if !set[i] {
			continue
		}
		switch pat[i] {
		case '*', '<':
			set[i+1] = true
		case '>':
			if atEnd || name[p] == '.' {
				set[i+1] = true
			}
		case '"':
			if atEnd {
				set[i+1] = true
			}
		}
	}
}

func foldEq(a, b rune) bool {
	return a == b || unicode.ToUpper(a) == unicode.ToUpper(b) || unicode.ToLower(a) == unicode.ToLower(b)
}
