package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
)

// The secret of the captured run: kubectl create secret generic demo-secret
// --from-literal=password=hunter2.
var secretStrings = []string{"hunter2", "aHVudGVyMg=="}

// sameSlice reports whether a and b are the same slice, not just equal.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func TestEvent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // "" means unchanged (the same slice)
		changed bool
	}{
		{name: "create with data and stringData",
			in:      `{"objectRef":{"resource":"secrets","namespace":"demo","name":"s","apiVersion":"v1"},"requestObject":{"kind":"Secret","data":{"password":"aHVudGVyMg==","user":"YQ=="},"stringData":{"token":"hunter2"},"type":"Opaque"},"responseObject":{"kind":"Secret","metadata":{"name":"s"},"data":{"password":"aHVudGVyMg=="}}}`,
			want:    `{"objectRef":{"resource":"secrets","namespace":"demo","name":"s","apiVersion":"v1"},"requestObject":{"kind":"Secret","data":{"password":"<redacted>","user":"<redacted>"},"stringData":{"token":"<redacted>"},"type":"Opaque"},"responseObject":{"kind":"Secret","metadata":{"name":"s"},"data":{"password":"<redacted>"}}}`,
			changed: true},
		{name: "list response",
			in:      `{"objectRef":{"resource":"secrets"},"responseObject":{"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"k":"MQ=="}},{"metadata":{"name":"b"}},{"data":null},7,{"data":{"x":"Mg==","y":"Mw=="}}]}}`,
			want:    `{"objectRef":{"resource":"secrets"},"responseObject":{"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"k":"<redacted>"}},{"metadata":{"name":"b"}},{"data":null},7,{"data":{"x":"<redacted>","y":"<redacted>"}}]}}`,
			changed: true},
		{name: "last-applied annotation",
			in:      `{"objectRef":{"resource":"secrets"},"requestObject":{"metadata":{"name":"s","annotations":{"a":"b","kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}\n"}},"data":{"password":"aHVudGVyMg=="}}}`,
			want:    `{"objectRef":{"resource":"secrets"},"requestObject":{"metadata":{"name":"s","annotations":{"a":"b","kubectl.kubernetes.io/last-applied-configuration":"<redacted>"}},"data":{"password":"<redacted>"}}}`,
			changed: true},
		{name: "merge patch",
			in:      `{"verb":"patch","objectRef":{"resource":"secrets","name":"s"},"requestObject":{"stringData":{"password":"hunter2"}}}`,
			want:    `{"verb":"patch","objectRef":{"resource":"secrets","name":"s"},"requestObject":{"stringData":{"password":"<redacted>"}}}`,
			changed: true},
		{name: "json patch",
			in:      `{"verb":"patch","objectRef":{"resource":"secrets","name":"s"},"requestObject":[{"op":"replace","path":"/data/password","value":"aHVudGVyMg=="},{"op":"add","path":"/stringData","value":{"a":"hunter2","b":{"x":1}}},{"op":"add","path":"/metadata/labels/x","value":"keep"},{"op":"test","value":"aHVudGVyMg==","path":"/data/password"},{"op":"remove","path":"/data/old"},{"op":"add","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration","value":"{}"},{"op":"replace","path":"","value":{"data":{"k":"hunter2"},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"x"}}}}]}`,
			want:    `{"verb":"patch","objectRef":{"resource":"secrets","name":"s"},"requestObject":[{"op":"replace","path":"/data/password","value":"<redacted>"},{"op":"add","path":"/stringData","value":{"a":"<redacted>","b":"<redacted>"}},{"op":"add","path":"/metadata/labels/x","value":"keep"},{"op":"test","value":"<redacted>","path":"/data/password"},{"op":"remove","path":"/data/old"},{"op":"add","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration","value":"<redacted>"},{"op":"replace","path":"","value":{"data":{"k":"<redacted>"},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"<redacted>"}}}}]}`,
			changed: true},
		{name: "patch body as a string",
			in:   `{"objectRef":{"resource":"secrets"},"requestObject":"stringData:\n  password: hunter2\n"}`,
			want: `{"objectRef":{"resource":"secrets"},"requestObject":"<redacted>"}`, changed: true},
		{name: "data not an object",
			in:   `{"objectRef":{"resource":"secrets"},"requestObject":{"data":["aHVudGVyMg=="],"stringData":"hunter2"}}`,
			want: `{"objectRef":{"resource":"secrets"},"requestObject":{"data":"<redacted>","stringData":"<redacted>"}}`, changed: true},
		{name: "pretty-printed with escapes and other api group",
			in:      "{\n \"objectRef\" : {\"apiGroup\":\"example.com\", \"resource\" : \"secr\\u0065ts\"},\n \"request\\u004fbject\" : {\"\\u0064ata\" : { \"k\" : \"v\" } } }\n",
			want:    "{\n \"objectRef\" : {\"apiGroup\":\"example.com\", \"resource\" : \"secr\\u0065ts\"},\n \"request\\u004fbject\" : {\"\\u0064ata\" : { \"k\" : \"<redacted>\" } } }\n",
			changed: true},
		{name: "duplicate members are all redacted",
			in:      `{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"1"},"data":{"b":"2"}},"requestObject":{"data":{"c":"3"}}}`,
			want:    `{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"<redacted>"},"data":{"b":"<redacted>"}},"requestObject":{"data":{"c":"<redacted>"}}}`,
			changed: true},
		{name: "escaped replacement is normalised",
			in:   `{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"\u003credacted>"}}}`,
			want: `{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"<redacted>"}}}`, changed: true},
		{name: "already redacted", in: `{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"<redacted>"}}}`},
		{name: "secret without data", in: `{"objectRef":{"resource":"secrets"},"requestObject":{"kind":"DeleteOptions"},"responseObject":{"kind":"Status","details":{"name":"s"}}}`},
		{name: "secret without objects", in: `{"objectRef":{"resource":"secrets"},"verb":"watch"}`},
		{name: "null objects and data", in: `{"objectRef":{"resource":"secrets"},"requestObject":null,"responseObject":{"data":null,"items":null}}`},
		{name: "configmap data kept", in: `{"objectRef":{"resource":"configmaps"},"requestObject":{"data":{"password":"hunter2"}}}`},
		{name: "no objectRef", in: `{"requestObject":{"data":{"password":"hunter2"}}}`},
		{name: "resource not a string", in: `{"objectRef":{"resource":["secrets"]},"requestObject":{"data":{"k":"v"}}}`},
		{name: "subresource-like resource", in: `{"objectRef":{"resource":"secretsx"},"requestObject":{"data":{"k":"v"}}}`},
		{name: "nested data is not secret data", in: `{"objectRef":{"resource":"secrets"},"requestObject":{"spec":{"data":{"k":"v"}},"items":[[{"data":{"k":"v"}}]]}}`},
		{name: "not an object", in: `["secrets"]`},
		{name: "empty", in: ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			got, changed := Event(in)
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if tc.want == "" {
				if !sameSlice(got, in) {
					t.Errorf("got a new slice %s, want the input back", got)
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if string(in) != tc.in {
				t.Errorf("input modified")
			}
			if !json.Valid(got) {
				t.Errorf("invalid JSON: %s", got)
			}
			if again, changed := Event(got); changed || !sameSlice(again, got) {
				t.Errorf("not idempotent: %s", again)
			}
		})
	}
}

// captured returns the captured audit batches: the three that hold the
// demo secret, committed under testdata, and when the shared reference
// corpus is present, all of its batches and its JSON-lines log.
func captured(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	add := func(pattern string, required bool) {
		paths, _ := filepath.Glob(pattern)
		if required && len(paths) == 0 {
			t.Fatalf("no files match %s", pattern)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = b
		}
	}
	add(filepath.Join("testdata", "captured", "audit-eventlist-*.json"), true)
	ref := filepath.Join("..", "..", "..", "shared", "reference", "captured")
	add(filepath.Join(ref, "audit-eventlist-*.json"), false)
	add(filepath.Join(ref, "audit-log.jsonl"), false)
	return files
}

// TestCaptured redacts every event of the real batches: afterwards the
// secret appears nowhere, the batch still decodes to the same number of
// events, non-secret events come back as the same slice, and each redacted
// event equals what a straightforward tree-based redaction gives.
func TestCaptured(t *testing.T) {
	var secretEvents, redacted int
	for name, data := range captured(t) {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(name)))+"/"+filepath.Base(name), func(t *testing.T) {
			var out []byte
			last, n := 0, 0
			d := audit.NewBytesDecoder(data, audit.Options{})
			for {
				var ev audit.Event
				err := d.Next(&ev)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				got, changed := Event(ev.Raw)
				if !isSecretEvent(t, ev.Raw) {
					if changed || !sameSlice(got, ev.Raw) {
						t.Errorf("event at %d: non-secret event changed", ev.Offset)
					}
				} else {
					secretEvents++
					if changed {
						redacted++
					}
					if want := reference(t, ev.Raw); !reflect.DeepEqual(decode(t, got), want) {
						t.Errorf("event at %d differs from the reference redaction:\n got %s", ev.Offset, got)
					}
				}
				out = append(out, data[last:ev.Offset]...)
				out = append(out, got...)
				last = int(ev.Offset) + len(ev.Raw)
			}
			out = append(out, data[last:]...)
			for _, s := range secretStrings {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("%q still in the redacted batch", s)
				}
			}
			d = audit.NewBytesDecoder(out, audit.Options{})
			m := 0
			for {
				var ev audit.Event
				err := d.Next(&ev)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("redacted batch: %v", err)
				}
				m++
			}
			if m != n {
				t.Errorf("redacted batch has %d events, want %d", m, n)
			}
		})
	}
	if secretEvents == 0 || redacted == 0 {
		t.Errorf("%d secret events, %d redacted: the corpus should hold some of each", secretEvents, redacted)
	}
	t.Logf("%d secret events, %d redacted", secretEvents, redacted)
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	return v
}

func isSecretEvent(t testing.TB, raw []byte) bool {
	ev, _ := decode(t, raw).(map[string]any)
	ref, _ := ev["objectRef"].(map[string]any)
	return ref["resource"] == "secrets"
}

// reference is the redaction rule of the package doc, applied to a decoded
// tree (without the JSON patch cases, which the captured run has none of).
func reference(t testing.TB, raw []byte) any {
	ev := decode(t, raw).(map[string]any)
	for _, k := range []string{"requestObject", "responseObject"} {
		switch o := ev[k].(type) {
		case map[string]any:
			refObject(o)
			if items, ok := o["items"].([]any); ok {
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						refObject(m)
					}
				}
			}
		case string:
			ev[k] = Redacted
		}
	}
	return ev
}

func refObject(o map[string]any) {
	for _, k := range []string{"data", "stringData"} {
		switch d := o[k].(type) {
		case nil:
		case map[string]any:
			for kk := range d {
				d[kk] = Redacted
			}
		default:
			o[k] = Redacted
		}
	}
	if md, ok := o["metadata"].(map[string]any); ok {
		if an, ok := md["annotations"].(map[string]any); ok {
			if _, ok := an[lastApplied]; ok {
				an[lastApplied] = Redacted
			}
		}
	}
}
