#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use rampart_core::config::Problems;
use rampart_core::problem::Reason;

use super::*;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/examples/xsd")
}

fn policy(extra: &str) -> Arc<XsdPolicy> {
    let raw: RawXmlSchema = toml::from_str(&format!("file = \"envelope.xsd\"\n{extra}")).unwrap();
    let mut p = Problems::default();
    let policy = validate(&mut p, "routes[0]", &sample_dir(), &raw);
    assert!(p.is_empty(), "{p:?}");
    policy.unwrap()
}

fn envelope(body: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:ord=\"urn:example:orders\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

fn order(currency: &str, customer: &str, sku: &str, quantity: &str) -> String {
    envelope(&format!(
        "<ord:PlaceOrder currency=\"{currency}\"><ord:customerId>{customer}</ord:customerId>\
         <ord:line><ord:sku>{sku}</ord:sku><ord:quantity>{quantity}</ord:quantity></ord:line>\
         </ord:PlaceOrder>"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violations_are_refused_and_look_alike_valid_documents_pass() {
    let policy = policy("");
    // (case, document, the element the location must name; None: valid)
    let cases = [
        ("valid order", order("EUR", "c-1", "ABC-1234", "3"), None),
        (
            "largest quantity",
            order("USD", "c-1", "ZZZ-0000", "1000"),
            None,
        ),
        (
            "cancel",
            envelope("<ord:CancelOrder><ord:orderId>7</ord:orderId></ord:CancelOrder>"),
            None,
        ),
        (
            "quantity above the restriction",
            order("EUR", "c-1", "ABC-1234", "1001"),
            Some("quantity"),
        ),
        (
            "quantity zero",
            order("EUR", "c-1", "ABC-1234", "0"),
            Some("quantity"),
        ),
        (
            "sku in lower case",
            order("EUR", "c-1", "abc-1234", "3"),
            Some("sku"),
        ),
        (
            "currency not enumerated",
            order("GBP", "c-1", "ABC-1234", "3"),
            Some("PlaceOrder"),
        ),
        (
            "empty customer",
            order("EUR", "", "ABC-1234", "3"),
            Some("customerId"),
        ),
        (
            "operation not in the service",
            envelope("<ord:DropTables/>"),
            Some("DropTables"),
        ),
        (
            "wrong namespace",
            envelope("<PlaceOrder currency=\"EUR\"/>"),
            Some("PlaceOrder"),
        ),
        (
            "no body",
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"/>".into(),
            Some("Envelope"),
        ),
    ];
    for (case, doc, element) in cases {
        let mut observations = Vec::new();
        let denial = policy.check(Bytes::from(doc), &mut observations).await;
        match (element, denial) {
            (None, None) => {}
            (Some(element), Some(d)) => {
                assert_eq!(d.reason, Reason::UnprocessableContent, "{case}");
                assert_eq!(d.rule.as_deref(), Some("schema-violation"), "{case}");
                let location = d.location.unwrap();
                assert!(location.starts_with("envelope.xsd: "), "{case}: {location}");
                assert!(location.contains(element), "{case}: {location}");
            }
            (expected, got) => panic!("{case}: expected {expected:?}, got {got:?}"),
        }
        assert!(observations.is_empty(), "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_location_never_carries_document_values() {
    let policy = policy("");
    let secret = "SECRET-4242-value-that-is-far-too-long-for-the-customer-id";
    let doc = order("EUR", secret, "ABC-1234", "3");
    let denial = policy
        .check(Bytes::from(doc), &mut Vec::new())
        .await
        .unwrap();
    let location = denial.location.unwrap();
    assert!(!location.contains("SECRET"), "{location}");
    assert!(
        location.contains("/Envelope/Body/PlaceOrder/customerId"),
        "{location}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_mode_reports_instead_of_refusing() {
    let policy = policy("mode = \"detect\"");
    let mut observations = Vec::new();
    let doc = order("EUR", "c-1", "ABC-1234", "0");
    assert!(
        policy
            .check(Bytes::from(doc), &mut observations)
            .await
            .is_none()
    );
    assert_eq!(observations.len(), 1);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn schema_importing(location: &str) -> String {
    format!(
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:a\">\
         <xs:import namespace=\"urn:b\" schemaLocation=\"{location}\"/>\
         <xs:element name=\"a\" type=\"xs:string\"/></xs:schema>"
    )
}

#[test]
fn schemas_are_read_from_local_files_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        &dir.path().join("sub"),
        "b.xsd",
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:b\">\
         <xs:element name=\"b\" type=\"xs:string\"/></xs:schema>",
    );
    // (schemaLocation, accepted)
    let cases = [
        ("sub/b.xsd", true),
        ("./sub/../sub/b.xsd", true),
        ("http://127.0.0.1:9/b.xsd", false),
        ("https://schemas.example/b.xsd", false),
        ("HTTP://127.0.0.1:9/b.xsd", false),
        ("file:///etc/passwd", false),
        ("ftp://127.0.0.1/b.xsd", false),
        ("//127.0.0.1/b.xsd", false),
        ("sub/missing.xsd", false),
    ];
    for (location, accepted) in cases {
        let root = write(dir.path(), "a.xsd", &schema_importing(location));
        let mut p = Problems::default();
        let raw = RawXmlSchema {
            file: Some(root),
            ..RawXmlSchema::default()
        };
        let built = validate(&mut p, "routes[0]", dir.path(), &raw);
        assert_eq!(built.is_some(), accepted, "{location}: {p:?}");
        if !accepted {
            assert!(
                format!("{p:?}").contains("routes[0].xml_schema.file"),
                "{p:?}"
            );
        }
    }
}

#[test]
fn schemas_with_a_dtd_or_errors_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "dtd",
            "<!DOCTYPE xs:schema [<!ENTITY x SYSTEM \"http://127.0.0.1:9/x\">]>\
             <xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"/>",
        ),
        (
            "unknown type",
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\
             <xs:element name=\"a\" type=\"xs:nosuchtype\"/></xs:schema>",
        ),
        ("not xml", "this is not a schema"),
    ];
    for (case, text) in cases {
        let root = write(dir.path(), "bad.xsd", text);
        let mut p = Problems::default();
        let raw = RawXmlSchema {
            file: Some(root),
            ..RawXmlSchema::default()
        };
        assert!(
            validate(&mut p, "routes[0]", dir.path(), &raw).is_none(),
            "{case}"
        );
        assert!(!p.is_empty(), "{case}");
    }
}

#[test]
fn element_names_are_taken_from_messages_sanitised() {
    let cases = [
        (
            "Element '{urn:example:orders}quantity': [facet 'maxInclusive'] The value '1001' is greater",
            Some("quantity"),
        ),
        (
            "Element 'PlaceOrder', attribute 'currency': [facet 'enumeration'] The value 'GBP'",
            Some("PlaceOrder"),
        ),
        ("Element 'a<script>': oops", Some("ascript")),
        ("No element here: 'quantity'", None),
    ];
    for (message, expected) in cases {
        assert_eq!(
            pool::element_name(message).as_deref(),
            expected,
            "{message}"
        );
    }
}
