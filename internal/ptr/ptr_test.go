package ptr

import "testing"

func TestToAndDeref(t *testing.T) {
	p := To(42)
	if *p != 42 {
		t.Fatalf("To(42) points at %d", *p)
	}
	v := 1
	q := To(v)
	v = 2
	if *q != 1 {
		t.Fatalf("To shares its argument's storage: %d", *q)
	}
	if got := Deref(To("x")); got != "x" {
		t.Fatalf("Deref(To(x)) = %q", got)
	}
	if got := Deref[string](nil); got != "" {
		t.Fatalf("Deref(nil string) = %q", got)
	}
	if got := Deref[int](nil); got != 0 {
		t.Fatalf("Deref(nil int) = %d", got)
	}
}
