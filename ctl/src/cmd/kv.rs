//! `get`, `put` and `del`.

use cairn_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use cairn_proto::etcdserverpb::{
    DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse,
};

use super::{arg_or_stdin, bad_args, go_bool, parse_lease_hex, prefix_end};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Format, Printer};

/// `get [options] <key> [range_end]`
#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long = "sort-by", default_value = "")]
    sort_by: String,
    /// Maximum number of results
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    limit: i64,
    /// Get keys with matching prefix
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    rev: i64,
    /// Get only the keys
    #[arg(long = "keys-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    keys_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long = "print-value-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    print_value_only: bool,
    /// <key> [range_end]
    #[arg(allow_hyphen_values = false)]
    pub args: Vec<String>,
}

/// The request `get` sends, or why its arguments are wrong.
fn range_request(a: &GetArgs) -> Result<RangeRequest, Fail> {
    range_request_of(a, &bytes_of(&a.args))
}

/// The positional arguments as bytes.
fn bytes_of(args: &[String]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.clone().into_bytes()).collect()
}

/// The request `get` sends for the flags of `a` and the positional arguments `args` (bytes, as a
/// txn's quoted arguments may not be UTF-8), or why they are wrong.
pub fn range_request_of(a: &GetArgs, args: &[Vec<u8>]) -> Result<RangeRequest, Fail> {
    if args.is_empty() {
        return Err(bad_args("get command needs one argument as key and an optional argument as range_end"));
    }
    if a.prefix && a.from_key {
        return Err(bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one"));
    }
    let mut request = RangeRequest { key: args[0].clone(), ..Default::default() };
    match a.consistency.as_str() {
        "s" => request.serializable = true,
        "l" => {}
        other => return Err(Fail::bad_feature(format!("unknown consistency flag {}", print::go_quote(other)))),
    }
    if args.len() > 1 {
        if a.prefix || a.from_key {
            return Err(bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        request.range_end = args[1].clone();
    }
    request.limit = a.limit;
    if a.rev > 0 {
        request.revision = a.rev;
    }
    let order = match a.order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(Fail::bad_feature(format!("bad sort order {}", a.order))),
    };
    let target = match a.sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(Fail::bad_feature(format!("bad sort target {}", a.sort_by))),
    };
    // clientv3: keys come back in ascending key order anyway, so that order is not asked for.
    let order = if target == SortTarget::Key && order == SortOrder::Ascend { SortOrder::None } else { order };
    request.sort_order = order as i32;
    request.sort_target = target as i32;
    if a.prefix {
        if request.key.is_empty() {
            request.key = vec![0];
            request.range_end = vec![0];
        } else {
            request.range_end = prefix_end(&request.key);
        }
    }
    if a.from_key {
        if request.key.is_empty() {
            request.key = vec![0];
        }
        request.range_end = vec![0];
    }
    request.keys_only = a.keys_only;
    Ok(request)
}

/// Runs `get`.
pub async fn get(ctx: &Ctx, args: GetArgs) -> Result<(), Fail> {
    let request = range_request(&args)?;
    let client = ctx.client().await?;
    let response = ctx.timed(client.kv().range(request)).await?.into_inner();
    let printer = ctx.printer()?;
    if args.print_value_only && printer.format != Format::Simple {
        return Err(bad_args("print-value-only is only for `--write-out=simple`"));
    }
    print_get(printer, &response, args.print_value_only)
}

/// Prints a range response as `get` does (and as a txn's range results are printed).
pub fn print_get(printer: Printer, response: &RangeResponse, value_only: bool) -> Result<(), Fail> {
    match printer.format {
        Format::Simple => print::out(&simple_get(response, printer.hex, value_only)),
        Format::Fields => print::out(&fields_get(response)),
        Format::Json => print::json(response, "etcdserverpb.RangeResponse"),
        Format::Protobuf => print::protobuf(response),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// The simple printer's lines for a range response.
pub fn simple_get(response: &RangeResponse, hex: bool, value_only: bool) -> String {
    response.kvs.iter().map(|kv| print::simple_kv(kv, hex, value_only)).collect()
}

/// The fields printer's lines for a range response.
pub fn fields_get(response: &RangeResponse) -> String {
    let mut text = print::fields_header(response.header.as_ref());
    for kv in &response.kvs {
        text.push_str(&print::fields_kv("", kv));
    }
    text.push_str(&format!("\"More\" : {}\n\"Count\" : {}\n", response.more, response.count));
    text
}

/// `put [options] <key> <value>`
#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    lease: String,
    /// return the previous key-value pair before modification
    #[arg(long = "prev-kv", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prev_kv: bool,
    /// updates the key using its current value
    #[arg(long = "ignore-value", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    ignore_value: bool,
    /// updates the key using its current lease
    #[arg(long = "ignore-lease", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    ignore_lease: bool,
    /// <key> <value>
    pub args: Vec<String>,
}

fn put_request(a: &PutArgs) -> Result<PutRequest, Fail> {
    put_request_of(a, &bytes_of(&a.args), || arg_or_stdin(&a.args, 1).map(String::into_bytes))
}

/// The request `put` sends for the flags of `a` and the positional arguments `args`; the value
/// comes from `value_or_stdin` (the second argument, else stdin) unless `--ignore-value`.
pub fn put_request_of(
    a: &PutArgs,
    args: &[Vec<u8>],
    value_or_stdin: impl FnOnce() -> Result<Vec<u8>, ()>,
) -> Result<PutRequest, Fail> {
    let usage = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = args.first() else {
        return Err(bad_args(usage));
    };
    if a.ignore_value && args.len() > 1 {
        return Err(bad_args("put command needs only 1 argument when 'ignore-value' is set"));
    }
    let value = if a.ignore_value { Vec::new() } else { value_or_stdin().map_err(|()| bad_args(usage))? };
    let lease = parse_lease_hex(&a.lease).map_err(|e| bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    Ok(PutRequest {
        key: key.clone(),
        value,
        lease,
        prev_kv: a.prev_kv,
        ignore_value: a.ignore_value,
        ignore_lease: a.ignore_lease,
    })
}

/// Runs `put`.
pub async fn put(ctx: &Ctx, args: PutArgs) -> Result<(), Fail> {
    let request = put_request(&args)?;
    let client = ctx.client().await?;
    let response = ctx.timed(client.kv().put(request)).await?.into_inner();
    print_put(ctx.printer()?, &response)
}

/// Prints a put response as `put` does.
pub fn print_put(printer: Printer, response: &PutResponse) -> Result<(), Fail> {
    match printer.format {
        Format::Simple => print::out(&simple_put(response, printer.hex)),
        Format::Fields => print::out(&fields_put(response)),
        Format::Json => print::json(response, "etcdserverpb.PutResponse"),
        Format::Protobuf => print::protobuf(response),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// The simple printer's lines for a put response.
pub fn simple_put(response: &PutResponse, hex: bool) -> String {
    let mut text = "OK\n".to_owned();
    if let Some(prev) = &response.prev_kv {
        text.push_str(&print::simple_kv(prev, hex, false));
    }
    text
}

/// The fields printer's lines for a put response.
pub fn fields_put(response: &PutResponse) -> String {
    let mut text = print::fields_header(response.header.as_ref());
    if let Some(prev) = &response.prev_kv {
        text.push_str(&print::fields_kv("Prev", prev));
    }
    text
}

/// `del [options] <key> [range_end]`
#[derive(Debug, clap::Args)]
pub struct DelArgs {
    /// delete keys with matching prefix
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prefix: bool,
    /// return deleted key-value pairs
    #[arg(long = "prev-kv", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    prev_kv: bool,
    /// delete keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    from_key: bool,
    /// <key> [range_end]
    pub args: Vec<String>,
}

fn delete_request(a: &DelArgs) -> Result<DeleteRangeRequest, Fail> {
    delete_request_of(a, &bytes_of(&a.args))
}

/// The request `del` sends for the flags of `a` and the positional arguments `args`.
pub fn delete_request_of(a: &DelArgs, args: &[Vec<u8>]) -> Result<DeleteRangeRequest, Fail> {
    if args.is_empty() || args.len() > 2 {
        return Err(bad_args("del command needs one argument as key and an optional argument as range_end"));
    }
    if a.prefix && a.from_key {
        return Err(bad_args("`--prefix` and `--from-key` cannot be set at the same time, choose one"));
    }
    let mut request = DeleteRangeRequest { key: args[0].clone(), ..Default::default() };
    if args.len() > 1 {
        if a.prefix || a.from_key {
            return Err(bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        request.range_end = args[1].clone();
    }
    if a.prefix {
        if request.key.is_empty() {
            request.key = vec![0];
            request.range_end = vec![0];
        } else {
            request.range_end = prefix_end(&request.key);
        }
    }
    request.prev_kv = a.prev_kv;
    if a.from_key {
        if request.key.is_empty() {
            request.key = vec![0];
        }
        request.range_end = vec![0];
    }
    Ok(request)
}

/// Runs `del`.
pub async fn del(ctx: &Ctx, args: DelArgs) -> Result<(), Fail> {
    let request = delete_request(&args)?;
    let client = ctx.client().await?;
    let response = ctx.timed(client.kv().delete_range(request)).await?.into_inner();
    print_del(ctx.printer()?, &response)
}

/// Prints a delete response as `del` does.
pub fn print_del(printer: Printer, response: &DeleteRangeResponse) -> Result<(), Fail> {
    match printer.format {
        Format::Simple => print::out(&simple_del(response, printer.hex)),
        Format::Fields => print::out(&fields_del(response)),
        Format::Json => print::json(response, "etcdserverpb.DeleteRangeResponse"),
        Format::Protobuf => print::protobuf(response),
        Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// The simple printer's lines for a delete response.
pub fn simple_del(response: &DeleteRangeResponse, hex: bool) -> String {
    let mut text = format!("{}\n", response.deleted);
    for kv in &response.prev_kvs {
        text.push_str(&print::simple_kv(kv, hex, false));
    }
    text
}

/// The fields printer's lines for a delete response.
pub fn fields_del(response: &DeleteRangeResponse) -> String {
    let mut text = print::fields_header(response.header.as_ref());
    text.push_str(&format!("\"Deleted\" : {}\n", response.deleted));
    for kv in &response.prev_kvs {
        text.push_str(&print::fields_kv("Prev", kv));
    }
    text
}
