package calendar

import (
	"sync"
	"time"
)

// SourceCache keeps the sources built from specs for a while: a CalDAV
// source remembers the calendars it discovered (RFC 6764, RFC 4791
// §6.2.1), saving three round trips per query. Sources are rebuilt after
// TTL, so a rotated credential file is read again. Safe for concurrent use.
type SourceCache struct {
	// TTL is how long a source is kept; 10 minutes if zero.
	TTL time.Duration

	mu      sync.Mutex
	sources map[SourceSpec]cached
}

type cached struct {
	src Source
	at  time.Time
}

// Get returns the source for spec, building it with NewSource when there
// is none or it is older than TTL.
func (c *SourceCache) Get(spec SourceSpec, getenv func(string) string, opts SourceOptions) (Source, error) {
	ttl := c.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	c.mu.Lock()
	if s, ok := c.sources[spec]; ok && time.Since(s.at) < ttl {
		c.mu.Unlock()
		return s.src, nil
	}
	c.mu.Unlock()
	src, err := NewSource(spec, getenv, opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sources == nil {
		c.sources = map[SourceSpec]cached{}
	}
	// Drop what has lapsed, so the cache does not grow with every URL
	// ever asked for.
	for k, s := range c.sources {
		if time.Since(s.at) >= ttl {
			delete(c.sources, k)
		}
	}
	c.sources[spec] = cached{src: src, at: time.Now()}
	return src, nil
}
