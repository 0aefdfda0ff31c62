package workspaces

// Account links: CreateAccountLinkInvitation, AcceptAccountLinkInvitation,
// RejectAccountLinkInvitation, DeleteAccountLinkInvitation, GetAccountLink
// and ListAccountLinks [MODEL].
//
// A link joins a source account (the inviter) and a target account, both
// accounts of this deployment. The invitation is
// PENDING_ACCEPTANCE_BY_TARGET_ACCOUNT until the target accepts it (LINKED)
// or rejects it (REJECTED); the source may delete it while it is not
// LINKED. "There's currently no unlinking capability after you accept the
// account linking invitation" [MODEL], so a LINKED link cannot be deleted.
// Account links are not regional: a link made in one Region is seen in all.
//
// Records: tAccountLinks LINKID -> accountLinkRec; tAccountLinkIdx
// ACCOUNT/LINKID for each of the two accounts (listing); tAccountLinkTok
// ACCOUNT/OPERATION/TOKEN -> link id (ClientToken idempotency).

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/deskplane/deskplane/internal/awsproto"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/ids"
	"github.com/deskplane/deskplane/internal/ptr"
	"github.com/deskplane/deskplane/internal/store"
)

// Store tables of account links.
const (
	tAccountLinks   = "ws_account_links"     // LINKID -> accountLinkRec
	tAccountLinkIdx = "ws_account_link_idx"  // ACCOUNT/LINKID -> "" (both accounts of a link)
	tAccountLinkTok = "ws_account_link_toks" // ACCOUNT/OPERATION/TOKEN -> link id
)

// Account link states [MODEL AccountLinkStatusEnum].
const (
	linkPending  = "PENDING_ACCEPTANCE_BY_TARGET_ACCOUNT"
	linkLinked   = "LINKED"
	linkRejected = "REJECTED"
)

// accountLinkRec is one account link.
type accountLinkRec struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"`
	Target  string    `json:"target"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// AccountLink is the model's AccountLink.
type AccountLink struct {
	AccountLinkId     string `json:"AccountLinkId,omitempty"`
	AccountLinkStatus string `json:"AccountLinkStatus,omitempty"`
	SourceAccountId   string `json:"SourceAccountId,omitempty"`
	TargetAccountId   string `json:"TargetAccountId,omitempty"`
}

// createLinkIn is CreateAccountLinkInvitationRequest.
type createLinkIn struct {
	TargetAccountId string  `json:"TargetAccountId" v:"required,pattern=^\\d{12}$"`
	ClientToken     *string `json:"ClientToken,omitempty" v:"pattern=^.{1,64}$"`
}

// linkRef is the shape Accept, Reject and DeleteAccountLinkInvitation's
// requests share; each operation has its own type of it.
type linkRef struct {
	LinkId      string  `json:"LinkId" v:"required,pattern=^link-.{8,24}$"`
	ClientToken *string `json:"ClientToken,omitempty" v:"pattern=^.{1,64}$"`
}

// acceptLinkIn is AcceptAccountLinkInvitationRequest.
type acceptLinkIn linkRef

// rejectLinkIn is RejectAccountLinkInvitationRequest.
type rejectLinkIn linkRef

// deleteLinkIn is DeleteAccountLinkInvitationRequest.
type deleteLinkIn linkRef

// getLinkIn is GetAccountLinkRequest.
type getLinkIn struct {
	LinkId          *string `json:"LinkId,omitempty" v:"pattern=^link-.{8,24}$"`
	LinkedAccountId *string `json:"LinkedAccountId,omitempty" v:"pattern=^\\d{12}$"`
}

// listLinksIn is ListAccountLinksRequest.
type listLinksIn struct {
	LinkStatusFilter []string `json:"LinkStatusFilter,omitempty" v:"enum=LINKED|LINKING_FAILED|LINK_NOT_FOUND|PENDING_ACCEPTANCE_BY_TARGET_ACCOUNT|REJECTED"`
	NextToken        *string  `json:"NextToken,omitempty" v:"min=1,max=2048"`
	MaxResults       *int     `json:"MaxResults,omitempty" v:"min=1,max=25"`
}

// linkOut is the result of every single-link operation.
type linkOut struct {
	AccountLink *AccountLink `json:"AccountLink,omitempty"`
}

// listLinksOut is ListAccountLinksResult.
type listLinksOut struct {
	AccountLinks []AccountLink `json:"AccountLinks"`
	NextToken    *string       `json:"NextToken,omitempty"`
}

func errValidation(format string, a ...any) error {
	return awsproto.Errorf("ValidationException", format, a...)
}

func errConflict(format string, a ...any) error {
	return awsproto.Errorf("ConflictException", format, a...)
}

func (l *accountLinkRec) render() *AccountLink {
	return &AccountLink{AccountLinkId: l.ID, AccountLinkStatus: l.Status, SourceAccountId: l.Source, TargetAccountId: l.Target}
}

// tokenLink returns the link a ClientToken was used for by this account and
// operation ("" when the token is new).
func tokenLink(ctx context.Context, tx store.Tx, account, op string, token *string) (string, error) {
	if token == nil {
		return "", nil
	}
	id, err := getRec[string](ctx, tx, tAccountLinkTok, account+"/"+op+"/"+*token)
	if err != nil || id == nil {
		return "", err
	}
	return *id, nil
}

func putToken(ctx context.Context, tx store.Tx, account, op string, token *string, id string) error {
	if token == nil {
		return nil
	}
	return putRec(ctx, tx, tAccountLinkTok, account+"/"+op+"/"+*token, id)
}

// linkBetween returns the link that joins the two accounts in either
// direction and is not REJECTED, or nil.
func linkBetween(ctx context.Context, tx store.Tx, a, b string) (*accountLinkRec, error) {
	var found *accountLinkRec
	err := store.ScanJSON[string](ctx, tx, tAccountLinkIdx, a+"/", "", 0, func(k string, _ *string) error {
		l, err := getRec[accountLinkRec](ctx, tx, tAccountLinks, k[len(a)+1:])
		if err != nil {
			return err
		}
		if l != nil && l.Status != linkRejected && (l.Source == b || l.Target == b) {
			found = l
			return store.ErrStop
		}
		return nil
	})
	return found, err
}

func (m *Module) createAccountLink(ctx context.Context, c *gateway.Call, in *createLinkIn) (*linkOut, error) {
	if in.TargetAccountId == c.Account {
		return nil, errValidation("An account cannot link to itself (%s).", c.Account)
	}
	if m.cfg.Account(in.TargetAccountId) == nil {
		return nil, errValidation("The target account %s is not an account of this deployment.", in.TargetAccountId)
	}
	var out *accountLinkRec
	err := m.store.Update(ctx, func(tx store.Tx) error {
		if id, err := tokenLink(ctx, tx, c.Account, "create", in.ClientToken); err != nil {
			return err
		} else if id != "" {
			l, err := getRec[accountLinkRec](ctx, tx, tAccountLinks, id)
			if err != nil {
				return err
			}
			if l == nil || l.Target != in.TargetAccountId {
				return errConflict("The client token %q was already used for another request.", *in.ClientToken)
			}
			out = l
			return nil
		}
		if l, err := linkBetween(ctx, tx, c.Account, in.TargetAccountId); err != nil {
			return err
		} else if l != nil {
			return errConflict("Accounts %s and %s already have account link %s (%s).", c.Account, in.TargetAccountId, l.ID, l.Status)
		}
		l := &accountLinkRec{ID: "link-" + ids.FromAlphabet(ids.Base36, 16), Source: c.Account, Target: in.TargetAccountId,
			Status: linkPending, Created: c.Now, Updated: c.Now}
		if err := putRec(ctx, tx, tAccountLinks, l.ID, l); err != nil {
			return err
		}
		for _, a := range []string{l.Source, l.Target} {
			if err := putRec(ctx, tx, tAccountLinkIdx, a+"/"+l.ID, ""); err != nil {
				return err
			}
		}
		out = l
		return putToken(ctx, tx, c.Account, "create", in.ClientToken, l.ID)
	})
	if err != nil {
		return nil, err
	}
	return &linkOut{AccountLink: out.render()}, nil
}

// changeLink applies fn to a link the caller is party to, under the
// operation's ClientToken: a retry with the token of a call that succeeded
// on the same link answers the link as it is now.
func (m *Module) changeLink(ctx context.Context, c *gateway.Call, op string, in *linkRef, fn func(tx store.Tx, l *accountLinkRec) (del bool, err error)) (*linkOut, error) {
	var out *accountLinkRec
	err := m.store.Update(ctx, func(tx store.Tx) error {
		prev, err := tokenLink(ctx, tx, c.Account, op, in.ClientToken)
		if err != nil {
			return err
		}
		if prev != "" && prev != in.LinkId {
			return errConflict("The client token %q was already used for another request.", *in.ClientToken)
		}
		l, err := getRec[accountLinkRec](ctx, tx, tAccountLinks, in.LinkId)
		if err != nil {
			return err
		}
		if l == nil || (l.Source != c.Account && l.Target != c.Account) {
			if prev != "" && op == "delete" {
				out = &accountLinkRec{ID: in.LinkId, Status: "LINK_NOT_FOUND"}
				return nil
			}
			return errNotFound("The account link %s could not be found.", in.LinkId)
		}
		if prev != "" {
			out = l
			return nil
		}
		del, err := fn(tx, l)
		if err != nil {
			return err
		}
		l.Updated = c.Now
		if del {
			if err := tx.Delete(ctx, tAccountLinks, l.ID); err != nil {
				return err
			}
			for _, a := range []string{l.Source, l.Target} {
				if err := tx.Delete(ctx, tAccountLinkIdx, a+"/"+l.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		} else if err := putRec(ctx, tx, tAccountLinks, l.ID, l); err != nil {
			return err
		}
		out = l
		return putToken(ctx, tx, c.Account, op, in.ClientToken, l.ID)
	})
	if err != nil {
		return nil, err
	}
	return &linkOut{AccountLink: out.render()}, nil
}

// acceptAccountLink: only the target accepts, and only a pending invitation.
func (m *Module) acceptAccountLink(ctx context.Context, c *gateway.Call, in *acceptLinkIn) (*linkOut, error) {
	return m.changeLink(ctx, c, "accept", (*linkRef)(in), func(tx store.Tx, l *accountLinkRec) (bool, error) {
		if l.Target != c.Account {
			return false, awsproto.Errorf("AccessDeniedException", "Only the target account %s can accept the account link invitation %s.", l.Target, l.ID)
		}
		if l.Status != linkPending {
			return false, errConflict("The account link %s is %s; only a pending invitation can be accepted.", l.ID, l.Status)
		}
		l.Status = linkLinked
		return false, nil
	})
}

// rejectAccountLink: only the target rejects, and only a pending invitation.
func (m *Module) rejectAccountLink(ctx context.Context, c *gateway.Call, in *rejectLinkIn) (*linkOut, error) {
	return m.changeLink(ctx, c, "reject", (*linkRef)(in), func(tx store.Tx, l *accountLinkRec) (bool, error) {
		if l.Target != c.Account {
			return false, awsproto.Errorf("AccessDeniedException", "Only the target account %s can reject the account link invitation %s.", l.Target, l.ID)
		}
		if l.Status != linkPending {
			return false, errConflict("The account link %s is %s; only a pending invitation can be rejected.", l.ID, l.Status)
		}
		l.Status = linkRejected
		return false, nil
	})
}

// deleteAccountLink: only the source deletes its invitation, and never a
// LINKED link (there is no unlinking [MODEL]).
func (m *Module) deleteAccountLink(ctx context.Context, c *gateway.Call, in *deleteLinkIn) (*linkOut, error) {
	return m.changeLink(ctx, c, "delete", (*linkRef)(in), func(tx store.Tx, l *accountLinkRec) (bool, error) {
		if l.Source != c.Account {
			return false, awsproto.Errorf("AccessDeniedException", "Only the source account %s can delete the account link invitation %s.", l.Source, l.ID)
		}
		if l.Status == linkLinked {
			return false, errConflict("The account link %s is LINKED; an accepted link cannot be removed.", l.ID)
		}
		return true, nil
	})
}

// getAccountLink finds a link by id, or by the other account of the link;
// exactly one of the two must be given.
func (m *Module) getAccountLink(ctx context.Context, c *gateway.Call, in *getLinkIn) (*linkOut, error) {
	if (in.LinkId == nil) == (in.LinkedAccountId == nil) {
		return nil, errValidation("Exactly one of LinkId and LinkedAccountId is required.")
	}
	var out *accountLinkRec
	err := m.store.View(ctx, func(tx store.Tx) error {
		if in.LinkId != nil {
			l, err := getRec[accountLinkRec](ctx, tx, tAccountLinks, *in.LinkId)
			if err != nil {
				return err
			}
			if l != nil && (l.Source == c.Account || l.Target == c.Account) {
				out = l
			}
			return nil
		}
		l, err := linkBetween(ctx, tx, c.Account, *in.LinkedAccountId)
		out = l
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errNotFound("No account link of %s matches %s.", c.Account, ptr.Deref(in.LinkId)+ptr.Deref(in.LinkedAccountId))
	}
	return &linkOut{AccountLink: out.render()}, nil
}

// listAccountLinks lists the links the caller is source or target of, in
// link id order.
func (m *Module) listAccountLinks(ctx context.Context, c *gateway.Call, in *listLinksIn) (*listLinksOut, error) {
	limit := 25
	if in.MaxResults != nil {
		limit = *in.MaxResults
	}
	p := c.Account + "/"
	after, err := parseToken(in.NextToken, p)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, s := range in.LinkStatusFilter {
		want[s] = true
	}
	out := &listLinksOut{AccountLinks: []AccountLink{}}
	err = m.store.View(ctx, func(tx store.Tx) error {
		var keys []string
		err := store.ScanJSON[string](ctx, tx, tAccountLinkIdx, p, after, 0, func(k string, _ *string) error {
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return err
		}
		sort.Strings(keys)
		last := ""
		for _, k := range keys {
			l, err := getRec[accountLinkRec](ctx, tx, tAccountLinks, k[len(p):])
			if err != nil {
				return err
			}
			if l == nil || len(want) > 0 && !want[l.Status] {
				continue
			}
			if len(out.AccountLinks) == limit {
				out.NextToken = pageToken(last)
				return nil
			}
			last = k
			out.AccountLinks = append(out.AccountLinks, *l.render())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
