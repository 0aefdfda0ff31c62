package workspaces

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/deskplane/deskplane/internal/store"
)

// subnetsEC2 serves Subnet from a map and notes whether each read was
// marked as a shared read.
type subnetsEC2 struct {
	EC2
	cidrs  map[string]string
	shared map[string]bool
}

func (e *subnetsEC2) Subnet(ctx context.Context, _ store.Tx, _, _, id string) (*Subnet, error) {
	e.shared[id] = store.ReadsShared(ctx)
	c, ok := e.cidrs[id]
	if !ok {
		return nil, fmt.Errorf("subnet %s: %w", id, store.ErrNotFound)
	}
	return &Subnet{SubnetID: id, CIDR: c}, nil
}

func (e *subnetsEC2) SubnetsByID(ctx context.Context, _ store.Tx, _, _ string, ids []string) ([]*Subnet, error) {
	out := make([]*Subnet, len(ids))
	for i, id := range ids {
		e.shared[id] = store.ReadsShared(ctx)
		if c, ok := e.cidrs[id]; ok {
			out[i] = &Subnet{SubnetID: id, CIDR: c}
		}
	}
	return out, nil
}

// putsTx notes the keys written.
type putsTx struct {
	store.Tx
	puts []string
}

func (t *putsTx) Put(ctx context.Context, table, key string, v []byte) error {
	t.puts = append(t.puts, table+" "+key)
	return t.Tx.Put(ctx, table, key, v)
}

// TestPrefetchedAddresses: the subnets and counters read ahead by
// readSubnets and readCounters give the same addresses, errors and stored
// counters as reading each subnet when it is placed; a subnet read ahead
// but not placed in is not written back, and the subnets are read as
// shared reads.
func TestPrefetchedAddresses(t *testing.T) {
	ctx := context.Background()
	const acct, region = "111122223333", "us-east-1"
	order := []string{"subnet-a", "subnet-b", "subnet-a", "subnet-x"} // subnet-x does not exist
	run := func(prefetch bool) (addrs []string, errs []error, puts []string, counters map[string]int, shared map[string]bool) {
		db, update := openTestStore(t)
		ec2 := &subnetsEC2{cidrs: map[string]string{"subnet-a": "10.0.1.0/24", "subnet-b": "10.0.2.0/24", "subnet-c": "10.0.3.0/24"}, shared: map[string]bool{}}
		m := &Module{ec2: ec2}
		update(func(tx store.Tx) error { return putRec(ctx, tx, tIPAlloc, key(acct, region, "subnet-a"), 7) })
		update(func(tx store.Tx) error {
			ptx := &putsTx{Tx: tx}
			var a ipAllocator
			if prefetch {
				ids := []string{"subnet-a", "subnet-b", "subnet-c", "subnet-x"}
				if err := a.readSubnets(ctx, ptx, m, acct, region, ids); err != nil {
					return err
				}
				if err := a.readCounters(ctx, ptx, acct, region, ids); err != nil {
					return err
				}
			}
			for _, id := range order {
				ip, err := a.alloc(ctx, ptx, m, acct, region, id)
				addrs, errs = append(addrs, ip), append(errs, err)
			}
			if err := a.flush(ctx, ptx, acct, region); err != nil {
				return err
			}
			puts = ptx.puts
			return nil
		})
		counters = map[string]int{}
		if err := db.View(ctx, func(tx store.Tx) error {
			for _, id := range []string{"subnet-a", "subnet-b", "subnet-c"} {
				v, err := getRec[int](ctx, tx, tIPAlloc, key(acct, region, id))
				if err != nil {
					return err
				}
				if v != nil {
					counters[id] = *v
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(puts)
		return addrs, errs, puts, counters, ec2.shared
	}
	wantAddrs, wantErrs, wantPuts, wantCounters, _ := run(false)
	addrs, errs, puts, counters, shared := run(true)
	if !slices.Equal(addrs, wantAddrs) {
		t.Errorf("addresses %v; without prefetch %v", addrs, wantAddrs)
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors %v; without prefetch %v", errs, wantErrs)
	}
	for i := range errs {
		if fmt.Sprint(errs[i]) != fmt.Sprint(wantErrs[i]) {
			t.Errorf("error %d: %v; without prefetch %v", i, errs[i], wantErrs[i])
		}
	}
	if !errors.Is(errs[3], store.ErrNotFound) {
		t.Errorf("a missing subnet: %v; want store.ErrNotFound", errs[3])
	}
	if !slices.Equal(puts, wantPuts) {
		t.Errorf("writes %v; without prefetch %v", puts, wantPuts)
	}
	if fmt.Sprint(counters) != fmt.Sprint(wantCounters) || counters["subnet-a"] != 9 || counters["subnet-b"] != 1 {
		t.Errorf("counters %v; without prefetch %v, want subnet-a 9 and subnet-b 1", counters, wantCounters)
	}
	if !shared["subnet-a"] || !shared["subnet-b"] || !shared["subnet-c"] {
		t.Errorf("subnets read shared: %v; want all prefetched ones", shared)
	}
}
