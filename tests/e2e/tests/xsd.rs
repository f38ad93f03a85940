//! XML Schema validation on a SOAP route of the inner tier (the sample service in
//! deploy/examples/xsd: an envelope schema importing the orders namespace, which includes
//! restricted types): a valid request reaches the backend, a violating one is refused
//! with 422 and an audit record naming the schema file and the element path, a DOCTYPE
//! is still refused by the XML safety check before the validator, and a schema importing
//! a remote URL stops the inner at load.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use rampart_test_support::backend::Backend;
use rampart_test_support::client::{collect, http1};
use rampart_test_support::stack::{Stack, StackOptions};

use crate::common::{assert_problem, bins};

fn schema() -> String {
    format!(
        "{}/../../deploy/examples/xsd/envelope.xsd",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn soap(body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri("/soap/orders")
        .header("host", "api.example.test")
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"urn:example:orders#PlaceOrder\"")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

fn order(customer: &str, quantity: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\
         <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:ord=\"urn:example:orders\"><soap:Body>\
         <ord:PlaceOrder currency=\"EUR\"><ord:customerId>{customer}</ord:customerId>\
         <ord:line><ord:sku>ABC-1234</ord:sku><ord:quantity>{quantity}</ord:quantity></ord:line>\
         </ord:PlaceOrder></soap:Body></soap:Envelope>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soap_request_violating_its_schema_gets_422_and_a_valid_one_passes() {
    let backend = Backend::start().await;
    let mut opts = StackOptions::new(backend.url());
    opts.routes = format!(
        "[[routes]]\nname = \"orders-soap\"\npath_prefix = \"/soap\"\nupstream = \"app\"\n\
         xml_schema = {{ file = {:?}, mode = \"block\" }}\n",
        schema()
    );
    let stack = Stack::start(&bins(), &opts);

    let valid = collect(
        http1(stack.http(), soap(&order("c-1001", "3")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(valid.status.as_u16(), 200, "{:?}", valid.body);

    let violating = order("c-secret-77", "1001");
    let refused = collect(http1(stack.http(), soap(&violating)).await.unwrap()).await;
    assert_problem(&refused, 422, "unprocessable-content");

    // JSON on a schema-validated route would bypass the schema: refused.
    let json = Request::builder()
        .method("POST")
        .uri("/soap/orders")
        .header("host", "api.example.test")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"quantity\":1001}")))
        .unwrap();
    let refused_json = collect(http1(stack.http(), json).await.unwrap()).await;
    assert_problem(&refused_json, 415, "unsupported-media-type");

    // A DOCTYPE never reaches the validator: the XML safety check refuses it first.
    let doctype = "<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>".to_owned()
        + &order("&x;", "3");
    let refused_dtd = collect(http1(stack.http(), soap(&doctype)).await.unwrap()).await;
    assert!(
        [400, 403].contains(&refused_dtd.status.as_u16()),
        "{:?}",
        refused_dtd.status
    );

    // Only the valid request reached the backend.
    assert_eq!(backend.seen().len(), 1);

    let inner = stack.inner.as_ref().unwrap();
    let audit: Vec<_> = inner
        .logs()
        .into_iter()
        .filter(|l| l["target"] == "rampart::audit")
        .collect();
    let violation = audit
        .iter()
        .find(|l| l["check"] == "xml-schema" && l["rule"] == "schema-violation")
        .unwrap_or_else(|| panic!("no schema audit record: {audit:?}"));
    assert_eq!(violation["status"], 422);
    let location = violation["location"].as_str().unwrap();
    assert!(
        location.starts_with("envelope.xsd: /Envelope/Body/PlaceOrder/line/quantity"),
        "{location}"
    );
    // The DOCTYPE (and the JSON body) never reached the validator.
    let validated = audit
        .iter()
        .filter(|l| l["rule"] == "schema-violation")
        .count();
    assert_eq!(validated, 1, "{audit:?}");
    // Document values never reach the audit log.
    let text = format!("{audit:?}");
    assert!(!text.contains("secret") && !text.contains("1001"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_importing_a_remote_url_stops_the_inner_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("remote.xsd");
    std::fs::write(
        &schema,
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:a\">\
         <xs:import namespace=\"urn:b\" schemaLocation=\"http://127.0.0.1:9/b.xsd\"/>\
         <xs:element name=\"a\" type=\"xs:string\"/></xs:schema>",
    )
    .unwrap();
    let config = dir.path().join("inner.toml");
    std::fs::write(
        &config,
        format!(
            "[[routes]]\nname = \"soap\"\nupstream = \"app\"\n\
             xml_schema = {{ file = {:?} }}\n",
            schema.display().to_string()
        ),
    )
    .unwrap();
    let err = match rampart_inner::InnerConfig::load(&config) {
        Ok(_) => panic!("a remote import was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("routes[0].xml_schema.file"), "{err}");
    assert!(err.contains("not a local file"), "{err}");
}
