//! [`Status`]: what a node reports about itself.

/// A node's view of the cluster, published by its loop after every turn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// This node's id.
    pub id: u64,
    /// The leader this node follows (or itself), if it knows one.
    pub leader_id: Option<u64>,
    /// The current term.
    pub term: u64,
    /// The highest index known committed.
    pub commit: u64,
    /// The state machine's applied index.
    pub applied: u64,
    /// The index of the latest snapshot (taken or installed).
    pub snapshot_index: u64,
    /// This node's role.
    pub role: Role,
    /// The voters (both halves of a joint configuration), sorted.
    pub voters: Vec<u64>,
    /// The learners, sorted.
    pub learners: Vec<u64>,
    /// Whether the configuration is joint (a multi-change membership change is under way).
    pub joint: bool,
}

/// The role of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows a leader (or waits for one). A node joining a cluster, not yet in its
    /// configuration, is a follower too.
    #[default]
    Follower,
    /// Checks with pre-vote whether an election could win, before disrupting anyone.
    PreCandidate,
    /// Campaigns in an election.
    Candidate,
    /// Leads the cluster.
    Leader,
    /// Receives the log but does not vote; promote it to make it a voter.
    Learner,
    /// Was removed from the cluster; its loop has stopped.
    Removed,
}
