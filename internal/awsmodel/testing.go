package awsmodel

import (
	"errors"
	"os"
	"testing"
)

// EnvRequire is the environment variable that, when set to a non-empty
// value (as on CI, where botocore is installed), makes [LoadOrSkip] fail
// instead of skip when botocore is absent.
const EnvRequire = "DESKPLANE_REQUIRE_BOTOCORE"

// LoadOrSkip loads a service model for a test. When botocore is not
// installed it skips the test (or fails it if $DESKPLANE_REQUIRE_BOTOCORE
// is set); any other load error fails the test.
func LoadOrSkip(tb testing.TB, service string) *Model {
	tb.Helper()
	m, err := Load(service)
	if err == nil {
		return m
	}
	if errors.Is(err, ErrNoBotocore) && os.Getenv(EnvRequire) == "" {
		tb.Skipf("botocore models unavailable (set $%s or install botocore): %v", EnvDataDir, err)
	}
	tb.Fatalf("awsmodel: %v", err)
	return nil
}
