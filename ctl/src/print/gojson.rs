//! JSON as etcdctl's `-w json` prints it: Go's `encoding/json` applied to the gogo-generated
//! structs of etcd's messages. That is not protobuf JSON: 64-bit integers are numbers, enums are
//! numbers, bytes are base64, every zero value is left out (`omitempty`), an unset message is
//! left out, and a oneof is an object under its Go name holding one member under its Go name
//! (`"Response":{"ResponsePut":{...}}`). Keys are the proto field names, in declaration order.
//!
//! The messages are walked through their descriptors (prost-reflect), so any etcd message prints
//! correctly without code per message.

use std::sync::LazyLock;

use base64::Engine as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};

use super::json_escape;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(cairn_proto::FILE_DESCRIPTOR_SET).expect("cairn-proto's descriptor set decodes")
});

fn descriptor(full_name: &str) -> MessageDescriptor {
    POOL.get_message_by_name(full_name).unwrap_or_else(|| panic!("no message {full_name} in cairn-proto"))
}

/// `message` (of protobuf type `full_name`, e.g. `etcdserverpb.RangeResponse`) as Go's
/// `json.Marshal` writes etcd's struct for it.
pub fn message<M: prost::Message>(message: &M, full_name: &str) -> String {
    let mut out = String::new();
    write_message(&mut out, &dynamic(message, full_name));
    out
}

/// The fields of `message` as `"key":value` pairs (no braces), in order: what Go writes for a
/// struct embedded in another (its fields are promoted into the outer object).
pub fn fields<M: prost::Message>(message: &M, full_name: &str) -> Vec<String> {
    let dynamic = dynamic(message, full_name);
    let mut pairs = Vec::new();
    write_fields(&mut pairs, &dynamic);
    pairs
}

fn dynamic<M: prost::Message>(message: &M, full_name: &str) -> DynamicMessage {
    DynamicMessage::decode(descriptor(full_name), message.encode_to_vec().as_slice())
        .expect("a message re-decodes with its own descriptor")
}

fn write_message(out: &mut String, message: &DynamicMessage) {
    let mut pairs = Vec::new();
    write_fields(&mut pairs, message);
    out.push('{');
    out.push_str(&pairs.join(","));
    out.push('}');
}

/// Go's name for a proto name: `response_range` → `ResponseRange`.
fn go_name(proto_name: &str) -> String {
    proto_name
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn write_fields(pairs: &mut Vec<String>, message: &DynamicMessage) {
    let descriptor = message.descriptor();
    let mut oneofs_done: Vec<String> = Vec::new();
    for field in descriptor.fields() {
        if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
            if oneofs_done.iter().any(|name| name == oneof.name()) {
                continue;
            }
            oneofs_done.push(oneof.name().to_owned());
            // No `omitempty` on the interface field: an unset oneof is `null`.
            let set = oneof.fields().find(|f| message.has_field(f));
            let value = match set {
                Some(member) => {
                    let mut inner = String::new();
                    write_value(&mut inner, &member, &message.get_field(&member));
                    format!("{{\"{}\":{inner}}}", go_name(member.name()))
                }
                None => "null".to_owned(),
            };
            pairs.push(format!("\"{}\":{value}", go_name(oneof.name())));
            continue;
        }
        if !message.has_field(&field) || is_empty(&message.get_field(&field)) {
            continue;
        }
        let mut value = String::new();
        write_value(&mut value, &field, &message.get_field(&field));
        pairs.push(format!("\"{}\":{value}", json_escape(field.name())));
    }
}

/// Whether Go's `omitempty` leaves the value out (a set message is never empty: it is a pointer).
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Message(_) => false,
    }
}

fn write_value(out: &mut String, field: &FieldDescriptor, value: &Value) {
    match value {
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_scalar(out, field, item);
            }
            out.push(']');
        }
        other => write_scalar(out, field, other),
    }
}

fn write_scalar(out: &mut String, field: &FieldDescriptor, value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(n) | Value::EnumNumber(n) => out.push_str(&n.to_string()),
        Value::I64(n) => out.push_str(&n.to_string()),
        Value::U32(n) => out.push_str(&n.to_string()),
        Value::U64(n) => out.push_str(&n.to_string()),
        Value::F32(n) => out.push_str(&n.to_string()),
        Value::F64(n) => out.push_str(&n.to_string()),
        Value::String(s) => {
            out.push('"');
            out.push_str(&json_escape(s));
            out.push('"');
        }
        Value::Bytes(b) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::Message(m) => write_message(out, m),
        Value::List(_) | Value::Map(_) => {
            // Nested lists do not occur in etcd's messages; maps neither.
            debug_assert!(matches!(field.kind(), Kind::Message(_)), "unexpected nested collection");
            out.push_str("null");
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_proto::etcdserverpb::{RangeResponse, ResponseHeader, ResponseOp, TxnResponse, response_op};
    use cairn_proto::mvccpb::KeyValue;

    use super::*;

    #[test]
    fn range_response_prints_as_go_does() {
        let response = RangeResponse {
            header: Some(ResponseHeader {
                cluster_id: 14841639068965178418,
                member_id: 10276657743932975437,
                revision: 2,
                raft_term: 2,
            }),
            kvs: vec![KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 2,
                version: 1,
                value: b"bar".to_vec(),
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        assert_eq!(
            message(&response, "etcdserverpb.RangeResponse"),
            r#"{"header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":2,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":2,"version":1,"value":"YmFy"}],"count":1}"#
        );
    }

    #[test]
    fn oneofs_print_under_their_go_names() {
        let response = TxnResponse {
            header: Some(ResponseHeader::default()),
            succeeded: true,
            responses: vec![ResponseOp { response: Some(response_op::Response::ResponsePut(Default::default())) }],
        };
        assert_eq!(
            message(&response, "etcdserverpb.TxnResponse"),
            r#"{"header":{},"succeeded":true,"responses":[{"Response":{"ResponsePut":{}}}]}"#
        );
    }
}
