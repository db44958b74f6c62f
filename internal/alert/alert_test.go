package alert

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in   string
		want Priority
		err  bool
	}{
		{"EMERGENCY", PriorityEmergency, false},
		{"alert", PriorityAlert, false},
		{"Critical", PriorityCritical, false},
		{"error", PriorityError, false},
		{"WARNING", PriorityWarning, false},
		{"notice", PriorityNotice, false},
		{"informational", PriorityInformational, false},
		{"INFO", PriorityInformational, false},
		{"debug", PriorityDebug, false},
		{"warn", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		got, err := ParsePriority(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParsePriority(%q) = %v, %v", tc.in, got, err)
		}
	}
	if PriorityInformational.String() != "Informational" || !PriorityError.AtLeast(PriorityWarning) || PriorityDebug.AtLeast(PriorityNotice) {
		t.Error("names or order wrong")
	}
}

func sample() *Alert {
	return &Alert{
		Time:     1795346589448288000, // 2026-11-22T11:23:09.448288Z
		Rule:     `Rule "q"`,
		Priority: PriorityWarning,
		Source:   "k8s_audit",
		Tags:     []string{"a", "k8s"},
		Message:  "user=al\"ice\x01 bad=\xff ok=é\nnext",
		Hostname: "host",
		Fields: []Field{
			{Key: "evt.time", Values: []string{"1795346589448288000"}, Int: true},
			{Key: "ka.user.groups", Values: []string{"g1", "g2"}, List: true},
			{Key: "ka.user.name", Values: []string{"al\"ice"}},
			{Key: "ka.verb", Missing: true},
		},
	}
}

func TestText(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	got := string(AppendText(nil, sample(), loc))
	want := `12:23:09.448288000: Warning user=al\"ice\u0001 bad=` + "\ufffd" + ` ok=é\nnext`
	if got != want {
		t.Errorf("text\n got %s\nwant %s", got, want)
	}
}

func TestJSON(t *testing.T) {
	got := AppendJSON(nil, sample(), time.UTC)
	want := `{"hostname":"host","output":"11:23:09.448288000: Warning user=al\"ice\u0001 bad=` + "\ufffd" +
		` ok=é\nnext","output_fields":{"evt.time":1795346589448288000,"ka.user.groups":["g1","g2"],` +
		`"ka.user.name":"al\"ice","ka.verb":null},"priority":"Warning","rule":"Rule \"q\"","source":"k8s_audit",` +
		`"tags":["a","k8s"],"time":"2026-11-22T11:23:09.448288000Z"}`
	if string(got) != want {
		t.Errorf("json\n got %s\nwant %s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
}

func TestInvalidUTF8(t *testing.T) {
	a := sample()
	a.Message = "a\xe2\x82b \xe2\x82\xac \xff\xfe c\xc3"
	got := string(AppendText(nil, a, time.UTC))
	want := "11:23:09.448288000: Warning a\ufffdb \u20ac \ufffd\ufffd c\ufffd"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
