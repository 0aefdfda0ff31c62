package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/deskplane/deskplane/internal/ds"
	"github.com/deskplane/deskplane/internal/ldapd"
	"github.com/deskplane/deskplane/internal/safego"
)

// ldapInterval is how often the LDAP service follows directories created
// and deleted.
const ldapInterval = time.Second

// startLDAP starts the directories' LDAP service when enabled: a first
// reconcile before Start returns (so the seeded directories answer at once),
// then a loop that follows the directories.
func (s *Server) startLDAP(ctx context.Context) error {
	if !s.Opts.LDAP.Enabled {
		return nil
	}
	var src *ds.Module
	for _, m := range s.Modules {
		if d, ok := m.(*ds.Module); ok {
			src = d
		}
	}
	if src == nil {
		return fmt.Errorf("ldap: no directory service module")
	}
	l := ldapd.New(src, ldapd.Options{Port: s.Opts.LDAP.Port, TLSPort: s.Opts.LDAP.TLSPort,
		TLSDir: filepath.Join(s.Opts.DataDir, "ldap-tls"), Alloc: s.Loopback, Log: s.Opts.Log})
	if err := l.Reconcile(ctx); err != nil {
		s.Opts.Log.Warn("ldap: some directories do not answer", "err", err)
	}
	s.LDAP = l
	safego.Go(ctx, s.Opts.Log, "ldap", func(ctx context.Context) { l.Run(ctx, ldapInterval) }, nil)
	return nil
}

// getLDAP serves GET /_deskplane/ldap: the addresses where directories
// answer LDAP and the CA file LDAPS clients should trust.
func (s *Server) getLDAP(w http.ResponseWriter, r *http.Request) {
	if s.LDAP == nil {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "endpoints": []any{}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "ca_file": s.LDAP.CAFile(), "endpoints": s.LDAP.Endpoints()})
}
