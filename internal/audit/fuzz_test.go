package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// decodeTrace decodes with d and returns a transcript: each event's offset,
// time and raw bytes, and each skip's reason, line, offset and item. in is
// the decoder's input (nil for gzip): event offsets and error lines are
// checked against it.
func decodeTrace(t *testing.T, d *Decoder, in []byte, lim Limits) []string {
	t.Helper()
	var out []string
	var ev Event
	for n := 0; ; n++ {
		if n > 1<<16 {
			t.Fatal("decoder does not terminate")
		}
		err := d.Next(&ev)
		if err == io.EOF {
			return out
		}
		var de *Error
		switch {
		case errors.As(err, &de):
			if in != nil {
				if de.Offset < 0 || de.Offset > int64(len(in)) {
					t.Fatalf("%v: offset outside the input (%d bytes)", de, len(in))
				}
				if line := 1 + bytes.Count(in[:de.Offset], []byte{'\n'}); de.Line != line {
					t.Fatalf("%v: line %d, want %d", de, de.Line, line)
				}
			}
			out = append(out, fmt.Sprintf("skip %s line %d @%d item %d", de.Reason, de.Line, de.Offset, de.Item))
			continue
		case err != nil:
			return append(out, "fatal "+err.Error())
		}
		if !json.Valid(ev.Raw) || rawjson.KindOf(ev.Raw) != rawjson.Object {
			t.Fatalf("event is not a valid JSON object: %q", ev.Raw)
		}
		if len(ev.Raw) > lim.withDefaults().MaxEventSize {
			t.Fatalf("event of %d bytes passed the %d limit", len(ev.Raw), lim.MaxEventSize)
		}
		if in != nil && (ev.Offset < 0 || ev.Offset+int64(len(ev.Raw)) > int64(len(in)) ||
			!bytes.Equal(in[ev.Offset:ev.Offset+int64(len(ev.Raw))], ev.Raw)) {
			t.Fatalf("event at offset %d is not there in the input: %q", ev.Offset, ev.Raw)
		}
		out = append(out, fmt.Sprintf("event @%d time %d %s", ev.Offset, ev.Time, ev.Raw))
	}
}

// traceLegs decodes data in several ways that must not change the outcome:
// read whole, one byte at a time, in halves with the EOF returned along with
// the last bytes, and in memory with NewBytesDecoder (as replay workers do).
func traceLegs(t *testing.T, data []byte, lim Limits) (names []string, traces [][]string) {
	t.Helper()
	gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
	in := data
	if gz {
		in = nil
	}
	opt := Options{Name: "f", Limits: lim}
	readers := []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(data)},
		{"onebyte", iotest.OneByteReader(bytes.NewReader(data))},
		{"half+dataerr", iotest.DataErrReader(iotest.HalfReader(bytes.NewReader(data)))},
	}
	for _, r := range readers {
		d, err := NewDecoder(r.r, opt)
		tr := []string{}
		if err != nil {
			tr = []string{"gzip: " + err.Error()}
		} else {
			tr = decodeTrace(t, d, in, lim)
		}
		names, traces = append(names, r.name), append(traces, tr)
	}
	if !gz {
		names = append(names, "bytes")
		traces = append(traces, decodeTrace(t, NewBytesDecoder(data, opt), in, lim))
	}
	return names, traces
}

func compareLegs(t *testing.T, names []string, traces [][]string) {
	t.Helper()
	for k := 1; k < len(traces); k++ {
		a, b := traces[0], traces[k]
		for i := range max(len(a), len(b)) {
			var x, y string
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if x != y {
				t.Fatalf("transcripts differ at %d:\n%-12s %q\n%-12s %q", i, names[0], x, names[k], y)
			}
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic,
// must terminate, must only return valid JSON objects within the limits, at
// the offsets and lines where they are in the input, and must give the same
// transcript however the input arrives (so buffer refills cannot change
// what is decoded). Then the lines of the input that are valid events by
// themselves are wrapped in every supported container, which must give back
// exactly those events.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{ev1 + "\n" + ev2, `{"kind":"EventList","items":[` + ev1 + "," + item3 + `]}`,
		"[" + ev1 + "]", `{"kind": 0}`, ev1 + "\n{bad\n" + ev2, `{"items":[` + ev1 + `],"kind":"EventList"}`,
		ev1 + "\n" + ev2 + "\n" + ev3 + "\n",
		`{"kind":"EventList","items":[` + ev1 + `],"x":5}` + "\n" + ev2 + "\n" + ev3,
		`{"apiVersion":"audit.k8s.io/v1","items":[` + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + `],"kind":"EventList","metadata":{}}`,
		`{"kind":"Foo","items":[` + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + `]}`,
		`{"items":[` + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + "," + ev2 + "," + ev3 + "," + ev1 + `],"kind":"Foo"}`,
		strings.Repeat("1", 1024), "[1" + strings.Repeat("0", 1100) + "]",
	} {
		f.Add([]byte(s))
	}
	dir := filepath.Join("..", "..", "..", "shared", "reference", "captured")
	if data, err := os.ReadFile(filepath.Join(dir, "audit-eventlist-12.json")); err == nil {
		f.Add(data[:min(len(data), 4096)])
	}
	if file, err := os.Open(filepath.Join(dir, "audit-log.jsonl")); err == nil {
		var lines []byte
		sc := bufio.NewScanner(file)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(lines) < 4096 {
			if len(sc.Bytes()) < 1000 {
				lines = append(append(lines, sc.Bytes()...), '\n')
			}
		}
		file.Close()
		f.Add(lines)
	}
	lim := Limits{MaxEventSize: 1024, MaxDepth: 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		names, traces := traceLegs(t, data, lim)
		compareLegs(t, names, traces)
		if evs := validEvents(data, lim); len(evs) > 0 {
			checkWrappings(t, evs, lim)
		}
	})
}

// validEvents returns the lines of data that are, by themselves, audit
// events that the decoder returns as they are, nested two levels deeper.
func validEvents(data []byte, lim Limits) [][]byte {
	lim = lim.withDefaults()
	var evs [][]byte
	var ev Event
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		line = bytes.Trim(line, " \t\r")
		if len(line) > lim.MaxEventSize || rawjson.KindOf(line) != rawjson.Object ||
			rawjson.Valid(line, lim.MaxDepth-2) != nil || Parse(&ev, line, lim.MaxDepth-2) != nil ||
			string(ev.Top(KeyKind)) != `"Event"` {
			continue
		}
		evs = append(evs, line)
	}
	return evs
}

// wrappings returns evs as JSON lines, JSON arrays and EventLists of the
// shapes seen in the wild: kind first (the API server), keys sorted (jq -S),
// pretty-printed, with scalar and object members before and after items.
func wrappings(evs [][]byte) map[string]string {
	items := string(bytes.Join(evs, []byte(",")))
	pretty := "\n    " + string(bytes.Join(evs, []byte(",\n    "))) + "\n  "
	return map[string]string{
		"lines":                string(bytes.Join(evs, []byte("\n"))) + "\n",
		"crlf lines":           string(bytes.Join(evs, []byte("\r\n"))),
		"array":                "[" + items + "]",
		"pretty array":         "[" + pretty + "]\n",
		"kind first":           `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{"resourceVersion":"1"},"items":[` + items + `]}`,
		"kind first, trailing": `{"kind":"EventList","items":[` + items + `],"x":5,"m":{},"z":[1,{"a":null}],"s":"}]","t":true}`,
		"kind first, pretty":   "{\n  \"kind\": \"EventList\",\n  \"items\": [" + pretty + "],\n  \"n\": 0\n}",
		"sorted, pretty":       "{\n  \"apiVersion\": \"audit.k8s.io/v1\",\n  \"items\": [" + pretty + "],\n  \"kind\": \"EventList\",\n  \"metadata\": {}\n}\n",
		"kind in the middle":   `{"n":-1.5e3,"m":{"k":[]},"kind":"EventList","items":[` + items + `],"t":null}`,
		"kind last":            `{"items":[` + items + `],"kind":"EventList"}`,
		"kind last, scalar":    `{"a":"b","items":[` + items + `],"x":[],"kind":"EventList","y":1}`,
	}
}

// checkWrappings checks that every wrapping of evs, twice in a row, decodes
// to exactly evs twice, with no skips, however it is read.
func checkWrappings(t *testing.T, evs [][]byte, lim Limits) {
	t.Helper()
	for name, w := range wrappings(evs) {
		in := []byte(w + "\n" + w)
		names, traces := traceLegs(t, in, lim)
		for k, tr := range traces {
			var got [][]byte
			for _, line := range tr {
				raw, ok := strings.CutPrefix(line, "event @")
				if !ok {
					t.Fatalf("%s, %s: %s\ninput: %s", name, names[k], line, in)
				}
				_, raw, _ = strings.Cut(raw, " time ")
				_, raw, _ = strings.Cut(raw, " ")
				got = append(got, []byte(raw))
			}
			want := append(append([][]byte{}, evs...), evs...)
			if len(got) != len(want) {
				t.Fatalf("%s, %s: %d events, want %d\ninput: %s", name, names[k], len(got), len(want), in)
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%s, %s: event %d = %s, want %s", name, names[k], i, got[i], want[i])
				}
			}
		}
	}
}

// TestWrappedEvents is the property FuzzDecode checks on wrappings, over
// generated events and limits that send lists through every path: read
// whole, streamed with kind first, streamed member by member.
func TestWrappedEvents(t *testing.T) {
	var all [][]byte
	for i := range 40 {
		var b strings.Builder
		fmt.Fprintf(&b, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-%d"`, i)
		if i%3 == 0 {
			b.WriteString(`,"objectRef":{"resource":"pods","namespace":"ns","name":"p"}`)
		}
		if i%4 == 1 {
			fmt.Fprintf(&b, `,"requestObject":{"spec":{"containers":[{"name":"c","args":["%s"]}]}}`, strings.Repeat("a", i*7))
		}
		if i%5 == 2 {
			b.WriteString(`, "annotations" : { "x\"y" : "}]\\" } `)
		}
		ts := time.Date(2026, 11, 22, 11, 23, i, i*1000, time.UTC)
		fmt.Fprintf(&b, `,"stageTimestamp":%q}`, ts.Format(time.RFC3339Nano))
		all = append(all, []byte(b.String()))
	}
	biggest := 0
	for _, ev := range all {
		biggest = max(biggest, len(ev))
	}
	for _, n := range []int{1, 2, 3, 7, 40} {
		for _, lim := range []Limits{{}, {MaxEventSize: 1024, MaxDepth: 20}, {MaxEventSize: biggest}} {
			t.Run(fmt.Sprintf("%d events, limit %d", n, lim.MaxEventSize), func(t *testing.T) {
				evs := all[:n]
				if lim.MaxEventSize > 0 && lim.MaxEventSize < biggest {
					evs = nil
					for _, ev := range all {
						if len(ev) <= lim.MaxEventSize && len(evs) < n {
							evs = append(evs, ev)
						}
					}
				}
				if got := validEvents(bytes.Join(evs, []byte("\n")), lim); len(got) != len(evs) {
					t.Fatalf("%d of %d generated events are valid", len(got), len(evs))
				}
				checkWrappings(t, evs, lim)
			})
		}
	}
}

// FuzzParseTime checks that ParseTime agrees with time.Parse(RFC3339Nano).
func FuzzParseTime(f *testing.F) {
	for _, tc := range parseTimeTests {
		f.Add(tc)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseTime([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok != (err == nil) {
			t.Fatalf("ParseTime(%q) ok = %v, time.Parse error = %v", s, ok, err)
		}
		if ok && got != want.UnixNano() {
			t.Fatalf("ParseTime(%q) = %d, time.Parse gives %d", s, got, want.UnixNano())
		}
	})
}
