//! `lease grant|revoke|timetolive|list|keep-alive`, and the keep-alive loop of clientv3 that
//! `lock` and `elect` sessions use too.
//!
//! etcdctl prints clientv3's lease responses, which embed `*pb.ResponseHeader`: Go's JSON then
//! flattens the header's fields into the object, and `-w protobuf` finds the header's `Marshal`
//! method promoted, so it prints the encoded header alone. `LeaseRevokeResponse` is a plain copy
//! of the protobuf struct without methods: its JSON has a `header` object and `-w protobuf` fails.

use std::time::Duration;

use cairn_client::Client;
use cairn_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest, LeaseRevokeRequest,
    LeaseTimeToLiveRequest, ResponseHeader,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{bad_args, go_bool, go_parse_int, parse_lease_hex};
use crate::exit::{self, Fail};
use crate::global::Ctx;
use crate::print::{self, Format, gojson};

/// The `lease` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Creates leases
    Grant {
        /// <ttl>
        args: Vec<String>,
    },
    /// Revokes leases
    Revoke {
        /// <leaseID>
        args: Vec<String>,
    },
    /// Get lease information
    Timetolive {
        /// Get keys attached to this lease
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        keys: bool,
        /// <leaseID>
        args: Vec<String>,
    },
    /// List all active leases
    List {
        /// Ignored, as etcdctl ignores them.
        args: Vec<String>,
    },
    /// Keeps leases alive (renew)
    KeepAlive {
        /// Resets the keep-alive time to its original value and exits immediately
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
        once: bool,
        /// <leaseID>
        args: Vec<String>,
    },
}

/// Runs a `lease` subcommand.
pub async fn run(ctx: &Ctx, command: LeaseCommand) -> Result<(), Fail> {
    match command {
        LeaseCommand::Grant { args } => grant(ctx, &args).await,
        LeaseCommand::Revoke { args } => revoke(ctx, &args).await,
        LeaseCommand::Timetolive { keys, args } => time_to_live(ctx, &args, keys).await,
        LeaseCommand::List { .. } => list(ctx).await,
        LeaseCommand::KeepAlive { once, args } => keep_alive_command(ctx, &args, once).await,
    }
}

/// etcdctl's `leaseFromArgs`.
fn lease_from_arg(arg: &str) -> Result<i64, Fail> {
    parse_lease_hex(arg).map_err(|e| bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

/// Go's `%016x` of a lease id (a signed 64-bit integer).
pub fn lease_hex(id: i64) -> String {
    if id < 0 { format!("-{:015x}", id.unsigned_abs()) } else { format!("{id:016x}") }
}

/// The header's fields as Go's JSON writes an embedded `*pb.ResponseHeader`.
fn header_pairs(header: Option<&ResponseHeader>) -> Vec<String> {
    header.map(|h| gojson::fields(h, "etcdserverpb.ResponseHeader")).unwrap_or_default()
}

/// A JSON object of the flattened header and `more` pairs.
fn flat_json(header: Option<&ResponseHeader>, more: &[String]) -> String {
    let mut pairs = header_pairs(header);
    pairs.extend_from_slice(more);
    format!("{{{}}}\n", pairs.join(","))
}

/// `-w protobuf` of a clientv3 response embedding the header: the header's encoding.
fn header_protobuf(header: Option<&ResponseHeader>) {
    if let Some(h) = header {
        print::protobuf(h);
    }
}

async fn grant(ctx: &Ctx, args: &[String]) -> Result<(), Fail> {
    if args.len() != 1 {
        return Err(bad_args("lease grant command needs TTL argument"));
    }
    let ttl = go_parse_int(&args[0], 10).map_err(|e| bad_args(format!("bad TTL ({e})")))?;
    let client = ctx.client().await?;
    let response = ctx
        .timed(client.lease().lease_grant(LeaseGrantRequest { ttl, id: 0 }))
        .await
        .map_err(|f| Fail::error(format!("failed to grant lease ({})", f.message)))?
        .into_inner();
    let printer = ctx.printer()?;
    let h = response.header.as_ref();
    match printer.format {
        Format::Simple => {
            print::out(&format!("lease {} granted with TTL({}s)\n", lease_hex(response.id), response.ttl))
        }
        Format::Json => print::out(&flat_json(
            h,
            &[
                format!("\"ID\":{}", response.id),
                format!("\"TTL\":{}", response.ttl),
                format!("\"Error\":\"{}\"", print::json_escape(&response.error)),
            ],
        )),
        Format::Fields => {
            print::out(&format!("{}\"ID\" : {}\n\"TTL\" : {}\n", print::fields_header(h), response.id, response.ttl))
        }
        Format::Protobuf => header_protobuf(h),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

async fn revoke(ctx: &Ctx, args: &[String]) -> Result<(), Fail> {
    if args.len() != 1 {
        return Err(bad_args("lease revoke command needs 1 argument"));
    }
    let id = lease_from_arg(&args[0])?;
    let client = ctx.client().await?;
    let response = ctx
        .timed(client.lease().lease_revoke(LeaseRevokeRequest { id }))
        .await
        .map_err(|f| Fail::error(format!("failed to revoke lease ({})", f.message)))?
        .into_inner();
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => print::out(&format!("lease {} revoked\n", lease_hex(id))),
        Format::Json => print::json(&response, "etcdserverpb.LeaseRevokeResponse"),
        Format::Fields => print::out(&print::fields_header(response.header.as_ref())),
        Format::Protobuf => {
            let header = response.header.as_ref().map(proto_text).unwrap_or_else(|| "<nil>".to_owned());
            return Err(Fail::bad_feature(format!(
                "marshal unsupported for type clientv3.LeaseRevokeResponse ({{{header}}})"
            )));
        }
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// gogo protobuf's compact text of a header (what Go's `%v` prints for it).
fn proto_text(h: &ResponseHeader) -> String {
    let mut text = String::new();
    for (name, value) in [("cluster_id", h.cluster_id), ("member_id", h.member_id)] {
        if value != 0 {
            text.push_str(&format!("{name}:{value} "));
        }
    }
    for (name, value) in [("revision", h.revision), ("raft_term", h.raft_term as i64)] {
        if value != 0 {
            text.push_str(&format!("{name}:{value} "));
        }
    }
    text
}

/// A unary call without a deadline (etcdctl's `context.TODO()`), logging a failure as Go's client
/// does.
async fn untimed<T>(
    ctx: &Ctx,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, Fail> {
    match call.await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) => {
            ctx.warn_failed(&status);
            Err(Fail::new(exit::BAD_CONNECTION, cairn_client::status_text(&status)))
        }
    }
}

async fn time_to_live(ctx: &Ctx, args: &[String], keys: bool) -> Result<(), Fail> {
    if args.len() != 1 {
        return Err(bad_args("lease timetolive command needs lease ID as argument"));
    }
    // etcdctl connects before it parses the id.
    let client = ctx.client().await?;
    let id = lease_from_arg(&args[0])?;
    let response = untimed(ctx, client.lease().lease_time_to_live(LeaseTimeToLiveRequest { id, keys })).await?;
    let printer = ctx.printer()?;
    let h = response.header.as_ref();
    match printer.format {
        Format::Simple => {
            if response.granted_ttl == 0 && response.ttl == -1 {
                print::out(&format!("lease {} already expired\n", lease_hex(response.id)));
                return Ok(());
            }
            let mut text = format!(
                "lease {} granted with TTL({}s), remaining({}s)",
                lease_hex(response.id),
                response.granted_ttl,
                response.ttl
            );
            if keys {
                let names: Vec<String> =
                    response.keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
                text.push_str(&format!(", attached keys([{}])", names.join(" ")));
            }
            print::out(&(text + "\n"));
        }
        Format::Json => {
            use base64::Engine as _;
            let keys = if response.keys.is_empty() {
                "null".to_owned()
            } else {
                let items: Vec<String> = response
                    .keys
                    .iter()
                    .map(|k| format!("\"{}\"", base64::engine::general_purpose::STANDARD.encode(k)))
                    .collect();
                format!("[{}]", items.join(","))
            };
            print::out(&flat_json(
                h,
                &[
                    format!("\"id\":{}", response.id),
                    format!("\"ttl\":{}", response.ttl),
                    format!("\"granted-ttl\":{}", response.granted_ttl),
                    format!("\"keys\":{keys}"),
                ],
            ));
        }
        Format::Fields => {
            let mut text = format!(
                "{}\"ID\" : {}\n\"TTL\" : {}\n\"GrantedTTL\" : {}\n",
                print::fields_header(h),
                response.id,
                response.ttl,
                response.granted_ttl
            );
            for key in &response.keys {
                text.push_str(&format!("\"Key\" : {}\n", print::go_quote_bytes(key)));
            }
            print::out(&text);
        }
        Format::Protobuf => header_protobuf(h),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

async fn list(ctx: &Ctx) -> Result<(), Fail> {
    let client = ctx.client().await?;
    let response = untimed(ctx, client.lease().lease_leases(LeaseLeasesRequest {})).await?;
    let printer = ctx.printer()?;
    let h = response.header.as_ref();
    match printer.format {
        Format::Simple => {
            let mut text = format!("found {} leases\n", response.leases.len());
            for lease in &response.leases {
                text.push_str(&format!("{}\n", lease_hex(lease.id)));
            }
            print::out(&text);
        }
        Format::Json => {
            let items: Vec<String> = response.leases.iter().map(|l| format!("{{\"id\":{}}}", l.id)).collect();
            print::out(&flat_json(h, &[format!("\"leases\":[{}]", items.join(","))]));
        }
        Format::Fields => {
            let mut text = print::fields_header(h);
            for lease in &response.leases {
                text.push_str(&format!("\"ID\" : {}\n", lease.id));
            }
            print::out(&text);
        }
        Format::Protobuf => header_protobuf(h),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// Prints a keep-alive response as etcdctl does.
fn print_keep_alive(ctx: &Ctx, response: &LeaseKeepAliveResponse) -> Result<(), Fail> {
    let printer = ctx.printer()?;
    let h = response.header.as_ref();
    match printer.format {
        Format::Simple => {
            print::out(&format!("lease {} keepalived with TTL({})\n", lease_hex(response.id), response.ttl))
        }
        Format::Json => {
            print::out(&flat_json(h, &[format!("\"ID\":{}", response.id), format!("\"TTL\":{}", response.ttl)]))
        }
        Format::Fields => {
            print::out(&format!("{}\"ID\" : {}\n\"TTL\" : {}\n", print::fields_header(h), response.id, response.ttl))
        }
        Format::Protobuf => header_protobuf(h),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

async fn keep_alive_command(ctx: &Ctx, args: &[String], once: bool) -> Result<(), Fail> {
    if args.len() != 1 {
        return Err(bad_args("lease keep-alive command needs lease ID as argument"));
    }
    let id = lease_from_arg(&args[0])?;
    let client = ctx.client().await?;
    if once {
        let response = keep_alive_once(&client, id)
            .await
            .map_err(|status| Fail::new(exit::BAD_CONNECTION, cairn_client::status_text(&status)))?;
        if response.ttl <= 0 {
            return Err(Fail::new(exit::BAD_CONNECTION, "etcdserver: requested lease not found"));
        }
        return print_keep_alive(ctx, &response);
    }
    let mut responses = keep_alive(client, id);
    while let Some(response) = responses.recv().await {
        print_keep_alive(ctx, &response)?;
    }
    if ctx.printer()?.format == Format::Simple {
        print::out(&format!("lease {} expired or revoked.\n", lease_hex(id)));
    }
    Ok(())
}

/// clientv3's `KeepAliveOnce`: one request on a fresh stream, retried while the server is
/// unavailable.
async fn keep_alive_once(client: &Client, id: i64) -> Result<LeaseKeepAliveResponse, tonic::Status> {
    loop {
        let request = tokio_stream::iter([LeaseKeepAliveRequest { id }]);
        let attempt = async {
            let mut stream = client.lease().lease_keep_alive(request).await?.into_inner();
            stream.message().await?.ok_or_else(|| tonic::Status::unavailable("keep-alive stream closed"))
        };
        match attempt.await {
            Ok(response) => return Ok(response),
            Err(status) if is_halt(&status) => return Err(status),
            Err(_) => tokio::time::sleep(RETRY_WAIT).await,
        }
    }
}

/// How long clientv3 waits before reopening a failed keep-alive stream.
const RETRY_WAIT: Duration = Duration::from_millis(500);
/// clientv3's deadline for the first keep-alive response, before the TTL is known.
const FIRST_DEADLINE: Duration = Duration::from_secs(5);

/// Whether clientv3 gives up on an error (anything but Unavailable and Internal).
fn is_halt(status: &tonic::Status) -> bool {
    !matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Internal)
}

/// clientv3's `KeepAlive`: renews lease `id` now and then every third of its TTL, sending each
/// response on the returned channel. The channel closes when the lease is gone (a response with
/// no TTL), when no response came before the lease would have expired, on an error other than
/// the server being unavailable, or when the receiver is dropped.
pub fn keep_alive(client: Client, id: i64) -> mpsc::Receiver<LeaseKeepAliveResponse> {
    let (out, responses) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut deadline = Instant::now() + FIRST_DEADLINE;
        loop {
            if let Some(()) = keep_alive_stream(&client, id, &out, &mut deadline).await {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(RETRY_WAIT) => {}
                () = tokio::time::sleep_until(deadline) => return,
                () = out.closed() => return,
            }
        }
    });
    responses
}

/// One keep-alive stream: `Some(())` when keeping alive is over, `None` to retry on a new stream.
async fn keep_alive_stream(
    client: &Client,
    id: i64,
    out: &mpsc::Sender<LeaseKeepAliveResponse>,
    deadline: &mut Instant,
) -> Option<()> {
    let (requests, rx) = mpsc::channel(4);
    requests.send(LeaseKeepAliveRequest { id }).await.ok()?;
    let mut stream = match client.lease().lease_keep_alive(tokio_stream::wrappers::ReceiverStream::new(rx)).await {
        Ok(response) => response.into_inner(),
        Err(status) if is_halt(&status) => return Some(()),
        Err(_) => return None,
    };
    let far = || Instant::now() + Duration::from_secs(86_400 * 365);
    let mut next_send = far();
    loop {
        tokio::select! {
            message = stream.message() => match message {
                Ok(Some(response)) => {
                    if response.ttl <= 0 {
                        return Some(());
                    }
                    let ttl = Duration::from_secs(response.ttl.unsigned_abs());
                    next_send = Instant::now() + ttl / 3;
                    *deadline = Instant::now() + ttl;
                    out.send(response).await.ok()?;
                }
                Ok(None) => return None,
                Err(status) if is_halt(&status) => return Some(()),
                Err(_) => return None,
            },
            () = tokio::time::sleep_until(next_send) => {
                next_send = far();
                if requests.send(LeaseKeepAliveRequest { id }).await.is_err() {
                    return None;
                }
            }
            () = tokio::time::sleep_until(*deadline) => return Some(()),
            () = out.closed() => return Some(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_print_as_go_prints_them() {
        assert_eq!(lease_hex(0x694d_7f0a_1b2c_3d4e), "694d7f0a1b2c3d4e");
        assert_eq!(lease_hex(255), "00000000000000ff");
        assert_eq!(lease_hex(-10), "-00000000000000a");
    }

    #[test]
    fn headers_print_as_proto_text() {
        let h = ResponseHeader { cluster_id: 1, member_id: 2, revision: 3, raft_term: 0 };
        assert_eq!(proto_text(&h), "cluster_id:1 member_id:2 revision:3 ");
    }
}
