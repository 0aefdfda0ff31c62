package workspaces

import (
	"slices"

	"github.com/deskplane/deskplane/internal/awsproto"

	"github.com/deskplane/deskplane/internal/ptr"
)

// Inputs of ModifyWorkspaceProperties and RegisterWorkspaceDirectory that
// name capabilities: each is acted on, or refused with the answer an
// account without the capability gets.

// osFamily groups the OperatingSystemName values a desktop may move
// between in place (an in-place Windows 10 to 11 upgrade is reported this
// way); a change across families would need a new image.
func osFamily(n string) string {
	switch n {
	case "WINDOWS_7", "WINDOWS_10", "WINDOWS_11":
		return "windows-client"
	case "WINDOWS_SERVER_2016", "WINDOWS_SERVER_2019", "WINDOWS_SERVER_2022", "WINDOWS_SERVER_2025":
		return "windows-server"
	}
	return n
}

// applyOSAndAccelerator acts on ModifyWorkspaceProperties'
// OperatingSystemName and GlobalAccelerator.
func applyOSAndAccelerator(w *desktopRec, p *WorkspaceProperties) error {
	if p == nil {
		return nil
	}
	if n := p.OperatingSystemName; n != nil && *n != ptr.Deref(w.Properties.OperatingSystemName) {
		cur := ptr.Deref(w.Properties.OperatingSystemName)
		if *n == "UNKNOWN" || cur == "" || osFamily(*n) != osFamily(cur) {
			return errUnsupportedConfig("The operating system of %s (%s) cannot be changed to %s; only an in-place upgrade within the same family (such as WINDOWS_10 to WINDOWS_11) can be recorded.", w.WorkspaceID, orUnknown(cur), *n)
		}
		w.Properties.OperatingSystemName = n
	}
	if g := p.GlobalAccelerator; g != nil {
		if !slices.Contains(w.Properties.Protocols, "WSP") {
			return errUnsupportedConfig("Global Accelerator applies to WorkSpaces that use the WSP protocol; %s does not.", w.WorkspaceID)
		}
		if g.Mode == nil {
			return errInvalid("GlobalAccelerator needs a Mode.")
		}
		if *g.Mode == "DISABLED" && g.PreferredProtocol != nil && *g.PreferredProtocol != "INHERITED" {
			return errInvalid("A PreferredProtocol applies only while Global Accelerator is enabled.")
		}
		cp := *g
		w.Properties.GlobalAccelerator = &cp
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "UNKNOWN"
	}
	return s
}

// checkIdentityInputs refuses the identity sources deskplane does not
// model: IAM Identity Center, Microsoft Entra ID and customer-managed
// Active Directory (each needs a service deskplane does not run, so the
// instance or secret named cannot exist).
func checkIdentityInputs(in *registerDirIn) error {
	switch {
	case in.IdcInstanceArn != nil:
		return errNotFound("The IAM Identity Center instance %s could not be found.", *in.IdcInstanceArn)
	case in.MicrosoftEntraConfig != nil:
		return errInvalid("The Microsoft Entra ID configuration names a Secrets Manager secret that could not be found; Microsoft Entra ID is not available to this account.")
	case in.ActiveDirectoryConfig != nil:
		return errInvalid("The ActiveDirectoryConfig names a Secrets Manager secret that could not be found; customer-managed Active Directory is not available to this account.")
	case ptr.Deref(in.UserIdentityType) == "AWS_IAM_IDENTITY_CENTER":
		return errInvalid("UserIdentityType AWS_IAM_IDENTITY_CENTER needs an IdcInstanceArn; IAM Identity Center is not available to this account.")
	case ptr.Deref(in.UserIdentityType) == "CUSTOMER_MANAGED":
		return errInvalid("UserIdentityType CUSTOMER_MANAGED needs an ActiveDirectoryConfig or a Microsoft Entra ID configuration; neither is available to this account.")
	}
	return nil
}

// checkCreateInputs acts on CreateWorkspaces' OperatingSystemName (it
// must be of the bundle image's family) and GlobalAccelerator (kept for
// WSP desktops, refused for others), as one request's failure.
func checkCreateInputs(w *desktopRec, props WorkspaceProperties, imageOS string) error {
	if n := props.OperatingSystemName; n != nil && imageOS != "" && osFamily(*n) != osFamily(imageOS) {
		return itemErr("InvalidParameterValuesException", "The OperatingSystemName %s does not match the bundle image's operating system %s.", *n, imageOS)
	}
	if props.GlobalAccelerator != nil {
		if err := applyOSAndAccelerator(w, &WorkspaceProperties{GlobalAccelerator: props.GlobalAccelerator}); err != nil {
			if ae := awsproto.As(err); ae != nil {
				return itemErr(ae.Code, "%s", ae.Message)
			}
			return err
		}
	}
	return nil
}
