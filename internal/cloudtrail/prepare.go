package cloudtrail

import (
	"sync"

	"github.com/deskplane/deskplane/internal/gateway"
)

// prepared is what Record builds from an event on the request's goroutine,
// where the event's fields, strings and input are still in that core's
// cache: its request parameters (as appendParams renders them) and, for an
// event that can be built from a shape, its shape's key (shapeKey). The
// writer, on another core, then reads these bytes, one buffer, instead of
// walking the event's input and strings cold. It is the event's
// (gateway.Event.Prepared) until the writer has built its rows, then goes
// back to preparedPool.
type prepared struct {
	b      []byte // the parameters, then the key
	params int    // the parameters' length; -1: none (JSON null)
	shaped bool   // b[params:] is the shape's key
}

var preparedPool = sync.Pool{New: func() any { return &prepared{b: make([]byte, 0, 512)} }}

// maxPrepared is the largest buffer kept in preparedPool.
const maxPrepared = 4 << 10

// prepare sets e.Prepared. A panic while rendering the parameters (a bug)
// leaves it unset: the writer then builds the event itself, as it would
// have, and recovers there (buildSafe).
func prepare(e *gateway.Event) {
	p := preparedPool.Get().(*prepared)
	ok := false
	defer func() {
		if !ok {
			recover()
			release(p)
		}
	}()
	b, has := appendParams(p.b[:0], e.Request)
	p.params = -1
	var reqParams []byte
	if has {
		p.params = len(b)
		reqParams = b
	}
	b, p.shaped = shapeKey(b, e, reqParams)
	p.b = b
	e.Prepared = p
	ok = true
}

// preparedOf returns e's parameters and shape key, as the writer would
// render them, from e.Prepared when Record set it (ok false otherwise).
func preparedOf(e *gateway.Event) (reqParams, key []byte, shaped, ok bool) {
	p, _ := e.Prepared.(*prepared)
	if p == nil {
		return nil, nil, false, false
	}
	if p.params < 0 {
		return nil, p.b, p.shaped, true
	}
	return p.b[:p.params:p.params], p.b[p.params:], p.shaped, true
}

// releasePrepared hands e's prepared buffer back once its rows are built
// (they hold copies of its bytes).
func releasePrepared(e *gateway.Event) {
	if p, _ := e.Prepared.(*prepared); p != nil {
		e.Prepared = nil
		release(p)
	}
}

func release(p *prepared) {
	if cap(p.b) > maxPrepared {
		return
	}
	p.b = p.b[:0]
	preparedPool.Put(p)
}
