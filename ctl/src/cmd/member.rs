//! `member add|remove|update|list|promote`.

use cairn_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse, MemberPromoteRequest,
    MemberRemoveRequest, MemberUpdateRequest, ResponseHeader,
};

use super::{bad_args, go_bool, go_parse_uint};
use crate::exit::Fail;
use crate::global::Ctx;
use crate::print::{self, Format, go_quote};

/// The `member` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Adds a member into the cluster
    Add(AddArgs),
    /// Removes a member from the cluster
    Remove(IdArgs),
    /// Updates a member in the cluster
    Update(UpdateArgs),
    /// Lists all members in the cluster
    List(AnyArgs),
    /// Promotes a non-voting member in the cluster
    Promote(IdArgs),
}

/// `member add <memberName> [options]`
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// comma separated peer URLs for the new member.
    #[arg(long = "peer-urls", default_value = "")]
    peer_urls: String,
    /// indicates if the new member is raft learner
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = go_bool)]
    learner: bool,
    /// <memberName>
    args: Vec<String>,
}

/// `member update <memberID> [options]`
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// comma separated peer URLs for the updated member.
    #[arg(long = "peer-urls", default_value = "")]
    peer_urls: String,
    /// <memberID>
    args: Vec<String>,
}

/// `member remove|promote <memberID>`
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// <memberID>
    args: Vec<String>,
}

/// A command that takes no arguments but, like cobra's, ignores any given.
#[derive(Debug, clap::Args)]
pub struct AnyArgs {
    /// Ignored.
    #[arg(hide = true)]
    args: Vec<String>,
}

/// Runs a `member` subcommand.
pub async fn run(ctx: &Ctx, command: MemberCommand) -> Result<(), Fail> {
    match command {
        MemberCommand::Add(args) => add(ctx, args).await,
        MemberCommand::Remove(args) => change(ctx, Change::Remove, &args.args, "").await,
        MemberCommand::Update(args) => change(ctx, Change::Update, &args.args, &args.peer_urls).await,
        MemberCommand::Promote(args) => change(ctx, Change::Promote, &args.args, "").await,
        MemberCommand::List(_) => list(ctx).await,
    }
}

async fn add(ctx: &Ctx, args: AddArgs) -> Result<(), Fail> {
    let Some(name) = args.args.first() else {
        return Err(bad_args("member name not provided"));
    };
    if args.args.len() > 1 {
        let mut text = "too many arguments".to_owned();
        for arg in args.args.iter().filter(|a| a.to_lowercase().starts_with("http")) {
            text.push_str(&format!(", did you mean --peer-urls={arg}"));
        }
        return Err(bad_args(text));
    }
    if args.peer_urls.is_empty() {
        return Err(bad_args("member peer urls not provided"));
    }
    let urls: Vec<String> = args.peer_urls.split(',').map(str::to_owned).collect();
    let client = ctx.client().await?;
    // clientv3 checks the URLs before it asks (so that a bad one cannot reach rafthttp).
    check_urls(&urls).map_err(Fail::error)?;
    let request = MemberAddRequest { peer_ur_ls: urls, is_learner: args.learner };
    let response = ctx.timed(client.cluster().member_add(request)).await?.into_inner();
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => print::out(&simple_add(&response, name, &args.peer_urls)),
        Format::Json => print::json(&response, "etcdserverpb.MemberAddResponse"),
        Format::Protobuf => print::protobuf(&response),
        Format::Fields | Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

/// What `member add` prints in the simple format: the new id, then the variables to start the
/// new member with.
fn simple_add(response: &MemberAddResponse, name: &str, peer_urls: &str) -> String {
    let new_id = response.member.as_ref().map_or(0, |m| m.id);
    let cluster = response.header.as_ref().map_or(0, |h| h.cluster_id);
    let conf: Vec<String> = response
        .members
        .iter()
        .flat_map(|m| {
            let member_name = if m.id == new_id { name } else { m.name.as_str() };
            m.peer_ur_ls.iter().map(move |u| format!("{member_name}={u}"))
        })
        .collect();
    format!(
        "Member {new_id:>16x} added to cluster {cluster:>16x}\n\nETCD_NAME={}\nETCD_INITIAL_CLUSTER={}\nETCD_INITIAL_ADVERTISE_PEER_URLS={}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
        go_quote(name),
        go_quote(&conf.join(",")),
        go_quote(peer_urls),
    )
}

/// The membership changes that name a member by id.
#[derive(Debug, Clone, Copy)]
enum Change {
    Remove,
    Update,
    Promote,
}

async fn change(ctx: &Ctx, change: Change, args: &[String], peer_urls: &str) -> Result<(), Fail> {
    if args.len() != 1 {
        return Err(bad_args("member ID is not provided"));
    }
    let id =
        go_parse_uint(&args[0], 16).map_err(|e| bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))?;
    if matches!(change, Change::Update) && peer_urls.is_empty() {
        return Err(bad_args("member peer urls not provided"));
    }
    let client = ctx.client().await?;
    let mut cluster = client.cluster();
    // Each response is printed from its header and, for json and protobuf, as itself.
    let (header, json, bytes, verb): (Option<ResponseHeader>, String, Vec<u8>, &str) = match change {
        Change::Remove => {
            let r = ctx.timed(cluster.member_remove(MemberRemoveRequest { id })).await?.into_inner();
            let json = print::gojson::message(&r, "etcdserverpb.MemberRemoveResponse");
            (r.header, json, prost::Message::encode_to_vec(&r), "removed from")
        }
        Change::Update => {
            let urls: Vec<String> = peer_urls.split(',').map(str::to_owned).collect();
            check_urls(&urls).map_err(Fail::error)?;
            let request = MemberUpdateRequest { id, peer_ur_ls: urls };
            let r = ctx.timed(cluster.member_update(request)).await?.into_inner();
            let json = print::gojson::message(&r, "etcdserverpb.MemberUpdateResponse");
            (r.header, json, prost::Message::encode_to_vec(&r), "updated in")
        }
        Change::Promote => {
            let r = ctx.timed(cluster.member_promote(MemberPromoteRequest { id })).await?.into_inner();
            let json = print::gojson::message(&r, "etcdserverpb.MemberPromoteResponse");
            (r.header, json, prost::Message::encode_to_vec(&r), "promoted in")
        }
    };
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => {
            let cluster_id = header.map_or(0, |h| h.cluster_id);
            print::out(&format!("Member {id:>16x} {verb} cluster {cluster_id:>16x}\n"));
        }
        Format::Json => print::out(&(json + "\n")),
        Format::Protobuf => print::out_bytes(&bytes),
        Format::Fields | Format::Table => return Err(printer.format.unsupported()),
    }
    Ok(())
}

async fn list(ctx: &Ctx) -> Result<(), Fail> {
    let client = ctx.client().await?;
    let response = ctx.timed(client.cluster().member_list(MemberListRequest::default())).await?.into_inner();
    let printer = ctx.printer()?;
    match printer.format {
        Format::Simple => {
            print::out(&list_rows(&response.members).iter().map(|row| row.join(", ") + "\n").collect::<String>())
        }
        Format::Json => print::json(&response, "etcdserverpb.MemberListResponse"),
        Format::Protobuf => print::protobuf(&response),
        Format::Fields => print::out(&fields_list(&response)),
        Format::Table => print::out(&print::table::render(&LIST_HEADER, &list_rows(&response.members))),
    }
    Ok(())
}

/// The columns of `member list` (the simple format prints the same cells, comma-separated).
const LIST_HEADER: [&str; 6] = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];

fn list_rows(members: &[Member]) -> Vec<Vec<String>> {
    members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() { "unstarted" } else { "started" }.to_owned(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

fn fields_list(response: &MemberListResponse) -> String {
    let mut text = print::fields_header(response.header.as_ref());
    for m in &response.members {
        text.push_str(&format!("\"ID\" : {}\n\"Name\" : {}\n", m.id, go_quote(&m.name)));
        for u in &m.peer_ur_ls {
            text.push_str(&format!("\"PeerURL\" : {}\n", go_quote(u)));
        }
        for u in &m.client_ur_ls {
            text.push_str(&format!("\"ClientURL\" : {}\n", go_quote(u)));
        }
        text.push_str(&format!("\"IsLearner\" : {}\n\n", m.is_learner));
    }
    text
}

/// etcd's `types.NewURLs` checks, with its messages: a scheme of http, https, unix or unixs, a
/// `host:port` address, no path.
fn check_urls(urls: &[String]) -> Result<(), String> {
    if urls.is_empty() {
        return Err("no valid URLs given".to_owned());
    }
    for raw in urls {
        let url = raw.trim();
        let (scheme, rest) = split_scheme(url)?;
        if !matches!(scheme.as_str(), "http" | "https" | "unix" | "unixs") {
            return Err(format!("URL scheme must be http, https, unix, or unixs: {url}"));
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (host, path) = match rest.strip_prefix("//") {
            Some(authority) => {
                let end = authority.find('/').unwrap_or(authority.len());
                let host = &authority[..end];
                (host.rsplit('@').next().unwrap_or(host), &authority[end..])
            }
            None => ("", ""),
        };
        if !is_host_port(host) {
            return Err(format!("URL address does not have the form \"host:port\": {url}"));
        }
        if !path.is_empty() {
            return Err(format!("URL must not contain a path: {url}"));
        }
    }
    Ok(())
}

/// Go's `url.Parse` scheme: letters first, then letters, digits, `+`, `-`, `.`, up to a `:`
/// (lower-cased); none when another character comes first.
fn split_scheme(url: &str) -> Result<(String, &str), String> {
    for (i, c) in url.char_indices() {
        match c {
            c if c.is_ascii_alphabetic() => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(format!("parse {}: missing protocol scheme", go_quote(url))),
            ':' => return Ok((url[..i].to_ascii_lowercase(), &url[i + 1..])),
            _ => return Ok((String::new(), url)),
        }
    }
    Ok((String::new(), url))
}

/// Whether Go's `net.SplitHostPort` accepts `address`.
fn is_host_port(address: &str) -> bool {
    if let Some(bracketed) = address.strip_prefix('[') {
        return match bracketed.find(']') {
            Some(end) => bracketed[end + 1..].starts_with(':') && !bracketed[end + 2..].contains([':', '[', ']']),
            None => false,
        };
    }
    match address.rfind(':') {
        Some(i) => !address[..i].contains(':') && !address.contains(['[', ']']),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_as_etcd_checks_them() {
        let check = |u: &str| check_urls(&[u.to_owned()]);
        assert_eq!(check("http://127.0.0.1:2380"), Ok(()));
        assert_eq!(check("https://[::1]:2380"), Ok(()));
        assert_eq!(check("bogus"), Err("URL scheme must be http, https, unix, or unixs: bogus".to_owned()));
        assert_eq!(
            check("http://127.0.0.1"),
            Err("URL address does not have the form \"host:port\": http://127.0.0.1".to_owned())
        );
        assert_eq!(check("http://a:1/x"), Err("URL must not contain a path: http://a:1/x".to_owned()));
        assert_eq!(check(":x"), Err("parse \":x\": missing protocol scheme".to_owned()));
    }

    #[test]
    fn member_add_prints_etcdctls_variables() {
        let member = |id, name: &str, url: &str| Member {
            id,
            name: name.to_owned(),
            peer_ur_ls: vec![url.to_owned()],
            ..Default::default()
        };
        let response = MemberAddResponse {
            header: Some(ResponseHeader { cluster_id: 0xd1cfaf999eb97a2a, ..Default::default() }),
            member: Some(member(0xbcb831fcfa7029f, "", "http://127.0.0.1:9999")),
            members: vec![
                member(0xbcb831fcfa7029f, "", "http://127.0.0.1:9999"),
                member(1, "n1", "http://127.0.0.1:2380"),
            ],
        };
        assert_eq!(
            simple_add(&response, "newm", "http://127.0.0.1:9999"),
            "Member  bcb831fcfa7029f added to cluster d1cfaf999eb97a2a\n\nETCD_NAME=\"newm\"\nETCD_INITIAL_CLUSTER=\"newm=http://127.0.0.1:9999,n1=http://127.0.0.1:2380\"\nETCD_INITIAL_ADVERTISE_PEER_URLS=\"http://127.0.0.1:9999\"\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n"
        );
    }
}
