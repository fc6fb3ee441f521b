//! Row- and attribute-level bypass attempts against the gateway with dynalite upstream,
//! behind a recording proxy: every attempt is refused and nothing reaches the upstream;
//! the legitimate requests beside them succeed (so a gateway that refused everything
//! would fail here too). Then a differential run: expressions that dynalite accepts or
//! refuses, sent both directly and through the gateway under an allow-all role, must be
//! accepted or refused alike.

use super::*;

const ATTACK_CONFIG: &str = r#"
account: "111122223333"
region: us-east-1
roles:
  - name: player
    trustPolicy: &trust
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Federated: arn:aws:iam::111122223333:oidc-provider/oidc.example.test}
          Action: sts:AssumeRoleWithWebIdentity
    policies:
      own-rows:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:BatchGetItem, dynamodb:PutItem,
                     dynamodb:UpdateItem, dynamodb:DeleteItem, dynamodb:BatchWriteItem,
                     dynamodb:ConditionCheckItem]
            Resource:
              - arn:aws:dynamodb:us-east-1:111122223333:table/scores
              - arn:aws:dynamodb:us-east-1:111122223333:table/profiles
            Condition:
              ForAllValues:StringEquals:
                dynamodb:LeadingKeys: [alice]
  - name: auditor
    trustPolicy: *trust
    policies:
      all-rows:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: "dynamodb:Query", Resource: "arn:aws:dynamodb:us-east-1:111122223333:table/scores"}
  - name: limited
    trustPolicy: *trust
    policies:
      some-attributes:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [dynamodb:GetItem, dynamodb:Query, dynamodb:UpdateItem, dynamodb:PutItem]
            Resource: arn:aws:dynamodb:us-east-1:111122223333:table/profiles
            Condition:
              ForAllValues:StringEquals:
                dynamodb:Attributes: [UserId, Score]
              StringEqualsIfExists:
                dynamodb:Select: SPECIFIC_ATTRIBUTES
  - name: admin
    trustPolicy: *trust
    policies:
      everything:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Action: "dynamodb:*", Resource: "*"}
signingKeys:
  - file: master.key
gateway:
  upstream:
    url: UPSTREAM_URL
    accessKeyId: AKIAUPSTREAMEXAMPLE1
    secretAccessKeyFile: upstream.secret
"#;

/// A reverse proxy in front of dynalite that counts what it forwards (`DescribeTable`
/// lookups aside).
async fn recording_proxy(
    upstream: String,
    forwarded: Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        let forwarded = forwarded.clone();
        async move {
            let (parts, body) = req.into_parts();
            let describe = parts
                .headers
                .get("x-amz-target")
                .is_some_and(|t| t == "DynamoDB_20120810.DescribeTable");
            if !describe {
                forwarded.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let body = axum::body::to_bytes(body, 32 << 20).await.unwrap();
            let mut out = http::Request::builder()
                .method(parts.method)
                .uri(format!("{upstream}{}", parts.uri));
            for (n, v) in &parts.headers {
                if n != "host" {
                    out = out.header(n, v);
                }
            }
            let response = client
                .request(out.body(Full::new(body)).unwrap())
                .await
                .unwrap();
            let (parts, body) = response.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            http::Response::from_parts(parts, axum::body::Body::from(body))
        }
    });
    irsa_test::net::serve(app).await
}

struct Arena {
    _dir: tempfile::TempDir,
    _dynalite: Dynalite,
    upstream: String,
    gateway: String,
    ring: KeyRing,
    forwarded: Arc<std::sync::atomic::AtomicUsize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Arena {
    async fn start() -> Option<Arena> {
        let dynalite = dynalite()?;
        let upstream = dynalite.url.clone();
        seed_games(&upstream).await;
        let forwarded = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let proxy = recording_proxy(upstream.clone(), forwarded.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate(&mut rand::rngs::OsRng);
        std::fs::write(dir.path().join("master.key"), key.to_hex()).unwrap();
        std::fs::write(dir.path().join("upstream.secret"), UPSTREAM_SECRET).unwrap();
        let config = dir.path().join("irsa.yaml");
        std::fs::write(&config, ATTACK_CONFIG.replace("UPSTREAM_URL", &proxy)).unwrap();
        let gateway = irsa_gateway::from_file(
            &config,
            UpstreamSection::default(),
            Duration::from_secs(10),
            Options::default(),
        )
        .unwrap();
        let (addr, tx) = serve_gateway(gateway).await;
        Some(Arena {
            _dir: dir,
            _dynalite: dynalite,
            upstream,
            gateway: format!("http://{addr}"),
            ring: KeyRing::single(key),
            forwarded,
            _shutdown: tx,
        })
    }

    fn creds(&self, role: &str, session_policy: Option<&str>) -> Creds {
        let mut claims = Env::claims(role, now(), now() + 3600);
        claims.session_policy = session_policy.map(str::to_owned);
        Creds::from(&issue_credentials(&self.ring, &claims, &mut rand::rngs::OsRng).unwrap())
    }

    fn forwarded(&self) -> usize {
        self.forwarded.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Sends `body` (raw bytes, signed as they are) and expects a refusal with `code`
    /// that forwarded nothing.
    async fn refused(&self, creds: &Creds, what: &str, op: &str, body: &[u8], code: &str) {
        let before = self.forwarded();
        let a = send_raw_body(&self.gateway, creds, op, body).await;
        assert_eq!(
            (a.status, a.error_type().as_str()),
            (400, code),
            "{what}: {} {:?}",
            String::from_utf8_lossy(body),
            a.json()
        );
        assert_eq!(
            self.forwarded(),
            before,
            "{what}: nothing reaches the upstream"
        );
    }

    /// Sends `body` and expects the upstream's success.
    async fn allowed(&self, creds: &Creds, what: &str, op: &str, body: &[u8]) -> Value {
        let before = self.forwarded();
        let a = send_raw_body(&self.gateway, creds, op, body).await;
        assert_eq!(
            a.status,
            200,
            "{what}: {} {:?}",
            String::from_utf8_lossy(body),
            a.json()
        );
        assert_eq!(self.forwarded(), before + 1, "{what}: forwarded once");
        a.json()
    }
}

async fn seed_games(upstream: &str) {
    let create = |name: &str, range: bool| {
        let mut defs = vec![json!({"AttributeName": "UserId", "AttributeType": "S"})];
        let mut keys = vec![json!({"AttributeName": "UserId", "KeyType": "HASH"})];
        if range {
            defs.push(json!({"AttributeName": "GameTitle", "AttributeType": "S"}));
            keys.push(json!({"AttributeName": "GameTitle", "KeyType": "RANGE"}));
        }
        json!({"TableName": name, "AttributeDefinitions": defs, "KeySchema": keys,
               "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}})
    };
    for (name, range) in [("scores", true), ("profiles", false)] {
        let a = direct(upstream, "CreateTable", create(name, range)).await;
        assert_eq!(a.status, 200, "{:?}", a.json());
        wait_active(upstream, name).await;
    }
    for user in ["alice", "bob"] {
        for game in ["chess", "go"] {
            let a = direct(
                upstream,
                "PutItem",
                json!({"TableName": "scores", "Item": {"UserId": {"S": user},
                       "GameTitle": {"S": game}, "Score": {"N": "10"}}}),
            )
            .await;
            assert_eq!(a.status, 200, "{:?}", a.json());
        }
        let a = direct(
            upstream,
            "PutItem",
            json!({"TableName": "profiles", "Item": {"UserId": {"S": user},
                   "Score": {"N": "1"}, "Secret": {"S": format!("{user}-secret")}}}),
        )
        .await;
        assert_eq!(a.status, 200, "{:?}", a.json());
    }
}

/// A `Query` on `scores` with a key condition and `:u` (and `:g`, `:a`/`:b`, `:p` when
/// used) bound.
fn query(kce: &str, names: Option<Value>, user: &str) -> Vec<u8> {
    let mut values = serde_json::Map::new();
    values.insert(":u".into(), json!({"S": user}));
    for (k, v) in [(":g", "a"), (":a", "a"), (":b", "z"), (":p", "c")] {
        if kce.contains(k) {
            values.insert(k.into(), json!({"S": v}));
        }
    }
    let mut body = json!({"TableName": "scores", "KeyConditionExpression": kce,
                          "ExpressionAttributeValues": values});
    if let Some(n) = names {
        body["ExpressionAttributeNames"] = n;
    }
    serde_json::to_vec(&body).unwrap()
}

/// The key conditions an attacker tries: every one names `UserId = :u`.
const KEY_CONDITIONS: &[&str] = &[
    "UserId = :u",
    "(UserId = :u AND GameTitle > :g)",
    "(UserId) = :u",
    ":u = UserId",
    "( UserId )=:u",
    "UserId = :u and GameTitle > :g",
    "GameTitle > :g AND UserId = :u",
    "UserId = :u AND GameTitle BETWEEN :a AND :b",
    "UserId = :u AND begins_with(GameTitle, :p)",
    "(UserId = :u) AND (GameTitle > :g)",
    "\tUserId\n=\r:u",
    "(:u) = UserId",
    "UserId = :u AND (GameTitle) >= :g",
    "GameTitle < :g and (UserId = :u)",
];

#[tokio::test]
async fn row_and_attribute_bypasses_are_refused() {
    let Some(arena) = Arena::start().await else {
        return;
    };
    let player = arena.creds("player", None);
    let denied = "AccessDeniedException";
    let invalid = "ValidationException";

    // Every key-condition shape: alice's rows are served, bob's refused.
    for kce in KEY_CONDITIONS {
        let items = arena
            .allowed(&player, kce, "Query", &query(kce, None, "alice"))
            .await;
        assert!(
            items["Items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["UserId"]["S"] == "alice"),
            "{kce}: {items}"
        );
        arena
            .refused(&player, kce, "Query", &query(kce, None, "bob"), denied)
            .await;
    }
    // Placeholders, also with escapes in the name.
    for names in [json!({"#k": "UserId"}), json!({"#k": "User\u{0049}d"})] {
        let body = query("#k = :u", Some(names.clone()), "bob");
        arena
            .refused(&player, "placeholder", "Query", &body, denied)
            .await;
        let body = query("(#k) = :u", Some(names), "alice");
        arena.allowed(&player, "placeholder", "Query", &body).await;
    }
    let raw = br##"{"TableName":"scores","KeyConditionExpression":"#k = :u","ExpressionAttributeNames":{"#k":"User\u0049d"},"ExpressionAttributeValues":{":u":{"S":"b\u006fb"}}}"##;
    arena
        .refused(&player, "escaped value", "Query", raw, denied)
        .await;
    // Hash-only table.
    let body = br#"{"TableName":"profiles","KeyConditionExpression":"(UserId) = :u","ExpressionAttributeValues":{":u":{"S":"bob"}}}"#;
    arena
        .refused(&player, "hash-only", "Query", body, denied)
        .await;
    // Legacy KeyConditions.
    let body = br#"{"TableName":"scores","KeyConditions":{"UserId":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"bob"}]}}}"#;
    arena
        .refused(&player, "KeyConditions", "Query", body, denied)
        .await;
    // Both forms at once: which one would the upstream use?
    let body = br#"{"TableName":"scores","KeyConditionExpression":"UserId = :u","ExpressionAttributeValues":{":u":{"S":"alice"}},"KeyConditions":{"UserId":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"bob"}]}}}"#;
    arena
        .refused(&player, "both key forms", "Query", body, invalid)
        .await;
    // A value named twice: one parser reads alice, another bob.
    let body = br#"{"TableName":"scores","KeyConditionExpression":"UserId = :u","ExpressionAttributeValues":{":u":{"S":"alice"},":u":{"S":"bob"}}}"#;
    arena
        .refused(
            &player,
            "duplicate value",
            "Query",
            body,
            "SerializationException",
        )
        .await;
    let body = br#"{"TableName":"scores","KeyConditionExpression":"UserId = :u","ExpressionAttributeValues":{":u":{"S":"alice","S":"bob"}}}"#;
    arena
        .refused(&player, "duplicate type", "Query", body, invalid)
        .await;
    // Member names differing in case.
    let body = br#"{"TableName":"scores","KeyConditionExpression":"UserId = :u","keyConditionExpression":"UserId = :v","ExpressionAttributeValues":{":u":{"S":"alice"},":v":{"S":"bob"}}}"#;
    arena
        .refused(
            &player,
            "member case",
            "Query",
            body,
            "SerializationException",
        )
        .await;
    // OR, NOT, IN, <>: not key conditions.
    for kce in [
        "UserId = :u OR UserId = :a",
        "NOT UserId = :a",
        "UserId IN (:u, :a)",
        "UserId <> :a",
        "UserId = :u AND UserId = :a",
        "UserId.x = :u",
        "UserId = :u AND Score = :a",
        "GameTitle > :g",
        "((UserId = :u))",
        "size(UserId) = :u",
    ] {
        let mut body: Value = serde_json::from_slice(&query(kce, None, "alice")).unwrap();
        if kce.contains(":a") {
            body["ExpressionAttributeValues"][":a"] = json!({"S": "bob"});
        }
        arena
            .refused(
                &player,
                kce,
                "Query",
                &serde_json::to_vec(&body).unwrap(),
                invalid,
            )
            .await;
    }
    // A start key in bob's partition under alice's condition.
    let body = br#"{"TableName":"scores","KeyConditionExpression":"UserId = :u","ExpressionAttributeValues":{":u":{"S":"alice"}},"ExclusiveStartKey":{"UserId":{"S":"bob"},"GameTitle":{"S":"chess"}}}"#;
    arena
        .refused(&player, "start key", "Query", body, invalid)
        .await;

    // Item operations, batches and transactions addressing bob's rows.
    let key = |user: &str| json!({"UserId": {"S": user}, "GameTitle": {"S": "chess"}});
    for (op, body) in [
        ("GetItem", json!({"TableName": "scores", "Key": key("bob")})),
        (
            "DeleteItem",
            json!({"TableName": "scores", "Key": key("bob")}),
        ),
        (
            "PutItem",
            json!({"TableName": "scores", "Item": key("bob")}),
        ),
        (
            "UpdateItem",
            json!({"TableName": "scores", "Key": key("bob"),
            "UpdateExpression": "SET Score = :s", "ExpressionAttributeValues": {":s": {"N": "99"}}}),
        ),
        (
            "BatchGetItem",
            json!({"RequestItems": {"scores": {"Keys": [key("alice"), key("bob")]}}}),
        ),
        (
            "BatchWriteItem",
            json!({"RequestItems": {"scores": [
            {"PutRequest": {"Item": key("alice")}}, {"DeleteRequest": {"Key": key("bob")}}]}}),
        ),
        (
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "scores", "Key": key("bob")}}]}),
        ),
        (
            "TransactWriteItems",
            json!({"TransactItems": [{"ConditionCheck": {"TableName": "scores",
            "Key": key("bob"), "ConditionExpression": "attribute_exists(Score)"}}]}),
        ),
        (
            "GetItem",
            json!({"TableName": "profiles", "Key": {"UserId": {"S": "bob"}}}),
        ),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        arena.refused(&player, op, op, &bytes, denied).await;
    }
    arena
        .allowed(
            &player,
            "own item",
            "GetItem",
            &serde_json::to_vec(&json!({"TableName": "scores", "Key": key("alice")})).unwrap(),
        )
        .await;
    // A key attribute named twice in one key map.
    let body = br#"{"TableName":"scores","Key":{"UserId":{"S":"alice"},"GameTitle":{"S":"chess"},"UserId":{"S":"bob"}}}"#;
    arena
        .refused(
            &player,
            "duplicate key",
            "GetItem",
            body,
            "SerializationException",
        )
        .await;
    // Unknown members are not let through.
    let body = br#"{"TableName":"scores","Key":{"UserId":{"S":"alice"},"GameTitle":{"S":"chess"}},"Keys":[{"UserId":{"S":"bob"}}]}"#;
    arena
        .refused(
            &player,
            "unknown member",
            "GetItem",
            body,
            "SerializationException",
        )
        .await;

    // A session policy denying alice's partition: the deny applies whatever the form.
    let session = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"dynamodb:*","Resource":"*"},
        {"Effect":"Deny","Action":"dynamodb:Query","Resource":"*",
         "Condition":{"ForAnyValue:StringEquals":{"dynamodb:LeadingKeys":["alice"]}}}]}"#;
    let auditor = arena.creds("auditor", Some(session));
    for kce in KEY_CONDITIONS {
        arena
            .refused(&auditor, kce, "Query", &query(kce, None, "alice"), denied)
            .await;
        arena
            .allowed(&auditor, kce, "Query", &query(kce, None, "bob"))
            .await;
    }

    // Attribute-level: only UserId and Score, never Secret.
    let limited = arena.creds("limited", None);
    let alice = json!({"UserId": {"S": "alice"}});
    let get = |extra: Value| {
        let mut body = json!({"TableName": "profiles", "Key": alice.clone()});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::to_vec(&body).unwrap()
    };
    let read = arena
        .allowed(
            &limited,
            "allowed projection",
            "GetItem",
            &get(json!({"ProjectionExpression": "UserId, Score"})),
        )
        .await;
    assert!(read["Item"].get("Secret").is_none());
    for (what, extra) in [
        ("no projection", json!({})),
        ("plain", json!({"ProjectionExpression": "Secret"})),
        ("mixed", json!({"ProjectionExpression": "Score, Secret"})),
        (
            "placeholder",
            json!({"ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "Secret"}}),
        ),
        ("nested", json!({"ProjectionExpression": "Secret.x"})),
        ("indexed", json!({"ProjectionExpression": "Secret[0]"})),
        ("spaced", json!({"ProjectionExpression": " Score ,Secret "})),
        ("legacy", json!({"AttributesToGet": ["Score", "Secret"]})),
    ] {
        arena
            .refused(&limited, what, "GetItem", &get(extra), denied)
            .await;
    }
    let update = |expr: &str, extra: Value| {
        let mut body =
            json!({"TableName": "profiles", "Key": alice.clone(), "UpdateExpression": expr});
        if expr.contains(":v") {
            body["ExpressionAttributeValues"] = json!({":v": {"N": "5"}});
        }
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::to_vec(&body).unwrap()
    };
    arena
        .allowed(
            &limited,
            "allowed update",
            "UpdateItem",
            &update("SET Score = :v", json!({})),
        )
        .await;
    for (what, expr, extra) in [
        ("set", "SET Secret = :v", json!({})),
        ("copy", "SET Score = Secret", json!({})),
        ("remove", "REMOVE Secret", json!({})),
        ("add", "ADD Secret :v", json!({})),
        ("lowercase", "set Score = :v remove Secret", json!({})),
        (
            "placeholder",
            "SET #s = :v",
            json!({"ExpressionAttributeNames": {"#s": "Secret"}}),
        ),
        (
            "if_not_exists",
            "SET Score = if_not_exists(Secret, :v)",
            json!({}),
        ),
        (
            "condition",
            "SET Score = :v",
            json!({"ConditionExpression": "attribute_exists(Secret)"}),
        ),
    ] {
        arena
            .refused(&limited, what, "UpdateItem", &update(expr, extra), denied)
            .await;
    }
    let body = br#"{"TableName":"profiles","Key":{"UserId":{"S":"alice"}},"AttributeUpdates":{"Secret":{"Action":"DELETE"}}}"#;
    arena
        .refused(&limited, "legacy update", "UpdateItem", body, denied)
        .await;
    let body = br#"{"TableName":"profiles","Item":{"UserId":{"S":"alice"},"Secret":{"S":"x"}}}"#;
    arena
        .refused(&limited, "put", "PutItem", body, denied)
        .await;
    // A filter on a forbidden attribute is an oracle for its value.
    let body = br#"{"TableName":"profiles","KeyConditionExpression":"UserId = :u","FilterExpression":"begins_with(Secret, :p)","ProjectionExpression":"Score","ExpressionAttributeValues":{":u":{"S":"alice"},":p":{"S":"a"}}}"#;
    arena
        .refused(&limited, "filter oracle", "Query", body, denied)
        .await;
}

/// Expressions DynamoDB (here dynalite) accepts are accepted by the gateway, and those it
/// refuses the gateway refuses with the same error code, before forwarding.
#[tokio::test]
async fn expressions_are_read_as_the_upstream_reads_them() {
    let Some(arena) = Arena::start().await else {
        return;
    };
    let admin = arena.creds("admin", None);
    let upstream = upstream_creds();
    let cases: &[(&str, &str)] = &[
        ("Query", "UserId = :u"),
        ("Query", "(UserId) = :u"),
        ("Query", "(UserId = :u)"),
        ("Query", "((UserId = :u))"),
        ("Query", "((UserId)) = :u"),
        ("Query", ":u = UserId"),
        ("Query", "UserId = :u AND GameTitle BETWEEN :a AND :b"),
        ("Query", "UserId = :u AND GameTitle BETWEEN :b AND :a"),
        ("Query", "UserId = :u AND begins_with(GameTitle, :p)"),
        ("Query", "UserId = :u AND begins_with(:p, GameTitle)"),
        ("Query", "UserId = :u OR GameTitle = :g"),
        ("Query", "UserId = :u AND UserId = :u"),
        ("Query", "UserId = :u AND GameTitle = :g AND GameTitle = :g"),
        ("Query", "UserId.x = :u"),
        ("Query", "UserId[0] = :u"),
        ("Query", "UserId = :u AND"),
        ("Query", "UserId == :u"),
        ("Query", "UserId = :u;"),
        ("Query", "UserId = :nope"),
        ("Query", "Name = :u"),
        ("Query", "UserId = :u AND GameTitle > :g AND Score > :a"),
        ("Query", "NOT UserId = :u"),
        ("Query", "UserId IN (:u)"),
        ("Query", "size(UserId) = :u"),
        ("Query", ""),
    ];
    for (op, kce) in cases {
        let body = query(kce, None, "alice");
        let value: Value = serde_json::from_slice(&body).unwrap();
        let direct = send(Call::new(&arena.upstream, &upstream, op, value)).await;
        let before = arena.forwarded();
        let via = send_raw_body(&arena.gateway, &admin, op, &body).await;
        assert_eq!(
            (via.status, via.error_type()),
            (direct.status, direct.error_type()),
            "{kce:?}: dynalite {:?}, gateway {:?}",
            direct.json(),
            via.json()
        );
        // Refusals of the grammar happen before forwarding; only value checks (bounds in
        // order) are left to the upstream.
        let value_check = kce.contains("BETWEEN :b AND :a");
        let expect = usize::from(direct.status == 200 || value_check);
        assert_eq!(
            arena.forwarded(),
            before + expect,
            "{kce:?}: forwarded only when valid"
        );
    }
    let updates = [
        "SET Score = :v",
        "SET Score = Score + :v",
        "SET Score = (Score + :v)",
        "set Score = :v remove Extra",
        "SET Score = :v SET Extra = :v",
        "SET Score = :v, Score = :v",
        "SET a.b = :v REMOVE a",
        "REMOVE Score ADD Extra :v",
        "SET Score = list_append(Score, :v)",
        "SET Score = if_not_exists(Score, :v)",
        "SET Score = nope(Score)",
        "SET Name = :v",
        "SET #n = :v",
        "DELETE Score",
        "SET Score",
        "SET Score = :v,",
        "SET Score = :v REMOVE",
    ];
    for expr in updates {
        let mut body = json!({"TableName": "scores",
            "Key": {"UserId": {"S": "alice"}, "GameTitle": {"S": "chess"}},
            "UpdateExpression": expr});
        if expr.contains(":v") {
            body["ExpressionAttributeValues"] = json!({":v": {"N": "1"}});
        }
        if expr.contains("#n") {
            body["ExpressionAttributeNames"] = json!({"#n": "Name"});
        }
        let direct = send(Call::new(
            &arena.upstream,
            &upstream,
            "UpdateItem",
            body.clone(),
        ))
        .await;
        let via = send_raw_body(
            &arena.gateway,
            &admin,
            "UpdateItem",
            &serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(
            (via.status, via.error_type()),
            (direct.status, direct.error_type()),
            "{expr:?}: dynalite {:?}, gateway {:?}",
            direct.json(),
            via.json()
        );
    }
}
