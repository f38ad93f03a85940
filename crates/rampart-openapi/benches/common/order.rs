//! The contract and the 1 KiB order both the bench and the CPU-time example measure.

/// A small orders API with the usual keywords: `$ref`, formats, a pattern, bounds.
pub(crate) const SPEC: &str = r##"
openapi: 3.1.0
info: {title: orders, version: "1"}
paths:
  /orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Order"}
components:
  schemas:
    Order:
      type: object
      additionalProperties: false
      required: [customer, items]
      properties:
        customer: {type: string, format: uuid}
        email: {type: string, format: email}
        created: {type: string, format: date-time}
        note: {type: string, maxLength: 512}
        items:
          type: array
          maxItems: 50
          items:
            type: object
            additionalProperties: false
            required: [sku, quantity]
            properties:
              sku: {type: string, pattern: "^[A-Z]{2}-[0-9]{4}$"}
              quantity: {type: integer, minimum: 1, maximum: 100}
              price: {type: number, multipleOf: 0.01}
              gift: {type: boolean}
"##;

/// A valid order of at least 1 KiB.
pub(crate) fn order() -> String {
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        items.push(format!(
            r#"{{"sku":"AB-{:04}","quantity":{},"price":{}.99,"gift":false}}"#,
            1000 + i,
            1 + i % 99,
            i
        ));
        let body = format!(
            r#"{{"customer":"4f1c2a9e-8a1b-4c2d-9e3f-0a1b2c3d4e5f","email":"ops@example.com","created":"2026-11-28T12:00:00Z","note":"leave at the door, ring twice","items":[{}]}}"#,
            items.join(",")
        );
        if body.len() >= 1024 {
            return body;
        }
        i += 1;
    }
}
