package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashPassword(t *testing.T) {
	tests := []struct {
		stdin    string
		args     []string
		code     int
		errMatch string
	}{
		{"correct horse battery\n", nil, exitOK, ""},
		{"correct horse battery", nil, exitOK, ""},
		{"", nil, exitUsage, "no password"},
		{"short\n", nil, exitUsage, "too short"},
		{"correct horse battery\n", []string{"pw"}, exitUsage, "standard input"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(t.Context(), append([]string{"hash-password"}, tt.args...), strings.NewReader(tt.stdin), &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.errMatch) {
			t.Errorf("%q %v: code %d, stderr %q", tt.stdin, tt.args, code, errb.String())
			continue
		}
		if code == exitOK {
			h := strings.TrimSpace(out.String())
			if bcrypt.CompareHashAndPassword([]byte(h), []byte("correct horse battery")) != nil {
				t.Errorf("%q: the printed hash %q does not match", tt.stdin, h)
			}
			if strings.Contains(out.String()+errb.String(), "correct horse") {
				t.Error("the password was printed")
			}
		}
	}
}
