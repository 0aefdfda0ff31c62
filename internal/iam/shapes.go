package iam

import "time"

// Wire shapes of the IAM 2010-05-08 query API (member names of the model).

// Tag is an IAM tag.
type Tag struct {
	Key   string `query:"Key" xml:"Key" v:"required,min=1,max=128"`
	Value string `query:"Value" xml:"Value" v:"max=256"`
}

const namePattern = `pattern=^[A-Za-z0-9_+=,.@-]+$`

type userOut struct {
	Path             string `xml:"Path"`
	UserName         string `xml:"UserName"`
	UserId           string `xml:"UserId"`
	Arn              string `xml:"Arn"`
	CreateDate       string `xml:"CreateDate"`
	Tags             []Tag  `xml:"Tags>member,omitempty"`
	PasswordLastUsed string `xml:"PasswordLastUsed,omitempty"`
}

type roleOut struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleId                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration,omitempty"`
	Tags                     []Tag  `xml:"Tags>member,omitempty"`
}

type policyOut struct {
	PolicyName       string `xml:"PolicyName"`
	PolicyId         string `xml:"PolicyId"`
	Arn              string `xml:"Arn"`
	Path             string `xml:"Path"`
	DefaultVersionId string `xml:"DefaultVersionId"`
	AttachmentCount  int    `xml:"AttachmentCount"`
	IsAttachable     bool   `xml:"IsAttachable"`
	Description      string `xml:"Description,omitempty"`
	CreateDate       string `xml:"CreateDate"`
	UpdateDate       string `xml:"UpdateDate"`
	Tags             []Tag  `xml:"Tags>member,omitempty"`
}

type accessKeyOut struct {
	UserName        string `xml:"UserName"`
	AccessKeyId     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type attachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func tagList(m map[string]string) []Tag {
	if len(m) == 0 {
		return nil
	}
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{Key: k, Value: v})
	}
	sortTags(out)
	return out
}

func userShape(u *User) *userOut {
	return &userOut{Path: orSlash(u.Path), UserName: u.Name, UserId: u.UserID, Arn: u.ARN, CreateDate: isoTime(u.Created), Tags: tagList(u.Tags)}
}

func roleShape(r *Role, withDoc bool) *roleOut {
	o := &roleOut{Path: orSlash(r.Path), RoleName: r.Name, RoleId: r.RoleID, Arn: r.ARN, CreateDate: isoTime(r.Created),
		Description: r.Description, MaxSessionDuration: r.MaxSessionDuration, Tags: tagList(r.Tags)}
	if withDoc {
		o.AssumeRolePolicyDocument = EncodeDocument(r.AssumeRolePolicy)
	}
	return o
}

func policyShape(p *ManagedPolicy) *policyOut {
	return &policyOut{PolicyName: p.Name, PolicyId: p.PolicyID, Arn: p.ARN, Path: orSlash(p.Path), DefaultVersionId: p.DefaultVersion,
		AttachmentCount: p.Attachments, IsAttachable: true, Description: p.Description, CreateDate: isoTime(p.Created), UpdateDate: isoTime(p.Updated), Tags: tagList(p.Tags)}
}

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
