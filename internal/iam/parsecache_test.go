package iam

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deskplane/deskplane/internal/iam/policy"
)

// bigDoc returns a distinct, valid identity policy of about size bytes.
func bigDoc(i, size int) string {
	var res []string
	for n, l := 0, 0; l < size; n++ {
		r := fmt.Sprintf(`"arn:aws:s3:::b-%d-%d/*"`, i, n)
		res = append(res, r)
		l += len(r) + 1
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[` + strings.Join(res, ",") + `]}]}`
}

// smallCache gives a an LRU of 64 KiB of documents (the test's scale).
func smallCache(a *Authorizer) { a.parsed = newParseCache(ParseCacheEntries, 64<<10) }

// TestParseCacheBounded: the parsed-policy cache keeps a bounded number of
// documents and of bytes, however many distinct documents go through it.
func TestParseCacheBounded(t *testing.T) {
	a := NewAuthorizer(nil)
	for i := 0; i < ParseCacheEntries+500; i++ {
		if _, err := a.Parse(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}`, i), policy.Identity); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := a.ParseCacheSize(); n != ParseCacheEntries {
		t.Fatalf("%d entries cached, limit %d", n, ParseCacheEntries)
	}
	smallCache(a)
	for i := 0; i < 100; i++ {
		if _, err := a.Parse(bigDoc(i, 4000), policy.Identity); err != nil {
			t.Fatal(err)
		}
	}
	if n, b := a.ParseCacheSize(); b > 64<<10 || n < 10 {
		t.Fatalf("%d documents, %d bytes of documents cached, limit %d", n, b, 64<<10)
	}
}

// TestParseCacheLRU: the cache evicts the least recently used document, so
// a document in steady use stays parsed while a stream of others passes.
func TestParseCacheLRU(t *testing.T) {
	a := NewAuthorizer(nil)
	smallCache(a)
	hot, cold := bigDoc(-1, 1000), bigDoc(-2, 1000)
	hp, err := a.Parse(hot, policy.Identity)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := a.Parse(cold, policy.Identity)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := a.Parse(bigDoc(i, 4000), policy.Identity); err != nil {
			t.Fatal(err)
		}
		if p, _ := a.Parse(hot, policy.Identity); p != hp {
			t.Fatalf("the document in use was evicted after %d others", i+1)
		}
	}
	if p, _ := a.Parse(cold, policy.Identity); p == cp {
		t.Fatal("the unused document was never evicted")
	}
	// A document larger than the whole budget is parsed but not kept.
	huge := bigDoc(-3, 70<<10)
	p1, err := a.Parse(huge, policy.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := a.Parse(huge, policy.Identity); p2 == p1 {
		t.Fatal("a document over the byte budget was cached")
	}
	if p, _ := a.Parse(hot, policy.Identity); p != hp {
		t.Fatal("an uncacheable document evicted the others")
	}
	// The same text parsed as another kind is another entry.
	if p, err := a.Parse(hot, policy.Session); err != nil || p == hp {
		t.Fatalf("session parse of an identity document: %v, same=%v", err, p == hp)
	}
}
