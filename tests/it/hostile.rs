//! Hostile input and hostile identity, through the handler against the local DynamoDB:
//! each attempt gets its documented `4xx`, a JSON body, and changes nothing.

use jobs_api::{App, Config};
use serde_json::{Value, json};

use crate::common::*;

/// Sends `request` as `tenant`'s organization and checks the status, that the answer is
/// JSON, and that the organization's partition holds exactly `items` items afterwards.
async fn refused(
    app: &App,
    tenant: &Tenant,
    request: lambda_http::Request,
    status: u16,
    items: i32,
) -> Reply {
    let label = format!("{} {}", request.method(), request.uri());
    let reply = send(app, request).await;
    assert_eq!(reply.status, status, "{label}: {}", reply.body);
    assert!(
        reply.body["detail"].is_string() || reply.body["detail"].is_array(),
        "{label}"
    );
    assert_eq!(
        items_of(&client().await, &tenant.org).await,
        items,
        "{label} changed nothing"
    );
    reply
}

fn raw(
    tenant: &Tenant,
    method: &str,
    path: &str,
    content_type: &str,
    body: lambda_http::Body,
) -> lambda_http::Request {
    let mut request = request(
        method,
        path,
        &[
            ("authorization", &tenant.auth),
            ("content-type", content_type),
        ],
        "",
    );
    *request.body_mut() = body;
    request
}

#[tokio::test]
async fn hostile_bodies_are_refused_and_write_nothing() {
    let app = app().await;
    let tenant = Tenant::new("hostile-body");
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_metadata = {
        let mut value = json!(1);
        for _ in 0..50 {
            value = json!({ "n": value });
        }
        json!({"job_type": "crawl", "total_items": 1, "metadata": value})
    };
    let bytes = |text: &str| lambda_http::Body::from(text.to_owned());
    let cases: Vec<(lambda_http::Request, u16)> = vec![
        // Too large: the body, and metadata within a body that fits.
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(&"x".repeat(70_000))), 413),
        (tenant.post("/api/jobs/", &json!({"job_type": "crawl", "total_items": 1, "metadata": {"x": "y".repeat(17_000)}})), 422),
        // Nesting: past serde's recursion limit, and past the metadata depth limit.
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(&deep)), 400),
        (tenant.post("/api/jobs/", &deep_metadata), 422),
        // Numbers. `1e400` is read exactly, so it is a count out of range (pydantic
        // refuses it with 422 too), not malformed JSON.
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(r#"{"job_type":"crawl","total_items":1e400}"#)), 422),
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(r#"{"job_type":"crawl","total_items":18446744073709551616}"#)), 422),
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(r#"{"job_type":"crawl","total_items":-0.5}"#)), 422),
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(r#"{"job_type":"crawl","total_items":1,"metadata":{"n":1e300}}"#)), 422),
        // Encoding and types.
        (raw(&tenant, "POST", "/api/jobs/", "application/json", lambda_http::Body::Binary(b"{\"job_type\":\"cr\xc3\x28wl\",\"total_items\":1}".to_vec())), 400),
        (raw(&tenant, "POST", "/api/jobs/", "text/plain", bytes(r#"{"job_type":"crawl","total_items":1}"#)), 415),
        (raw(&tenant, "POST", "/api/jobs/", "application/xml", bytes("<job/>")), 415),
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes("null")), 422),
        (raw(&tenant, "POST", "/api/jobs/", "application/json", bytes(r#""a string""#)), 422),
    ];
    for (request, status) in cases {
        refused(&app, &tenant, request, status, 0).await;
    }
}

#[tokio::test]
async fn duplicate_keys_take_the_last_value_like_pythons_json() {
    let app = app().await;
    let tenant = Tenant::new("hostile-dup");
    let body = r#"{"job_type":"mining","job_type":"crawl","total_items":-1,"total_items":2}"#;
    let reply = send(
        &app,
        raw(
            &tenant,
            "POST",
            "/api/jobs/",
            "application/json",
            lambda_http::Body::from(body),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        (
            reply.body["job_type"].clone(),
            reply.body["total_items"].clone()
        ),
        (json!("crawl"), json!(2))
    );
}

#[tokio::test]
async fn hostile_paths_headers_and_methods_are_refused() {
    let app = app().await;
    let tenant = Tenant::new("hostile-path");
    let job_id = tenant
        .create(&app, json!({"job_type": "crawl", "total_items": 1}))
        .await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let items = 1;
    for path in [
        "/api/jobs/..".to_owned(),
        "/api/jobs/%2e%2e%2fetc%2fpasswd".to_owned(),
        format!("/api/jobs/{job_id}%00"),
        format!("/api/jobs/{}", job_id.to_uppercase()),
        format!("/api/jobs/{}", "a".repeat(5000)),
        "/api/jobs/ORG%23other%23JOB%23x".to_owned(),
    ] {
        let reply = refused(&app, &tenant, tenant.get(&path), 404, items).await;
        assert_eq!(reply.body, json!({"detail": "Job not found"}), "{path}");
    }
    for path in [
        "/api/jobs/../../admin",
        "/api//jobs",
        "/api/jobs/x/y/z",
        "/etc/passwd",
    ] {
        refused(&app, &tenant, tenant.get(path), 404, items).await;
    }
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PURGE"] {
        let reply = refused(
            &app,
            &tenant,
            request(
                method,
                &format!("/api/jobs/{job_id}"),
                &[("authorization", &tenant.auth)],
                "",
            ),
            405,
            items,
        )
        .await;
        assert_eq!(reply.headers["allow"], "GET");
    }
    let long = "x".repeat(10_000);
    let body = json!({"job_type": "crawl", "total_items": 1}).to_string();
    let with = |name: &str, value: &str| {
        request(
            "POST",
            "/api/jobs/",
            &[
                ("authorization", &tenant.auth),
                ("content-type", "application/json"),
                (name, value),
            ],
            &body,
        )
    };
    refused(&app, &tenant, with("x-organization-id", &long), 403, items).await;
    refused(&app, &tenant, with("idempotency-key", &long), 422, items).await;
    let huge_token = request(
        "POST",
        "/api/jobs/",
        &[
            ("authorization", &format!("Bearer {long}")),
            ("content-type", "application/json"),
        ],
        &body,
    );
    refused(&app, &tenant, huge_token, 401, items).await;
    let long_type = raw(
        &tenant,
        "POST",
        "/api/jobs/",
        &long,
        lambda_http::Body::from(body.clone()),
    );
    refused(&app, &tenant, long_type, 415, items).await;
}

/// An app whose JWT check also requires an issuer and an audience.
async fn strict_app() -> App {
    let secret = env("JOBS_JWT_SECRET");
    let table = env("JOBS_TABLE_NAME");
    let config = Config::from_lookup(|name| match name {
        "JOBS_TABLE_NAME" => Some(table.clone()),
        "JOBS_JWT_ALGORITHM" => Some("HS256".into()),
        "JOBS_JWT_SECRET" => Some(secret.clone()),
        "JOBS_JWT_ISSUER" => Some("https://auth.example.com".into()),
        "JOBS_JWT_AUDIENCE" => Some("jobs-api".into()),
        _ => None,
    })
    .unwrap();
    App::new(config, client().await)
}

#[tokio::test]
async fn hostile_tokens_are_401_and_write_nothing() {
    use base64::Engine;
    let app = strict_app().await;
    let tenant = Tenant::new("hostile-token");
    let good = || {
        let mut claims = claims(&tenant.org);
        claims["iss"] = json!("https://auth.example.com");
        claims["aud"] = json!("jobs-api");
        claims
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good();
        change(&mut claims);
        token(&claims)
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(good().to_string())
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &good(),
        &jsonwebtoken::EncodingKey::from_secret(env("JOBS_JWT_SECRET").as_bytes()),
    )
    .unwrap();
    let tokens = [
        ("expired", with(&|c| c["exp"] = json!(1_000_000_000))),
        (
            "not yet valid",
            with(&|c| c["nbf"] = json!(4_000_000_000u64)),
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example.com")),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("other-api"))),
        (
            "no expiry",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        ("null audience", with(&|c| c["aud"] = Value::Null)),
        (
            "an audience that is no string",
            with(&|c| c["aud"] = json!(7)),
        ),
        ("an empty audience list", with(&|c| c["aud"] = json!([]))),
        (
            "other key",
            sign(&good(), b"an-attackers-secret-an-attackers-secret"),
        ),
        ("alg none", unsigned),
        ("another algorithm", hs512),
        ("truncated", token(&good())[..40].to_owned()),
    ];
    let body = json!({"job_type": "crawl", "total_items": 1});
    for (why, token) in tokens {
        let request = request(
            "POST",
            "/api/jobs/",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            &body.to_string(),
        );
        let reply = send(&app, request).await;
        assert_eq!(reply.status, 401, "{why}: {}", reply.body);
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    let accepted = request(
        "POST",
        "/api/jobs/",
        &[
            ("authorization", &format!("Bearer {}", token(&good()))),
            ("content-type", "application/json"),
        ],
        &body.to_string(),
    );
    assert_eq!(
        send(&app, accepted).await.status,
        201,
        "the same token, valid, is accepted"
    );
    assert_eq!(
        items_of(&client().await, &tenant.org).await,
        1,
        "only the valid token wrote"
    );
}

#[tokio::test]
async fn permissions_are_enforced_on_every_route() {
    let app = app().await;
    let owner = Tenant::new("hostile-perm");
    let job_id = owner
        .create(&app, json!({"job_type": "crawl", "total_items": 1}))
        .await["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let as_with = |permissions: Value| {
        let mut claims = claims(&owner.org);
        claims["permissions"] = permissions;
        Tenant {
            org: owner.org.clone(),
            auth: format!("Bearer {}", token(&claims)),
        }
    };
    let reader = as_with(json!(["job:read"]));
    let nobody = as_with(json!([]));
    let writes = |t: &Tenant| {
        vec![
            t.post(
                "/api/jobs/",
                &json!({"job_type": "crawl", "total_items": 1}),
            ),
            t.post(
                &format!("/api/jobs/{job_id}/progress"),
                &json!({"processed_items": 1}),
            ),
            t.post(&format!("/api/jobs/{job_id}/cancel"), &json!({})),
        ]
    };
    let reads = |t: &Tenant| {
        vec![
            t.get("/api/jobs/"),
            t.get(&format!("/api/jobs/{job_id}")),
            t.get(&format!("/api/jobs/{job_id}/status")),
            t.get(&format!("/api/jobs/{job_id}/errors")),
            t.get(&format!("/api/jobs/{job_id}/warnings")),
        ]
    };
    for request in writes(&reader)
        .into_iter()
        .chain(writes(&nobody))
        .chain(reads(&nobody))
    {
        let reply = refused(&app, &owner, request, 403, 1).await;
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Missing permission job:")
        );
    }
    for request in reads(&reader) {
        assert_eq!(send(&app, request).await.status, 200);
    }
    let job = send(&app, owner.get(&format!("/api/jobs/{job_id}")))
        .await
        .body;
    assert_eq!(
        (job["status"].clone(), job["processed_items"].clone()),
        (json!("pending"), json!(0))
    );
}

/// `metadata_patch` within its 16 KiB but with a few hundred keys made an update
/// expression past DynamoDB's 4 KB (a `500` against the strict local DynamoDB); an
/// empty key is an empty attribute name. Both are `422` at their place now, writing
/// nothing; 100 keys (the documented most) still land.
#[tokio::test]
async fn metadata_patches_dynamodb_cannot_take_are_refused_at_their_path() {
    let app = app().await;
    let t = Tenant::new("patch-limits");
    let id = t
        .create_id(&app, json!({"job_type": "crawl", "total_items": 1}))
        .await;
    let keys = |n: usize| -> Value {
        (0..n)
            .map(|i| (format!("key{i:03}"), json!(i)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let path = format!("/api/jobs/{id}/progress");
    let before = stored_item(&client().await, &t.org, &id).await;
    let reply = refused(
        &app,
        &t,
        t.post(&path, &json!({"metadata_patch": keys(300)})),
        422,
        1,
    )
    .await;
    assert_eq!(
        reply.body["detail"][0]["loc"],
        json!(["body", "metadata_patch"])
    );
    assert!(
        reply.body["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("100 keys")
    );
    for (patch, loc) in [
        (json!({"": 1}), json!(["body", "metadata_patch", ""])),
        (
            json!({"a": {"b": [{"": 1}]}}),
            json!(["body", "metadata_patch", "a", "b", 0, ""]),
        ),
    ] {
        let reply = refused(
            &app,
            &t,
            t.post(&path, &json!({"metadata_patch": patch})),
            422,
            1,
        )
        .await;
        assert_eq!(reply.body["detail"][0]["loc"], loc, "{patch}");
    }
    assert_eq!(stored_item(&client().await, &t.org, &id).await, before);
    let reply = send(
        &app,
        t.post(
            &path,
            &json!({"metadata_patch": keys(100), "stage": "s", "message": "m"}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["metadata"].as_object().unwrap().len(), 102);
}

/// Metadata grown report by report to DynamoDB's 400 KB item limit: the report that
/// would pass it is the documented `409` and writes nothing, whether it is one update
/// or a transaction (an error, a warning or an `Idempotency-Key` make one; DynamoDB
/// then cancels it with a `ValidationError` reason, which was a `500`).
#[tokio::test]
async fn a_report_past_the_item_limit_is_409_in_an_update_and_in_a_transaction() {
    let app = app().await;
    let client = client().await;
    let t = Tenant::new("item-limit");
    let id = t
        .create_id(&app, json!({"job_type": "crawl", "total_items": 1}))
        .await;
    let path = format!("/api/jobs/{id}/progress");
    let text = "x".repeat(16_000);
    let mut patches = 0;
    let refused_plain = loop {
        let body = json!({"metadata_patch": {format!("k{patches:03}"): text}});
        let reply = send(&app, t.post(&path, &body)).await;
        if reply.status != 200 {
            break reply;
        }
        patches += 1;
        assert!(patches < 40, "400 KB is about 25 patches of 16 KB");
    };
    assert_eq!(refused_plain.status, 409, "{}", refused_plain.body);
    assert!(patches >= 20, "{patches}");
    let before = stored_item(&client, &t.org, &id).await;
    let error = json!({"entity_key": "row-1", "entity_type": "row", "error_type": "parse", "message": "bad"});
    let body = json!({"metadata_patch": {"more": text}, "error": error});
    let in_transaction = send(&app, t.post(&path, &body)).await;
    assert_eq!(in_transaction.status, 409, "{}", in_transaction.body);
    assert!(
        in_transaction.body["detail"]
            .as_str()
            .unwrap()
            .contains("item size limit"),
        "{}",
        in_transaction.body
    );
    let keyed = request(
        "POST",
        &path,
        &[
            ("content-type", "application/json"),
            ("authorization", &t.auth),
            ("idempotency-key", "past-the-limit"),
        ],
        &json!({"metadata_patch": {"more": text}}).to_string(),
    );
    let reply = send(&app, keyed).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(
        stored_item(&client, &t.org, &id).await,
        before,
        "nothing written"
    );
    assert!(history_items(&client, &t.org, &id).await.is_empty());
    // The job still takes what fits (a heartbeat changes no attribute's size).
    let reply = send(&app, t.post(&path, &json!({}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
