//! Starting a member: data directory, backend, raft node, services, and the
//! background loops (lease expiry, member attributes, auto-compaction).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_mvcc::Backend;
use cairn_proto::cairnpb::{self, internal_request::Request as Internal};
use cairn_proto::etcdserverpb::cluster_client::ClusterClient;
use cairn_proto::etcdserverpb::cluster_server::ClusterServer;
use cairn_proto::etcdserverpb::kv_server::KvServer;
use cairn_proto::etcdserverpb::lease_server::LeaseServer;
use cairn_proto::etcdserverpb::maintenance_server::MaintenanceServer;
use cairn_proto::etcdserverpb::watch_server::WatchServer;
use cairn_proto::etcdserverpb::{CompactionRequest, LeaseRevokeRequest, MemberListRequest};
use cairn_raft::grpc::{GrpcOptions, GrpcTransport, PeerService, SnapshotData};
use cairn_raft::{NodeConfig, RaftNode, Role};
use cairn_storage::{Options, WriteBatch};

use crate::api::grpc::{cluster, kv, lease, maintenance, watch};
use crate::apply::Applier;
use crate::config::{AutoCompaction, ClusterState, Config, parse_urls};
use crate::core::{Core, GRPC_OVERHEAD_BYTES};
use crate::lease::{IdGenerator, Lessor};
use crate::members::{MEMBERS_BUCKET, Membership};
use crate::state::{Limits, State};
use crate::tls::Tls;
use crate::{engine, ids, with_engine};

/// Runs a member with `config` until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    config.validate()?;
    let engine = engine::choose(config.backend.as_deref())?;
    with_engine!(engine, run_with(config, shutdown))
}

/// Who this member is and whom it starts with.
struct Identity {
    member_id: u64,
    cluster_id: u64,
    /// Members to record before the node starts (a new cluster), else empty.
    initial: Vec<cairnpb::Member>,
    /// Voters of a new cluster's first configuration, else empty.
    initial_voters: Vec<u64>,
}

const META: &str = cairn_mvcc::buckets::META;

fn read_u64<B: Backend>(backend: &B, key: &[u8]) -> anyhow::Result<Option<u64>> {
    use cairn_storage::ReadView;
    let view = backend.view()?;
    Ok(view.get(META, key)?.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok()).map(u64::from_be_bytes))
}

async fn identity<B: Backend>(config: &Config, backend: &B, peer_tls: Option<&Tls>) -> anyhow::Result<Identity> {
    if let (Some(member_id), Some(cluster_id)) = (read_u64(backend, b"member_id")?, read_u64(backend, b"cluster_id")?) {
        return Ok(Identity { member_id, cluster_id, initial: Vec::new(), initial_voters: Vec::new() });
    }
    let cluster = config.initial_cluster()?;
    let token = &config.initial_cluster_token;
    let own_urls = parse_urls(&config.initial_advertise_peer_urls)?;
    match config.initial_cluster_state {
        ClusterState::New => {
            let members: Vec<cairnpb::Member> = cluster
                .members
                .iter()
                // Every initial member records the same table (names and peer URLs,
                // as etcd's bootstrap entries carry); client URLs come when each
                // member publishes them through raft.
                .map(|(name, urls)| cairnpb::Member {
                    id: ids::member_id(urls, token, None),
                    name: name.clone(),
                    peer_urls: urls.clone(),
                    client_urls: Vec::new(),
                    is_learner: false,
                })
                .collect();
            let own = cluster.peer_urls(&config.name).context("this member is not in --initial-cluster")?;
            let member_id = ids::member_id(own, token, None);
            let voters: Vec<u64> = members.iter().map(|m| m.id).collect();
            let cluster_id = ids::cluster_id(&voters);
            Ok(Identity { member_id, cluster_id, initial: members, initial_voters: voters })
        }
        ClusterState::Existing => {
            // Ask the cluster, through a peer's listener, which member we were added as.
            let mut last_error = None;
            for (name, urls) in &cluster.members {
                if *name == config.name {
                    continue;
                }
                for url in urls {
                    match fetch_members(url, peer_tls).await {
                        Ok((cluster_id, members)) => {
                            let me = members
                                .iter()
                                .find(|m| m.peer_ur_ls.iter().any(|u| own_urls.contains(u)))
                                .with_context(|| {
                                    format!("no member with peer URLs {own_urls:?} was added to the cluster")
                                })?;
                            return Ok(Identity {
                                member_id: me.id,
                                cluster_id,
                                initial: members
                                    .iter()
                                    .map(|m| cairnpb::Member {
                                        id: m.id,
                                        name: m.name.clone(),
                                        peer_urls: m.peer_ur_ls.clone(),
                                        client_urls: m.client_ur_ls.clone(),
                                        is_learner: m.is_learner,
                                    })
                                    .collect(),
                                initial_voters: Vec::new(),
                            });
                        }
                        Err(e) => last_error = Some(e),
                    }
                }
            }
            Err(last_error.unwrap_or_else(|| anyhow::anyhow!("--initial-cluster names no other member to join")))
        }
    }
}

async fn fetch_members(
    url: &str,
    peer_tls: Option<&Tls>,
) -> anyhow::Result<(u64, Vec<cairn_proto::etcdserverpb::Member>)> {
    let channel = crate::tls::channel(url, peer_tls.map(|t| &t.connector), Duration::from_secs(5))
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut client = ClusterClient::new(channel);
    let response = tokio::time::timeout(Duration::from_secs(5), client.member_list(MemberListRequest::default()))
        .await
        .context("timed out listing members")??
        .into_inner();
    let cluster_id = response.header.map(|h| h.cluster_id).unwrap_or(0);
    Ok((cluster_id, response.members))
}

/// Records a new member's identity and initial members before raft starts.
fn record_identity<B: Backend>(backend: &B, identity: &Identity) -> anyhow::Result<()> {
    let mut batch = WriteBatch::new();
    batch.put(META, b"member_id".to_vec(), identity.member_id.to_be_bytes().to_vec())?;
    batch.put(META, b"cluster_id".to_vec(), identity.cluster_id.to_be_bytes().to_vec())?;
    for member in &identity.initial {
        batch.put(MEMBERS_BUCKET, member.id.to_be_bytes().to_vec(), Membership::encode(member))?;
    }
    backend.commit(batch)?;
    backend.sync()?;
    Ok(())
}

/// The addresses of `urls`, each with whether it is `https://`.
fn listen_addrs(urls: &str) -> anyhow::Result<Vec<(SocketAddr, bool)>> {
    parse_urls(urls)?.iter().map(|u| Ok((crate::config::urls_listen_addr(u)?, u.starts_with("https://")))).collect()
}

async fn run_with<B: Backend>(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir();
    let member_dir = data_dir.join("member");
    std::fs::create_dir_all(&member_dir).with_context(|| format!("cannot create {}", member_dir.display()))?;
    let backend_dir = member_dir.join("db");
    let options = Options::relaxed();
    let backend = B::open(&backend_dir, &options).with_context(|| format!("cannot open {}", backend_dir.display()))?;
    // TLS first: joining an existing cluster already talks to a peer.
    let mut hosts: Vec<String> = ["localhost".to_owned(), "127.0.0.1".to_owned()].into();
    for url in parse_urls(&format!("{},{}", config.advertise_client_urls, config.initial_advertise_peer_urls))? {
        if let Some(host) = url.split("://").nth(1).and_then(|rest| rest.rsplit_once(':')).map(|(h, _)| h.to_owned())
            && !hosts.contains(&host)
        {
            hosts.push(host);
        }
    }
    let policy = config.tls_policy();
    let fixtures = data_dir.join("fixtures");
    let client_tls = crate::tls::build(&config.client_tls_files(), &policy, &hosts, &fixtures.join("client"))
        .context("client TLS")?;
    let peer_tls =
        crate::tls::build(&config.peer_tls_files(), &policy, &hosts, &fixtures.join("peer")).context("peer TLS")?;
    let identity = identity(&config, &backend, peer_tls.as_ref()).await?;
    if !identity.initial.is_empty() || read_u64(&backend, b"member_id")?.is_none() {
        record_identity(&backend, &identity)?;
    }
    tracing::info!(
        member = format_args!("{:x}", identity.member_id),
        cluster = format_args!("{:x}", identity.cluster_id),
        engine = B::NAME,
        data_dir = %data_dir.display(),
        "starting cairn member {}",
        config.name
    );

    let election_timeout = Duration::from_millis(config.election_timeout);
    let limits = Limits {
        max_txn_ops: config.max_txn_ops as usize,
        max_request_bytes: config.max_request_bytes as usize,
        quota_bytes: config.quota_bytes(),
        auth_token_ttl: Duration::from_secs(config.auth_token_ttl),
    };
    let state = State::open(backend, identity.member_id, Lessor::min_ttl_for(election_timeout), limits)?;
    let applier = Applier::new(state.clone());

    let mut node_config = NodeConfig::new(identity.member_id, member_dir.join("raft"));
    node_config.initial_voters = identity.initial_voters.clone();
    node_config.tick_interval = config.tick();
    node_config.election_ticks = config.election_ticks();
    node_config.snapshot_count = config.snapshot_count;
    node_config.snapshot_catch_up_entries = config.experimental_snapshot_catchup_entries;
    node_config.max_proposal_bytes = node_config.max_proposal_bytes.max(config.max_request_bytes as usize + 1024);
    node_config.logger = crate::slog_bridge::logger();
    let export_state = state.clone();
    let peer_connector = peer_tls.as_ref().map(|t| t.connector.clone());
    let connector = cairn_raft::grpc::Connector(Arc::new(move |endpoint| {
        let tls = peer_connector.clone();
        Box::pin(async move { crate::tls::connect(endpoint, tls.as_ref()).await })
    }));
    let grpc_options = GrpcOptions {
        connector: Some(connector),
        logger: crate::slog_bridge::logger(),
        snapshot_data: Some(SnapshotData(Arc::new(move |_| crate::apply::export_for_peer(&export_state)))),
        ..GrpcOptions::default()
    };
    let transport = GrpcTransport::new(identity.member_id, identity.cluster_id, grpc_options.clone());
    sync_peers(&transport, &state);
    let node = RaftNode::start(node_config, applier, transport.clone()).context("cannot start the raft node")?;
    transport.connect(node.handle()).context("cannot start the peer transport")?;
    let peer_service = PeerService::new(node.handle(), identity.cluster_id, grpc_options);
    let core = Arc::new(Core {
        state: state.clone(),
        node: node.handle().clone(),
        ids: IdGenerator::new(identity.member_id),
        request_timeout: Duration::from_secs(5) + 2 * election_timeout,
        election_timeout,
        member_id: identity.member_id,
        name: config.name.clone(),
        token: config.initial_cluster_token.clone(),
        leader_channel: parking_lot::Mutex::new(None),
        enable_v2: config.enable_v2,
        started: std::time::SystemTime::now(),
        bcrypt_cost: config.bcrypt_cost,
        client_tls: client_tls.clone(),
        client_cert_auth: config.client_cert_auth,
        jwt: match config.auth_token.split_once(',') {
            Some(("jwt", options)) => Some(Arc::new(crate::auth::jwt::Jwt::from_options(options)?)),
            _ => None,
        },
    });

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let max_message = 4 * (config.max_request_bytes as usize + GRPC_OVERHEAD_BYTES);
    // As etcd, client listeners are bound at once but served only once the member
    // is ready: it has published its attributes through raft, so a leader exists
    // and its log is applied.
    let (ready_tx, ready_rx) = tokio::sync::watch::channel(false);
    for (addr, https) in listen_addrs(&config.listen_client_urls)? {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let (core, stop, mut ready) = (core.clone(), stop_rx.clone(), ready_rx.clone());
        let acceptor = if https { client_tls.as_ref().map(|t| t.acceptor.clone()) } else { None };
        tasks.push(tokio::spawn(async move {
            if ready.wait_for(|r| *r).await.is_ok() {
                tracing::info!(%addr, tls = acceptor.is_some(), "ready to serve client requests");
                serve_clients(core, crate::tls::incoming(listener, acceptor), max_message, stop).await;
            }
        }));
    }
    for (addr, https) in listen_addrs(&config.listen_peer_urls)? {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let acceptor = if https { peer_tls.as_ref().map(|t| t.acceptor.clone()) } else { None };
        tracing::info!(%addr, tls = acceptor.is_some(), "serving peer requests");
        let service = peer_service.clone();
        let incoming = crate::tls::incoming(listener, acceptor);
        tasks.push(tokio::spawn(serve_peers(core.clone(), service, incoming, stop_rx.clone())));
    }
    tasks.push(tokio::spawn(lease_loop(core.clone(), stop_rx.clone())));
    tasks.push(tokio::spawn(v2_sync_loop(core.clone(), stop_rx.clone())));
    tasks.push(tokio::spawn(status_loop(core.clone(), peer_service.clone(), transport.clone(), stop_rx.clone())));
    tasks.push(tokio::spawn(crate::metrics::probe_peers(core.clone(), Duration::from_secs(2), stop_rx.clone())));
    tasks.push(tokio::spawn(peers_loop(transport.clone(), state.clone(), stop_rx.clone())));
    let publish = publish_loop(core.clone(), parse_urls(&config.advertise_client_urls)?, stop_rx.clone());
    tasks.push(tokio::spawn(async move {
        if publish.await {
            let _ = ready_tx.send(true);
        }
    }));
    if let Some(policy) = config.auto_compaction()? {
        tasks.push(tokio::spawn(compaction_loop(core.clone(), policy, stop_rx.clone())));
    }

    // A raft node that stops on its own (a storage error, or this member was
    // removed) ends the process, as etcd's does, rather than leaving a member
    // that serves nothing and says nothing.
    let handle = node.handle().clone();
    let node_stopped = async move {
        while !handle.is_stopped() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = node_stopped => tracing::error!("the raft node stopped; shutting down"),
    }
    let _ = stop_tx.send(true);
    // The node stops first: open peer streams end with it, so the peer server can.
    drop(core);
    let stopped = node.shutdown().await;
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    stopped.context("stopping the raft node")?;
    if let Err(e) = state.store.backend().sync() {
        tracing::warn!(error = %e, "final backend sync failed");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_clients<B: Backend>(
    core: Arc<Core<B>>,
    incoming: tokio_stream::wrappers::ReceiverStream<std::io::Result<crate::tls::Conn>>,
    max_message: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let grpc = tonic::service::Routes::builder()
        .add_service(KvServer::new(kv::KvService::new(core.clone())).max_decoding_message_size(max_message))
        .add_service(WatchServer::new(watch::WatchService::new(core.clone())).max_decoding_message_size(max_message))
        .add_service(LeaseServer::new(lease::LeaseService::new(core.clone())).max_decoding_message_size(max_message))
        .add_service(
            cairn_proto::etcdserverpb::auth_server::AuthServer::new(crate::api::grpc::auth::AuthService::new(
                core.clone(),
            ))
            .max_decoding_message_size(max_message),
        )
        .add_service(
            cairn_proto::v3lockpb::lock_server::LockServer::new(crate::api::grpc::lock::LockService::new(core.clone()))
                .max_decoding_message_size(max_message),
        )
        .add_service(
            cairn_proto::v3electionpb::election_server::ElectionServer::new(
                crate::api::grpc::election::ElectionService::new(core.clone()),
            )
            .max_decoding_message_size(max_message),
        )
        .add_service(
            ClusterServer::new(cluster::ClusterService::new(core.clone())).max_decoding_message_size(max_message),
        )
        .add_service(
            MaintenanceServer::new(maintenance::MaintenanceService::new(core.clone()))
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(usize::MAX),
        )
        .clone()
        .routes();
    // gRPC and etcd's plain HTTP endpoints share the client port, as in etcd.
    let routes = tonic::service::Routes::from(crate::http::routes(core.clone(), grpc.into_axum_router()));
    let result = tonic::transport::Server::builder()
        .accept_http1(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stopped(stop))
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "client server failed");
    }
}

/// Points the transport at the members the state knows (other than this one).
fn sync_peers<B: Backend>(transport: &GrpcTransport, state: &State<B>) {
    let me = state.member_id;
    let members: Vec<(u64, Vec<String>)> =
        state.members.read().members.values().filter(|m| m.id != me).map(|m| (m.id, m.peer_urls.clone())).collect();
    let known = transport.peers();
    tracing::trace!(?members, ?known, "syncing peers");
    for (id, urls) in &members {
        if !known.iter().any(|(k, u)| k == id && u == urls)
            && let Err(e) = transport.set_peer(*id, urls.clone())
        {
            tracing::warn!(peer = format_args!("{id:x}"), error = %e, "bad peer URLs");
        }
    }
    for (id, _) in known {
        if !members.iter().any(|(m, _)| *m == id) {
            transport.remove_peer(id);
        }
    }
}

/// Follows membership changes with the transport.
async fn peers_loop<B: Backend>(
    transport: GrpcTransport,
    state: Arc<State<B>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => sync_peers(&transport, &state),
        }
    }
}

async fn serve_peers<B: Backend>(
    core: Arc<Core<B>>,
    peers: PeerService,
    incoming: tokio_stream::wrappers::ReceiverStream<std::io::Result<crate::tls::Conn>>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let grpc = tonic::service::Routes::builder()
        .add_service(peers.into_server())
        .add_service(ClusterServer::new(cluster::ClusterService::for_peers(core.clone())))
        .clone()
        .routes();
    // etcd's peer port also answers `/members` and `/version` over HTTP/1.
    let routes = tonic::service::Routes::from(crate::http::peer_routes(core.clone(), grpc.into_axum_router()));
    let result = tonic::transport::Server::builder()
        .accept_http1(true)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stopped(stop))
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "peer server failed");
    }
}

/// On the leader, revokes expired leases through raft; tracks leadership for
/// the lessor.
async fn lease_loop<B: Backend>(core: Arc<Core<B>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut status = core.node.watch_status();
    let mut leading = false;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let in_flight = Arc::new(parking_lot::Mutex::new(std::collections::HashSet::<i64>::new()));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            changed = status.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
        let is_leader = core.node.status().role == Role::Leader;
        if is_leader != leading {
            let mut lessor = core.state.lessor.lock();
            if is_leader {
                lessor.promote(Instant::now(), core.election_timeout);
            } else {
                lessor.demote();
            }
            leading = is_leader;
        }
        if !leading {
            continue;
        }
        let expired = core.state.lessor.lock().expired(Instant::now(), 1000);
        for id in expired {
            if !in_flight.lock().insert(id) {
                continue;
            }
            let (core, in_flight) = (core.clone(), in_flight.clone());
            tokio::spawn(async move {
                let _ = core.propose(Internal::LeaseRevoke(LeaseRevokeRequest { id })).await;
                in_flight.lock().remove(&id);
            });
        }
    }
}

/// On the leader, proposes a `SYNC` every 500 ms while a v2 node has a TTL,
/// so every member removes expired nodes at the same point of the log (etcd's).
async fn v2_sync_loop<B: Backend>(core: Arc<Core<B>>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let wanted = {
            let mut store = core.state.v2.lock();
            store.prune_watchers();
            store.has_ttl_keys()
        };
        if wanted && core.is_leader() {
            let request = cairn_proto::cairnpb::V2Request {
                method: "SYNC".to_owned(),
                time: crate::v2::unix_nanos(),
                ..Default::default()
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), core.propose(Internal::V2(request))).await;
        }
    }
}

/// Follows the leader for the metrics (leader changes, how long it has led)
/// and the peer service's message count.
async fn status_loop<B: Backend>(
    core: Arc<Core<B>>,
    peers: PeerService,
    transport: GrpcTransport,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut status = core.node.watch_status();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        core.state.metrics.observe_leader(core.node.status().leader_id);
        core.state.metrics.set_appends(peers.stats().messages, transport.sent());
        tokio::select! {
            _ = stop.changed() => return,
            changed = status.changed() => if changed.is_err() { return },
            _ = tick.tick() => {}
        }
    }
}

/// Publishes this member's name and client URLs through raft once, as etcd does
/// after it starts, retrying until it is applied; returns whether it was (not
/// stopped first).
async fn publish_loop<B: Backend>(
    core: Arc<Core<B>>,
    client_urls: Vec<String>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> bool {
    loop {
        if *stop.borrow() {
            return false;
        }
        let published = core
            .state
            .members
            .read()
            .members
            .get(&core.member_id)
            .is_some_and(|m| m.name == core.name && m.client_urls == client_urls);
        if published && core.node.status().leader_id.is_some() {
            // Restarted with the same attributes: ready once the log is applied.
            if core.linearizable_read().await.is_ok() {
                return true;
            }
        }
        if core.node.status().leader_id.is_some() {
            let me = cairnpb::Member {
                id: core.member_id,
                name: core.name.clone(),
                client_urls: client_urls.clone(),
                ..Default::default()
            };
            if core.propose(Internal::MemberAttributes(me)).await.is_ok() {
                continue;
            }
        }
        tracing::debug!(status = ?core.node.status(), "waiting to publish this member");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// etcd's auto-compaction, run by the leader.
async fn compaction_loop<B: Backend>(
    core: Arc<Core<B>>,
    policy: AutoCompaction,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let interval = match policy {
        AutoCompaction::Periodic(period) => (period / 10).max(Duration::from_secs(1)),
        AutoCompaction::Revisions(_) => Duration::from_secs(300),
    };
    let mut samples: std::collections::VecDeque<(Instant, i64)> = std::collections::VecDeque::new();
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let current = core.state.store.current_revision();
        samples.push_back((now, current));
        if core.node.status().role != Role::Leader {
            continue;
        }
        let target = match policy {
            AutoCompaction::Revisions(keep) => current - keep,
            AutoCompaction::Periodic(period) => {
                let mut target = 0;
                while let Some(&(at, rev)) = samples.front() {
                    if now.duration_since(at) < period {
                        break;
                    }
                    target = rev;
                    samples.pop_front();
                }
                target
            }
        };
        if target > core.state.store.compacted_revision() {
            let request = CompactionRequest { revision: target, physical: false };
            match core.propose(Internal::Compaction(request)).await {
                Ok(_) => tracing::info!(revision = target, "auto-compacted"),
                Err(e) => tracing::warn!(revision = target, error = %e, "auto-compaction failed"),
            }
        }
    }
}
