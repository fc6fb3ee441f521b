// Shared by the sts targets (included with `include!`): a fixed configuration and key ring.

#[allow(dead_code)]
const STS_NOW: i64 = 1_700_000_000;

#[allow(dead_code)]
const STS_CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
providers:
  - issuer: https://issuer.example.com
    audiences: [sts.amazonaws.com]
roles:
  - name: app
    path: /team/
    maxSessionDuration: 7200
    trustPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/issuer.example.com}
          Action: [sts:AssumeRoleWithWebIdentity, sts:TagSession, sts:SetSourceIdentity]
          Condition:
            StringLike:
              issuer.example.com:sub: system:serviceaccount:*
    policies:
      read: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
    managedPolicies: [arn:aws:iam::111122223333:policy/x]
policies:
  - name: x
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "dynamodb:GetItem", Resource: "*"}]}
"#;

#[allow(dead_code)]
fn sts_config() -> irsa_sts_core::Config {
    irsa_sts_core::Config::from_yaml(STS_CONFIG).expect("fixed config")
}

#[allow(dead_code)]
fn master(seed: u8) -> irsa_sts_core::MasterKey {
    irsa_sts_core::MasterKey::from_bytes([seed; 32]).expect("master key")
}

/// Active key 1, older key 2 still opening tokens.
#[allow(dead_code)]
fn sts_keyring() -> irsa_sts_core::KeyRing {
    irsa_sts_core::KeyRing::new(master(1), vec![master(2)]).expect("key ring")
}
