package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "gw.json")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	for _, c := range []struct{ cfg, want string }{
		{`{"broker_url":"http://b","secret":"s"}`, "id is required"},
		{`{"id":"g","secret":"s"}`, "broker_url is required"},
		{`{"id":"g","broker_url":"http://b"}`, "secret"},
		{`{"id":"g","broker_url":"http://b","secret":"s","address_map":"nat"}`, "address_map"},
		{`{"id":"g","broker_url":"http://b","secret":"s","colour":"red"}`, "unknown field"},
	} {
		var out, errb bytes.Buffer
		if code := Main([]string{"--config", write(c.cfg)}, &out, &errb, MainOptions{}); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%s: exit %d, %q (want %q)", c.cfg, code, errb.String(), c.want)
		}
	}
	var out, errb bytes.Buffer
	if code := Main(nil, &out, &errb, MainOptions{}); code != 2 || !strings.Contains(errb.String(), "--config is required") {
		t.Errorf("no config: %d %q", code, errb.String())
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("../../../examples/broker-gateway.json")
	if err != nil || c.ID != "gw-1" || c.AddressMap != "loopback" {
		t.Fatalf("example: %+v %v", c, err)
	}
}
