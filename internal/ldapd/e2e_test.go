package ldapd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dsvc "github.com/aws/aws-sdk-go-v2/service/directoryservice"
	dstypes "github.com/aws/aws-sdk-go-v2/service/directoryservice/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/go-ldap/ldap/v3"

	"github.com/deskplane/deskplane/internal/ldapd"
	"github.com/deskplane/deskplane/internal/testserver"
)

// freePorts returns two different TCP port numbers free on 127.0.0.1
// (the directories listen on other loopback addresses, where they are free
// as well unless another test took them meanwhile: the server then moves
// the directory to another address). Both listeners are held until both
// numbers are known, so the two cannot be the same port.
func freePorts(t *testing.T) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}

const alicePW = "Corr3ct-Horse!"

type fixture struct {
	s     *testserver.Server
	dirID string
	ep    ldapd.Endpoint
	ds    *dsvc.Client
}

func setup(t *testing.T) *fixture {
	t.Helper()
	s := testserver.Start(t, testserver.LDAP(freePorts(t)))
	ctx := context.Background()
	cli := dsvc.NewFromConfig(s.Admin())
	out, err := cli.DescribeDirectories(ctx, &dsvc.DescribeDirectoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, ds: cli}
	for _, d := range out.DirectoryDescriptions {
		if aws.ToString(d.Name) == "corp.example.com" {
			f.dirID = aws.ToString(d.DirectoryId)
		}
	}
	if f.dirID == "" {
		t.Fatal("no corp.example.com directory")
	}
	for _, ep := range s.LDAP.Endpoints() {
		if ep.DirectoryID == f.dirID && ep.Region == "us-east-1" {
			f.ep = ep
			break
		}
	}
	if f.ep.Address == "" {
		t.Fatalf("directory %s answers no LDAP: %+v", f.dirID, s.LDAP.Endpoints())
	}
	// The admin API lists the same endpoints and the CA file.
	adm, err := s.AdminGet("/_deskplane/ldap")
	if err != nil {
		t.Fatal(err)
	}
	if eps, _ := adm["endpoints"].([]any); adm["enabled"] != true || len(eps) != len(s.LDAP.Endpoints()) || adm["ca_file"] != s.LDAP.CAFile() {
		t.Errorf("GET /_deskplane/ldap: %v", adm)
	}
	return f
}

func (f *fixture) dial(t *testing.T) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + net.JoinHostPort(f.ep.Address, strconv.Itoa(f.ep.LDAPPort)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) resetPassword(t *testing.T, user, pw string) {
	t.Helper()
	_, err := f.ds.ResetUserPassword(context.Background(), &dsvc.ResetUserPasswordInput{
		DirectoryId: aws.String(f.dirID), UserName: aws.String(user), NewPassword: aws.String(pw)})
	if err != nil {
		t.Fatalf("ResetUserPassword %s: %v", user, err)
	}
}

func TestBindWithResetPassword(t *testing.T) {
	f := setup(t)
	// The DNS address the API reports maps to the address LDAP answers on.
	out, err := f.ds.DescribeDirectories(context.Background(), &dsvc.DescribeDirectoriesInput{DirectoryIds: []string{f.dirID}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(out.DirectoryDescriptions[0].DnsIpAddrs, f.ep.DNSIP) {
		t.Fatalf("endpoint DNS address %s not among %v", f.ep.DNSIP, out.DirectoryDescriptions[0].DnsIpAddrs)
	}
	// By the loopback rule: 10.x.y.z → 127.x.y.z, or (the same VPC range
	// is used in several regions) a free address counting down from
	// 127.255.255.254.
	if want := "127." + strings.SplitN(f.ep.DNSIP, ".", 2)[1]; f.ep.Address != want && !strings.HasPrefix(f.ep.Address, "127.255.255.") {
		t.Errorf("address %s, want %s by the loopback rule", f.ep.Address, want)
	}

	c := f.dial(t)
	// No password yet: no bind succeeds.
	if err := c.Bind("alice@corp.example.com", alicePW); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind before any password: %v, want invalidCredentials", err)
	}
	f.resetPassword(t, "alice", alicePW)
	for _, name := range []string{"alice@corp.example.com", `CORP\alice`, "ALICE@CORP.EXAMPLE.COM",
		"CN=alice,OU=Users,OU=CORP,DC=corp,DC=example,DC=com"} {
		if err := c.Bind(name, alicePW); err != nil {
			t.Errorf("bind as %s: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, pw string }{
		{"alice@corp.example.com", "wrong-Passw0rd"},
		{"alice@other.example.com", alicePW},
		{`OTHER\alice`, alicePW},
		{"bob@corp.example.com", alicePW},
		{"nobody@corp.example.com", alicePW},
	} {
		err := c.Bind(tc.name, tc.pw)
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("bind as %s with %q: %v, want invalidCredentials (49)", tc.name, tc.pw, err)
		}
	}
	// A weak password is refused by the API with the model's error.
	_, err = f.ds.ResetUserPassword(context.Background(), &dsvc.ResetUserPasswordInput{
		DirectoryId: aws.String(f.dirID), UserName: aws.String("alice"), NewPassword: aws.String("short")})
	var ip *dstypes.InvalidPasswordException
	if !errors.As(err, &ip) {
		t.Errorf("weak password: %v, want InvalidPasswordException", err)
	}
	_, err = f.ds.ResetUserPassword(context.Background(), &dsvc.ResetUserPasswordInput{
		DirectoryId: aws.String(f.dirID), UserName: aws.String("nobody"), NewPassword: aws.String(alicePW)})
	var nu *dstypes.UserDoesNotExistException
	if !errors.As(err, &nu) {
		t.Errorf("unknown user: %v, want UserDoesNotExistException", err)
	}
	// Built-in accounts outside the CORP OU cannot be reset in a Managed AD.
	_, err = f.ds.ResetUserPassword(context.Background(), &dsvc.ResetUserPasswordInput{
		DirectoryId: aws.String(f.dirID), UserName: aws.String("Administrator"), NewPassword: aws.String(alicePW)})
	var ce *dstypes.ClientException
	if !errors.As(err, &ce) {
		t.Errorf("Administrator: %v, want ClientException", err)
	}
	// A new password replaces the old one.
	f.resetPassword(t, "alice", "An0ther-Secret")
	if err := c.Bind("alice@corp.example.com", alicePW); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("bind with the old password: %v, want invalidCredentials", err)
	}
	if err := c.Bind("alice@corp.example.com", "An0ther-Secret"); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}
}

func TestSearchUsersAndGroups(t *testing.T) {
	f := setup(t)
	f.resetPassword(t, "alice", alicePW)
	c := f.dial(t)
	base := "DC=corp,DC=example,DC=com"
	// Searching needs a bind, as AD's operationsError says.
	_, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName=alice)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultOperationsError) {
		t.Fatalf("search before bind: %v, want operationsError", err)
	}
	if err := c.Bind(`CORP\alice`, alicePW); err != nil {
		t.Fatal(err)
	}
	search := func(filter string, attrs ...string) []*ldap.Entry {
		t.Helper()
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
		if err != nil {
			t.Fatalf("search %s: %v", filter, err)
		}
		return res.Entries
	}
	aliceDN := "CN=alice,OU=Users,OU=CORP," + base
	engDN := "CN=Engineering,OU=Users,OU=CORP," + base
	es := search("(&(objectClass=user)(sAMAccountName=alice))", "sAMAccountName", "userPrincipalName", "memberOf",
		"distinguishedName", "cn", "mail", "givenName", "sn", "objectClass")
	if len(es) != 1 {
		t.Fatalf("alice: %d entries", len(es))
	}
	a := es[0]
	for attr, want := range map[string]string{"sAMAccountName": "alice", "userPrincipalName": "alice@corp.example.com",
		"distinguishedName": aliceDN, "cn": "alice", "mail": "alice@corp.example.com", "givenName": "Alice", "sn": "Anders"} {
		if got := a.GetAttributeValue(attr); got != want {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	if a.DN != aliceDN {
		t.Errorf("DN %q", a.DN)
	}
	if mo := a.GetAttributeValues("memberOf"); !slices.Contains(mo, engDN) || !slices.ContainsFunc(mo, func(s string) bool { return strings.HasPrefix(s, "CN=Domain Users,") }) {
		t.Errorf("memberOf %v", mo)
	}
	if oc := a.GetAttributeValues("objectClass"); !slices.Contains(oc, "user") {
		t.Errorf("objectClass %v", oc)
	}
	if len(a.Attributes) != 9 {
		t.Errorf("asked for 9 attributes, got %d", len(a.Attributes))
	}
	// By user principal name, by mail, by DN, by member of a group.
	for filter, want := range map[string][]string{
		"(userPrincipalName=alice@corp.example.com)":                                                {"alice"},
		"(mail=bob@corp.example.com)":                                                               {"bob"},
		"(distinguishedName=" + aliceDN + ")":                                                       {"alice"},
		"(&(objectClass=user)(memberOf=" + engDN + "))":                                             {"alice", "bob"},
		"(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=" + engDN + "))":                    {"alice", "bob"},
		"(&(objectClass=user)(givenName=C*))":                                                       {"carol"},
		"(&(objectCategory=person)(|(sn=Anders)(sn=Diaz)))":                                         {"alice", "dave"},
		"(&(objectClass=group)(cn=Engineering))":                                                    {"Engineering"},
		"(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(sAMAccountName=a*))": {"alice", "Admin"},
	} {
		var got []string
		for _, e := range search(filter, "sAMAccountName") {
			got = append(got, e.GetAttributeValue("sAMAccountName"))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", filter, got, want)
		}
	}
	g := search("(&(objectClass=group)(sAMAccountName=Engineering))", "member", "distinguishedName")
	if len(g) != 1 || !slices.Contains(g[0].GetAttributeValues("member"), aliceDN) {
		t.Errorf("Engineering members: %+v", g)
	}
	// Outside the directory's base DN there is nothing.
	_, err = c.Search(ldap.NewSearchRequest("DC=other,DC=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		t.Errorf("search of another base: %v, want noSuchObject", err)
	}
	// The root DSE names the naming context.
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("defaultNamingContext") != base {
		t.Errorf("root DSE: %v %+v", err, res)
	}
}

func TestLDAPSWithGeneratedCA(t *testing.T) {
	f := setup(t)
	f.resetPassword(t, "alice", alicePW)
	caFile := f.s.LDAP.CAFile()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate")
	}
	addr := net.JoinHostPort(f.ep.Address, strconv.Itoa(f.ep.LDAPSPort))
	c, err := ldap.DialURL("ldaps://"+addr, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: f.ep.Address}))
	if err != nil {
		t.Fatalf("ldaps dial with the generated CA: %v", err)
	}
	defer c.Close()
	if err := c.Bind("alice@corp.example.com", alicePW); err != nil {
		t.Fatalf("ldaps bind: %v", err)
	}
	if err := c.Bind("alice@corp.example.com", "Wrong-Passw0rd"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("ldaps wrong password: %v", err)
	}
	// Without the CA the certificate is not trusted.
	c2, err := ldap.DialURL("ldaps://"+addr, ldap.DialWithTLSConfig(&tls.Config{ServerName: f.ep.Address}))
	if err == nil {
		c2.Close()
		t.Error("ldaps without the CA: no certificate error")
	}
}

// TestNewDirectoryAnswersWithItsAdminPassword: a directory created through
// the API answers LDAP once Active, and its Admin user binds with the
// password given at creation, as on AWS; deleted, it stops answering.
func TestNewDirectoryAnswersWithItsAdminPassword(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	subs, err := ec2.NewFromConfig(f.s.Admin()).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sn := range subs.Subnets[:2] {
		ids = append(ids, aws.ToString(sn.SubnetId))
	}
	out, err := f.ds.CreateMicrosoftAD(ctx, &dsvc.CreateMicrosoftADInput{Name: aws.String("lab.example.org"), ShortName: aws.String("LAB"),
		Password: aws.String("Lab-Admin-1"), VpcSettings: &dstypes.DirectoryVpcSettings{VpcId: subs.Subnets[0].VpcId, SubnetIds: ids}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.DirectoryId)
	testserver.Eventually(t, 30*time.Second, func() bool {
		d, err := f.ds.DescribeDirectories(ctx, &dsvc.DescribeDirectoriesInput{DirectoryIds: []string{id}})
		return err == nil && d.DirectoryDescriptions[0].Stage == dstypes.DirectoryStageActive
	}, "directory never Active")
	if err := f.s.LDAP.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	var ep ldapd.Endpoint
	for _, e := range f.s.LDAP.Endpoints() {
		if e.DirectoryID == id {
			ep = e
		}
	}
	if ep.Address == "" {
		t.Fatalf("new directory %s answers no LDAP", id)
	}
	c, err := ldap.DialURL("ldap://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("Admin@lab.example.org", "Lab-Admin-1"); err != nil {
		t.Errorf("Admin bind with the creation password: %v", err)
	}
	if err := c.Bind(`LAB\Admin`, "Lab-Admin-2"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("Admin bind with another password: %v", err)
	}
	if err := c.Bind("alice@corp.example.com", alicePW); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("another directory's user: %v", err)
	}
	if _, err := f.ds.DeleteDirectory(ctx, &dsvc.DeleteDirectoryInput{DirectoryId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.LDAP.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range f.s.LDAP.Endpoints() {
		if e.DirectoryID == id {
			t.Errorf("deleted directory still answers at %s", e.Address)
		}
	}
	if c2, err := ldap.DialURL("ldap://" + net.JoinHostPort(ep.Address, strconv.Itoa(ep.LDAPPort))); err == nil {
		c2.Close()
		t.Error("deleted directory's address still accepts connections")
	}
}
