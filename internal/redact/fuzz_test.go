package redact

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilsec/vigil/internal/rawjson"
)

// FuzzEvent checks that Event never panics, keeps valid JSON valid, leaves
// the input alone, returns the input itself when nothing changed, and is
// idempotent.
func FuzzEvent(f *testing.F) {
	f.Add([]byte(`{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"1"},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"x"}}}}`))
	f.Add([]byte(`{"objectRef":{"resource":"secrets"},"responseObject":{"items":[{"stringData":{"a":"1"}},{"data":[1]}]}}`))
	f.Add([]byte(`{"objectRef":{"resource":"secrets"},"requestObject":[{"op":"add","path":"/data","value":{"k":"v"}},{"path":"","value":{"data":{"k":1}}}]}`))
	f.Add([]byte(`{"objectRef":{"resource":"secr\u0065ts"},"requestObject":"x","responseObject":{"data":{"a":"\u003credacted>"}}}`))
	f.Add([]byte(`{"objectRef":{"resource":"secrets"},"requestObject":{"data":{"a":"1"`)) // truncated
	f.Add([]byte(`{"objectRef":{"resource":"secrets"},"responseObject":{"kind":"Table","rows":[{"cells":["a"],"object":{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},"data":{"k":"v"}}},{"object":null}]}}`))
	f.Add([]byte(`{"objectRef":{"resource":"serviceaccounts","subresource":"token"},"requestObject":{"status":{"token":""}},"responseObject":{"kind":"TokenRequest","status":{"token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","expirationTimestamp":"2026-11-22T12:23:07Z"}}}`))
	f.Add([]byte(`{"objectRef":{"resource":"tokenreviews","apiGroup":"authentication.k8s.io"},"requestObject":{"spec":{"token":"abc"}},"responseObject":{"spec":{"token":"abc"},"status":{"authenticated":true}}}`))
	f.Add([]byte(`{"objectRef":{"resource":"serviceaccounts","subresource":"token"},"responseObject":{"status":{"token":"`)) // truncated
	paths, _ := filepath.Glob(filepath.Join("testdata", "captured", "*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		items, _ := rawjson.Get(b, "items")
		e := rawjson.ElementsOf(items)
		for {
			ev, ok := e.Next()
			if !ok {
				break
			}
			if bytes.Contains(ev, []byte(`"secrets"`)) || bytes.Contains(ev, []byte(`"subresource":"token"`)) {
				f.Add(ev)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, changed := Event(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if !changed && !sameSlice(out, in) {
			t.Fatal("unchanged but a new slice")
		}
		if changed && bytes.Equal(out, in) {
			t.Fatal("changed but equal")
		}
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("valid input, invalid output:\n in %s\nout %s", in, out)
		}
		again, changed2 := Event(out)
		if changed2 || !sameSlice(again, out) {
			t.Fatalf("not idempotent:\n%s\n%s", out, again)
		}
	})
}

// nonSecret is a captured pod create: the common case, which must cost
// next to nothing.
const nonSecret = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"5d9b9c3a-0c3e-4b43-9a7c-4b0e0b6e8a11","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/demo/pods?fieldManager=kubectl-run","verb":"create","user":{"username":"admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0","objectRef":{"resource":"pods","namespace":"demo","name":"demo-pod","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"demo-pod","labels":{"run":"demo-pod"}},"spec":{"containers":[{"name":"demo-pod","image":"registry.k8s.io/pause:3.10"}]}},"requestReceivedTimestamp":"2026-11-22T11:23:10.100000Z","stageTimestamp":"2026-11-22T11:23:10.120000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`

func BenchmarkEvent(b *testing.B) {
	secret := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/demo/secrets","verb":"create","user":{"username":"admin"},"objectRef":{"resource":"secrets","namespace":"demo","name":"demo-secret","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"demo-secret","namespace":"demo"},"data":{"password":"aHVudGVyMg=="},"type":"Opaque"},"responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"demo-secret","namespace":"demo","uid":"9a7de65c"},"data":{"password":"aHVudGVyMg=="},"type":"Opaque"},"requestReceivedTimestamp":"2026-11-22T11:23:10.100000Z","stageTimestamp":"2026-11-22T11:23:10.120000Z"}`
	for _, bc := range []struct{ name, ev string }{{"non-secret", nonSecret}, {"secret", secret}} {
		raw := []byte(bc.ev)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				Event(raw)
			}
		})
	}
}

// TestNonSecretAllocs pins the cheap path: no allocation.
func TestNonSecretAllocs(t *testing.T) {
	raw := []byte(nonSecret)
	if n := testing.AllocsPerRun(100, func() { Event(raw) }); n != 0 {
		t.Errorf("%v allocations per non-secret event, want 0", n)
	}
}
