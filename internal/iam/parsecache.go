package iam

import (
	"container/list"
	"sync"

	"github.com/deskplane/deskplane/internal/iam/policy"
)

// Bounds of the parsed-policy cache. Documents come from callers (session
// policies, SimulatePrincipalPolicy inputs, trust policies being validated),
// so the cache is an LRU bounded both in entries and in document bytes.
const (
	ParseCacheEntries = 4096
	ParseCacheBytes   = 8 << 20 // total length of the cached documents' text
	parseEntryCost    = 64      // bytes charged per entry besides its text
)

type parseKey struct {
	kind policy.Kind
	doc  string
}

type parseEntry struct {
	key  parseKey
	p    *policy.Policy
	cost int
}

// parseCache is a least-recently-used cache of parsed policy documents.
type parseCache struct {
	maxEntries, maxBytes int

	mu    sync.Mutex
	bytes int
	order *list.List // front: most recently used; values are *parseEntry
	items map[parseKey]*list.Element
}

func newParseCache(maxEntries, maxBytes int) *parseCache {
	return &parseCache{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), items: map[parseKey]*list.Element{}}
}

func (c *parseCache) get(k parseKey) *policy.Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.items[k]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*parseEntry).p
}

func (c *parseCache) put(k parseKey, p *policy.Policy) {
	cost := len(k.doc) + parseEntryCost
	if cost > c.maxBytes {
		return // larger than the whole budget: parse it every time
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.items[k]; el != nil {
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&parseEntry{key: k, p: p, cost: cost})
	c.bytes += cost
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.order.Back()
		e := el.Value.(*parseEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.bytes -= e.cost
	}
}

// size returns the number of cached documents and their total text length.
func (c *parseCache) size() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes - c.order.Len()*parseEntryCost
}
