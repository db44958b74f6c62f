package store

import (
	"errors"
	"slices"
	"testing"
)

func TestMigrationVersions(t *testing.T) {
	tests := []struct {
		names []string
		want  []int
		err   bool
	}{
		{[]string{"migrations/0001_alerts.sql", "migrations/0002_x.sql", "migrations/0009_events.sql"}, []int{1, 2, 9}, false},
		{nil, []int{}, false},
		{[]string{"migrations/0001_a.sql", "migrations/0001_b.sql"}, nil, true},
		{[]string{"migrations/0002_a.sql", "migrations/0001_b.sql"}, nil, true},
		{[]string{"migrations/alerts.sql"}, nil, true},
		{[]string{"migrations/0000_zero.sql"}, nil, true},
	}
	for _, tc := range tests {
		got, err := MigrationVersions(tc.names)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("MigrationVersions(%q) = %v, %v; want %v (error %v)", tc.names, got, err, tc.want, tc.err)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []Cursor{{Time: 5, ID: "a/b"}, {Time: -5, ID: "x", Oldest: true}, {Time: 1 << 62, ID: "^"}} {
		got, err := ParseCursor(c.Encode())
		if err != nil || got != c {
			t.Errorf("ParseCursor(Encode(%+v)) = %+v, %v", c, got, err)
		}
	}
	for _, tc := range []struct {
		q    Query
		want error
	}{
		{Query{Cursor: Cursor{Time: 1, ID: "a"}.Encode()}, nil},
		{Query{Cursor: Cursor{Time: 1, ID: "a"}.Encode(), Oldest: true}, ErrBadCursor},
		{Query{Cursor: Cursor{Time: 1, ID: "a", Oldest: true}.Encode()}, ErrBadCursor},
		{Query{Cursor: Cursor{Time: 1, ID: "a", Oldest: true}.Encode(), Oldest: true}, nil},
	} {
		if _, err := tc.q.After(); !errors.Is(err, tc.want) {
			t.Errorf("After(%+v) = %v, want %v", tc.q, err, tc.want)
		}
	}
}
