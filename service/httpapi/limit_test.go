package httpapi

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 7, 10, 9, 0, 0, 0, time.UTC)
	type step struct {
		at      time.Duration // after t0
		key     string
		allowed bool
		retry   time.Duration // when not allowed
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"within the limit", 3, []step{{0, "a", true, 0}, {time.Second, "a", true, 0}, {2 * time.Second, "a", true, 0}}},
		{"over it until the window ends", 2, []step{
			{0, "a", true, 0}, {10 * time.Second, "a", true, 0},
			{20 * time.Second, "a", false, 40 * time.Second},
			{59 * time.Second, "a", false, time.Second},
			{60 * time.Second, "a", true, 0}, // a new window
		}},
		{"keys count alone", 1, []step{{0, "a", true, 0}, {0, "b", true, 0}, {time.Second, "a", false, 59 * time.Second}, {time.Second, "c", true, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLimiter(tt.max, time.Minute)
			var now time.Time
			l.now = func() time.Time { return now }
			for i, s := range tt.steps {
				now = t0.Add(s.at)
				ok, retry := l.allow(s.key)
				if ok != s.allowed || retry != s.retry {
					t.Errorf("step %d (%s at +%s): allowed %v, retry %s; want %v, %s", i, s.key, s.at, ok, retry, s.allowed, s.retry)
				}
			}
		})
	}

	t.Run("failures counted apart from the check", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(2, time.Minute)
		now := t0
		l.now = func() time.Time { return now }
		for range 2 {
			if limited, _ := l.limited("a"); limited {
				t.Fatal("limited before the failures")
			}
			l.add("a")
		}
		if limited, retry := l.limited("a"); !limited || retry != time.Minute {
			t.Errorf("after two failures: limited %v, retry %s; want limited for the minute", limited, retry)
		}
		now = now.Add(time.Minute)
		if limited, _ := l.limited("a"); limited {
			t.Error("still limited a minute later")
		}
	})

	t.Run("memory is bounded", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(1, time.Minute)
		now := t0
		l.now = func() time.Time { return now }
		for i := range maxLimiterKeys {
			l.keys[strconv.Itoa(i)] = &window{start: now, n: 1}
		}
		if ok, _ := l.allow("new"); !ok || len(l.keys) != maxLimiterKeys {
			t.Errorf("a new key when full: allowed %v, %d keys; want it let through untracked", ok, len(l.keys))
		}
		now = now.Add(time.Minute)
		if ok, _ := l.allow("new"); !ok || len(l.keys) != 1 {
			t.Errorf("once the others expired: allowed %v, %d keys; want the expired swept", ok, len(l.keys))
		}
	})
}
