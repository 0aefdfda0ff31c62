package broker

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// pacer keeps the broker's calls under a rate per operation (the way the
// service counts them: per account and operation), waiting before each
// attempt, retries included, rather than being throttled.
type pacer struct {
	rps float64
	mu  sync.Mutex
	ops map[string]*rate.Limiter
}

func newPacer(rps float64) *pacer { return &pacer{rps: rps, ops: map[string]*rate.Limiter{}} }

func (p *pacer) limiter(op string) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.ops[op]
	if l == nil {
		burst := int(p.rps)
		if burst < 1 {
			burst = 1
		}
		l = rate.NewLimiter(rate.Limit(p.rps), burst)
		p.ops[op] = l
	}
	return l
}

// install adds the pacing middleware after Retry, so every attempt waits
// for its turn.
func (p *pacer) install(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("deskplaneBrokerPace",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			if err := p.limiter(op).Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}
