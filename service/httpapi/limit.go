package httpapi

import (
	"sync"
	"time"
)

// maxLimiterKeys bounds a limiter's memory: a flood from many addresses
// cannot grow it without end. Past it, expired windows are swept; if every
// key is still live, new keys go uncounted until some expire (the limiter
// fails open rather than refusing everyone).
const maxLimiterKeys = 100_000

// limiter counts events per key (a client address, an RSVP link) in
// windows that start at a key's first event: once a key has had max events
// in its window it is limited until the window ends.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, per time.Duration) *limiter {
	return &limiter{max: max, window: per, now: time.Now, keys: map[string]*window{}}
}

// limited reports whether key has used up its window, and if so how long
// until it may try again. It counts nothing.
func (l *limiter) limited(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.keys[key]
	if w == nil || now.Sub(w.start) >= l.window {
		return false, 0
	}
	if w.n >= l.max {
		return true, w.start.Add(l.window).Sub(now)
	}
	return false, 0
}

// add counts an event for key.
func (l *limiter) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(key, l.now())
}

// allow counts an event for key and reports whether it is within the
// limit, and if not how long until the key may try again.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.count(key, now)
	if w != nil && w.n > l.max {
		return false, w.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// count adds one to key's window, starting a new one if it has none or
// its window is over. It returns nil when the key cannot be tracked.
func (l *limiter) count(key string, now time.Time) *window {
	w := l.keys[key]
	if w == nil || now.Sub(w.start) >= l.window {
		if w == nil && len(l.keys) >= maxLimiterKeys {
			for k, o := range l.keys {
				if now.Sub(o.start) >= l.window {
					delete(l.keys, k)
				}
			}
			if len(l.keys) >= maxLimiterKeys {
				return nil
			}
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	w.n++
	return w
}
