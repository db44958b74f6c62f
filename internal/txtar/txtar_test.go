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

func TestMarkersAndCRLF(t *testing.T) {
	a := Parse("desc\r\n-- overlay.yaml -- \r\nx\r\n--   --\r\n-- want --\r\n")
	if !a.CRLF || len(a.Files) != 2 || a.Files[0].Name != "overlay.yaml" || a.Files[0].Data != "x\r\n--   --\r\n" {
		t.Fatalf("parsed %+v", a)
	}
	a.Set("want", "r\r\n")
	if got := a.Format(); got != "desc\r\n-- overlay.yaml --\r\nx\r\n--   --\r\n-- want --\r\nr\r\n" {
		t.Errorf("format = %q", got)
	}
}
