//! `member list|add|remove|update` and `cluster-health`.

use super::cli::Flags;
use super::client::{self, Member, V2Error, json_syntax_error};
use super::gourl::Url;
use super::http::Request;
use super::{Ctl, Exit, Outcome, code};

/// `member list`.
pub async fn list(ctl: &Ctl, args: &[String]) -> Outcome {
    if !args.is_empty() {
        return Err(ctl.exit_with("No arguments accepted"));
    }
    let mut client = ctl.client().await?;
    let total = ctl.global.duration("total-timeout");
    let started = tokio::time::Instant::now();
    let members = ctl.timed(client::members_list(&mut client)).await.map_err(|e| ctl.exit_with(e))?;
    let left = total.saturating_sub(started.elapsed());
    let leader = match tokio::time::timeout(left, client::members_leader(&mut client)).await {
        Ok(leader) => leader,
        Err(_) => Err(V2Error::text(client::DEADLINE)),
    };
    let leader = leader.map_err(|e| ctl.exit_with(format!("Failed to get leader:  {e}")))?;
    for member in &members {
        if member.name.is_empty() {
            println!("{}[unstarted]: peerURLs={}", member.id, member.peer_urls.join(","));
        } else {
            println!(
                "{}: name={} peerURLs={} clientURLs={} isLeader={}",
                member.id,
                member.name,
                member.peer_urls.join(","),
                member.client_urls.join(","),
                member.id == leader.id
            );
        }
    }
    Ok(())
}

/// `member add <name> <peerURL>`.
pub async fn add(ctl: &Ctl, args: &[String]) -> Outcome {
    if args.len() != 2 {
        return Err(ctl.exit_with("Provide a name and a single member peerURL"));
    }
    let mut client = ctl.client().await?;
    let name = &args[0];
    let (added, members) = ctl
        .timed(async {
            let added = client::members_add(&mut client, &args[1]).await?;
            let members = client::members_list(&mut client).await;
            Ok((added, members))
        })
        .await
        .map_err(|e| ctl.exit_with(e))?;
    println!("Added member named {name} with ID {} to cluster", added.id);
    let members = members.map_err(|e| ctl.exit_with(e))?;
    let mut conf = Vec::new();
    for member in &members {
        for url in &member.peer_urls {
            let n = if member.id == added.id { name } else { &member.name };
            conf.push(format!("{n}={url}"));
        }
    }
    println!();
    println!("ETCD_NAME={}", crate::print::go_quote(name));
    println!("ETCD_INITIAL_CLUSTER={}", crate::print::go_quote(&conf.join(",")));
    println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
    Ok(())
}

/// `member remove <memberID>`.
pub async fn remove(ctl: &Ctl, args: &[String]) -> Outcome {
    if args.len() != 1 {
        return Err(ctl.exit_with("Provide a single member ID"));
    }
    let id = &args[0];
    let mut client = ctl.client().await?;
    let members = ctl
        .timed(client::members_list(&mut client))
        .await
        .map_err(|e| ctl.exit_with(format!("Error while verifying ID against known members: {e}")))?;
    let mut found = false;
    for member in &members {
        if &member.id == id {
            found = true;
        }
        if &member.name == id {
            eprint!(
                "Found a member named {}; if this is correct, please use its ID, eg:\n\tetcdctl member remove {}\n",
                member.name, member.id
            );
            eprint!(
                "For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n"
            );
        }
    }
    if !found {
        eprintln!("Couldn't find a member in the cluster with an ID of {id}.");
        return Err(Exit(1));
    }
    if let Err(e) = ctl.timed(client::members_remove(&mut client, id)).await {
        eprint!("Received an error trying to remove member {id}: {e}");
        return Err(Exit(1));
    }
    println!("Removed member {id} from cluster");
    Ok(())
}

/// `member update <memberID> <peerURLs>`.
pub async fn update(ctl: &Ctl, args: &[String]) -> Outcome {
    if args.len() != 2 {
        return Err(ctl.exit_with(
            "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)",
        ));
    }
    let mut client = ctl.client().await?;
    let urls: Vec<String> = args[1].split(',').map(str::to_owned).collect();
    ctl.timed(client::members_update(&mut client, &args[0], &urls)).await.map_err(|e| ctl.exit_with(e))?;
    println!("Updated member with ID {} in cluster", args[0]);
    Ok(())
}

/// What one member's `/health` says: healthy, unhealthy, or why it could not be read.
async fn check(transport: &super::http::Transport, url: &str) -> Result<bool, String> {
    let target = format!("{url}/health");
    let fail = |e: String| format!("Get {}: {e}", crate::print::go_quote(&target));
    let parsed = Url::parse(&target).map_err(|e| format!("Get {}", e.trim_start_matches("parse ")))?;
    let request = Request { method: "GET", url: parsed, content_type: None, body: None, basic_auth: None };
    let sent = transport.send(&request).await.map_err(|e| fail(e.text))?;
    let response = super::http::read_body(sent).await.map_err(|e| e.text)?;
    if let Some(e) = json_syntax_error(&response.body) {
        return Err(e);
    }
    let value: serde_json::Value = serde_json::from_slice(&response.body).map_err(|e| e.to_string())?;
    let health = value
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("health")).map(|(_, v)| v.clone()));
    match health {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::String(s)) => Ok(s == "true"),
        Some(serde_json::Value::Bool(b)) => Ok(b),
        Some(other) => {
            let kind = match other {
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Array(_) => "array",
                _ => "object",
            };
            Err(format!("json: cannot unmarshal {kind} into Go struct field .Health of type bool"))
        }
    }
}

/// `cluster-health`: each member's `/health` through its client URLs.
pub async fn cluster_health(ctl: &Ctl, flags: &Flags) -> Outcome {
    let forever = flags.bool("forever");
    let run = async {
        let mut client = ctl.client_no_sync()?;
        let transport = ctl.transport().map_err(|e| ctl.fail(code::SERVER_ERROR, &V2Error::text(e)))?;
        let members: Vec<Member> = match client::members_list(&mut client).await {
            Ok(members) => members,
            Err(e) => {
                println!("cluster may be unhealthy: failed to list members");
                return Err(ctl.fail(code::SERVER_ERROR, &e));
            }
        };
        loop {
            let mut healthy = 0;
            for member in &members {
                if member.client_urls.is_empty() {
                    println!("member {} is unreachable: no available published client urls", member.id);
                    continue;
                }
                let mut checked = false;
                for url in &member.client_urls {
                    match check(&transport, url).await {
                        Err(e) => println!("failed to check the health of member {} on {url}: {e}", member.id),
                        Ok(true) => {
                            println!("member {} is healthy: got healthy result from {url}", member.id);
                            healthy += 1;
                            checked = true;
                            break;
                        }
                        Ok(false) => {
                            println!("member {} is unhealthy: got unhealthy result from {url}", member.id);
                            checked = true;
                            break;
                        }
                    }
                }
                if !checked {
                    println!(
                        "member {} is unreachable: [{}] are all unreachable",
                        member.id,
                        member.client_urls.join(" ")
                    );
                }
            }
            if healthy == members.len() {
                println!("cluster is healthy");
            } else if healthy == 0 {
                println!("cluster is unavailable");
            } else {
                println!("cluster is degraded");
            }
            if !forever {
                return if healthy == members.len() { Ok(()) } else { Err(Exit(code::CLUSTER_NOT_HEALTHY)) };
            }
            print!("\nnext check after 10 second...\n\n");
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        }
    };
    if forever {
        tokio::select! {
            outcome = run => outcome,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    } else {
        run.await
    }
}
