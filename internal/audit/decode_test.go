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
)

const ev1 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete","verb":"get","stageTimestamp":"2026-11-22T11:23:09.448288Z"}`
const ev2 = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a2","stage":"ResponseComplete","verb":"delete","stageTimestamp":"2026-11-22T11:23:10Z"}`
const item3 = `{"level":"Metadata","auditID":"a3","stage":"RequestReceived","verb":"list","stageTimestamp":"2026-11-22T11:23:11.5+01:00"}`

type result struct {
	ids  []string // auditIDs of decoded events
	errs []string // "reason@line:item"
}

func decodeAll(t *testing.T, r io.Reader, lim Limits) result {
	t.Helper()
	d, err := NewDecoder(r, Options{Name: "in", Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
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
	deep := `{"kind":"Event","auditID":"deep","stageTimestamp":"2026-11-22T11:23:10Z","x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`
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
		{name: "too large", in: big + "\n" + ev1, lim: Limits{MaxEventSize: 200}, ids: "a1", errs: "too_large@1:-1"},
		{name: "too large item", in: `{"kind":"EventList","items":[` + big + `,` + ev1 + `]}`, lim: Limits{MaxEventSize: 200}, ids: "a1", errs: "too_large@1:0"},
		{name: "too deep", in: deep + "\n" + ev1, lim: Limits{MaxDepth: 10}, ids: "a1", errs: "too_deep@1:-1"},
		{name: "garbage between events", in: ev1 + "\nnot json\n" + ev2, ids: "a1,a2", errs: "malformed_json@2:-1"},
		{name: "broken eventlist resyncs at next line", in: `{"kind":"EventList","items":[` + ev1 + ` x` + "\n" + ev2, ids: "a1,a2", errs: "malformed_json@1:1"},
	}
	for _, tc := range tests {
		for _, mode := range []string{"whole", "onebyte"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var r io.Reader = strings.NewReader(tc.in)
				if mode == "onebyte" {
					r = iotest.OneByteReader(r)
				}
				got := decodeAll(t, r, tc.lim)
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
	got := decodeAll(t, &buf, Limits{})
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

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // Unix ns; -1 = rejected
	}{
		{"2026-11-22T11:23:09.448288Z", 1795346589448288000},
		{"2026-11-22T11:23:09Z", 1795346589000000000},
		{"2026-11-22T12:23:09.5+01:00", 1795346589500000000},
		{"2026-11-22T10:23:09-01:00", 1795346589000000000},
		{"2026-11-22 11:23:09Z", -1},
		{"2026-02-31T00:00:00Z", -1},
		{"2026-11-22T11:23:60Z", -1},
		{"2026-11-22T11:23:09", -1},
		{"2026-11-22T11:23:09.Z", -1},
		{"2026-11-22T11:23:09+0100", -1},
	}
	for _, tc := range tests {
		got, ok := ParseTime([]byte(tc.in))
		if !ok {
			got = -1
		}
		if got != tc.want {
			t.Errorf("ParseTime(%q) = %d, want %d", tc.in, got, tc.want)
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
