variable "endpoint" { type = string }
variable "stage" { type = string }

provider "aws" {
  region     = "us-east-1"
  access_key = "AKIAIOSFODNN7EXAMPLE"
  secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  skip_metadata_api_check = true
  endpoints {
    ec2       = var.endpoint
    iam       = var.endpoint
    sts       = var.endpoint
    kms       = var.endpoint
    ds        = var.endpoint
    workspaces = var.endpoint
    cloudtrail = var.endpoint
  }
}

data "aws_caller_identity" "me" {}
data "aws_region" "here" {}

resource "aws_kms_key" "k" {
  description             = "tf key ${var.stage}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Root"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = { stage = var.stage }
}

resource "aws_kms_alias" "a" {
  name          = "alias/tf-test"
  target_key_id = aws_kms_key.k.key_id
}

resource "aws_iam_role" "r" {
  name = "tf-workspaces-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "workspaces.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = { stage = var.stage }
}

resource "aws_kms_grant" "g" {
  name              = "tf-grant"
  key_id            = aws_kms_key.k.key_id
  grantee_principal = aws_iam_role.r.arn
  operations        = ["Encrypt", "Decrypt", "GenerateDataKey"]
}

resource "aws_iam_role_policy" "inline" {
  name = "inline"
  role = aws_iam_role.r.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "workspaces:Describe*", Resource = "*" }]
  })
}

resource "aws_iam_role_policy_attachment" "svc" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonWorkSpacesServiceAccess"
}

resource "aws_iam_role_policy_attachment" "self" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonWorkSpacesSelfServiceAccess"
}

resource "aws_iam_policy" "p" {
  name        = "tf-policy"
  description = "tf policy"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "workspaces:DescribeWorkspaces", Resource = "*", Condition = { StringEquals = { "aws:RequestedRegion" = var.stage == "one" ? "us-east-1" : "us-west-2" } } }]
  })
  tags = { stage = var.stage }
}

resource "aws_iam_role_policy_attachment" "custom" {
  role       = aws_iam_role.r.name
  policy_arn = aws_iam_policy.p.arn
}

resource "aws_iam_user" "u" {
  name = "tf-user"
  tags = { stage = var.stage }
}

resource "aws_iam_access_key" "ak" {
  user   = aws_iam_user.u.name
  status = var.stage == "one" ? "Active" : "Inactive"
}

resource "aws_vpc" "v" {
  cidr_block           = "10.20.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = "tf-vpc", stage = var.stage }
}

resource "aws_subnet" "a" {
  vpc_id            = aws_vpc.v.id
  cidr_block        = "10.20.1.0/24"
  availability_zone = "us-east-1a"
  tags              = { stage = var.stage }
}

resource "aws_subnet" "b" {
  vpc_id            = aws_vpc.v.id
  cidr_block        = "10.20.2.0/24"
  availability_zone = "us-east-1b"
  tags              = { stage = var.stage }
}

resource "aws_security_group" "sg" {
  name        = "tf-sg"
  description = "tf security group"
  vpc_id      = aws_vpc.v.id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.20.0.0/16"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { stage = var.stage }
}

resource "aws_directory_service_directory" "d" {
  name     = "tf.example.com"
  password = "SuperSecretPassw0rd!"
  edition  = "Standard"
  type     = "MicrosoftAD"
  vpc_settings {
    vpc_id     = aws_vpc.v.id
    subnet_ids = [aws_subnet.a.id, aws_subnet.b.id]
  }
  tags = { stage = var.stage }
}
