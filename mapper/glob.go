package mapper

import "bytes"

// A globNode is a state of the glob state machine: a trie over
// dot-separated segments, with exact-segment edges and one wildcard edge.
// All glob rules of a file share one trie, so a lookup costs the length of
// the name (times the few wildcard branches alive at once), not the number
// of rules.
type globNode struct {
	exact map[string]*globNode
	star  *globNode
	// accept holds, per metric class (counter, gauge, observer), the lowest
	// index of a rule whose pattern ends here, or -1.
	accept [numClasses]int32
	// minRem and maxRem bound how many more segments a name must have for a
	// rule below (or at) this node to accept it: branches that cannot accept
	// are not explored.
	minRem, maxRem int
}

func newGlobNode() *globNode {
	n := &globNode{minRem: 1 << 30, maxRem: -1}
	for i := range n.accept {
		n.accept[i] = -1
	}
	return n
}

// metric classes, as match_metric_type names them.
const (
	classCounter = iota
	classGauge
	classObserver
	numClasses
)

// add inserts a rule's pattern segments into the trie.
func (root *globNode) add(segs []string, index int, classes [numClasses]bool) {
	n := root
	for i := 0; ; i++ {
		rem := len(segs) - i
		n.minRem = min(n.minRem, rem)
		n.maxRem = max(n.maxRem, rem)
		if i == len(segs) {
			break
		}
		var next *globNode
		if segs[i] == "*" {
			if n.star == nil {
				n.star = newGlobNode()
			}
			next = n.star
		} else {
			if n.exact == nil {
				n.exact = make(map[string]*globNode)
			}
			next = n.exact[segs[i]]
			if next == nil {
				next = newGlobNode()
				n.exact[segs[i]] = next
			}
		}
		n = next
	}
	for c, on := range classes {
		if on && n.accept[c] < 0 {
			n.accept[c] = int32(index)
		}
	}
}

func (n *globNode) viable(rem int) bool { return n != nil && rem >= n.minRem && rem <= n.maxRem }

// matchOrdered walks the trie with a set of states (no backtracking needed)
// and returns the lowest index of an accepting rule for the class, or -1.
func (root *globNode) matchOrdered(name []byte, class int) int {
	var bufA, bufB [16]*globNode
	cur, next := append(bufA[:0], root), bufB[:0]
	rem := bytes.Count(name, dot) + 1
	if !root.viable(rem) {
		return -1
	}
	for rest := name; ; {
		seg := rest
		i := bytes.IndexByte(rest, '.')
		if i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		}
		rem--
		next = next[:0]
		for _, n := range cur {
			if c := n.exact[string(seg)]; c.viable(rem) {
				next = append(next, c)
			}
			if n.star.viable(rem) {
				next = append(next, n.star)
			}
		}
		if len(next) == 0 {
			return -1
		}
		cur, next = next, cur
		if i < 0 {
			break
		}
	}
	best := int32(-1)
	for _, n := range cur {
		if a := n.accept[class]; a >= 0 && (best < 0 || a < best) {
			best = a
		}
	}
	return int(best)
}

// matchSpecific returns the most specific accepting rule for the class: the
// one reached by preferring an exact segment to a wildcard at each step, left
// to right (glob_disable_ordering). Each trie node is reached by one path
// only, so the search visits each node at most once.
func (n *globNode) matchSpecific(rest []byte, rem int, class int) int {
	seg := rest
	i := bytes.IndexByte(rest, '.')
	if i >= 0 {
		seg, rest = rest[:i], rest[i+1:]
	}
	rem--
	for _, c := range [2]*globNode{n.exact[string(seg)], n.star} {
		if !c.viable(rem) {
			continue
		}
		if i < 0 {
			if a := c.accept[class]; a >= 0 {
				return int(a)
			}
			continue
		}
		if r := c.matchSpecific(rest, rem, class); r >= 0 {
			return r
		}
	}
	return -1
}

var dot = []byte{'.'}
