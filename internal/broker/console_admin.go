package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ConsoleConfig configures the operators' console sign-in.
type ConsoleConfig struct {
	// AdminGroup is a group of the pools' directory (its sAMAccountName)
	// whose members (direct or nested) may sign in to the console with
	// their directory password, for this broker's tenant; empty: only api
	// tokens sign in.
	AdminGroup string `json:"admin_group,omitempty"`
}

// errNotAdmin: the directory accepted the password, but the user is not a
// member of the console's admin group.
var errNotAdmin = errors.New("not a member of the console's admin group")

// ldapDial connects to a directory's LDAP URL (LDAPS when the URL says so,
// checking the server's certificate against the CA directoryLDAP chose for
// the URL, portal.ldaps_ca_file, or the system's roots).
func (b *Broker) ldapDial(ctx context.Context, url string) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if strings.HasPrefix(url, "ldaps://") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: b.cfg.Portal.InsecureSkipVerify}
		ca := b.cfg.Portal.CAFile
		if v, ok := b.ldapCA.Load(url); ok {
			ca = v.(string)
		}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("ldap dial %s: CA file: %w", url, err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ldap dial %s: CA file %s holds no certificate", url, ca)
			}
		}
		opts = append(opts, ldap.DialWithTLSConfig(tc))
	}
	conn, err := ldap.DialURL(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap dial %s: %w", url, err)
	}
	conn.SetTimeout(10 * time.Second)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetTimeout(time.Until(dl))
	}
	return conn, nil
}

// domainDN is the base DN of a DNS domain: corp.example.com →
// DC=corp,DC=example,DC=com.
func domainDN(domain string) string {
	parts := strings.Split(domain, ".")
	for i, p := range parts {
		parts[i] = "DC=" + ldap.EscapeDN(p)
	}
	return strings.Join(parts, ",")
}

// AuthenticateAdmin signs an operator in by directory password: an LDAP
// bind as the user against the pools' directories (the portal's path), then,
// on the same connection and as that user, a search for the user as a
// member of the configured admin group (memberOf, nested groups included
// through AD's in-chain matching rule). A wrong password is
// errBadCredentials; a right one of a non-member is errNotAdmin.
func (b *Broker) AuthenticateAdmin(ctx context.Context, user, password string) error {
	group := b.cfg.Console.AdminGroup
	if group == "" || !userNameRE.MatchString(user) || password == "" {
		return errBadCredentials
	}
	bound := false
	err := b.eachDirectory(ctx, "console", func(u, domain string) (bool, error) {
		member, err := b.adminBind(ctx, u, domain, user, password, group)
		if err == nil && !member {
			bound = true
		}
		return member, err
	})
	if err != nil && bound {
		return errNotAdmin
	}
	return err
}

// adminBind binds as the user and reports whether the user is a member of
// group.
func (b *Broker) adminBind(ctx context.Context, url, domain, user, password, group string) (bool, error) {
	conn, err := b.ldapDial(ctx, url)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if err := conn.Bind(b.bindName(user, domain), password); err != nil {
		return false, err
	}
	base := domainDN(domain)
	gs, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 10, false,
		fmt.Sprintf("(&(objectClass=group)(sAMAccountName=%s))", ldap.EscapeFilter(group)), []string{"dn"}, nil))
	if err != nil {
		return false, fmt.Errorf("ldap search for group %s: %w", group, err)
	}
	if len(gs.Entries) != 1 {
		b.log.Warn("console: admin group not found in the directory", "group", group, "domain", domain, "found", len(gs.Entries))
		return false, nil
	}
	us, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 10, false,
		fmt.Sprintf("(&(objectClass=user)(sAMAccountName=%s)(memberOf:1.2.840.113556.1.4.1941:=%s))",
			ldap.EscapeFilter(user), ldap.EscapeFilter(gs.Entries[0].DN)), []string{"dn"}, nil))
	if err != nil {
		return false, fmt.Errorf("ldap search for %s in group %s: %w", user, group, err)
	}
	return len(us.Entries) == 1, nil
}

// adminSignIn signs an operator in as a member of a tenant's directory
// admin group: the first tenant (in configuration order) with an admin
// group whose directory accepts the password and lists the user in it.
func (f *Fleet) adminSignIn(ctx context.Context, user, password string) (string, error) {
	err := errBadCredentials
	for _, name := range f.names {
		b := f.brokers[name]
		if b.cfg.Console.AdminGroup == "" {
			continue
		}
		e := b.AuthenticateAdmin(ctx, user, password)
		if e == nil {
			b.log.Info("console: directory admin signed in", "user", user, "tenant", name, "group", b.cfg.Console.AdminGroup)
			return name, nil
		}
		if errors.Is(e, errNotAdmin) {
			err = e
		}
	}
	return "", err
}
