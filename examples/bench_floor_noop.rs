//! Bench floor: a lambda_http function that does no AWS work at all. Its cold start is
//! the least any lambda_http function can have (process, tokio, the runtime client, the
//! first event's parsing), so the real function's start-up is read as "this much above".

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        Ok::<_, Error>(
            Response::builder()
                .status(201)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"job_id":"noop"}"#))?,
        )
    }))
    .await
}
