//! A node on loopback serving a given knowledge graph and BMCI database, for the `/sparql` and
//! `/optimade` tests.

use std::{net::SocketAddr, sync::Arc};

use metamesh_crypto::{Address, SecretKey, Suite};
use metamesh_db::ChainDbConfig;
use metamesh_knowledge::{
    KnowledgeGraph, Limits,
    optimade::{Bmci, Database},
};
use metamesh_node::{Chain, NodeService, PoolConfig};
use metamesh_primitives::Amount;
use metamesh_rpc::{Knowledge, RpcConfig};
use metamesh_state::{CliqueParams, Genesis, Grant, Params, Pool};

/// The server's address, and the directory its chain lives in (kept while it runs).
pub async fn serve(kg: Arc<KnowledgeGraph>, limits: Limits) -> (SocketAddr, tempfile::TempDir) {
    let signer = SecretKey::from_bytes(Suite::Sm, &Suite::Sm.hash(b"s")).unwrap();
    let genesis = Genesis {
        chain_id: 9,
        suite: Suite::Sm,
        timestamp: 1_000,
        clique: CliqueParams {
            period: 1,
            epoch: 30_000,
            signers: vec![signer.public_key().address()],
        },
        params: Params::default(),
        grants: vec![Grant {
            address: Address([2; 20]),
            amount: Amount::from_mmt(1),
            pool: Pool::Airdrops,
        }],
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::open(
        &dir.path().join("c.redb"),
        genesis,
        ChainDbConfig::default(),
    )
    .unwrap();
    let node = NodeService::new(chain, Some(signer), PoolConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bmci = Arc::new(Bmci::new(Database::seed().unwrap()));
    let config = RpcConfig {
        knowledge: Some(Knowledge::new(kg, bmci, limits)),
        ..RpcConfig::default()
    };
    tokio::spawn(metamesh_rpc::serve(
        listener,
        node,
        config,
        std::future::pending(),
    ));
    (addr, dir)
}
