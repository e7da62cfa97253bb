package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a config: the line of the file it is on
// (0 when the file does not say, e.g. a key it leaves out), the key it is
// about ("routes[0].mode"; "" for the file as a whole) and what is wrong.
type Problem struct {
	Line int
	Key  string
	Msg  string
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is everything wrong with a config, in line order (problems
// without a line last). Its message lists the first MaxProblems, one a line.
type Problems []*Problem

// MaxProblems is how many problems an error message lists before it says
// how many more there are.
const MaxProblems = 20

func (ps Problems) Error() string {
	lines := make([]string, 0, min(len(ps), MaxProblems+1))
	for i, p := range ps {
		if i == MaxProblems {
			lines = append(lines, fmt.Sprintf("and %d more", len(ps)-i))
			break
		}
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns every problem, also those past MaxProblems.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// sortByLine orders problems by line, problems without a line last; those
// of one line keep their order.
func (ps Problems) sortByLine() {
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = int(^uint(0) >> 1)
		}
		if lb == 0 {
			lb = int(^uint(0) >> 1)
		}
		return la - lb
	})
}

// FileError is what Load returns for a config file whose YAML is
// well-formed but whose values are not all right: every problem, those of
// decoding and those of Validate, in line order.
type FileError struct {
	Path     string
	Problems Problems
}

func (e *FileError) Error() string {
	return e.Path + ": invalid config:\n  - " + strings.ReplaceAll(e.Problems.Error(), "\n", "\n  - ")
}

func (e *FileError) Unwrap() error { return e.Problems }

// source is what decoding a file learnt that Validate needs: where each key
// is, which values did not decode (Validate skips their keys rather than
// report them twice) and the decoding problems.
type source struct {
	lines  map[string]int // key path ("routes[0].destination.url") → line
	failed []string       // key paths whose value did not decode
	probs  Problems
}

// line is the line of key, or of its nearest ancestor in the file (a key
// left out is reported at the block that lacks it); 0 if none.
func (s *source) line(key string) int {
	for {
		if l, ok := s.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
}

// failedUnder reports whether key is a value that did not decode, or inside one.
func (s *source) failedUnder(key string) bool {
	for _, f := range s.failed {
		if key == f || strings.HasPrefix(key, f) && (key[len(f)] == '.' || key[len(f)] == '[') {
			return true
		}
	}
	return false
}

// report merges the decoding problems with Validate's: each of those gets
// the line of its key, those about a value that did not decode are dropped.
// It returns nil when there is no problem.
func (s *source) report(validation Problems) error {
	var all Problems
	if s != nil {
		all = append(all, s.probs...)
	}
	for _, p := range validation {
		if s != nil {
			if s.failedUnder(p.Key) {
				continue
			}
			p.Line = s.line(p.Key)
		}
		all = append(all, p)
	}
	if len(all) == 0 {
		return nil
	}
	all.sortByLine()
	return all
}

// minDecodeWork is the least work a document may cost: the values it
// expands to through aliases and merges, and the copies of merged keys. A
// bigger document may cost 4 times its nodes. (Bounds a "billion laughs".)
const minDecodeWork = 1 << 18

// decoder walks a YAML node tree along a Go struct's yaml tags, so that
// every problem is found in one pass: an unknown key (with the closest key
// of the same block), a value of the wrong type, a key set twice. The
// yaml.v3 decoder stops at the first value whose UnmarshalYAML fails
// (durations, sizes), and with KnownFields it names the Go type rather than
// the keys there are; walking the tree here does neither. Leaf values
// (scalars, lists of scalars, maps, types with their own UnmarshalYAML) are
// decoded by yaml.v3, one at a time.
type decoder struct {
	src      *source
	reported map[*yaml.Node]bool // unknown keys already reported (a merged block is met once per use)
	work     int
	limit    int
}

// decode decodes root (a document's top node) into out, a pointer to a
// struct, and returns what it learnt.
func decode(root *yaml.Node, out any) *source {
	d := &decoder{src: &source{lines: map[string]int{}}, reported: map[*yaml.Node]bool{}, limit: max(minDecodeWork, 4*nodesIn(root))}
	d.value(root, reflect.ValueOf(out).Elem(), "")
	// A problem may quote a value, and an alias may have put a secret
	// where a duration was expected.
	for _, s := range secretsIn(reflect.ValueOf(out).Elem(), nil) {
		if len(s) >= 8 {
			for _, p := range d.src.probs {
				p.Msg = strings.ReplaceAll(p.Msg, s, redacted)
			}
		}
	}
	d.src.probs.sortByLine()
	return d.src
}

// secretsIn appends the values of the Secrets in v to out.
func secretsIn(v reflect.Value, out []string) []string {
	if v.Type() == reflect.TypeFor[Secret]() {
		return append(out, v.String())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			out = secretsIn(v.Elem(), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = secretsIn(v.Field(i), out)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			break
		}
		for i := range v.Len() {
			out = secretsIn(v.Index(i), out)
		}
	}
	return out
}

func (d *decoder) problem(line int, key, format string, args ...any) {
	d.src.probs = append(d.src.probs, &Problem{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// spend counts n units of work and reports whether the budget allows them;
// the first time it does not, it says so.
func (d *decoder) spend(n int, at *yaml.Node) bool {
	if d.work > d.limit {
		return false
	}
	d.work += n
	if d.work > d.limit {
		d.problem(at.Line, "", "the document expands (through aliases and merges) to more than %d values; stopped here", d.limit)
		return false
	}
	return true
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isBlock reports whether values of t are decoded key by key here: a
// struct (or a pointer to one) that does not decode itself.
func isBlock(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	p := reflect.PointerTo(t)
	return !p.Implements(unmarshalerType) && !p.Implements(textUnmarshalerType)
}

// value decodes n into v (settable) at key path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(1, n) {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	t := v.Type()
	switch {
	case isBlock(t):
		if n.ShortTag() == "!!null" {
			if t.Kind() == reflect.Pointer {
				v.Set(reflect.Zero(t))
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			d.typeProblem(n, path, "must be a block of keys (key: value), got %s", describeNode(n))
			return
		}
		if t.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(t.Elem()))
			}
			v = v.Elem()
		}
		d.block(n, v, path)
	case t.Kind() == reflect.Slice && isBlock(t.Elem()) && !reflect.PointerTo(t).Implements(unmarshalerType):
		if n.ShortTag() == "!!null" {
			v.Set(reflect.Zero(t))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.typeProblem(n, path, "must be a list, got %s", describeNode(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			d.src.lines[p] = item.Line
			d.value(item, s.Index(i), p)
		}
		v.Set(s)
	default:
		d.leaf(n, v, path)
	}
}

func (d *decoder) typeProblem(n *yaml.Node, path, format string, args ...any) {
	d.problem(n.Line, path, format, args...)
	d.src.failed = append(d.src.failed, path)
}

// describeNode names what a node is, for "got ...".
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a block of keys"
	}
	return strconv.Quote(n.Value)
}

// entry is one key of a block, written in it or merged into it (<<).
type entry struct {
	key, value *yaml.Node
	merged     bool
}

// entries lists a mapping's keys, its own first, then those it merges in
// (<<: *base or <<: [*a, *b]), in order: the first of a key wins.
func (d *decoder) entries(n *yaml.Node, path string, merging []*yaml.Node) []entry {
	if !d.spend(len(n.Content)/2, n) {
		return nil
	}
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "<<" || k.ShortTag() != "!!merge" {
			own = append(own, entry{key: k, value: val, merged: len(merging) > 0})
			continue
		}
		var from []*yaml.Node
		if val.Kind == yaml.SequenceNode {
			from = val.Content
		} else {
			from = []*yaml.Node{val}
		}
		for _, m := range from {
			if m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			switch {
			case m.Kind != yaml.MappingNode:
				d.problem(m.Line, path, "<< (merge) takes a block of keys or a list of them, got %s", describeNode(m))
			case slices.Contains(merging, m) || m == n:
				d.problem(m.Line, path, "<< (merge) includes the block itself")
			default:
				sub := d.entries(m, path, append(merging, n))
				if !d.spend(len(sub), m) { // copying them is work too
					return nil
				}
				merged = append(merged, sub...)
			}
		}
	}
	return append(own, merged...)
}

// field is one key of a block: its name and where it is in the Go struct.
type field struct {
	name  string
	index []int // as reflect.Value.FieldByIndex, through inline structs
	typ   reflect.Type
}

// fieldsOf lists the keys of struct type t from its yaml tags, as yaml.v3
// reads them: the tag's name or the lower-cased field name, "-" skipped,
// ",inline" structs' keys as the block's own.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for _, f := range fieldsOf(ft) {
					f.index = append([]int{i}, f.index...)
					out = append(out, f)
				}
				continue
			}
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{name: name, index: []int{i}, typ: sf.Type})
	}
	return out
}

// fieldAt is v's field at index, allocating nil inline pointers on the way.
func fieldAt(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v
}

// block decodes mapping n into struct v key by key.
func (d *decoder) block(n *yaml.Node, v reflect.Value, path string) {
	fields := fieldsOf(v.Type())
	seen := map[string]int{}
	prefix := path
	if prefix != "" {
		prefix += "."
	}
	for _, e := range d.entries(n, path, nil) {
		k := e.key
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			if !d.reported[k] {
				d.reported[k] = true
				d.problem(k.Line, path, "a key must be a name, got %s", describeNode(k))
			}
			continue
		}
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == k.Value })
		if i < 0 {
			if !d.reported[k] {
				d.reported[k] = true
				d.problem(k.Line, path, "unknown key %s%s", k.Value, hint(k.Value, fields))
			}
			continue
		}
		if first, ok := seen[k.Value]; ok {
			if !e.merged {
				d.problem(k.Line, prefix+k.Value, "set twice (first on line %d)", first)
			}
			continue
		}
		seen[k.Value] = k.Line
		key := prefix + k.Value
		d.src.lines[key] = k.Line
		d.value(e.value, fieldAt(v, fields[i].index), key)
	}
}

// leaf decodes n into v with yaml.v3, over v's current value (a null keeps
// a default), leaving v as it was if it fails.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(countNodes(n, d.limit-d.work+1), n) {
		return
	}
	if k := v.Kind(); k >= reflect.Int && k <= reflect.Uint64 && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		// yaml.v3 would cut 1.5 to 1 (1e9 and 2.0 are whole numbers).
		var f float64
		if err := n.Decode(&f); err == nil && f != math.Trunc(f) {
			d.typeProblem(n, path, "must be a whole number, got %q", n.Value)
			return
		}
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	if err := n.Decode(p.Interface()); err != nil {
		d.src.failed = append(d.src.failed, path)
		msgs := []string{err.Error()}
		if te, ok := err.(*yaml.TypeError); ok {
			msgs = te.Errors
		}
		types := typesIn(v.Type(), map[string]reflect.Type{})
		for _, m := range msgs {
			line, msg := n.Line, strings.TrimPrefix(m, "yaml: ")
			if sm := lineMsg.FindStringSubmatch(msg); sm != nil {
				line, _ = strconv.Atoi(sm[1])
				msg = sm[2]
			}
			d.problem(line, path, "%s", humanize(msg, types))
		}
		return
	}
	v.Set(p.Elem())
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			d.src.lines[path+"["+strconv.Itoa(i)+"]"] = item.Line
		}
	}
}

// nodesIn counts the nodes of a document as written (aliases not expanded).
func nodesIn(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += nodesIn(c)
	}
	return count
}

// countNodes counts n's nodes, aliases expanded, stopping past limit.
func countNodes(n *yaml.Node, limit int) int {
	count := 0
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if count > limit {
			return
		}
		count++
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			walk(n.Alias)
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return count
}

var (
	lineMsg = regexp.MustCompile(`(?s)^line (\d+): (.*)$`)
	// cannotUnmarshal is yaml.v3's type error: the node's tag, its value
	// (scalars only, cut at 7 bytes), the Go type.
	cannotUnmarshal = regexp.MustCompile("(?s)^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
)

// typesIn maps the names of t and the types inside it to the types.
func typesIn(t reflect.Type, m map[string]reflect.Type) map[string]reflect.Type {
	if _, ok := m[t.String()]; ok {
		return m
	}
	m[t.String()] = t
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		typesIn(t.Elem(), m)
	case reflect.Map:
		typesIn(t.Key(), m)
		typesIn(t.Elem(), m)
	}
	return m
}

// humanize rewrites yaml.v3's "cannot unmarshal !!str `lots` into int" as
// `must be a whole number, got "lots"`; other messages stay as they are.
func humanize(msg string, types map[string]reflect.Type) string {
	m := cannotUnmarshal.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	t, ok := types[m[3]]
	if !ok {
		return msg
	}
	got := strconv.Quote(m[2])
	switch m[1] {
	case "seq":
		got = "a list"
	case "map":
		got = "a block of keys"
	}
	return fmt.Sprintf("must be %s, got %s", kindWord(t), got)
}

// kindWord says what values of t look like.
func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number >= 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		if w := kindWord(t.Elem()); strings.HasPrefix(w, "a ") {
			return "a list of " + strings.TrimPrefix(w, "a ") + "s"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a block of keys (key: value)"
	case reflect.Pointer:
		return kindWord(t.Elem())
	}
	return t.String()
}

// hint is " (did you mean KEY?)" for the closest key of the same block, or
// " (KEY goes under BLOCK:)" when the key is one of a block inside this
// one; "" when nothing is close.
func hint(name string, fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if s := closest(name, names); s != "" {
		return " (did you mean " + s + "?)"
	}
	for _, f := range fields {
		if t := f.typ; isBlock(t) {
			if t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			for _, sub := range fieldsOf(t) {
				if normKey(sub.name) == normKey(name) {
					return " (" + sub.name + " goes under " + f.name + ":)"
				}
			}
		}
	}
	return ""
}

// closest returns the key nearest to name: the same but for case and
// separators (orderBy, order-by, OrderBy for order_by), else the nearest
// by edit distance (adjacent swaps count one) within a third of its length
// or so; "" when none is that close.
func closest(name string, keys []string) string {
	n := normKey(name)
	limit := 1
	switch l := len([]rune(n)); {
	case l >= 8:
		limit = 3
	case l >= 4:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range keys {
		nk := normKey(k)
		if nk == n {
			return k
		}
		if dist := editDistance(n, nk); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return best
	}
	// An abbreviation: cert for cert_file, max_msgs for max_messages.
	bestDist = 0
	for _, k := range keys {
		nk := []rune(normKey(k))
		if abbreviates([]rune(n), nk) && (best == "" || len(nk) < bestDist) {
			best, bestDist = k, len(nk)
		}
	}
	return best
}

// abbreviates reports whether a is b shortened: its runes, at least 3 and
// half of b's, in b in order, starting with b's first.
func abbreviates(a, b []rune) bool {
	if len(a) < 3 || 2*len(a) < len(b) || len(a) >= len(b) || a[0] != b[0] {
		return false
	}
	j := 0
	for _, r := range b {
		if j < len(a) && a[j] == r {
			j++
		}
	}
	return j == len(a)
}

// normKey lower-cases a key and drops its separators.
func normKey(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent runes.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	if len(x) > 64 || len(y) > 64 { // no key is that long: not close
		return max(len(x), len(y))
	}
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
