//! DynamoDB requests authorized by `irsa-authz` (identity policies ∩ session policies, and
//! AWS's access-denied wording, the same for every service).

mod tests {
    use crate::{Authorization, LEADING_KEYS, Operation, Request, Schemas, Scope};
    use irsa_authz::{
        Caller, DenyReason, Prepared, RequestFacts, SessionPolicies, Uses, allow_skeleton,
        authorize, global_context,
    };
    use irsa_policy::{Context, Policy};
    use irsa_sts_core::{Config, SessionClaims};
    use serde_json::json;

    fn claims() -> SessionClaims {
        SessionClaims {
            role_arn: "arn:aws:iam::111122223333:role/team/reader".into(),
            role_id: "AROAEXAMPLEEXAMPLE123".into(),
            session_name: "app-1".into(),
            subject: "system:serviceaccount:default:app".into(),
            audience: "sts.amazonaws.com".into(),
            provider_arn: "arn:aws:iam::111122223333:oidc-provider/oidc.example.test".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            session_policy: None,
            policy_arns: vec![],
            source_identity: None,
            tags: vec![irsa_sts_core::SessionTag {
                key: "team".into(),
                value: "blue".into(),
            }],
            transitive_tag_keys: vec![],
        }
    }

    fn config() -> Config {
        Config::from_yaml("account: \"111122223333\"\nregion: us-east-1\n").unwrap()
    }

    fn policy(json: &str) -> Policy {
        Policy::parse(json).unwrap()
    }

    fn auths(op: &str, body: serde_json::Value) -> Vec<Authorization> {
        let scope = Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
        };
        let op = Operation::from_target(Some(&format!("DynamoDB_20120810.{op}"))).unwrap();
        let body = body.to_string();
        Request::parse(op, body.as_bytes())
            .unwrap()
            .authorizations(&scope, &Schemas::new())
            .unwrap()
    }

    fn facts() -> RequestFacts<'static> {
        RequestFacts {
            now: 1_700_000_100,
            source_ip: Some("10.0.0.7"),
            secure_transport: false,
            region: "us-east-1",
        }
    }

    const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["dynamodb:GetItem","dynamodb:Query"],
        "Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books"}]}"#;

    const ALL_DYNAMODB: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;

    /// The session's caller and its global keys.
    fn caller() -> (Caller, Context) {
        let c = Caller::of(&claims(), &config()).unwrap();
        let g = global_context(&claims(), &c, &facts());
        (c, g)
    }

    /// `identity` ∩ `session`, no resource policy, no undetermined key used.
    fn in_force<'a>(identity: &'a [Policy], session: Option<&'a [Policy]>) -> SessionPolicies<'a> {
        SessionPolicies {
            identity,
            session,
            resource: None,
            uses: Uses::default(),
        }
    }

    /// `GetItem` and `PutItem` of the item `Id` = `1` in `Books`.
    fn get_and_put() -> (Vec<Authorization>, Vec<Authorization>) {
        (
            auths(
                "GetItem",
                json!({"TableName": "Books", "Key": {"Id": {"S": "1"}}}),
            ),
            auths(
                "PutItem",
                json!({"TableName": "Books", "Item": {"Id": {"S": "1"}}}),
            ),
        )
    }

    #[test]
    fn caller_arn_drops_the_role_path() {
        let c = Caller::of(&claims(), &config()).unwrap();
        assert_eq!(c.arn, "arn:aws:sts::111122223333:assumed-role/reader/app-1");
        assert_eq!(c.account, "111122223333");
        let mut bad = claims();
        bad.role_arn = "arn:aws:iam::111122223333:user/x".into();
        assert!(Caller::of(&bad, &config()).is_none());
        // A role of another account or partition is not one of this deployment's.
        let mut foreign = claims();
        foreign.role_arn = "arn:aws:iam::444455556666:role/reader".into();
        assert!(Caller::of(&foreign, &config()).is_none());
    }

    #[test]
    fn global_keys() {
        let (c, g) = caller();
        let get = |k: &str| g.get(k).map(|v| v.values()[0].clone());
        assert_eq!(get("aws:userid").unwrap(), "AROAEXAMPLEEXAMPLE123:app-1");
        assert_eq!(get("aws:PrincipalTag/team").unwrap(), "blue");
        assert_eq!(
            get("aws:FederatedProvider").unwrap(),
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.test"
        );
        // A pod identity session has no OIDC provider: the key is absent, not empty.
        let mut pod = claims();
        pod.provider_arn.clear();
        assert!(
            global_context(&pod, &c, &facts())
                .get("aws:FederatedProvider")
                .is_none()
        );
        assert_eq!(get("aws:CurrentTime").unwrap(), "2023-11-14T22:15:00Z");
        assert_eq!(get("aws:TokenIssueTime").unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(get("aws:SourceIp").unwrap(), "10.0.0.7");
        assert_eq!(
            get("aws:PrincipalArn").unwrap(),
            "arn:aws:iam::111122223333:role/team/reader"
        );
    }

    #[test]
    fn allow_and_implicit_deny_wording() {
        let (c, g) = caller();
        let identity = [policy(READ)];
        let p = in_force(&identity, None);
        let (get, put) = get_and_put();
        assert_eq!(authorize(&p, &c, &g, &get), Ok(()));
        let d = authorize(&p, &c, &g, &put).unwrap_err();
        assert_eq!(d.reason, DenyReason::NoIdentityAllow);
        assert_eq!(
            d.to_string(),
            "User: arn:aws:sts::111122223333:assumed-role/reader/app-1 is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books because no identity-based policy allows the dynamodb:PutItem action"
        );
    }

    #[test]
    fn explicit_deny_wording() {
        let (c, g) = caller();
        let identity = [
            policy(READ),
            policy(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"dynamodb:*",
                "Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}}]}"#,
            ),
        ];
        let p = in_force(&identity, None);
        let (get, _) = get_and_put();
        let d = authorize(&p, &c, &g, &get).unwrap_err();
        assert_eq!(d.reason, DenyReason::ExplicitIdentityDeny);
        assert!(
            d.to_string()
                .ends_with("on resource: arn:aws:dynamodb:us-east-1:111122223333:table/Books with an explicit deny in an identity-based policy"),
            "{d}"
        );
    }

    #[test]
    fn session_policies_intersect() {
        let (c, g) = caller();
        let identity = [policy(ALL_DYNAMODB)];
        let session = [policy(READ)];
        let p = in_force(&identity, Some(&session));
        let (get, put) = get_and_put();
        assert_eq!(authorize(&p, &c, &g, &get), Ok(()));
        let d = authorize(&p, &c, &g, &put).unwrap_err();
        assert_eq!(d.reason, DenyReason::NoSessionAllow);
        assert!(
            d.to_string()
                .ends_with("because no session policy allows the dynamodb:PutItem action")
        );
        // A session policy cannot widen the role.
        let narrow = [policy(READ)];
        let wide = [policy(ALL_DYNAMODB)];
        let p = in_force(&narrow, Some(&wide));
        assert_eq!(
            authorize(&p, &c, &g, &put).unwrap_err().reason,
            DenyReason::NoIdentityAllow
        );
        // Explicit deny in the session policy.
        let deny = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
               {"Effect":"Deny","Action":"dynamodb:GetItem","Resource":"*"}]}"#,
        )];
        let p = in_force(&identity, Some(&deny));
        let d = authorize(&p, &c, &g, &get).unwrap_err();
        assert_eq!(d.reason, DenyReason::ExplicitSessionDeny);
        assert!(
            d.to_string()
                .ends_with("with an explicit deny in a session policy")
        );
        // Session policies that resolved to nothing allow nothing.
        let p = in_force(&identity, Some(&[]));
        assert_eq!(
            authorize(&p, &c, &g, &get).unwrap_err().reason,
            DenyReason::NoSessionAllow
        );
    }

    #[test]
    fn every_authorization_must_pass_and_the_first_failure_is_reported() {
        let (c, g) = caller();
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:BatchGetItem",
               "Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books"}]}"#,
        )];
        let p = in_force(&identity, None);
        let a = auths(
            "BatchGetItem",
            json!({"RequestItems": {"Books": {"Keys": [{"Id": {"S": "a"}}]}, "Secrets": {"Keys": [{"Id": {"S": "a"}}]}}}),
        );
        let d = authorize(&p, &c, &g, &a).unwrap_err();
        assert_eq!(
            d.resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Secrets"
        );
        assert_eq!(authorize(&p, &c, &g, &a[..1]), Ok(()));
    }

    #[test]
    fn nothing_to_authorize_is_denied() {
        let (c, g) = caller();
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )];
        let p = in_force(&identity, None);
        let d = authorize(&p, &c, &g, &[]).unwrap_err();
        assert_eq!(d.reason, DenyReason::NothingToAuthorize);
        assert!(
            d.to_string().starts_with(
                "User: arn:aws:sts::111122223333:assumed-role/reader/app-1 is not authorized"
            ),
            "{d}"
        );
    }

    #[test]
    fn skeletons_allow_at_least_what_the_policies_allow() {
        let lk = policy(
            r#"{"Version":"2012-10-17","Statement":[
               {"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:us-east-1:111122223333:table/Books",
                "Condition":{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["me"]}}},
               {"Effect":"Deny","Action":"dynamodb:*","Resource":"*"}]}"#,
        );
        let plain = policy(READ);
        assert!(Prepared::new(vec![lk.clone()]).mentions(LEADING_KEYS));
        assert!(!Prepared::new(vec![plain]).mentions(LEADING_KEYS));
        let odd_case = Prepared::new(vec![policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
               "Condition":{"Null":{"DynamoDB:leadingKEYS":"false"}}}]}"#,
        )]);
        assert!(Uses::new(&odd_case, None).key(LEADING_KEYS));
        let p = Prepared::new(vec![lk]);
        assert!(Uses::new(&p, None).key(LEADING_KEYS));
        let (c, g) = caller();
        let skeleton = in_force(&p.skeleton, None);
        // Any key: the skeleton allows PutItem on Books (the Deny and the condition gone).
        let put = auths(
            "PutItem",
            json!({"TableName": "Books", "Item": {"Id": {"S": "someone-else"}}}),
        );
        assert_eq!(authorize(&skeleton, &c, &g, &put), Ok(()));
        // Nothing allows GetItem, or PutItem on another table, whatever the keys.
        let get = auths(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Id": {"S": "me"}}}),
        );
        assert!(authorize(&skeleton, &c, &g, &get).is_err());
        let other = auths(
            "PutItem",
            json!({"TableName": "Other", "Item": {"Id": {"S": "me"}}}),
        );
        assert!(authorize(&skeleton, &c, &g, &other).is_err());
        // A policy of Deny statements only has no skeleton.
        assert!(
            allow_skeleton(&policy(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#
            ))
            .is_none()
        );
    }

    #[test]
    fn leading_keys_with_policy_variables() {
        let (c, g) = caller();
        let identity = [policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem",
               "Resource":"*","Condition":{"ForAllValues:StringEquals":
               {"dynamodb:LeadingKeys":["${aws:PrincipalTag/team}"]}}}]}"#,
        )];
        let p = in_force(&identity, None);
        let own = auths(
            "GetItem",
            json!({"TableName": "Teams", "Key": {"Team": {"S": "blue"}}}),
        );
        let other = auths(
            "GetItem",
            json!({"TableName": "Teams", "Key": {"Team": {"S": "red"}}}),
        );
        assert_eq!(authorize(&p, &c, &g, &own), Ok(()));
        assert_eq!(
            authorize(&p, &c, &g, &other).unwrap_err().reason,
            DenyReason::NoIdentityAllow
        );
    }
}
