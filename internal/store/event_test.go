package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// referenceKeys is scanEvent by way of encoding/json, the specification
// the scanner is held to.
func referenceKeys(b []byte) (eventKeys, bool) {
	var top any
	if err := json.Unmarshal(b, &top); err != nil {
		return eventKeys{}, false
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return eventKeys{}, false
	}
	str := func(m any, key string) string {
		o, _ := m.(map[string]any)
		s, _ := o[key].(string)
		return s
	}
	k := eventKeys{
		user:      str(obj["user"], "username"),
		namespace: str(obj["objectRef"], "namespace"),
		resource:  str(obj["objectRef"], "resource"),
		verb:      str(obj, "verb"),
	}
	ips, _ := obj["sourceIPs"].([]any)
	for _, ip := range ips {
		if s, ok := ip.(string); ok {
			k.sourceIPs = append(k.sourceIPs, s)
		}
	}
	return k, true
}

var scanTests = []struct {
	name string
	in   string
	want eventKeys
	ok   bool
}{
	{"event", `{"kind":"Event","verb":"get","user":{"username":"alice","groups":["a"]},"sourceIPs":["10.0.0.1","::1"],"objectRef":{"resource":"secrets","namespace":"prod","name":"x"},"requestObject":{"a":[1,2,{"b":null}],"c":-1.5e3}}`,
		eventKeys{"alice", "prod", "get", "secrets", []string{"10.0.0.1", "::1"}}, true},
	{"whitespace", " {\n \"verb\" : \"list\" ,\t\"user\" : { \"username\" : \"bob\" } }\n", eventKeys{user: "bob", verb: "list"}, true},
	{"escapes", `{"user":{"username":"sys\u0074em:\"x\"\\y"},"ver\u0062":"get"}`, eventKeys{user: `system:"x"\y`, verb: "get"}, true},
	{"invalid UTF-8 becomes U+FFFD", "{\"verb\":\"g\xffet\"}", eventKeys{verb: "g\uFFFDet"}, true},
	{"last duplicate wins", `{"verb":"get","verb":"list"}`, eventKeys{verb: "list"}, true},
	{"nested keys do not count", `{"requestObject":{"verb":"x","user":{"username":"y"}}}`, eventKeys{}, true},
	{"wrong types read as empty", `{"verb":1,"user":"alice","objectRef":[1],"sourceIPs":"10.0.0.1"}`, eventKeys{}, true},
	{"non-strings among source IPs", `{"sourceIPs":["10.0.0.1",7,null,"10.0.0.2"]}`, eventKeys{sourceIPs: []string{"10.0.0.1", "10.0.0.2"}}, true},
	{"nulls", `{"verb":null,"user":null,"sourceIPs":null}`, eventKeys{}, true},
	{"empty object", `{}`, eventKeys{}, true},
	{"not an object", `[{"verb":"get"}]`, eventKeys{}, false},
	{"null", `null`, eventKeys{}, false},
	{"truncated", `{"verb":"get","user":{"username":"al`, eventKeys{}, false},
	{"trailing garbage", `{"verb":"get"}x`, eventKeys{}, false},
	{"bad literal", `{"a":tru,"verb":"get"}`, eventKeys{}, false},
	{"bad number", `{"a":01,"verb":"get"}`, eventKeys{}, false},
	{"control character in a string", "{\"verb\":\"g\net\"}", eventKeys{}, false},
	{"bad escape", `{"verb":"\x"}`, eventKeys{}, false},
	{"missing colon", `{"verb" "get"}`, eventKeys{}, false},
	{"trailing comma", `{"verb":"get",}`, eventKeys{}, false},
	{"too deep", `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, eventKeys{}, false},
}

func TestScanEvent(t *testing.T) {
	for _, tc := range scanTests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanEvent([]byte(tc.in))
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("scanEvent = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
			if tc.name == "too deep" {
				return // encoding/json's limit counts the top level too
			}
			if ref, rok := referenceKeys([]byte(tc.in)); rok != tc.ok || !reflect.DeepEqual(ref, tc.want) {
				t.Errorf("reference = %+v, %v; the table is wrong", ref, rok)
			}
		})
	}
}

func FuzzScanEvent(f *testing.F) {
	for _, tc := range scanTests {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanEvent(b)
		want, wok := referenceKeys(b)
		if ok != wok || !reflect.DeepEqual(got, want) {
			t.Errorf("scanEvent(%q) = %+v, %v; encoding/json reads %+v, %v", b, got, ok, want, wok)
		}
	})
}

func BenchmarkScanEvent(b *testing.B) {
	ev := []byte(scanTests[0].in)
	b.ReportAllocs()
	for b.Loop() {
		scanEvent(ev)
	}
}
