package server_test

import (
	"os"
	"testing"
)

// TestMain keeps the credential chain away from any real instance metadata
// service, once for the whole package: a t.Setenv in each test would forbid
// t.Parallel, and the end-to-end tests run in parallel.
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}
