package gateway

import "testing"

func TestWellFormedARN(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:iam::111122223333:policy/p":                    true,
		"arn:aws:iam::aws:policy/AdministratorAccess":           true,
		"arn:aws:workspaces:us-east-1:111122223333:workspace/*": true,
		"arn:aws:kms:us-east-1:111122223333:key/1234":           true,
		"arn:aws:sts::111122223333:assumed-role/r/s":            true,
		"arn:aws::::aaaaaaaaaaaaaaaa":                           false,
		"arn:aws:iam::111122223333:":                            false,
		"arn::iam::111122223333:user/a":                         false,
		"arn:aws:iam::111122223333":                             false,
		"xrn:aws:iam::111122223333:user/a":                      false,
		"arn:aws:iam::111122223333:user/\x00":                   false,
		"arn:aws:iam::111122223333:user/\xff":                   false,
		"":                                                      false,
		"*":                                                     false,
	} {
		if got := WellFormedARN(arn); got != want {
			t.Errorf("WellFormedARN(%q) = %v, want %v", arn, got, want)
		}
	}
}
