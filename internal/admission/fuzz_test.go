package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics and that every event it
// returns is compact, valid JSON that the audit decoder accepts, and that
// the response built for the review is valid JSON too.
func FuzzDecode(f *testing.F) {
	for n := 1; n <= 19; n++ {
		b, err := os.ReadFile(filepath.Join("testdata", "captured", fmt.Sprintf("admission-review-%02d.json", n)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"\u0031","operation":"CONNECT",` +
		`"resource":{"version":"v1","resource":"services"},"subResource":"proxy","name":"a/b","userInfo":{"username":"\ud800"},` +
		`"object":{"path":"/x//y","ports":[1,[2],{"a":3},"4",null,true,false]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ev, err := Decode(body, received, Options{MaxDepth: 20})
		if err != nil {
			if r != nil || ev != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		decodeEvent(t, ev)
		resp := Response(r, false, 400, string(body), []string{r.Name, r.User})
		if !json.Valid(resp) {
			t.Fatalf("invalid response %s", resp)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, resp); err != nil || !bytes.Equal(c.Bytes(), resp) {
			t.Fatalf("response not compact: %s", resp)
		}
	})
}

// BenchmarkDecode measures Decode on captured reviews: a pod create (the
// largest create), an exec and a deletecollection delete.
func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{8, 10, 13} {
		body, err := os.ReadFile(filepath.Join("testdata", "captured", fmt.Sprintf("admission-review-%02d.json", n)))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("review-%02d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, _, err := Decode(body, received, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResponse measures building a refusal with one warning.
func BenchmarkResponse(b *testing.B) {
	r := &Review{APIVersion: V1, UID: "705ab4f5-6393-11e8-b7cc-42010a800002"}
	b.ReportAllocs()
	for b.Loop() {
		Response(r, false, 403, "refused by rule Create Privileged Pod", []string{"w"})
	}
}
