// Package ids generates the random identifiers deskplane hands out: hex
// digit strings (EC2-style resource ids, grant ids, node and session ids),
// RFC 4122 version 4 UUIDs (KMS key ids, CloudTrail event ids) and strings
// over a caller's alphabet (WorkSpaces ids, IAM access key ids).
//
// Every generator reads crypto/rand, which never fails on the platforms Go
// supports (since Go 1.24 it crashes the program rather than return an
// error), so none of them returns an error.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// Base36 is the alphabet of WorkSpaces ids: digits, then lowercase letters.
const Base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// Hex returns n random lowercase hexadecimal digits, such as the 17 digits
// of an EC2 id (ami-0123456789abcdef0).
func Hex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// UUID returns a random (version 4, RFC 4122 variant) UUID in its
// lowercase 8-4-4-4-12 form.
func UUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	// Written into one array and copied out once: a request id and an
	// event id are made per API call.
	const digits = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = digits[c>>4], digits[c&15]
		j += 2
	}
	return string(s[:])
}

// FromAlphabet returns n random characters of alphabet, which must be
// ASCII and at most 256 characters long. Each character is a random byte
// reduced modulo len(alphabet), so an alphabet whose length does not
// divide 256 favours its first characters slightly: the ids are names, not
// keys.
func FromAlphabet(alphabet string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
