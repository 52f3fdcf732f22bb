package policy

import (
	"strings"
	"testing"
)

func TestRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		yaml        string
		want        Retention
		wantProblem string
	}{
		{"defaults", "", Retention{12, 24}, ""},
		{"set", "retention: {discussions_months: 6, audit_months: 36}\n", Retention{6, 36}, ""},
		{"audit alone", "retention: {audit_months: 60}\n", Retention{12, 60}, ""},
		{"too long", "retention: {discussions_months: 121, audit_months: 121}\n", Retention{}, "discussions_months: 121 is not from 1 to 120"},
		{"audit shorter", "retention: {discussions_months: 24, audit_months: 12}\n", Retention{}, "the audit of a discussion must outlive it"},
		{"misspelt", "retention: {discussion_months: 6}\n", Retention{}, "discussion_months"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseProfile(append(append([]byte{}, defaultProfileYAML...), []byte("\n"+c.yaml)...), c.name, nil)
			if c.wantProblem != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantProblem) {
					t.Fatalf("error %v, want one saying %q", err, c.wantProblem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Retention(); got != c.want {
				t.Errorf("retention %+v, want %+v", got, c.want)
			}
		})
	}
}
