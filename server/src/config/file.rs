//! The YAML config file (`--config-file`), with etcd's keys.

use std::path::Path;

use anyhow::Context;

use super::Config;

/// Reads `path`. Keys are etcd's flag names (`name`, `data-dir`,
/// `initial-cluster-state`, ...); keys cairn does not know are ignored, so an
/// etcd config file works as it is.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut config: Config =
        serde_yaml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
    config.config_file = Some(path.to_path_buf());
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_etcd_style_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yml");
        std::fs::write(
            &path,
            "name: 'infra2'\ndata-dir: /tmp/x\nheartbeat-interval: 50\nelection-timeout: 500\n\
             initial-cluster-state: 'existing'\nclient-transport-security:\n  auto-tls: false\n",
        )
        .expect("write");
        let c = load(&path).expect("loads");
        assert_eq!(c.name, "infra2");
        assert_eq!(c.heartbeat_interval, 50);
        assert_eq!(c.initial_cluster_state, super::super::ClusterState::Existing);
        assert_eq!(c.max_txn_ops, 128, "unset keys keep their defaults");
    }
}
