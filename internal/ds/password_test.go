package ds

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("Corr3ct-Horse!")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "Corr3ct") || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := hashPassword("Corr3ct-Horse!")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !verifyPassword(h, "Corr3ct-Horse!") || verifyPassword(h, "corr3ct-Horse!") || verifyPassword(h, "") {
		t.Error("verify")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=0,p=1$AA$AA", "$argon2i$v=19$m=19456,t=2,p=1$AA$AA", h[:len(h)-3] + "!!!"} {
		if verifyPassword(bad, "Corr3ct-Horse!") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	h, _ := hashPassword("Corr3ct-Horse!")
	for b.Loop() {
		verifyPassword(h, "Corr3ct-Horse!")
	}
}
