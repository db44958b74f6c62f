package audit

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"
)

const ev1 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete","verb":"get","stageTimestamp":"2026-11-22T11:23:09.448288Z"}`
const ev2 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a2","stage":"ResponseComplete","verb":"delete","stageTimestamp":"2026-11-22T11:23:10Z"}`
const item3 = `{"level":"Metadata","auditID":"a3","stage":"RequestReceived","verb":"list","stageTimestamp":"2026-11-22T11:23:11.5+01:00"}`

const ev3 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a3","stage":"ResponseComplete","verb":"list","stageTimestamp":"2026-11-22T11:23:11Z"}`

type result struct {
	ids  []string // auditIDs of decoded events
	errs []string // "reason@line:item"
}

// decoderModes names the ways a test input reaches a decoder: through
// NewDecoder in one piece or one byte at a time, or through NewBytesDecoder
// as the replay workers use it.
var decoderModes = []string{"whole", "onebyte", "bytes"}

func newModeDecoder(t testing.TB, mode string, in []byte, opt Options) *Decoder {
	t.Helper()
	if mode == "bytes" {
		return NewBytesDecoder(in, opt)
	}
	var r io.Reader = bytes.NewReader(in)
	if mode == "onebyte" {
		r = iotest.OneByteReader(r)
	}
	d, err := NewDecoder(r, opt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decodeAll(t *testing.T, d *Decoder) result {
	t.Helper()
	var res result
	var ev Event
	for n := 0; n < 10000; n++ {
		err := d.Next(&ev)
		if err == io.EOF {
			return res
		}
		var de *Error
		if errors.As(err, &de) {
			res.errs = append(res.errs, fmt.Sprintf("%s@%d:%d", de.Reason, de.Line, de.Item))
			continue
		}
		if err != nil {
			t.Fatalf("fatal: %v", err)
		}
		id := ev.Top(KeyAuditID)
		res.ids = append(res.ids, strings.Trim(string(id), `"`))
		if ev.Time == 0 {
			t.Errorf("event %s has no time", id)
		}
		if !bytes.HasPrefix(ev.Raw, []byte("{")) || !bytes.HasSuffix(ev.Raw, []byte("}")) {
			t.Errorf("event %s raw is not an object: %q", id, ev.Raw)
		}
	}
	t.Fatal("decoder does not terminate")
	return res
}

func TestDecode(t *testing.T) {
	big := `{"kind":"Event","auditID":"big","stageTimestamp":"2026-11-22T11:23:10Z","requestObject":"` + strings.Repeat("x", 300) + `"}`
	bigLines := "{\n\"kind\":\"Event\",\n\"auditID\":\"big\",\n\"requestObject\":\"" + strings.Repeat("x", 300) + "\"\n}"
	deep := `{"kind":"Event","auditID":"deep","stageTimestamp":"2026-11-22T11:23:10Z","x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`
	deep8 := `{"kind":"Event","auditID":"d8","stageTimestamp":"2026-11-22T11:23:10Z","x":` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}`
	long := strings.Repeat("1", 300)
	small := Limits{MaxEventSize: 200} // holds one event, not two
	tests := []struct {
		name string
		in   string
		lim  Limits
		ids  string
		errs string
	}{
		{name: "single event", in: ev1, ids: "a1"},
		{name: "pretty single event", in: "{\n  \"kind\": \"Event\",\n  \"auditID\": \"p\",\n  \"stageTimestamp\": \"2026-11-22T11:23:10Z\"\n}\n", ids: "p"},
		{name: "json lines", in: ev1 + "\n" + ev2 + "\n", ids: "a1,a2"},
		{name: "crlf lines", in: ev1 + "\r\n" + ev2 + "\r\n", ids: "a1,a2"},
		{name: "eventlist", in: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + ev1 + "," + item3 + `]}`, ids: "a1,a3"},
		{name: "eventlist kind last", in: `{"items":[` + ev1 + "," + item3 + `],"kind":"EventList"}`, ids: "a1,a3"},
		{name: "eventlist members after items", in: `{"kind":"EventList","items":[` + ev1 + `],"metadata":{"x":[1,2]}}` + "\n" + ev2, ids: "a1,a2"},
		{name: "empty eventlist", in: `{"kind":"EventList","items":[]}`, ids: ""},
		{name: "array", in: "[" + ev1 + ", " + ev2 + "]", ids: "a1,a2"},
		{name: "array of eventlist", in: `[{"kind":"EventList","items":[` + item3 + `]},` + ev1 + `]`, ids: "a3,a1"},
		{name: "eventlist per line", in: `{"kind":"EventList","items":[` + ev1 + "]}\n" + `{"kind":"EventList","items":[` + ev2 + "]}\n", ids: "a1,a2"},
		{name: "fal_01_003", in: `{"kind": 0}`, errs: "not_audit_event@1:-1"},
		{name: "eventlist without items", in: `{"kind":"EventList"}`, errs: "not_audit_event@1:-1"},
		{name: "scalar", in: "42\n" + ev1, ids: "a1", errs: "not_audit_event@1:-1"},
		{name: "malformed line skipped", in: ev1 + "\n{\"kind\":\"Event\",,}\n" + ev2 + "\n", ids: "a1,a2", errs: "malformed_json@2:-1"},
		{name: "truncated last line", in: ev1 + "\n" + `{"kind":"Event","auditID":"x"`, ids: "a1", errs: "malformed_json@2:-1"},
		{name: "bad item in eventlist", in: `{"kind":"EventList","items":[` + ev1 + `,{"auditID":"nots"},` + ev2 + `]}`, ids: "a1,a2", errs: "bad_timestamp@1:1"},
		{name: "non-object item", in: `{"kind":"EventList","items":[` + ev1 + `,7,` + ev2 + `]}`, ids: "a1,a2", errs: "not_audit_event@1:1"},
		{name: "bad array element does not drop the rest", in: `[` + ev1 + `,{"kind":"Nope"},` + ev2 + `]`, ids: "a1,a2", errs: "not_audit_event@1:1"},
		{name: "timestamp with space", in: `{"kind":"Event","auditID":"s","stageTimestamp":"2026-11-22 11:23:10Z"}`, errs: "bad_timestamp@1:-1"},
		{name: "timestamp with escapes", in: `{"kind":"Event","auditID":"e","stageTimestamp":"2026-11-22T11:23:10\u002e5Z"}`, ids: "e"},
		{name: "too large", in: big + "\n" + ev1, lim: Limits{MaxEventSize: 200}, ids: "a1", errs: "too_large@1:-1"},
		{name: "too large item", in: `{"kind":"EventList","items":[` + big + `,` + ev1 + `]}`, lim: Limits{MaxEventSize: 200}, ids: "a1", errs: "too_large@1:0"},
		{name: "too deep", in: deep + "\n" + ev1, lim: Limits{MaxDepth: 10}, ids: "a1", errs: "too_deep@1:-1"},
		{name: "garbage between events", in: ev1 + "\nnot json\n" + ev2, ids: "a1,a2", errs: "malformed_json@2:-1"},
		{name: "broken eventlist resyncs at next line", in: `{"kind":"EventList","items":[` + ev1 + ` x` + "\n" + ev2, ids: "a1,a2", errs: "malformed_json@1:1"},

		// skipValue must not consume the '}' or ']' that ends a scalar.
		{name: "eventlist trailing scalar member", in: `{"kind":"EventList","items":[` + ev1 + `],"x":5}` + "\n" + ev2 + "\n" + ev3, ids: "a1,a2,a3"},
		{name: "eventlist trailing literal, next event on same line", in: `{"kind":"EventList","items":[` + ev1 + `],"x":true}` + ev2, ids: "a1,a2"},
		{name: "eventlist trailing empty object", in: `{"kind":"EventList","items":[` + ev1 + `],"metadata":{}}` + "\n" + ev2, ids: "a1,a2"},
		{name: "eventlist trailing string", in: `{"kind":"EventList","items":[` + ev1 + `],"s":"}"}` + ev2, ids: "a1,a2"},
		{name: "too large number member", in: `{"kind":"EventList","items":[` + ev1 + `],"n":` + long + `}` + "\n" + ev2, lim: small, ids: "a1,a2"},
		{name: "too large number in array", in: `[` + ev1 + `,` + long + `]` + "\n" + ev2, lim: small, ids: "a1,a2", errs: "too_large@1:1"},
		{name: "too large top-level number", in: long + "\n" + ev1, lim: small, ids: "a1", errs: "too_large@1:-1"},

		// The line of a too_large item is where it starts.
		{name: "too large item line", in: "{\"kind\":\"EventList\",\"items\":[\n" + ev1 + ",\n" + bigLines + ",\n" + ev2 + "\n]}", lim: small, ids: "a1,a2", errs: "too_large@3:1"},
		{name: "too large array element line", in: "[\n" + ev1 + ",\n" + bigLines + ",\n" + ev2 + "\n]", lim: small, ids: "a1,a2", errs: "too_large@3:1"},
		{name: "too large top-level line", in: ev1 + "\n" + bigLines + "\n" + ev2, lim: small, ids: "a1,a2", errs: "too_large@2:-1"},

		// A large object whose kind is not its first member.
		{name: "large eventlist sorted keys", in: `{"apiVersion":"audit.k8s.io/v1","items":[` + ev1 + "," + item3 + "," + ev2 + `],"kind":"EventList","metadata":{}}` + "\n" + ev3, lim: small, ids: "a1,a3,a2,a3"},
		{name: "large eventlist pretty sorted keys", in: "{\n  \"apiVersion\": \"audit.k8s.io/v1\",\n  \"items\": [\n    " + ev1 + ",\n    " + ev2 + "\n  ],\n  \"kind\": \"EventList\",\n  \"metadata\": {\"resourceVersion\": \"7\"}\n}\n" + ev3, lim: small, ids: "a1,a2,a3"},
		{name: "large eventlist kind in the middle", in: `{"n":1,"kind":"EventList","s":"x","items":[` + ev1 + "," + ev2 + `],"t":false}` + ev3, lim: small, ids: "a1,a2,a3"},
		{name: "large object kind before items not EventList", in: ev3 + "\n" + `{"kind":"Foo","items":[` + ev1 + "," + ev2 + `],"x":1}` + "\n" + ev3, lim: small, ids: "a3,a3", errs: "not_audit_event@2:-1"},
		{name: "large object kind after items not EventList", in: "\n" + `{"items":[` + ev1 + "," + ev2 + `],"kind":"Foo","x":1}` + "\n" + ev3, lim: small, ids: "a1,a2,a3", errs: "not_audit_event@2:-1"},
		{name: "large object items without kind", in: "{\n\"items\":[\n" + ev1 + ",\n" + ev2 + "\n]\n}\n" + ev3, lim: small, ids: "a1,a2,a3", errs: "not_audit_event@1:-1"},
		{name: "large object without items", in: `{"kind":"EventList","x":"` + long + `"}` + "\n" + ev3, lim: small, ids: "a3", errs: "not_audit_event@1:-1"},
		{name: "large event without items", in: "\n\n" + bigLines + ev3, lim: small, ids: "a3", errs: "too_large@3:-1"},
		{name: "large eventlist with too large item", in: `{"apiVersion":"v1","items":[` + big + "," + ev2 + `],"kind":"EventList"}`, lim: small, ids: "a2", errs: "too_large@1:0"},
		{name: "large eventlist truncated", in: `{"apiVersion":"v1","items":[` + ev1 + "," + ev2, lim: small, ids: "a1,a2", errs: "malformed_json@1:-1"},
		{name: "large object malformed member", in: `{"apiVersion":"v1","pad":"` + long + `","x":[1,}}` + "\n" + ev2, lim: small, ids: "a2", errs: "malformed_json@1:-1"},

		// The fast path looks at a bounded prefix, whatever is buffered:
		// here it is not taken, so the list is read whole and is too deep.
		{name: "eventlist kind after long space", in: "{" + strings.Repeat(" ", 300) + `"kind":"EventList","items":[` + deep8 + `]}` + "\n" + ev1, lim: Limits{MaxDepth: 10}, ids: "a1", errs: "too_deep@1:-1"},
		{name: "eventlist kind first streams deep items", in: `{"kind":"EventList","items":[` + deep8 + `]}` + "\n" + ev1, lim: Limits{MaxDepth: 10}, ids: "d8,a1"},

		// A top-level number is decided on the first limit bytes.
		{name: "number filling the limit at end of input", in: strings.Repeat("1", 200), lim: small, errs: "too_large@1:-1"},
		{name: "number just under the limit", in: strings.Repeat("1", 199), lim: small, errs: "not_audit_event@1:-1"},
	}
	for _, tc := range tests {
		for _, mode := range decoderModes {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				got := decodeAll(t, newModeDecoder(t, mode, []byte(tc.in), Options{Name: "in", Limits: tc.lim}))
				if g := strings.Join(got.ids, ","); g != tc.ids {
					t.Errorf("ids = %q, want %q", g, tc.ids)
				}
				if g := strings.Join(got.errs, ","); g != tc.errs {
					t.Errorf("errs = %q, want %q", g, tc.errs)
				}
			})
		}
	}
}

func TestDecodeGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, ev1+"\n"+ev2+"\n")
	zw.Close()
	d, err := NewDecoder(&buf, Options{Name: "in"})
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, d)
	if g := strings.Join(got.ids, ","); g != "a1,a2" {
		t.Fatalf("ids = %q", g)
	}
}

func TestErrorMessage(t *testing.T) {
	d := NewBytesDecoder([]byte(ev1+"\n"+`{"kind":"Event","auditID":"x",]`+"\n"), Options{Name: "audit.log"})
	var ev Event
	if err := d.Next(&ev); err != nil {
		t.Fatal(err)
	}
	err := d.Next(&ev)
	want := `audit.log:2 (byte 180): malformed_json: invalid character ']' looking for beginning of object key string`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

// TestCaptured decodes the real kube-apiserver v1.33 captures: the webhook
// batches and the log backend saw the same 1306 events.
func TestCaptured(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "reference", "captured")
	batches, _ := filepath.Glob(filepath.Join(dir, "audit-eventlist-*.json"))
	if len(batches) == 0 {
		t.Skip("shared reference captures not found")
	}
	count := func(paths ...string) (int, map[string]bool) {
		seen := map[string]bool{}
		n := 0
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, _ := NewDecoder(f, Options{Name: p})
			var ev Event
			for {
				err := d.Next(&ev)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				n++
				seen[string(ev.Top(KeyAuditID))+string(ev.Top(KeyStage))] = true
			}
		}
		return n, seen
	}
	nb, sb := count(batches...)
	nl, sl := count(filepath.Join(dir, "audit-log.jsonl"))
	if nb != 1306 || nl != 1306 || len(sb) != 1306 || len(sl) != 1306 {
		t.Fatalf("batches %d (%d unique), log %d (%d unique), want 1306", nb, len(sb), nl, len(sl))
	}
}

// parseTimeTests are timestamps on both sides of what time.Parse accepts.
var parseTimeTests = []string{
	"2026-11-22T11:23:09.448288Z",
	"2026-11-22T11:23:09Z",
	"2026-11-22T12:23:09.5+01:00",
	"2026-11-22T10:23:09-01:00",
	"2026-11-22T11:23:09.123456789Z",
	"2026-11-22T11:23:09.1234567891234Z", // digits past the ninth are dropped
	"2026-11-22T11:23:09.999999999999Z",
	"2026-11-22T11:23:09,5Z",     // comma: time.Parse's general path
	"2026-11-22T11:23:09.Z",      // no fraction digits
	"2026-11-22T11:23:09.5",      // no zone
	"2026-11-22T11:23:09",        // no zone
	"2026-11-22t11:23:09Z",       // lower-case t
	"2026-11-22T11:23:09z",       // lower-case z
	"2026-11-22 11:23:09Z",       // space
	"2026-11-22T11:23:09+24:00",  // accepted by time.Parse
	"2026-11-22T11:23:09-23:60",  // accepted by time.Parse
	"2026-11-22T11:23:09+25:00",  // rejected
	"2026-11-22T11:23:09+23:61",  // rejected
	"2026-11-22T11:23:09+0100",   // no colon
	"2026-11-22T11:23:09+01",     // short offset
	"2026-11-22T11:23:09+01:00Z", // trailing text
	"2026-11-22T1:23:09Z",        // one-digit hour: accepted by time.Parse
	"2026-11-22T24:00:00Z",       // hour 24
	"2026-11-22T11:23:60Z",       // leap second
	"2026-02-29T00:00:00Z",       // not a leap year
	"2024-02-29T00:00:00Z",       // leap year
	"2000-02-29T00:00:00Z",       // leap year (400)
	"1900-02-29T00:00:00Z",       // not a leap year (100)
	"2026-02-31T00:00:00Z",
	"2026-13-01T00:00:00Z",
	"2026-00-10T00:00:00Z",
	"2026-11-00T00:00:00Z",
	"0000-01-01T00:00:00Z",        // outside int64 nanoseconds: wraps like UnixNano
	"0000-02-29T23:59:59.5-12:30", // year 0 is a leap year
	"9999-12-31T23:59:59.999999999+14:00",
	"1677-09-21T00:12:43.145224192Z",
	"2262-04-11T23:47:16.854775807Z",
	"1970-01-01T00:00:00Z",
	"1969-12-31T23:59:59.999999999Z",
	"+026-11-22T11:23:09Z",
	"2026-1-22T11:23:09Z",
	"2026-11-2T11:23:09Z",
	"２026-11-22T11:23:09Z",
	"",
	"2026-11-22T11:23:09.-5Z",
}

func TestParseTime(t *testing.T) {
	// A few values pinned down independently of time.Parse.
	pinned := []struct {
		in   string
		want int64 // Unix ns
	}{
		{"2026-11-22T11:23:09.448288Z", 1795346589448288000},
		{"2026-11-22T11:23:09Z", 1795346589000000000},
		{"2026-11-22T12:23:09.5+01:00", 1795346589500000000},
		{"2026-11-22T10:23:09-01:00", 1795346589000000000},
		{"1969-12-31T23:59:59.999999999Z", -1},
	}
	for _, tc := range pinned {
		if got, ok := ParseTime([]byte(tc.in)); !ok || got != tc.want {
			t.Errorf("ParseTime(%q) = %d, %v, want %d", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range parseTimeTests {
		got, ok := ParseTime([]byte(in))
		want, err := time.Parse(time.RFC3339Nano, in)
		if ok != (err == nil) || (ok && got != want.UnixNano()) {
			t.Errorf("ParseTime(%q) = %d, %v; time.Parse gives %d, %v", in, got, ok, want.UnixNano(), err)
		}
	}
}

func TestParseTimeCommonFormDoesNotAllocate(t *testing.T) {
	for _, in := range []string{"2026-11-22T11:23:09.448288Z", "2026-11-22T12:23:09.5+01:00"} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { ParseTime(b) }); n != 0 {
			t.Errorf("ParseTime(%q) allocates %v times", in, n)
		}
	}
}

func TestDuplicateMemberKeepsFirst(t *testing.T) {
	var ev Event
	if err := Parse(&ev, []byte(`{"verb":"get","verb":"delete","stageTimestamp":"2026-11-22T11:23:09Z"}`), 0); err != nil {
		t.Fatal(err)
	}
	if v := string(ev.Top(KeyVerb)); v != `"get"` {
		t.Errorf("verb = %s, want the first one", v)
	}
}

// TestManyBadLines checks that reporting an error per line costs one pass
// over the input for the line numbers, not one pass per error.
func TestManyBadLines(t *testing.T) {
	const n = 100000
	in := badLines(n)
	for _, mode := range decoderModes {
		t.Run(mode, func(t *testing.T) {
			d := newModeDecoder(t, mode, in, Options{Name: "in"})
			var ev Event
			line := 0
			for {
				err := d.Next(&ev)
				if err == io.EOF {
					break
				}
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("line %d: %v", line+1, err)
				}
				line++
				if de.Line != line || de.Offset != int64(line-1)*10 {
					t.Fatalf("error %d at line %d byte %d, want line %d byte %d", line, de.Line, de.Offset, line, (line-1)*10)
				}
			}
			if line != n {
				t.Fatalf("%d errors, want %d", line, n)
			}
			if max := 2 * int64(len(in)); d.nlWork > max {
				t.Errorf("scanned %d bytes for newlines, want at most %d", d.nlWork, max)
			}
		})
	}
}

// TestDecodeDoesNotWaitForMoreInput checks that an event is returned as soon
// as it is complete, on a live stream whose writer waits for it.
func TestDecodeDoesNotWaitForMoreInput(t *testing.T) {
	for _, first := range []string{ev1 + "\n", `{"kind":"EventList","items":[` + ev1 + `]}`, `{"kind":"Ev"}`} {
		synctest.Test(t, func(t *testing.T) {
			pr, pw := io.Pipe()
			decoded := make(chan struct{})
			go func() {
				io.WriteString(pw, first)
				<-decoded
				io.WriteString(pw, ev2+"\n")
				pw.Close()
			}()
			d, err := NewDecoder(pr, Options{Name: "pipe"})
			if err != nil {
				t.Fatal(err)
			}
			var ev Event
			err = d.Next(&ev)
			var de *Error
			if err != nil && !errors.As(err, &de) {
				t.Fatal(err)
			}
			close(decoded)
			if err := d.Next(&ev); err != nil || string(ev.Top(KeyAuditID)) != `"a2"` {
				t.Fatalf("second event: %v %s", err, ev.Raw)
			}
			if err := d.Next(&ev); err != io.EOF {
				t.Fatalf("end: %v", err)
			}
		})
	}
}
