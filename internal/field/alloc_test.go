package field

import (
	"testing"

	"github.com/vigilsec/vigil/internal/audit"
)

// commonRefs are the fields the upstream rules evaluate on most events.
var commonRefs = []string{
	"ka.verb", "ka.user.name", "ka.target.resource", "jevt.value[/stage]", "ka.response.code",
	"ka.req.pod.containers.privileged", "ka.req.pod.volumes.hostpath",
}

// bindRefs binds every reference with testEnv.
func bindRefs(t testing.TB, refs []string) []Extractor {
	t.Helper()
	xs := make([]Extractor, len(refs))
	for i, ref := range refs {
		name, arg, hasArg := splitRef(ref)
		d, ok := Lookup(name)
		if !ok {
			t.Fatalf("unknown field %q", name)
		}
		x, err := d.Bind(arg, hasArg, testEnv)
		if err != nil {
			t.Fatalf("bind %s: %v", ref, err)
		}
		xs[i] = x
	}
	return xs
}

// corpus returns every trace event plus the synthetic test events.
func corpus(t testing.TB) []*audit.Event {
	t.Helper()
	var evs []*audit.Event
	for _, f := range traceFiles(t) {
		e, _ := loadTrace(t, f)
		evs = append(evs, e...)
	}
	for _, js := range []string{evReq, evPod, evBinding, evRole, evConfigMap, evService, evNotAudit} {
		evs = append(evs, parse(t, js))
	}
	return evs
}

// extractAll runs every extractor on every event, one Values per extractor
// as the engine keeps them.
func extractAll(evs []*audit.Event, xs []Extractor, outs []Values) int {
	n := 0
	for _, ev := range evs {
		for i, x := range xs {
			outs[i].Reset()
			if x(ev, &outs[i]) {
				n++
			}
		}
	}
	return n
}

// TestExtractAllocs checks that extraction allocates nothing once the
// Values have grown: for the fields the rules use most, and for every field.
func TestExtractAllocs(t *testing.T) {
	evs := corpus(t)
	for _, set := range []struct {
		name string
		refs []string
	}{
		{"common", commonRefs},
		{"all", allRefs()},
	} {
		t.Run(set.name, func(t *testing.T) {
			xs := bindRefs(t, set.refs)
			outs := make([]Values, len(xs))
			extractAll(evs, xs, outs) // warm up
			if n := testing.AllocsPerRun(20, func() { extractAll(evs, xs, outs) }); n != 0 {
				t.Errorf("%v allocations per pass, want 0", n)
				for i, x := range xs { // name the culprits
					one := []Extractor{x}
					if n := testing.AllocsPerRun(5, func() { extractAll(evs, one, outs[i:i+1]) }); n != 0 {
						t.Errorf("%s allocates %v per pass", set.refs[i], n)
					}
				}
			}
		})
	}
}

// BenchmarkExtract measures extraction over the trace corpus. The common
// case extracts the fields most rules test; "all" extracts every field.
func BenchmarkExtract(b *testing.B) {
	evs := corpus(b)
	for _, set := range []struct {
		name string
		refs []string
	}{
		{"common", commonRefs},
		{"all", allRefs()},
	} {
		b.Run(set.name, func(b *testing.B) {
			xs := bindRefs(b, set.refs)
			outs := make([]Values, len(xs))
			b.ReportAllocs()
			for b.Loop() {
				extractAll(evs, xs, outs)
			}
			perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(len(evs))
			b.ReportMetric(perEvent, "ns/event")
			b.ReportMetric(perEvent/float64(len(xs)), "ns/extraction")
		})
	}
}
