package txtar

import "testing"

func TestRoundTrip(t *testing.T) {
	in := "comment line\n-- a.yaml --\nx: 1\n-- events.jsonl --\n{}\n{}\n-- want --\n"
	a := Parse(in)
	if a.Comment != "comment line\n" || len(a.Files) != 3 {
		t.Fatalf("parsed %+v", a)
	}
	if d, _ := a.Get("events.jsonl"); d != "{}\n{}\n" {
		t.Errorf("events = %q", d)
	}
	if got := a.Format(); got != in {
		t.Errorf("format = %q", got)
	}
	a.Set("want", "r1\n")
	a.Set("new", "n")
	if got := a.Format(); got != "comment line\n-- a.yaml --\nx: 1\n-- events.jsonl --\n{}\n{}\n-- want --\nr1\n-- new --\nn\n" {
		t.Errorf("after Set: %q", got)
	}
	if a := Parse("--  --\n-- x\nplain"); len(a.Files) != 0 || a.Comment != "--  --\n-- x\nplain" {
		t.Errorf("non-markers: %+v", a)
	}
}
