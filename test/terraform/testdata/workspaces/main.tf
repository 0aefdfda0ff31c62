variable "endpoint" { type = string }
variable "stage" { type = string }
variable "directory_id" { type = string }
variable "image_id" { type = string }

provider "aws" {
  region                  = "us-east-1"
  access_key              = "AKIAIOSFODNN7EXAMPLE"
  secret_key              = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  skip_metadata_api_check = true
  endpoints {
    ec2        = var.endpoint
    iam        = var.endpoint
    sts        = var.endpoint
    kms        = var.endpoint
    ds         = var.endpoint
    workspaces = var.endpoint
  }
}

# The default environment's directory (corp.example.com, users alice..dave).
data "aws_directory_service_directory" "corp" {
  directory_id = var.directory_id
}

resource "aws_workspaces_ip_group" "office" {
  name        = "tf-office"
  description = "office" # the provider replaces a group whose description changes
  rules {
    source      = "198.51.100.0/24"
    description = "office"
  }
  rules {
    source = var.stage == "one" ? "203.0.113.0/24" : "203.0.113.0/25"
  }
  tags = { stage = var.stage }
}

resource "aws_workspaces_connection_alias" "alias" {
  connection_string = "desktops.tf.example.com"
  tags              = { stage = var.stage }
}

resource "aws_workspaces_directory" "corp" {
  directory_id = data.aws_directory_service_directory.corp.id
  ip_group_ids = [aws_workspaces_ip_group.office.id]

  self_service_permissions {
    change_compute_type  = var.stage == "two"
    increase_volume_size = false
    rebuild_workspace    = true
    restart_workspace    = true
    switch_running_mode  = false
  }

  workspace_access_properties {
    device_type_android    = "ALLOW"
    device_type_chromeos   = "ALLOW"
    device_type_ios        = "ALLOW"
    device_type_linux      = "DENY"
    device_type_osx        = "ALLOW"
    device_type_web        = var.stage == "one" ? "DENY" : "ALLOW"
    device_type_windows    = "ALLOW"
    device_type_zeroclient = "DENY"
  }

  workspace_creation_properties {
    enable_internet_access              = false
    enable_maintenance_mode             = true
    user_enabled_as_local_administrator = false
  }

  tags = { stage = var.stage }
}

data "aws_workspaces_bundle" "standard" {
  owner = "AMAZON"
  name  = "Standard with Windows 10 (Server 2022 based)"
}

resource "aws_workspaces_workspace" "alice" {
  directory_id = aws_workspaces_directory.corp.id
  bundle_id    = data.aws_workspaces_bundle.standard.id
  user_name    = "alice"

  workspace_properties {
    compute_type_name                         = "STANDARD"
    user_volume_size_gib                      = 50
    root_volume_size_gib                      = 80
    running_mode                              = "AUTO_STOP"
    running_mode_auto_stop_timeout_in_minutes = 60
  }

  tags = { stage = var.stage }
}

data "aws_workspaces_directory" "corp" {
  directory_id = aws_workspaces_directory.corp.id
}

data "aws_workspaces_workspace" "alice" {
  workspace_id = aws_workspaces_workspace.alice.id
}

output "workspace_state" { value = data.aws_workspaces_workspace.alice.state }
output "directory_alias" { value = data.aws_workspaces_directory.corp.alias }

# The account's image, imported by the test through the SDK.
data "aws_workspaces_image" "imported" {
  image_id = var.image_id
}

output "image_name" { value = data.aws_workspaces_image.imported.name }
